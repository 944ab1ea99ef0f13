using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RuleFlow.Rules.Language;

namespace RuleFlow.Rules.Testing;

/// <summary>The outcome of one test of a rule test file.</summary>
/// <param name="Name">Test name.</param>
/// <param name="Location">Where the test starts.</param>
/// <param name="Passed">True when every expectation held and no firing was left unexpected.</param>
/// <param name="Failures">Readable explanations with expected and actual firings (empty when passed).</param>
/// <param name="Firings">Firings the test produced.</param>
public sealed record RuleTestResult(string Name, SourceLocation Location, bool Passed, IReadOnlyList<string> Failures, int Firings);

/// <summary>The outcome of one rule test file.</summary>
/// <param name="Path">The test file.</param>
/// <param name="RuleFiles">The rule files it loaded.</param>
/// <param name="Diagnostics">Errors of the test file itself and errors of the rule files (then no test runs).</param>
/// <param name="Tests">The tests, in file order.</param>
public sealed record RuleTestFileResult(string Path, IReadOnlyList<string> RuleFiles, IReadOnlyList<Diagnostic> Diagnostics, IReadOnlyList<RuleTestResult> Tests)
{
    /// <summary>True when the file loaded and every test passed.</summary>
    public bool Passed => Diagnostics.All(d => d.Severity != DiagnosticSeverity.Error) && Tests.All(t => t.Passed);
}

/// <summary>
/// Runs rule tests: files <c>*.ruletest</c> next to the rules (format in docs/rules-tutorial.md). Each test starts a fresh session on
/// a virtual clock (event time only), feeds it events and clock moves, and checks the firings against its <c>expect</c> blocks: each
/// block lists, in order, every firing since the previous block (no others), with the actions it must contain. Never throws for a
/// bad test file: its problems are diagnostics with file:line:column.
/// </summary>
public static class RuleTestRunner
{
    /// <summary>Extension of rule test files.</summary>
    public const string Extension = ".ruletest";

    /// <summary>Runs every <c>*.ruletest</c> file under the given files or directories; action templates and scripts are not checked.</summary>
    /// <param name="paths">Test files or directories (searched recursively).</param>
    /// <exception cref="ArgumentNullException"><paramref name="paths"/> is null.</exception>
    public static IReadOnlyList<RuleTestFileResult> Run(IEnumerable<string> paths) => Run(paths, null);

