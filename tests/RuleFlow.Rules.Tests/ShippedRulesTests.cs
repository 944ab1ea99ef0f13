using RuleFlow.Rules.Testing;

namespace RuleFlow.Rules.Tests;

/// <summary>Every shipped rule file loads without warnings, has a test file next to it, and its tests pass.</summary>
public sealed class ShippedRulesTests
{
    private static string Rules => Path.Combine(TestPaths.RepositoryRoot, "rules");

    [Fact]
    public void Every_shipped_rule_file_loads_cleanly_and_has_tests()
    {
        var files = Directory.EnumerateFiles(Rules, "*.rules", SearchOption.AllDirectories).ToList();
        Assert.True(files.Count >= 3, "ship the ssh rule and at least two examples");
        var result = RuleSetLoader.LoadDirectory(Rules);
        Assert.True(result.Diagnostics.Count == 0, string.Join("\n", result.FormatDiagnostics()));
        foreach (var file in files)
        {
            var test = Path.ChangeExtension(file, RuleTestRunner.Extension);
            Assert.True(File.Exists(test), $"{file} has no {Path.GetFileName(test)}");
        }
    }

    [Fact]
    public void The_shipped_rule_tests_pass()
    {
        var results = RuleTestRunner.Run([Rules]);
        Assert.NotEmpty(results);
        foreach (var file in results)
        {
            Assert.True(file.Diagnostics.Count == 0, file.Path + ": " + string.Join("\n", file.Diagnostics));
            Assert.NotEmpty(file.Tests);
            foreach (var test in file.Tests)
            {
                Assert.True(test.Passed, $"{file.Path}: {test.Name}\n{string.Join("\n", test.Failures)}");
            }
        }
    }

    [Fact]
    public void Event_file_paths_expand_environment_variables_and_find_the_shared_datasets_folder_above_the_test()
    {
        var root = Directory.CreateTempSubdirectory("ruleflow-expand-").FullName;
        try
        {
            var datasets = Directory.CreateDirectory(Path.Combine(root, "shared", "datasets")).FullName;
            var rules = Directory.CreateDirectory(Path.Combine(root, "repo", "rules")).FullName;
            string? None(string _) => null;
            string? Elsewhere(string name) => name == "RULEFLOW_DATASETS" ? "/elsewhere" : null;
            Assert.Equal(datasets + "/x.log", RuleFlow.Rules.Testing.RuleTestRunner.ExpandVariables("${RULEFLOW_DATASETS}/x.log", rules, None));
            Assert.Equal("/elsewhere/x.log", RuleFlow.Rules.Testing.RuleTestRunner.ExpandVariables("${RULEFLOW_DATASETS}/x.log", rules, Elsewhere));
            Assert.Equal("plain/x.log", RuleFlow.Rules.Testing.RuleTestRunner.ExpandVariables("plain/x.log", rules, None));
            Assert.Equal("/x.log", RuleFlow.Rules.Testing.RuleTestRunner.ExpandVariables("${RULEFLOW_NO_SUCH_VARIABLE}/x.log", rules, Elsewhere));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
