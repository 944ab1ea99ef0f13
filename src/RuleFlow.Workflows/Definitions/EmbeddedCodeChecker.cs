using RuleFlow.Scripting;

namespace RuleFlow.Workflows.Definitions;

/// <summary>
/// Checks the templates and scripts of rule actions as the workflow runtime compiles them when the action runs: a Handlebars
/// syntax error is <see cref="DiagnosticCodes.TemplateSyntax"/> (WF1021), a script that does not parse as an ES5.1 function body
/// <see cref="DiagnosticCodes.ScriptSyntax"/> (WF1020), each with the line and column inside the text. Hosts hand it to the rule
/// loader (<c>RuleSetLoader</c>'s <c>checkCode</c>), which reports the error at the rule's action.
/// </summary>
public static class EmbeddedCodeChecker
{
    /// <summary>The error of one template or script, or null when it compiles.</summary>
    /// <param name="kind"><c>script</c> (an ES5.1 function body) or <c>template</c> (Handlebars; a text without <c>{{</c> is plain text).</param>
    /// <param name="text">The text between the quotes.</param>
    /// <param name="rule">The rule's name, for the message.</param>
    /// <returns>The code (WF1020 or WF1021), the message with the position inside the text, and a hint.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static (string Code, string Message, string Hint)? Check(string kind, string text, string rule)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(rule);
        if (kind == "script")
        {
            return ScriptSandbox.CheckSyntax(text) is { } error
                ? (DiagnosticCodes.ScriptSyntax, $"rule '{rule}': script line {error.Line}, column {error.Column}: {error.Message}",
                    "scripts are ECMAScript 5.1 function bodies; return the result")
                : null;
        }

        if (!TemplateRenderer.IsTemplate(text))
        {
            return null;
        }

        try
        {
            new TemplateRenderer().Compile(text);
            return null;
        }
        catch (TemplateException e)
        {
            return (DiagnosticCodes.TemplateSyntax, $"rule '{rule}': template{(e.Line > 0 ? $" line {e.Line}, column {e.Column}" : "")}: {e.Message}",
                "Handlebars: close every {{#each}}/{{#if}} block and every {{ … }}");
        }
    }
}
