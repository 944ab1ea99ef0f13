using System.Globalization;
using System.Text;
using System.Text.Json;

namespace RuleFlow.Rules.Testing;

/// <summary>A fuzz case that broke an invariant.</summary>
/// <param name="Input">The rule text (or a description of the event) that broke it.</param>
/// <param name="Problem">What went wrong (an exception and its stack, or a diagnostic without a valid location).</param>
public sealed record FuzzFailure(string Input, string Problem);

/// <summary>
/// Generates random and mutated rule files and checks the loader's promises on each: no exception escapes, every diagnostic has a
/// code <c>RFnnnn</c>, a message and a location inside the text, no internal error (<c>RF2999</c>) is reported, and whatever loads
/// also runs — its session takes odd events (missing fields, wrong types, invalid escapes, deep nesting, non-objects) without
/// throwing. Used by the test suite (a few thousand cases) and by <c>RuleFlow.Bench fuzz-rules</c> (100,000 and more).
/// Deterministic for a given seed.
/// </summary>
public sealed class RuleFuzzer
{
    private static readonly string[] Vocabulary =
    [
        "event", "fact", "rule", "when", "then", "end", "from", "exchange", "routing", "key", "time", "fields", "dedup", "by", "priority",
        "description", "tags", "owner", "runbook", "enabled", "disabled", "namespace", "import", "count", "sum", "avg", "min", "max",
        "distinct", "collect", "within", "every", "last", "per", "throttle", "once", "after", "at", "most", "group", "wait", "start",
        "workflow", "with", "template", "signal", "to", "publish", "script", "log", "insert", "update", "retract", "and", "or", "not",
        "exists", "forall", "no", "for", "in", "matches", "contains", "startswith", "endswith", "any", "all", "true", "false", "null",
        "now()", "lower(", "len(", "timeof(", "cidr(", "f", "x", "ssh.auth", "src_ip", "a.b", ":", "(", ")", "{", "}", "[", "]", ",", ".",
        "..", "=>", "==", "!=", "<", "<=", ">", ">=", "=", "!", "&&", "||", "+", "-", "*", "/", "%", "/^a/", "/x", "\"s\"", "\"open",
        "\"\"\"", "`q`", "`q", "5", "-1", "60s", "1h30m", "5x", "1.5ms", "2024-01-01", "2024-13-45T99:00Z", "10.0.0.0/8", "1.2.3.400",
        "[0]", "[-1]", "[\"k\"]", "#c", "//c", "\n", "\n", "\n", " ", "@", ";", "\t", "\\", "'",
    ];

    private static readonly string[] BuiltInCorpus =
    [
        """
        event ssh.auth from exchange "security.events" routing "ssh.#" key src_ip time timestamp
        rule "ssh-bruteforce" priority 10
        when
            f: ssh.auth(message matches /^Failed password/)
            count(ssh.auth(message matches /^Failed password/, src_ip == f.src_ip)) within 60s >= 5
        then
            start workflow "block-source-ip" key f.src_ip with { ip: f.src_ip, attempts: count, evidence: window }
        throttle once within 1h per f.src_ip
        end
        """,
        """
        namespace netops
        fact Device key name fields { name: string, site: string, tier: string }
        event link time ts dedup by device, state within 5s fields { device: string, state: string, ts: time, latency: number }
        rule "down" tags "a" owner "o" runbook "https://x/y"
        when
            l: link(state == "down", latency in 1..100, any(t in tags: t == "x"))
            d: Device(name == l.device, tier == "core")
            not link(device == l.device, state == "up") within 40s
        then
            publish { site: d.site, n: group.count } to exchange "netops" routing "flap." + d.site headers { a: "b" }
            insert Device { name: d.name, site: d.site, tier: "edge" }
        group by d.site wait 30s
        throttle at most 3 per 1h per d.site
        end
        """,
        """"
        event heartbeat key host
        fact Host key name
        event login
        event sudo
        rule "silent" when h: no heartbeat() for 26h per host then log warning "silent " + h.host end
        rule "seq" when a: login(result == "fail") then b: sudo(user == a.user) within 2m then signal "s" to workflow "w" key a.user end
        rule "all" when x: Host() forall h: Host(name == x.name) => heartbeat(host == h.name) exists Host() then retract x end
        rule "agg" when n: avg(heartbeat(), value) every 5m per host > 3 v: collect(heartbeat(), value) last 10 then script """
            var a = 1;
            """ end
        """",
    ];

