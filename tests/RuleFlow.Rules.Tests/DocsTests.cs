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
}
