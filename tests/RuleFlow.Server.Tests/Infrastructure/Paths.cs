namespace RuleFlow.Server.Tests.Infrastructure;

/// <summary>Where things are: the repository, the built server and CLI, the shared datasets.</summary>
public static class Paths
{
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>The server's own build output (same configuration as this test assembly).</summary>
    public static string ServerDll => Built("src/RuleFlow.Server", "RuleFlow.Server.dll");

    /// <summary>The CLI's build output.</summary>
    public static string CliDll => Built("tools/RuleFlow.Cli", "ruleflow.dll");

    /// <summary>
    /// The shared datasets folder: $RULEFLOW_DATASETS, else a shared/datasets folder above the repository, else
    /// /work/shared/datasets. Loghub data stays there (its licence); tests read it in place.
    /// </summary>
    public static string Datasets
    {
        get
        {
            var candidates = new List<string?> { Environment.GetEnvironmentVariable("RULEFLOW_DATASETS") };
            for (var dir = new DirectoryInfo(RepositoryRoot); dir is not null; dir = dir.Parent)
            {
                candidates.Add(Path.Combine(dir.FullName, "shared", "datasets"));
            }

            candidates.Add("/work/shared/datasets");
            return candidates.FirstOrDefault(c => !string.IsNullOrEmpty(c) && Directory.Exists(c))
                ?? throw new InvalidOperationException(
                    "The shared datasets folder was not found: set RULEFLOW_DATASETS to the folder holding loghub_openssh/ (tools/test.sh does).");
        }
    }

    public static string OpenSshLog => Path.Combine(Datasets, "loghub_openssh", "OpenSSH_2k.log");

    private static string Built(string project, string file)
    {
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory); // tests/RuleFlow.Server.Tests/bin/<Configuration>/<tfm>/
        var tfm = testOutput.Name;
        var configuration = testOutput.Parent!.Name;
        var path = Path.Combine(RepositoryRoot, project, "bin", configuration, tfm, file);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{path} is not built; build RuleFlow.sln first", path);
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RuleFlow.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("RuleFlow.sln not found above " + AppContext.BaseDirectory);
    }
}