    private readonly Random _random;
    private readonly string[] _corpus;

    /// <summary>Creates a fuzzer.</summary>
    /// <param name="seed">Random seed: the same seed gives the same cases.</param>
    /// <param name="corpus">Valid rule files to mutate (added to a built-in corpus); may be empty.</param>
    /// <exception cref="ArgumentNullException"><paramref name="corpus"/> is null.</exception>
    public RuleFuzzer(int seed, IEnumerable<string> corpus)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        _random = new Random(seed);
        _corpus = [.. BuiltInCorpus, .. corpus];
    }

    /// <summary>The next case: token soup, random characters or bytes, a truncation, a mutation or a splice of the corpus.</summary>
    public string Next()
    {
        var r = _random;
        switch (r.Next(6))
        {
            case 0:
            {
                var builder = new StringBuilder();
                var length = r.Next(1, 120);
                for (var j = 0; j < length; j++)
                {
                    builder.Append(Vocabulary[r.Next(Vocabulary.Length)]).Append(r.Next(3) == 0 ? "" : " ");
                }

                return builder.ToString();
            }

            case 1:
            {
                if (r.Next(2) == 0)
                {
                    var chars = new char[r.Next(0, 300)];
                    for (var j = 0; j < chars.Length; j++)
                    {
                        chars[j] = (char)r.Next(0, 0x10000);
                    }

                    return new string(chars);
                }

                var bytes = new byte[r.Next(0, 300)];
                r.NextBytes(bytes);
                return Encoding.UTF8.GetString(bytes);
            }

            case 2:
            {
                var text = _corpus[r.Next(_corpus.Length)];
                return text[..r.Next(0, text.Length + 1)];
            }

            case 3:
            {
                var a = _corpus[r.Next(_corpus.Length)];
                var b = _corpus[r.Next(_corpus.Length)];
                return a[..r.Next(0, a.Length + 1)] + b[r.Next(0, b.Length + 1)..];
            }

            default:
            {
                var text = new StringBuilder(_corpus[r.Next(_corpus.Length)]);
                var edits = r.Next(1, 5);
                for (var e = 0; e < edits && text.Length > 0; e++)
                {
                    var at = r.Next(text.Length);
                    switch (r.Next(4))
                    {
                        case 0:
                            text.Remove(at, Math.Min(r.Next(1, 8), text.Length - at));
                            break;
                        case 1:
                            text.Insert(at, Vocabulary[r.Next(Vocabulary.Length)]);
                            break;
                        case 2:
                            text[at] = (char)r.Next(32, 127);
                            break;
                        default:
                            var from = r.Next(text.Length);
                            var len = Math.Min(r.Next(1, 40), text.Length - from);
                            text.Insert(at, text.ToString(from, len));
                            break;
                    }
                }

                return text.ToString();
            }
        }
    }

    private static readonly IReadOnlyList<JsonElement> OddBodies = [.. MakeOddEvents()];

    /// <summary>Odd event bodies: missing fields, wrong types, invalid escapes, deep nesting, non-objects (immutable, made once).</summary>
    public static IReadOnlyList<JsonElement> OddEvents() => OddBodies;

    private static IEnumerable<JsonElement> MakeOddEvents()
    {
        string[] bodies =
        [
            "{}", "[]", "5", "null", "\"text\"", """{"src_ip": 5, "message": ["a"], "ts": {"x": 1}, "timestamp": true}""",
            """{"message": "\ud800 lone surrogate", "\udc00key": "v", "src_ip": "1.2.3.4", "device": "\ud800"}""",
            """{"labels": null, "alerts": "not an array", "tags": {"0": 1}, "value": "12", "latency": "slow", "host": null}""",
            """{"timestamp": "2024-99-99T99:99:99Z", "ts": -99999999999999999999, "time": 1e308}""",
            """{"state": "down", "device": "r1", "interface": "eth0", "severity": 1e309, "bucket": -0.0}""",
            "{\"deep\":" + string.Concat(Enumerable.Repeat("[", 3000)) + string.Concat(Enumerable.Repeat("]", 3000)) + "}",
            "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":" + string.Concat(Enumerable.Repeat("{\"x\":", 500)) + "1" + new string('}', 506) + "}",
        ];
        foreach (var body in bodies)
        {
            JsonElement element;
            try
            {
                var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(body), new JsonReaderOptions { MaxDepth = 8192 });
                element = JsonElement.ParseValue(ref reader);
            }
            catch (JsonException)
            {
                continue;
            }

            yield return element;
        }
    }

    /// <summary>Checks the loader's promises on one rule text (see the class summary); null when every promise holds.</summary>
    /// <param name="text">Any text.</param>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    public static FuzzFailure? Check(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        RuleSetLoadResult result;
        try
        {
            result = RuleSetLoader.LoadSources([("fuzz.rules", text)]);
        }
        catch (Exception e)
        {
            return new FuzzFailure(text, $"the loader threw {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
        }

        var lines = text.Split('\n').Length + text.Count(c => c == '\r');
        foreach (var d in result.Diagnostics)
        {
            if (d.Location.Line < 1 || d.Location.Line > lines || d.Location.Column < 1)
            {
                return new FuzzFailure(text, $"diagnostic {d} has a location outside the text ({lines} lines)");
            }

            if (d.Code.Length != 6 || !d.Code.StartsWith("RF", StringComparison.Ordinal) || !d.Code[2..].All(char.IsAsciiDigit))
            {
                return new FuzzFailure(text, $"diagnostic {d} has a malformed code");
            }

            if (string.IsNullOrWhiteSpace(d.Message))
            {
                return new FuzzFailure(text, $"diagnostic {d.Code} has no message");
            }

            if (d.Code == "RF2999")
            {
                return new FuzzFailure(text, $"internal error: {d}");
            }

            try
            {
                _ = DiagnosticFormatter.Format(d, text);
            }
            catch (Exception e)
            {
                return new FuzzFailure(text, $"formatting {d} threw {e.GetType().Name}: {e.Message}");
            }
        }

        if (result.HasErrors && result.Files.All(f => f.Loaded))
        {
            return new FuzzFailure(text, "a file with errors was reported as loaded");
        }

        try
        {
            var session = result.RuleSet.CreateSession();
            var t = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
            var i = 0;
            foreach (var type in result.RuleSet.EventTypes)
            {
                foreach (var data in OddEvents().Prepend(JsonSerializer.SerializeToElement(new { src_ip = "1.2.3.4", message = "Failed password", name = "n", host = "h" })))
                {
                    session.Insert(new RuleEvent("e" + (i++).ToString(CultureInfo.InvariantCulture), type.Name, t.AddSeconds(i), data));
                }
            }

            session.AdvanceTo(t.AddDays(3));
            foreach (var rule in result.RuleSet.Rules)
            {
                _ = session.Explain(rule.Name);
            }

            using var snapshot = new MemoryStream();
            session.SaveSnapshot(snapshot);
            snapshot.Position = 0;
            result.RuleSet.RestoreSession(snapshot, new RuleSessionOptions());
        }
        catch (Exception e)
        {
            return new FuzzFailure(text, $"the session threw {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
        }

        return null;
    }
}
