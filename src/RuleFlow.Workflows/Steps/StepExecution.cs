using System.Text.Json.Nodes;
using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Workflows.Steps;

/// <summary>What a step executor sees: the definition, the instance as committed, the step, its idempotency key, the time.</summary>
/// <param name="Definition">The exact definition the instance runs on.</param>
/// <param name="Instance">The instance as last committed.</param>
/// <param name="Step">The step (or compensation action) to run.</param>
/// <param name="OwnerStepId">The step id journaled for it (the compensated step for a compensation action).</param>
/// <param name="IdempotencyKey">Stable key of this side effect (see <see cref="IdempotencyKeys"/>).</param>
/// <param name="Now">The runtime's clock reading (UTC).</param>
internal sealed record StepContext(
    WorkflowDefinition Definition,
    InstanceRecord Instance,
    StepDefinition Step,
    string OwnerStepId,
    string IdempotencyKey,
    DateTimeOffset Now)
{
    /// <summary><c>{ input, vars, steps: { id: { output } }, instance: { id, workflow, version, correlationKey } }</c>: what templates see.</summary>
    public JsonObject Scope()
    {
        var steps = new JsonObject();
        foreach (var (id, output) in Instance.StepOutputs)
        {
            steps[id] = new JsonObject { ["output"] = output?.DeepClone() };
        }

        return new JsonObject
        {
            ["input"] = Instance.Input.DeepClone(),
            ["vars"] = Instance.Variables.DeepClone(),
            ["steps"] = steps,
            ["instance"] = InstanceInfo(),
        };
    }

    /// <summary><c>{ id, workflow, version, correlationKey }</c>.</summary>
    public JsonObject InstanceInfo() => new()
    {
        ["id"] = Instance.Id.ToString("D"),
        ["workflow"] = Instance.WorkflowId,
        ["version"] = Instance.Version,
        ["correlationKey"] = Instance.CorrelationKey,
    };
}

/// <summary>How a step ended.</summary>
internal abstract record StepOutcome;

/// <summary>The step completed.</summary>
/// <param name="Output">The step output (kept in <c>steps.&lt;id&gt;.output</c>), or null.</param>
/// <param name="Variables">New variables when the step changed them, else null.</param>
/// <param name="Outbox">Messages to write with the completion.</param>
/// <param name="Log">Script log lines, journaled with the completion.</param>
internal sealed record StepCompleted(JsonNode? Output, JsonObject? Variables, IReadOnlyList<OutboxRecord> Outbox, IReadOnlyList<string> Log) : StepOutcome;

/// <summary>The step waits on a bookmark.</summary>
/// <param name="WaitingFor">E.g. <c>approval:&lt;id&gt;</c>.</param>
/// <param name="Approval">The approval to create.</param>
/// <param name="Timer">Its timeout timer, or null.</param>
internal sealed record StepWaiting(string WaitingFor, ApprovalInfo Approval, TimerRecord? Timer) : StepOutcome;

/// <summary>The step failed.</summary>
/// <param name="Code">Error code (<c>WF4220</c> validation, <c>WF5100</c> script, <c>WF5200</c> template, …).</param>
/// <param name="Message">What happened.</param>
/// <param name="Details">Structured details (violations, script line/column), or null.</param>
internal sealed record StepFailed(string Code, string Message, JsonObject? Details) : StepOutcome;

/// <summary>Runs one kind of step.</summary>
internal interface IStepExecutor
{
    /// <summary>The kind handled.</summary>
    string Kind { get; }

    /// <summary>Runs the step; returns the outcome (errors in the definition's or user's domain are outcomes, not exceptions).</summary>
    ValueTask<StepOutcome> ExecuteAsync(StepContext context, CancellationToken cancellationToken);
}

/// <summary>Error codes of failed steps.</summary>
public static class StepErrorCodes
{
    /// <summary>A validate step's value does not fit its schema.</summary>
    public const string ValidationFailed = "WF4220";

    /// <summary>An approval was rejected (or timed out with on_timeout: reject).</summary>
    public const string Rejected = "WF4221";

    /// <summary>A script failed (syntax, runtime error, limit).</summary>
    public const string ScriptFailed = "WF5100";

    /// <summary>A template failed to render.</summary>
    public const string TemplateFailed = "WF5200";

    /// <summary>The runtime could not run the step (unknown kind, definition missing).</summary>
    public const string Internal = "WF5000";
}
