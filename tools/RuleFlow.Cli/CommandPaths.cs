using RuleFlow.Rules;
using RuleFlow.Workflows.Definitions;

namespace RuleFlow.Cli;

/// <summary>The paths a command works on when none are given.</summary>
internal static class CommandPaths
{
    /// <summary>
    /// <paramref name="paths"/> when some are given, else those of <paramref name="defaults"/> that exist here; null (and a line on
    /// <paramref name="errors"/> naming <paramref name="command"/>) when there are none.
    /// </summary>
    public static IReadOnlyList<string>? OrDefaults(IReadOnlyList<string> paths, string command, TextWriter errors, params string[] defaults)
    {
        if (paths.Count > 0)
        {
            return paths;
        }

        var existing = defaults.Where(Directory.Exists).ToArray();
        if (existing.Length == 0)
        {
            errors.WriteLine($"ruleflow {command}: no paths given and no {string.Join(" or ", defaults.Select(d => d + "/"))} directory here");
            return null;
        }

        return existing;
    }
}

/// <summary>What the server checks when it loads rule files, for the commands that load them (check, test, explain).</summary>
internal static class HostChecks
{
    /// <summary>
    /// Compiles a rule action's Handlebars template or script as the server's load does (<c>WF1021</c>, <c>WF1020</c> at the action),
    /// so a file the server would refuse fails in every command too.
    /// </summary>
    public static EmbeddedCodeError? EmbeddedCode(EmbeddedCodeInfo code) =>
        EmbeddedCodeChecker.Check(code.Kind, code.Text, code.Rule) is { } e ? new EmbeddedCodeError(e.Code, e.Message, e.Hint) : null;
}
