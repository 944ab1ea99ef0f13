using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

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

    /// <summary>The session saved to a snapshot and restored from it, as after a restart.</summary>
    public static RuleSession Restore(RuleSet rules, RuleSession session)
    {
        using var stream = new MemoryStream();
        session.SaveSnapshot(stream);
        stream.Position = 0;
        return rules.RestoreSession(stream, new RuleSessionOptions());
    }

    public static List<RuleFiring> InsertAll(RuleSession session, IEnumerable<RuleEvent> events) =>
        [.. events.SelectMany(session.Insert)];
}

