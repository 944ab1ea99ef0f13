using RuleFlow.Scripting;

namespace RuleFlow.Workflows.Definitions;

/// <summary>A template or script embedded in a rule's action (the host's copy of the rule engine's <c>EmbeddedCodeInfo</c>).</summary>
/// <param name="Kind"><c>template</c> (Handlebars, a <c>start workflow … with template</c>) or <c>script</c> (an ES5.1 function body).</param>
/// <param name="Text">The text between the quotes.</param>
/// <param name="File">The rule file.</param>
/// <param name="Line">1-based line of the action.</param>
/// <param name="Column">1-based column of the action.</param>
/// <param name="Rule">The rule's name.</param>
public sealed record EmbeddedCode(string Kind, string Text, string File, int Line, int Column, string Rule);

/// <summary>
/// Checks the templates and scripts of rule actions as the server would compile them when the action runs: a Handlebars syntax error
/// is <see cref="DiagnosticCodes.TemplateSyntax"/> (WF1021), a script that does not parse as an ES5.1 function body
/// <see cref="DiagnosticCodes.ScriptSyntax"/> (WF1020), each at the rule's action with the line and column inside the text.
/// </summary>
public static class EmbeddedCodeChecker
{
    /// <summary>The errors of <paramref name="code"/>, in order; empty when every text compiles.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="code"/> is null.</exception>
    public static IReadOnlyList<WorkflowDiagnostic> Check(IEnumerable<EmbeddedCode> code)
    {
        ArgumentNullException.ThrowIfNull(code);
        var templates = new TemplateRenderer();
        var result = new List<WorkflowDiagnostic>();
        foreach (var item in code)
        {
            if (item.Kind == "script")
            {
                if (ScriptSandbox.CheckSyntax(item.Text) is { } error)
                {
                    result.Add(new WorkflowDiagnostic(DiagnosticCodes.ScriptSyntax, WorkflowDiagnosticSeverity.Error,
                        $"rule '{item.Rule}': script line {error.Line}, column {error.Column}: {error.Message}", item.File, item.Line, item.Column, "$",
                        "scripts are ECMAScript 5.1 function bodies; return the result"));
                }
            }
            else if (TemplateRenderer.IsTemplate(item.Text))
            {
                try
                {
                    templates.Compile(item.Text);
                }
                catch (TemplateException e)
                {
                    result.Add(new WorkflowDiagnostic(DiagnosticCodes.TemplateSyntax, WorkflowDiagnosticSeverity.Error,
                        $"rule '{item.Rule}': template{(e.Line > 0 ? $" line {e.Line}, column {e.Column}" : "")}: {e.Message}", item.File, item.Line, item.Column, "$",
                        "Handlebars: close every {{#each}}/{{#if}} block and every {{ … }}"));
                }
            }
        }

        return result;
    }
}
