using RuleFlow.Rules;
using RuleFlow.Rules.Testing;

namespace RuleFlow.Cli;

/// <summary>
/// <c>ruleflow test [paths]</c>: runs the rule tests (<c>*.ruletest</c>, next to the rules; default: <c>rules</c>) on a virtual clock
/// and prints each test with ✓ or ✗ and, for a failure, the expected and actual firings. Exit code 1 when a test fails or a file has
/// errors, 2 when a path does not exist, else 0. Format of the test files: docs/rules-tutorial.md.
/// </summary>
public static class TestCommand
{
    /// <summary>Runs the tests.</summary>
    /// <param name="paths">Test files or directories (default <c>rules</c>).</param>
    /// <param name="output">Where results go.</param>
    /// <param name="errors">Where usage errors go.</param>
    public static int Run(IReadOnlyList<string> paths, TextWriter output, TextWriter errors)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(errors);
        if (CommandPaths.OrDefaults(paths, "test", errors, "rules") is not { } given)
        {
            return 2;
        }

        paths = given;

        var missing = paths.Where(p => !File.Exists(p) && !Directory.Exists(p)).ToList();
        missing.ForEach(p => errors.WriteLine($"ruleflow test: '{p}' does not exist"));
        if (missing.Count > 0)
        {
            return 2;
        }

        var results = RuleTestRunner.Run(paths, HostChecks.EmbeddedCode); // templates and scripts of actions compiled as the server loads them
        int passed = 0, failed = 0;
        foreach (var file in results)
        {
            output.WriteLine(file.Path);
            foreach (var d in file.Diagnostics)
            {
                output.WriteLine("  " + d);
                if (d.Hint is not null)
                {
                    output.WriteLine("    = hint: " + d.Hint);
                }
            }

            foreach (var test in file.Tests)
            {
                if (test.Passed)
                {
                    passed++;
                    output.WriteLine($"  ✓ {test.Name} ({test.Firings} firing(s))");
                }
                else
                {
                    failed++;
                    output.WriteLine($"  ✗ {test.Name} ({test.Location})");
                    foreach (var failure in test.Failures)
                    {
                        output.WriteLine("      " + failure.Replace("\n", "\n      ", StringComparison.Ordinal));
                    }
                }
            }
        }

        var broken = results.Count(r => r.Diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error));
        output.WriteLine($"{results.Count} file(s), {passed + failed} test(s): {passed} passed, {failed} failed" + (broken > 0 ? $", {broken} file(s) with errors" : ""));
        return failed > 0 || broken > 0 ? 1 : 0;
    }
}
