using RuleFlow.Rules;
using RuleFlow.Workflows.Definitions;

namespace RuleFlow.Cli;

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
