using System.Text.Json.Nodes;
using RuleFlow.Scripting;
using RuleFlow.Workflows.Definitions;

namespace RuleFlow.Workflows.Steps;

/// <summary>
/// <c>script</c>: runs the script in the sandbox with globals <c>input</c>, <c>vars</c>, <c>steps</c>, <c>instance</c>,
/// <c>context</c> (<c>{ instanceId, stepId, idempotencyKey }</c>), <c>log</c> and the host modules. The return value is
/// the output; <c>vars</c> as left by the script become the instance variables.
/// </summary>
internal sealed class ScriptStepExecutor(ScriptSandbox sandbox, IReadOnlyList<IScriptHostModule> modules) : IStepExecutor
{
    public string Kind => StepKinds.Script;

    public ValueTask<StepOutcome> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var step = (ScriptStep)context.Step;
        var scope = context.Scope();
        var callContext = new ScriptCallContext(context.Instance.Id, context.OwnerStepId, context.IdempotencyKey);
        var globals = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["input"] = scope["input"]!.ToJsonString(),
            ["vars"] = scope["vars"]!.ToJsonString(),
            ["steps"] = scope["steps"]!.ToJsonString(),
            ["instance"] = scope["instance"]!.ToJsonString(),
            ["context"] = new JsonObject
            {
                ["instanceId"] = context.Instance.Id.ToString("D"),
                ["stepId"] = context.OwnerStepId,
                ["idempotencyKey"] = context.IdempotencyKey,
            }.ToJsonString(),
        };
        try
        {
            var result = sandbox.Run(new ScriptRequest(step.Script, globals, callContext, modules, ["vars"]));
            var output = result.ResultJson is null ? null : JsonNode.Parse(result.ResultJson);
            var vars = result.Globals.TryGetValue("vars", out var varsJson) ? JsonNode.Parse(varsJson) as JsonObject : null;
            var log = result.DroppedLogLines > 0 ? [.. result.Log, $"… {result.DroppedLogLines} more log lines dropped"] : result.Log;
            return ValueTask.FromResult<StepOutcome>(new StepCompleted(output, vars ?? new JsonObject(), [], log));
        }
        catch (ScriptException ex)
        {
            var details = new JsonObject
            {
                ["kind"] = ex.Kind.ToString(),
                ["line"] = ex.Line,
                ["column"] = ex.Column,
            };
            return ValueTask.FromResult<StepOutcome>(new StepFailed(StepErrorCodes.ScriptFailed, ex.Message, details));
        }
    }
}
