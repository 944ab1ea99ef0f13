using System.Globalization;
using System.Text.Json;
using RuleFlow.Rules;

namespace RuleFlow.Cli;

/// <summary>
/// <c>ruleflow explain --rule NAME --events FILE [--rules PATHS] [--type TYPE] [--format json]</c>: feeds the events of a JSON-lines
/// file (one per line: an envelope <c>{ "type", "time"?, "id"?, "data" }</c>, or the event object itself with <c>--type</c>) to a
/// session of the rules, and prints for each event which conditions of each pattern of the rule it met (✓, ✗, or ? when the condition
/// compares with an earlier binding) and whether the rule fired; then the partial matches held in windows with when they expire,
/// pending absences and silences, storm-control entries, and why the rule did or did not fire. The same report as the server's
/// <c>GET /api/rules/{name}/matches</c>. Exit code 1 for an unknown rule or a rule set with errors, 2 for a missing file.
/// </summary>
public static class ExplainCommand
{
    /// <summary>Runs the explanation.</summary>
    /// <param name="rule">Rule name.</param>
    /// <param name="eventsFile">JSON-lines file of events.</param>
    /// <param name="rulePaths">Rule files or directories (default <c>rules</c>).</param>
    /// <param name="type">Event type of bare event objects.</param>
    /// <param name="json">Print the final report as JSON.</param>
    /// <param name="output">Where the explanation goes.</param>
    /// <param name="errors">Where errors go.</param>
    public static int Run(string rule, string eventsFile, IReadOnlyList<string> rulePaths, string? type, bool json, TextWriter output, TextWriter errors)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(eventsFile);
        ArgumentNullException.ThrowIfNull(rulePaths);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(errors);
        if (rulePaths.Count == 0)
        {
            rulePaths = ["rules"];
        }

        if (!File.Exists(eventsFile))
        {
            errors.WriteLine($"ruleflow explain: '{eventsFile}' does not exist");
            return 2;
        }

        var loaded = RuleSetLoader.LoadFiles(rulePaths, null, HostChecks.EmbeddedCode); // the set the server would load, or its errors
        if (loaded.HasErrors)
        {
            foreach (var d in loaded.FormatDiagnostics())
            {
                errors.WriteLine(d);
            }

            return 1;
        }

        if (!loaded.RuleSet.Rules.Any(r => r.Name == rule))
        {
            errors.WriteLine($"ruleflow explain: no rule is named \"{rule}\"; the rules are: {string.Join(", ", loaded.RuleSet.Rules.Select(r => r.Name))}");
            return 1;
        }

        var session = loaded.RuleSet.CreateSession();
        var line = 0;
        var clock = DateTimeOffset.UnixEpoch;
        var fired = 0;
        foreach (var text in File.ReadLines(eventsFile))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            RuleEvent evt;
            var timed = false;
            try
            {
                var element = JsonDocument.Parse(text).RootElement.Clone();
                if (element.ValueKind == JsonValueKind.Object && element.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String
                    && element.TryGetProperty("data", out var data))
                {
                    if (element.TryGetProperty("time", out var time) && time.ValueKind != JsonValueKind.Null)
                    {
                        if (time.ValueKind != JsonValueKind.String || !EventTime.TryParse(time.GetString(), out var parsed))
                        {
                            errors.WriteLine($"{eventsFile}:{line}: \"time\" is {time.GetRawText()}, not an ISO-8601 time such as 2017-12-10T06:55:46Z");
                            return 1;
                        }

                        clock = parsed;
                        timed = true;
                    }

                    var id = element.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString()! : $"line{line}";
                    evt = new RuleEvent(id, t.GetString()!, clock, data);
                }
                else if (type is not null)
                {
                    evt = new RuleEvent($"line{line}", type, clock, element);
                }
                else
                {
                    errors.WriteLine($"{eventsFile}:{line}: not an envelope {{ \"type\", \"data\" }}; give --type for bare events");
                    return 1;
                }
            }
            catch (JsonException e)
            {
                // The reader's message ends with its own zero-based position ("LineNumber: 0 | BytePositionInLine: 1."): give the column.
                var reason = e.Message.IndexOf(" LineNumber:", StringComparison.Ordinal) is var cut and > 0 ? e.Message[..cut] : e.Message;
                errors.WriteLine($"{eventsFile}:{line}:{(e.BytePositionInLine ?? 0) + 1}: not JSON: {reason}");
                return 1;
            }

            var explanation = loaded.RuleSet.ExplainEvent(rule, evt);

            // A fact does not move the clock: time passes to the line's time first, as `ruleflow test` and the server's idle clock do.
            var passed = timed && loaded.RuleSet.IsFactType(evt.Type) ? session.AdvanceTo(evt.Time) : [];
            var firings = passed.Concat(session.Insert(evt)).Where(f => f.Rule == rule).ToList();
            fired += firings.Count;
            if (json)
            {
                continue;
            }

            output.WriteLine($"event {evt.Id} ({evt.Type}){(session.LastInsertStatus == InsertStatus.Applied ? "" : " — " + session.LastInsertStatus.ToString().ToLowerInvariant())}");
            foreach (var pattern in explanation.Patterns.Where(p => p.TypeMatches))
            {
                output.WriteLine($"  condition {pattern.Index + 1}: {pattern.Text}");
                foreach (var c in pattern.Conditions)
                {
                    var mark = c.Met switch { true => "✓", false => "✗", null => "?" };
                    output.WriteLine($"    {mark} {c.Text}{(c.Note is null ? "" : "  (" + c.Note + ")")}");
                }
            }

            foreach (var firing in firings)
            {
                output.WriteLine($"  → fired at {firing.Time:O} (activation {firing.ActivationId}, events {string.Join(", ", firing.EventIds)})");
            }
        }

        var report = session.Explain(rule);
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
            return 0;
        }

        output.WriteLine();
        output.WriteLine($"rule \"{rule}\" at clock {report.Clock:O}: fired {fired} time(s)");
        foreach (var c in report.Conditions)
        {
            output.WriteLine($"  condition {c.Index + 1} ({c.Kind}): {c.Text} — {c.PartialMatches} partial match(es)");
            for (var m = 0; m < c.Matches.Count; m++)
            {
                var expires = c.MatchesExpireAt is { } x && m < x.Count && x[m] is { } at ? $", expires at {at:O}" : "";
                output.WriteLine($"    held: [{string.Join(", ", c.Matches[m])}]{expires}");
            }

            if (c.PartialMatches > c.Matches.Count)
            {
                output.WriteLine($"    … and {c.PartialMatches - c.Matches.Count} more");
            }

            foreach (var g in c.Groups)
            {
                output.WriteLine($"    group {(g.Key.Length == 0 ? "(all)" : g.Key)}: value {g.Value}{(g.Passes ? ", passes" : "")}");
                foreach (var e in g.Events)
                {
                    output.WriteLine($"      {e.EventId} at {e.Time:O}" + (e.ExpiresAt is { } x ? $", in the window until {x:O}" : ""));
                }
            }

            foreach (var p in c.Pending)
            {
                output.WriteLine($"    {p.State}: [{string.Join(", ", p.EventIds)}] decided at {p.Due:O}");
            }
        }

        foreach (var s in report.StormControl)
        {
            output.WriteLine($"  storm control: {s.Kind} {s.Key} from {s.Since:O} until {s.Until:O} ({s.Count})");
        }

        output.WriteLine($"  why: {report.Summary}");
        return 0;
    }
}
