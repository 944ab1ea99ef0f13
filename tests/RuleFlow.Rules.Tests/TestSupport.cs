using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RuleFlow.Rules.Tests;

/// <summary>Locations of the repository and the shared datasets.</summary>
internal static class TestPaths
{
    /// <summary>The repository root: the first ancestor of the test's base directory holding RuleFlow.sln.</summary>
    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "RuleFlow.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException($"RuleFlow.sln not found above {AppContext.BaseDirectory}");
        }
    }

    /// <summary>
    /// The shared datasets directory: $RULEFLOW_DATASETS, else the first <c>shared/datasets</c> found walking up from the test's
    /// base directory, else /work/shared/datasets. Fails (never skips) when none exists.
    /// </summary>
    public static string Datasets
    {
        get
        {
            var candidates = new List<string>();
            if (Environment.GetEnvironmentVariable("RULEFLOW_DATASETS") is { Length: > 0 } fromEnv)
            {
                candidates.Add(fromEnv);
            }

            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                candidates.Add(Path.Combine(dir.FullName, "shared", "datasets"));
            }

            candidates.Add("/work/shared/datasets");
            return candidates.FirstOrDefault(Directory.Exists)
                   ?? throw new InvalidOperationException(
                       "The shared datasets directory was not found. Set RULEFLOW_DATASETS to the directory holding loghub_openssh/OpenSSH_2k.log " +
                       "(looked in: " + string.Join(", ", candidates.Distinct()) + ").");
        }
    }
}

/// <summary>Small helpers to build events and rule sets in tests.</summary>
internal static class T
{
    public static readonly DateTimeOffset Base = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static int _ids;

    public static RuleSet Load(string source, string path = "test.rules")
    {
        var result = RuleSetLoader.LoadSources([(path, source)]);
        Assert.False(result.HasErrors, string.Join("\n", result.FormatDiagnostics()));
        return result.RuleSet;
    }

    public static IReadOnlyList<Diagnostic> Diagnose(string source, string path = "test.rules") =>
        RuleSetLoader.LoadSources([(path, source)]).Diagnostics;

    /// <summary>An event whose data is <paramref name="json"/>; its caller time is <see cref="Base"/> + <paramref name="ms"/>.</summary>
    public static RuleEvent Event(string type, double ms, object data, string? id = null)
    {
        var element = JsonSerializer.SerializeToElement(data);
        return new RuleEvent(id ?? "e" + Interlocked.Increment(ref _ids).ToString(CultureInfo.InvariantCulture), type,
            Base.AddMilliseconds(ms), element);
    }

    public static RuleEvent Raw(string type, double ms, string json, string id) =>
        new(id, type, Base.AddMilliseconds(ms), JsonDocument.Parse(json).RootElement.Clone());

    public static StartWorkflowAction Start(RuleFiring firing) => Assert.IsType<StartWorkflowAction>(Assert.Single(firing.Actions));

    public static List<RuleFiring> InsertAll(RuleSession session, IEnumerable<RuleEvent> events) =>
        [.. events.SelectMany(session.Insert)];
}

/// <summary>Turns BSD-syslog lines of the loghub OpenSSH log into ssh.auth events (as <c>ruleflow replay --format syslog</c> does).</summary>
internal static partial class SyslogMapper
{
    [GeneratedRegex(@"^(?<mon>[A-Z][a-z]{2}) +(?<day>\d{1,2}) (?<time>\d{2}:\d{2}:\d{2}) (?<host>\S+) (?<program>[^\[:\s]+)(\[(?<pid>\d+)\])?: (?<message>.*)$")]
    private static partial Regex LineRegex();

    [GeneratedRegex(@"from (\d+\.\d+\.\d+\.\d+)")]
    private static partial Regex SourceIpRegex();

    /// <summary>
    /// <c>{ timestamp: ISO-8601 UTC (year 2017), host, program, pid: number, message, src_ip }</c>; src_ip is absent when the message
    /// has no <c>from a.b.c.d</c>. Returns null for a line that is not syslog.
    /// </summary>
    public static JsonObject? Map(string line)
    {
        var m = LineRegex().Match(line);
        if (!m.Success)
        {
            return null;
        }

        var stamp = DateTime.ParseExact($"2017 {m.Groups["mon"].Value} {m.Groups["day"].Value.PadLeft(2, '0')} {m.Groups["time"].Value}",
            "yyyy MMM dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
        var json = new JsonObject
        {
            ["timestamp"] = stamp.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            ["host"] = m.Groups["host"].Value,
            ["program"] = m.Groups["program"].Value,
        };
        if (m.Groups["pid"].Success)
        {
            json["pid"] = long.Parse(m.Groups["pid"].Value, CultureInfo.InvariantCulture);
        }

        var message = m.Groups["message"].Value;
        json["message"] = message;
        var ip = SourceIpRegex().Match(message);
        if (ip.Success)
        {
            json["src_ip"] = ip.Groups[1].Value;
        }

        return json;
    }
}
