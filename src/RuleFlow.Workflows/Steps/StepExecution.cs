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
/// <param name="Data">What templates and scripts see: <c>{ input, vars, steps, instance, item?, index? }</c>.</param>
/// <param name="FrameId">The frame the step runs in.</param>
internal sealed record StepContext(
    WorkflowDefinition Definition,
    InstanceRecord Instance,
    StepDefinition Step,
    string OwnerStepId,
    string IdempotencyKey,
    DateTimeOffset Now,
    JsonObject Data,
    string FrameId)
{
    /// <summary>
    /// <see cref="Data"/>: built for this one step execution (copies of the instance's JSON), so the executor may read it
    /// and add to it; templates copy what they take from it.
    /// </summary>
    public JsonObject Scope() => Data;

    /// <summary><c>{ id, workflow, version, correlationKey }</c>.</summary>
    public JsonObject InstanceInfo() => InstanceInfo(Instance);

    /// <summary><c>{ id, workflow, version, correlationKey }</c>.</summary>
    public static JsonObject InstanceInfo(InstanceRecord instance) => new()
    {
        ["id"] = instance.Id.ToString("D"),
        ["workflow"] = instance.WorkflowId,
        ["version"] = instance.Version,
        ["correlationKey"] = instance.CorrelationKey,
    };

    /// <summary>A deterministic GUID for <paramref name="suffix"/> of this step execution.</summary>
    public Guid Derive(string suffix) => IdempotencyKeys.ToGuid(IdempotencyKey + ":" + suffix);
}

/// <summary>How a step ended.</summary>
internal abstract record StepOutcome;

/// <summary>The step completed.</summary>
/// <param name="Output">The step output (kept in <c>steps.&lt;id&gt;.output</c>), or null.</param>
/// <param name="Variables">New variables when the step changed them, else null.</param>
/// <param name="Outbox">Messages to write with the completion.</param>
/// <param name="Log">Script log lines, journaled with the completion.</param>
internal sealed record StepCompleted(JsonNode? Output, JsonObject? Variables, IReadOnlyList<OutboxRecord> Outbox, IReadOnlyList<string> Log) : StepOutcome
{
    /// <summary>The step's input as journaled (rendered request, checked value …), or null.</summary>
    public JsonNode? Input { get; init; }
}

/// <summary>The step waits on a bookmark or a timer.</summary>
/// <param name="Wait">What it waits for.</param>
/// <param name="Approval">The approval to create, or null.</param>
/// <param name="Timer">The timer to create (timeout, delay), or null.</param>
/// <param name="Bookmark">The event bookmark to create, or null.</param>
internal sealed record StepWaiting(WaitInfo Wait, ApprovalInfo? Approval, TimerRecord? Timer, BookmarkRecord? Bookmark) : StepOutcome;

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
    /// <summary>A validate step's value does not fit its schema or expression.</summary>
    public const string ValidationFailed = "WF4220";

    /// <summary>An approval was rejected (or timed out with on_timeout: reject).</summary>
    public const string Rejected = "WF4221";

    /// <summary>A fail step (default code).</summary>
    public const string Failed = "WF4222";

    /// <summary>A step (or a wait) took longer than its timeout.</summary>
    public const string Timeout = "WF4080";

    /// <summary>A called sub-workflow did not complete.</summary>
    public const string CallFailed = "WF4223";

    /// <summary>
    /// A publish step's rendered exchange or routing key is longer than AMQP allows (<see cref="Runtime.AmqpLimits"/>): the message
    /// could never be sent, so it is not written to the outbox. Not retried by default (the same input renders the same text).
    /// </summary>
    public const string MessageRejected = "WF4224";

    /// <summary>A script or expression failed (syntax, runtime error, limit).</summary>
    public const string ScriptFailed = "WF5100";

    /// <summary>A template failed to render.</summary>
    public const string TemplateFailed = "WF5200";

    /// <summary>An HTTP request failed (network, timeout, unexpected status after its tries).</summary>
    public const string HttpFailed = "WF5300";

    /// <summary>The runtime could not run the step (unknown kind, definition missing).</summary>
    public const string Internal = "WF5000";
}
