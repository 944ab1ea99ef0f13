using System.Text.Json.Nodes;
using RuleFlow.Scripting;
using RuleFlow.Workflows.Definitions;

namespace RuleFlow.Workflows.Steps;

/// <summary>Runs <c>validate</c> steps: the value at <see cref="ValidateStep.Value"/> against the schema and/or the expression.</summary>
internal sealed class ValidateStepExecutor(ExpressionEvaluator expressions) : IStepExecutor
{
    public string Kind => StepKinds.Validate;

    public ValueTask<StepOutcome> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        var step = (ValidateStep)context.Step;
        var scope = context.Scope();
        var value = TemplateRenderer.Resolve(scope, step.Value);
        var violations = step.Schema?.Validate(value) ?? [];
        var list = violations.Select(v => (JsonNode)new JsonObject { ["path"] = v.Path, ["kind"] = v.Kind, ["message"] = v.Message }).ToList();
        var messages = violations.Select(v => v.Message).ToList();
        if (step.Expression is { } expression)
        {
            scope["value"] = value?.DeepClone();
            try
            {
                var result = expressions.Evaluate(expression, scope, new ScriptCallContext(context.Instance.Id, context.OwnerStepId, context.IdempotencyKey));
                if (!ExpressionEvaluator.Truthy(result))
                {
                    list.Add(new JsonObject { ["path"] = "$", ["kind"] = "ExpressionFalse", ["message"] = $"expression '{expression}' is false" });
                    messages.Add($"expression '{expression}' is false");
                }
            }
            catch (ScriptException ex)
            {
                return ValueTask.FromResult<StepOutcome>(new StepFailed(StepErrorCodes.ScriptFailed, "validate expression: " + ex.Message,
                    new JsonObject { ["line"] = ex.Line, ["column"] = ex.Column }));
            }
        }

        if (list.Count == 0)
        {
            return ValueTask.FromResult<StepOutcome>(new StepCompleted(new JsonObject { ["valid"] = true }, null, [], []));
        }

        var details = new JsonObject { ["value"] = step.Value, ["violations"] = new JsonArray([.. list]) };
        var message = $"{step.Value} does not validate: " + string.Join("; ", messages);
        return ValueTask.FromResult<StepOutcome>(new StepFailed(StepErrorCodes.ValidationFailed, message, details));
    }
}