    /// <summary>
    /// Runs every <c>*.ruletest</c> file under the given files or directories, loading the rule files as a host does: with
    /// <paramref name="checkCode"/>, a rule file whose action template or script does not compile fails to load, and the tests of a
    /// file that names it report that error instead of passing on a rule set the server would refuse.
    /// </summary>
    /// <param name="paths">Test files or directories (searched recursively).</param>
    /// <param name="checkCode">Compiles one template or script as the host would (see <see cref="RuleSetLoader.LoadDirectory(string, Func{EmbeddedCodeInfo, EmbeddedCodeError})"/>); null checks none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="paths"/> is null.</exception>
    public static IReadOnlyList<RuleTestFileResult> Run(IEnumerable<string> paths, Func<EmbeddedCodeInfo, EmbeddedCodeError?>? checkCode)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var files = new SortedSet<string>(StringComparer.Ordinal);
        var results = new List<RuleTestFileResult>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                foreach (var file in Directory.EnumerateFiles(path, "*" + Extension, SearchOption.AllDirectories))
                {
                    files.Add(file.Replace('\\', '/'));
                }
            }
            else if (File.Exists(path))
            {
                files.Add(path.Replace('\\', '/'));
            }
            else
            {
                results.Add(new RuleTestFileResult(path, [], [new Diagnostic("RF4000", DiagnosticSeverity.Error, $"'{path}' does not exist", new SourceLocation(path, 1, 1))], []));
            }
        }

        foreach (var file in files)
        {
            string text;
            try
            {
                text = File.ReadAllText(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                results.Add(new RuleTestFileResult(file, [], [new Diagnostic("RF4000", DiagnosticSeverity.Error, $"cannot read {file}: {e.Message}", new SourceLocation(file, 1, 1))], []));
                continue;
            }

            results.Add(RunFile(file, text, null, checkCode));
        }

        return results;
    }

    /// <summary>Parses a test file without running it (the Studio's save check): its syntax diagnostics.</summary>
    /// <param name="path">The test file's path (for locations).</param>
    /// <param name="text">Its text.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static IReadOnlyList<Diagnostic> ParseOnly(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(text);
        return TestFileParser.Parse(path, text).Diagnostics;
    }

    /// <summary>
    /// Checks a test file without running it (for <c>ruleflow check</c>): its syntax diagnostics, then whether it has rule files to
    /// test: RF4001 when it names none and its folder has no <c>*.rules</c>, RF1000 at the name for each named rule file that does
    /// not exist (what <c>ruleflow test</c> would stop at). The rule files' own diagnostics are the rule files' to report.
    /// </summary>
    /// <param name="path">The test file's path (for locations; it locates the rule files).</param>
    /// <param name="text">Its text.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static IReadOnlyList<Diagnostic> Check(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(text);
        var file = TestFileParser.Parse(path, text);
        var diagnostics = new List<Diagnostic>(file.Diagnostics);
        if (diagnostics.Any(x => x.Severity == DiagnosticSeverity.Error))
        {
            return diagnostics;
        }

        var (directory, ruleFiles) = RuleFilesOf(path, file);
        if (ruleFiles.Count == 0)
        {
            diagnostics.Add(NoRuleFiles(path, directory));
        }

        for (var i = 0; i < file.RuleFiles.Count; i++)
        {
            var name = file.RuleFiles[i];
            if (!File.Exists(Path.Combine(directory, name)))
            {
                diagnostics.Add(new Diagnostic("RF1000", DiagnosticSeverity.Error, $"the rule file '{name}' named here does not exist ({Path.Combine(directory, name)})",
                    file.RuleFileLocations[i], "rule files are named relative to the test file"));
            }
        }

        return diagnostics;
    }

    private static (string Directory, List<string> RuleFiles) RuleFilesOf(string path, TestFile file)
    {
        var directory = Path.GetDirectoryName(path) is { Length: > 0 } d ? d : ".";
        var ruleFiles = file.RuleFiles.Count > 0
            ? file.RuleFiles.Select(r => Path.Combine(directory, r).Replace('\\', '/')).ToList()
            : [.. Directory.EnumerateFiles(directory, "*.rules", SearchOption.TopDirectoryOnly).Order(StringComparer.Ordinal).Select(f => f.Replace('\\', '/'))];
        return (directory, ruleFiles);
    }

    private static Diagnostic NoRuleFiles(string path, string directory) =>
        new("RF4001", DiagnosticSeverity.Error, $"no rule file to test: {directory} has no *.rules and the file names none",
            new SourceLocation(path, 1, 1), "name them: rules \"my.rules\"");

    /// <summary>Runs one test file given as text (its path locates the rule files and the event files).</summary>
    /// <param name="path">The test file's path.</param>
    /// <param name="text">Its text.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static RuleTestFileResult RunFile(string path, string text) => RunFile(path, text, null);

    /// <summary>
    /// Runs one test file given as text, with some rule files given as text too (unsaved edits: the Studio runs the tests of a
    /// rules file against what is in its editor). Rule files not in <paramref name="ruleTexts"/> are read from disk.
    /// </summary>
    /// <param name="path">The test file's path.</param>
    /// <param name="text">Its text.</param>
    /// <param name="ruleTexts">Full path of a rule file → its text; null or empty: every rule file from disk.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static RuleTestFileResult RunFile(string path, string text, IReadOnlyDictionary<string, string>? ruleTexts) =>
        RunFile(path, text, ruleTexts, null);

    /// <summary>
    /// As <see cref="RunFile(string, string, IReadOnlyDictionary{string, string})"/>, loading the rule files with
    /// <paramref name="checkCode"/> (see <see cref="Run(IEnumerable{string}, Func{EmbeddedCodeInfo, EmbeddedCodeError})"/>).
    /// </summary>
    /// <param name="path">The test file's path.</param>
    /// <param name="text">Its text.</param>
    /// <param name="ruleTexts">Full path of a rule file → its text; null or empty: every rule file from disk.</param>
    /// <param name="checkCode">Compiles one template or script as the host would; null checks none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> or <paramref name="text"/> is null.</exception>
    public static RuleTestFileResult RunFile(string path, string text, IReadOnlyDictionary<string, string>? ruleTexts, Func<EmbeddedCodeInfo, EmbeddedCodeError?>? checkCode)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(text);
        var file = TestFileParser.Parse(path, text);
        var (directory, ruleFiles) = RuleFilesOf(path, file);
        var diagnostics = new List<Diagnostic>(file.Diagnostics);
        if (diagnostics.Any(x => x.Severity == DiagnosticSeverity.Error))
        {
            return new RuleTestFileResult(path, ruleFiles, diagnostics, []);
        }

        if (ruleFiles.Count == 0)
        {
            diagnostics.Add(NoRuleFiles(path, directory));
            return new RuleTestFileResult(path, ruleFiles, diagnostics, []);
        }

        var loaded = RuleSetLoader.LoadFiles(ruleFiles, ruleTexts, checkCode);
        if (loaded.HasErrors)
        {
            diagnostics.AddRange(loaded.Diagnostics.Where(x => x.Severity == DiagnosticSeverity.Error));
            return new RuleTestFileResult(path, ruleFiles, diagnostics, []);
        }

        var tests = file.Tests.Select(t => RunTest(loaded.RuleSet, file, t, directory)).ToList();
        return new RuleTestFileResult(path, ruleFiles, diagnostics, tests);
    }

    /// <summary>
    /// Expands <c>${NAME}</c> in an event file path from the environment. <c>${RULEFLOW_DATASETS}</c>, when the variable is
    /// not set, is the nearest <c>shared/datasets</c> folder above <paramref name="directory"/> (data such as loghub's stays
    /// in the shared folder under its licence, so tests name it this way instead of by a relative path).
    /// </summary>
    internal static string ExpandVariables(string path, string directory) => ExpandVariables(path, directory, Environment.GetEnvironmentVariable);

    /// <summary>As <see cref="ExpandVariables(string, string)"/>, with the variables from <paramref name="environment"/>.</summary>
    internal static string ExpandVariables(string path, string directory, Func<string, string?> environment)
    {
        var result = new System.Text.StringBuilder();
        var i = 0;
        while (i < path.Length)
        {
            var start = path.IndexOf("${", i, StringComparison.Ordinal);
            var end = start < 0 ? -1 : path.IndexOf('}', start + 2);
            if (start < 0 || end < 0)
            {
                result.Append(path, i, path.Length - i);
                break;
            }

            result.Append(path, i, start - i);
            var name = path[(start + 2)..end];
            var value = environment(name);
            if (string.IsNullOrEmpty(value) && name == "RULEFLOW_DATASETS")
            {
                for (var dir = new DirectoryInfo(Path.GetFullPath(directory)); dir is not null && value is null; dir = dir.Parent)
                {
                    var candidate = Path.Combine(dir.FullName, "shared", "datasets");
                    value = Directory.Exists(candidate) ? candidate : null;
                }
            }

            result.Append(value ?? "");
            i = end + 1;
        }

        return result.ToString();
    }

    private static RuleTestResult RunTest(RuleSet rules, TestFile file, TestCase test, string directory)
    {
        var failures = new List<string>();

        // Names that cannot match anything are typos: said before running, not found out from a diff.
        var types = rules.EventTypes.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var ruleNames = rules.Rules.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var step in test.Steps)
        {
            var (location, type) = step switch
            {
                EventStep e => (e.Location, e.Type),
                EventsStep e => (e.Location, e.Type),
                _ => (step.Location, (string?)null),
            };
            if (type is not null && !types.Contains(type))
            {
                failures.Add($"{location}: the rule files declare no event or fact type '{type}' (such an event would only move the clock)");
            }

            if (step is ExpectStep expect)
            {
                foreach (var name in expect.Firings.Select(f => f.Rule).Append(expect.CountRule).OfType<string>().Distinct().Where(n => !ruleNames.Contains(n)))
                {
                    failures.Add($"{expect.Location}: expects rule \"{name}\", which is not in the rule set (rules: {string.Join(", ", ruleNames.Order(StringComparer.Ordinal).Select(r => $"\"{r}\""))})");
                }
            }
        }

        if (failures.Count > 0)
        {
            return new RuleTestResult(test.Name, test.Location, false, failures, 0);
        }

        var session = rules.CreateSession(new RuleSessionOptions { AllowedLateness = file.Lateness });
        var notApplied = new List<string>();
        var pending = new List<RuleFiring>();
        var total = 0;
        var clock = DateTimeOffset.UnixEpoch;
        var n = 0;
        var stepAt = test.Location;
        try
        {
            foreach (var step in test.Steps)
            {
                stepAt = step.Location;
                switch (step)
                {
                    case EventStep e:
                    {
                        clock = e.At is { } at ? at : e.After is { } after ? clock + after : clock;
                        var data = JsonSerializer.SerializeToElement(e.Data);
                        if (rules.IsFactType(e.Type) && (e.At is not null || e.After is not null))
                        {
                            // A fact has no event time, so inserting it does not move the clock: time passes to the step's time first,
                            // as the server's idle clock moves it while no event comes.
                            var passed = session.AdvanceTo(clock);
                            pending.AddRange(passed);
                            total += passed.Count;
                        }

                        var evt = new RuleEvent(e.Id ?? "e" + (++n).ToString(CultureInfo.InvariantCulture), e.Type, clock, data);
                        var firings = session.Insert(evt);
                        NoteNotApplied(session, e.Location.ToString(), evt, notApplied);
                        pending.AddRange(firings);
                        total += firings.Count;
                        break;
                    }

                    case EventsStep e:
                    {
                        var file2 = Path.Combine(directory, ExpandVariables(e.File, directory));
                        if (!File.Exists(file2))
                        {
                            var hint = e.File.Contains("${", StringComparison.Ordinal)
                                ? " (variables come from the environment; ${RULEFLOW_DATASETS} also from the nearest shared/datasets folder above the test file)"
                                : "";
                            failures.Add($"{e.Location}: the event file {file2} does not exist{hint}");
                            return new RuleTestResult(test.Name, test.Location, false, failures, total);
                        }

                        foreach (var (id, time, data) in EventFiles.Read(file2, e.Format, e.Year))
                        {
                            clock = time ?? clock;
                            var evt = new RuleEvent(id, e.Type, clock, data);
                            var firings = session.Insert(evt);
                            NoteNotApplied(session, e.Location.ToString(), evt, notApplied);
                            pending.AddRange(firings);
                            total += firings.Count;
                        }

                        break;
                    }

                    case AdvanceStep a:
                    {
                        clock = a.To ?? clock + a.By!.Value;
                        var firings = session.AdvanceTo(clock);
                        pending.AddRange(firings);
                        total += firings.Count;
                        break;
                    }

                    case ExpectStep expect:
                        Check(expect, pending, failures);
                        pending.Clear();
                        break;
                }
            }
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            failures.Add($"{stepAt}: {e.Message}"); // the step that read the file, then the file's own line in the message
        }

        if (pending.Count > 0)
        {
            var text = new StringBuilder($"{pending.Count} firing(s) after the last expect were not expected (every firing must be expected):");
            foreach (var firing in pending.Take(10))
            {
                text.Append("\n  ").Append(Describe(firing));
            }

            failures.Add(text.ToString());
        }

        if (failures.Count > 0 && notApplied.Count > 0)
        {
            // What the diff alone does not show: events the session did not apply (a late one is the usual cause of a missing firing).
            failures.Add("events not applied:\n  " + string.Join("\n  ", notApplied.Take(10))
                         + (notApplied.Count > 10 ? $"\n  … {notApplied.Count - 10} more" : ""));
        }

        return new RuleTestResult(test.Name, test.Location, failures.Count == 0, failures, total);
    }

    /// <summary>Notes an event the session did not apply (late, invalid, or dropped as a duplicate), with why.</summary>
    private static void NoteNotApplied(RuleSession session, string at, RuleEvent evt, List<string> notes)
    {
        var why = session.LastInsertStatus switch
        {
            InsertStatus.Late => $"late: older than the clock ({session.Clock:O}) allows for its type (its window's retention and the allowed lateness)",
            InsertStatus.Invalid => "invalid: " + (session.DescribeInvalid(evt) ?? "it breaks its type's declaration"),
            InsertStatus.Deduplicated => "dropped by its type's dedup",
            InsertStatus.UnknownType => "its type is not declared",
            _ => null,
        };
        if (why is not null)
        {
            notes.Add($"{at}: {evt.Type} {evt.Id} at {evt.Time:O}: {why}");
        }
    }

    private static void Check(ExpectStep expect, List<RuleFiring> actual, List<string> failures)
    {
        if (expect.CountRule is { } countRule)
        {
            var count = actual.Count(f => f.Rule == countRule);
            var others = actual.Where(f => f.Rule != countRule).ToList();
            if (count != expect.Count)
            {
                failures.Add($"{expect.Location}: expected {expect.Count} firing(s) of \"{countRule}\", got {count}");
            }

            if (others.Count > 0)
            {
                failures.Add($"{expect.Location}: unexpected firings of other rules: " + string.Join(", ", others.Select(o => o.Rule).Distinct()));
            }

            return;
        }

        var problems = new List<string>();
        for (var i = 0; i < Math.Max(expect.Firings.Count, actual.Count); i++)
        {
            var wanted = i < expect.Firings.Count ? expect.Firings[i] : null;
            var got = i < actual.Count ? actual[i] : null;
            if (wanted is null)
            {
                problems.Add($"  unexpected firing {i + 1}: {Describe(got!)}");
                continue;
            }

            if (got is null)
            {
                problems.Add($"  missing firing {i + 1}: {wanted.Text}");
                continue;
            }

            var mismatch = Match(wanted, got);
            if (mismatch is not null)
            {
                problems.Add($"  firing {i + 1}:\n    expected {wanted.Text}\n    actual   {Describe(got)}\n    {mismatch}");
            }
        }

        if (problems.Count > 0)
        {
            failures.Add($"{expect.Location}: {(expect.Firings.Count == 0 ? "expected nothing to fire" : $"expected {expect.Firings.Count} firing(s), got {actual.Count}")}\n" +
                         string.Join("\n", problems));
        }
    }

    private static string? Match(ExpectedFiring wanted, RuleFiring got)
    {
        if (wanted.Rule != got.Rule)
        {
            return $"rule: expected \"{wanted.Rule}\", got \"{got.Rule}\"";
        }

        if (wanted.At is { } at && at != got.Time)
        {
            return $"time: expected {at:O}, got {got.Time:O}";
        }

        var next = 0;
        foreach (var action in wanted.Actions)
        {
            var found = false;
            string? closest = null;
            for (; next < got.Actions.Count; next++)
            {
                var problem = action.Mismatch(got.Actions[next]);
                if (problem is null)
                {
                    found = true;
                    next++;
                    break;
                }

                closest ??= problem;
            }

            if (!found)
            {
                return $"action {action.Text}: " + (closest ?? "no such action in the firing");
            }
        }

        return null;
    }

    internal static string Describe(RuleFiring firing) =>
        $"\"{firing.Rule}\" at {firing.Time:O}" + string.Concat(firing.Actions.Select(a => "\n      " + DescribeAction(a)));

    private static string DescribeAction(RuleAction action) => action switch
    {
        StartWorkflowAction s => $"start workflow \"{s.WorkflowId}\"{(s.CorrelationKey is null ? "" : $" key \"{s.CorrelationKey}\"")} with {s.Input.ToJsonString()}",
        SignalWorkflowAction s => $"signal \"{s.Signal}\" to workflow \"{s.WorkflowId}\" key \"{s.CorrelationKey}\" with {s.Payload.ToJsonString()}",
        PublishAction p => $"publish {p.Body.ToJsonString()} to exchange \"{p.Exchange}\" routing \"{p.RoutingKey}\"",
        ScriptAction => "script ...",
        LogAction l => $"log {l.Level} {JsonSerializer.Serialize(l.Message)}",
        InsertFactAction i => $"insert {i.Type} {i.Fact.ToJsonString()}",
        UpdateFactAction u => $"update {u.Type} {u.Fact.ToJsonString()}",
        RetractFactAction r => $"retract {r.Type} ({r.FactId})",
        _ => action.GetType().Name,
    };

    /// <summary>True when every property of <paramref name="expected"/> is in <paramref name="actual"/> with a matching value.</summary>
    internal static string? Subset(JsonNode? expected, JsonNode? actual, string path)
    {
        switch (expected)
        {
            case JsonObject o:
                if (actual is not JsonObject a)
                {
                    return $"{path}: expected an object, got {actual?.ToJsonString() ?? "nothing"}";
                }

                foreach (var (name, value) in o)
                {
                    if (!a.ContainsKey(name))
                    {
                        return $"{path}.{name}: missing (expected {value?.ToJsonString() ?? "null"})";
                    }

                    if (Subset(value, a[name], path + "." + name) is { } problem)
                    {
                        return problem;
                    }
                }

                return null;
            case JsonArray e:
                if (actual is not JsonArray b || b.Count != e.Count)
                {
                    return $"{path}: expected {e.ToJsonString()}, got {actual?.ToJsonString() ?? "nothing"}";
                }

                for (var i = 0; i < e.Count; i++)
                {
                    if (Subset(e[i], b[i], $"{path}[{i}]") is { } problem)
                    {
                        return problem;
                    }
                }

                return null;
            default:
                return JsonNode.DeepEquals(expected, actual) || (expected is JsonValue ev && actual is JsonValue av && NumbersEqual(ev, av))
                    ? null
                    : $"{path}: expected {expected?.ToJsonString() ?? "null"}, got {actual?.ToJsonString() ?? "nothing"}";
        }
    }

    private static bool NumbersEqual(JsonValue a, JsonValue b) =>
        a.TryGetValue<double>(out var x) && b.TryGetValue<double>(out var y) && x == y;
}

