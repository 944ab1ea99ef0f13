using RuleFlow.Rules.Language;

namespace RuleFlow.Rules.Tests;

public sealed class DocsTests
{
    private static readonly string Reference = File.ReadAllText(Path.Combine(TestPaths.RepositoryRoot, "docs", "rules-language.md"));

    [Fact]
    public void Every_diagnostic_code_is_documented_in_the_reference_table()
    {
        foreach (var descriptor in DiagnosticCodes.All)
        {
            Assert.Contains($"| {descriptor.Code} |", Reference, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_reference_opens_with_the_shipped_rule_file_verbatim()
    {
        var shipped = File.ReadAllText(Path.Combine(TestPaths.RepositoryRoot, "rules", "ssh-bruteforce.rules")).Replace("\r\n", "\n", StringComparison.Ordinal);
        Assert.Contains("```\n" + shipped + "```", Reference, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_complete_example_in_the_reference_loads_without_errors_or_warnings()
    {
        var blocks = System.Text.RegularExpressions.Regex.Matches(Reference.Replace("\r\n", "\n", StringComparison.Ordinal), "```rules\n(.*?)```",
            System.Text.RegularExpressions.RegexOptions.Singleline);
        Assert.True(blocks.Count >= 9, $"only {blocks.Count} examples");
        foreach (System.Text.RegularExpressions.Match block in blocks)
        {
            var result = RuleSetLoader.LoadSources([("doc.rules", block.Groups[1].Value)]);
            Assert.True(result.Diagnostics.Count == 0, string.Join("\n", result.FormatDiagnostics()) + "\nin:\n" + block.Groups[1].Value);
        }
    }

    [Fact]
    public void The_tutorials_rules_load_and_its_tests_pass_as_written()
    {
        var tutorial = File.ReadAllText(Path.Combine(TestPaths.RepositoryRoot, "docs", "rules-tutorial.md")).Replace("\r\n", "\n", StringComparison.Ordinal);
        var blocks = System.Text.RegularExpressions.Regex.Matches(tutorial, "```\n(.*?)```", System.Text.RegularExpressions.RegexOptions.Singleline)
            .Select(m => m.Groups[1].Value).Where(b => !b.Contains("<step>", StringComparison.Ordinal) && !b.Contains("$ ", StringComparison.Ordinal)
                                                       && !b.Contains('✗', StringComparison.Ordinal)).ToList();
        var rules = blocks.Where(b => (b.Contains("rule \"", StringComparison.Ordinal) || b.TrimStart().StartsWith("fact", StringComparison.Ordinal)
                                       || b.TrimStart().StartsWith("event", StringComparison.Ordinal)) && !b.Contains("test \"", StringComparison.Ordinal)).ToList();
        var tests = blocks.Where(b => b.Contains("test \"", StringComparison.Ordinal)).ToList();
        Assert.True(rules.Count >= 4 && tests.Count >= 3, $"{blocks.Count} blocks, {rules.Count} rules, {tests.Count} tests");
        var directory = Directory.CreateTempSubdirectory("ruleflow-tutorial-");
        try
        {
            File.WriteAllText(Path.Combine(directory.FullName, "logins.rules"), string.Join("\n", rules));
            File.WriteAllText(Path.Combine(directory.FullName, "logins.ruletest"), string.Join("\n", tests));
            var result = Assert.Single(Testing.RuleTestRunner.Run([directory.FullName]));
            Assert.True(result.Diagnostics.Count == 0, string.Join("\n", result.Diagnostics));
            Assert.Equal(4, result.Tests.Count);
            Assert.All(result.Tests, t => Assert.True(t.Passed, t.Name + "\n" + string.Join("\n", t.Failures)));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
