using System.Text.Json.Nodes;
using RuleFlow.Scripting;
using RuleFlow.Workflows.Definitions;

namespace RuleFlow.Workflows.Steps;

/// <summary><c>validate</c>: checks a value (default the input) against a JSON Schema; the failure lists the failing JSON paths.</summary>
internal sealed class ValidateStepExecutor : IStepExecutor
{
    public string Kind => StepKinds.Validate;

    public ValueTask<StepOutcome> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        var step = (ValidateStep)context.Step;
        var value = TemplateRenderer.Resolve(context.Scope(), step.Value);
        var violations = step.Schema.Validate(value);
        if (violations.Count == 0)
        {
            return ValueTask.FromResult<StepOutcome>(new StepCompleted(new JsonObject { ["valid"] = true }, null, [], []));
        }

        var details = new JsonObject
        {
            ["value"] = step.Value,
            ["violations"] = new JsonArray(violations.Select(v => (JsonNode)new JsonObject
            {
                ["path"] = v.Path,
                ["kind"] = v.Kind,
                ["message"] = v.Message,
            }).ToArray()),
        };
        var message = $"{step.Value} does not fit the schema: " + string.Join("; ", violations.Select(v => v.Message));
        return ValueTask.FromResult<StepOutcome>(new StepFailed(StepErrorCodes.ValidationFailed, message, details));
    }
}
