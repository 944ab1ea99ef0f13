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
}
