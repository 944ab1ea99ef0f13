using System.Text.Json.Nodes;
using RuleFlow.Scripting;
using RuleFlow.Workflows.Definitions;

namespace RuleFlow.Workflows.Steps;

/// <summary>
/// Runs <c>script</c> steps in the sandbox: globals <c>input</c>, <c>vars</c> (handed back), <c>steps</c>, <c>instance</c>,
/// <c>item</c>/<c>index</c> in a foreach, <c>context</c> (<c>instanceId</c>, <c>stepId</c>, <c>idempotencyKey</c>), <c>log()</c>
/// and the host modules. The return value is the output.
/// </summary>
internal sealed class ScriptStepExecutor(ScriptSandbox sandbox, IReadOnlyList<IScriptHostModule> modules) : IStepExecutor
{
    public string Kind => StepKinds.Script;

    public ValueTask<StepOutcome> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var step = (ScriptStep)context.Step;
        var callContext = new ScriptCallContext(context.Instance.Id, context.OwnerStepId, context.IdempotencyKey);
        var globals = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in context.Data)
        {
            globals[name] = value?.ToJsonString() ?? "null";
        }

        globals["context"] = new JsonObject
        {
            ["instanceId"] = context.Instance.Id.ToString("D"),
            ["stepId"] = context.OwnerStepId,
            ["idempotencyKey"] = context.IdempotencyKey,
        }.ToJsonString();
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
            if (step.File is not null)
            {
                details["file"] = step.File;
            }

            return ValueTask.FromResult<StepOutcome>(new StepFailed(StepErrorCodes.ScriptFailed, ex.Message, details));
        }
    }
}