/// <summary>Reads event files for tests: JSON lines, or BSD syslog lines (mapped by <see cref="SyslogParser"/>, as <c>ruleflow replay --format syslog</c> maps them).</summary>
internal static class EventFiles
{
    /// <summary>The events of a file, with ids <c>file:line</c> (blank lines skipped).</summary>
    /// <exception cref="JsonException">A line that is not a JSON object (jsonl) or not a syslog line (syslog), naming the file and line.</exception>
    public static IEnumerable<(string Id, DateTimeOffset? Time, JsonElement Data)> Read(string path, string format, int year)
    {
        var name = Path.GetFileName(path);
        var line = 0;
        var syslog = new SyslogParser(year, TimeSpan.Zero, []);
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            var id = $"{name}:{line}";
            if (format == "syslog")
            {
                var evt = syslog.Parse(text.TrimEnd('\r'), out var error)
                          ?? throw new JsonException($"{path}:{line}: {error}");
                var time = DateTimeOffset.Parse(evt["timestamp"]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
                yield return (id, time, JsonSerializer.SerializeToElement(evt));
            }
            else
            {
                JsonElement data;
                try
                {
                    using var document = JsonDocument.Parse(text);
                    data = document.RootElement.Clone();
                }
                catch (JsonException e)
                {
                    throw new JsonException($"{path}:{line}: not a JSON object: {e.Message}", e);
                }

                if (data.ValueKind != JsonValueKind.Object)
                {
                    throw new JsonException($"{path}:{line}: not a JSON object but {data.ValueKind.ToString().ToLowerInvariant()}");
                }

                yield return (id, null, data);
            }
        }
    }
}
