using RuleFlow.Rules.Language;

namespace RuleFlow.Rules;

/// <summary>A rule's <c>start workflow</c> action as known when the rules load.</summary>
/// <param name="Rule">The rule's name.</param>
/// <param name="WorkflowId">The workflow it starts.</param>
/// <param name="File">The rule file.</param>
/// <param name="Line">1-based line of the action.</param>
/// <param name="Column">1-based column of the action.</param>
/// <param name="InputFields">
/// Input field → JSON type of its expression (<c>string</c>, <c>boolean</c>, <c>object</c>, <c>array</c>, <c>null</c>), or
/// null when it is not certain before run time (numbers: integer or not depends on the value; times). Empty for <c>with template "…"</c> (fields unknown).
/// </param>
/// <param name="FieldsKnown">False for a template input, whose fields are known only at run time.</param>
public sealed record WorkflowStartInfo(string Rule, string WorkflowId, string File, int Line, int Column, IReadOnlyDictionary<string, string?> InputFields,
    bool FieldsKnown = true)
{
    internal static WorkflowStartInfo From(string rule, BoundStartWorkflow action)
    {
        var fields = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (key, value) in action.Input?.Entries ?? [])
        {
            fields[key] = value.Type switch
            {
                ExprType.String => "string",
                ExprType.Bool => "boolean",
                ExprType.Object => "object",
                ExprType.Array => "array",
                ExprType.Null => "null",
                _ => null,
            };
        }

        return new WorkflowStartInfo(rule, action.WorkflowId, action.Location.File, action.Location.Line, action.Location.Column, fields,
            action.Template is null);
    }
}
