using System.Text.Json.Nodes;

namespace RuleFlow.Workflows.Definitions;

/// <summary>
/// What a rule's <c>start workflow</c> action passes, as far as it is known when the rules load.
/// </summary>
/// <param name="WorkflowId">The workflow the rule starts.</param>
/// <param name="File">The rule file.</param>
/// <param name="Line">1-based line of the action.</param>
/// <param name="Column">1-based column.</param>
/// <param name="Rule">The rule's name.</param>
/// <param name="InputFields">
/// Input field name → the JSON type its expression yields (<c>string</c>, <c>number</c>, <c>integer</c>, <c>boolean</c>,
/// <c>array</c>, <c>object</c>, <c>null</c>), or null when the type is not known before run time.
/// </param>
/// <param name="FieldsKnown">
/// False when the input is a template, whose fields are known only when the rule fires: then only the workflow's existence is checked.
/// </param>
public sealed record StartWorkflowTarget(string WorkflowId, string File, int Line, int Column, string Rule, IReadOnlyDictionary<string, string?> InputFields,
    bool FieldsKnown = true);

/// <summary>
/// Checks rules' <c>start workflow</c> actions against the loaded workflows when rules and workflows load together:
/// the workflow exists, and, when the input's fields are known (a map literal, not a template), every property its input schema
/// requires is given, no field is given that the schema forbids (<c>additionalProperties: false</c>), and fields whose type is known
/// have the type the schema declares.
/// Every problem is a <c>WF1040</c> error at the rule's file:line:column with the JSON path of the field.
/// </summary>
public static class StartWorkflowChecker
{
    /// <summary>Checks <paramref name="targets"/> against <paramref name="workflows"/> (the current definitions).</summary>
    public static IReadOnlyList<WorkflowDiagnostic> Check(IEnumerable<StartWorkflowTarget> targets, IEnumerable<WorkflowDefinition> workflows)
    {
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(workflows);
        var byId = workflows.ToDictionary(w => w.Id, StringComparer.Ordinal);
        var result = new List<WorkflowDiagnostic>();
        foreach (var target in targets)
        {
            WorkflowDiagnostic Error(string message, string path, string? hint) =>
                new(DiagnosticCodes.StartInputMismatch, WorkflowDiagnosticSeverity.Error, $"rule '{target.Rule}': {message}", target.File, target.Line, target.Column, path, hint);

            if (!byId.TryGetValue(target.WorkflowId, out var workflow))
            {
                result.Add(Error($"start workflow '{target.WorkflowId}': no such workflow is loaded", "$",
                    "known workflows: " + string.Join(", ", byId.Keys.Order(StringComparer.Ordinal))));
                continue;
            }

            if (!target.FieldsKnown || workflow.InputSchema?.Raw is not JsonObject schema)
            {
                continue;
            }

            var properties = schema["properties"] as JsonObject;
            foreach (var required in (schema["required"] as JsonArray ?? []).Select(r => r?.GetValue<string>()).OfType<string>())
            {
                if (!target.InputFields.ContainsKey(required))
                {
                    result.Add(Error($"start workflow '{workflow.Id}' does not give '{required}', which its input schema requires", "$." + required,
                        $"add {required}: … to the input of the start workflow action"));
                }
            }

            var closed = schema["additionalProperties"] is JsonValue v && v.TryGetValue<bool>(out var allowed) && !allowed;
            foreach (var (field, type) in target.InputFields)
            {
                var property = properties?[field] as JsonObject;
                if (property is null)
                {
                    if (closed)
                    {
                        result.Add(Error($"start workflow '{workflow.Id}': input field '{field}' is not allowed by its input schema", "$." + field,
                            "allowed fields: " + string.Join(", ", properties?.Select(p => p.Key) ?? [])));
                    }

                    continue;
                }

                if (type is null || property["type"] is not { } declared)
                {
                    continue;
                }

                var types = declared is JsonArray array ? array.Select(t => t?.GetValue<string>()).OfType<string>().ToList() : [declared.GetValue<string>()];
                var fits = types.Any(t => t == type || (t == "number" && type == "integer"));
                if (!fits)
                {
                    result.Add(Error($"start workflow '{workflow.Id}': input field '{field}' is {type}, but the input schema wants {string.Join(" or ", types)}",
                        "$." + field, "convert the value in the rule, or widen the schema"));
                }
            }
        }

        return result;
    }
}
