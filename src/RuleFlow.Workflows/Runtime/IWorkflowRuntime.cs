using System.Text.Json.Nodes;

namespace RuleFlow.Workflows.Runtime;

/// <summary>Where a workflow instance came from (for the journal's lineage: message id → rule activation → instance).</summary>
/// <param name="Rule">Rule name that fired, or null when started through the API.</param>
/// <param name="ActivationId">The rule activation id, or null.</param>
/// <param name="EventIds">Ids of the events that matched (message ids or body hashes).</param>
public sealed record Lineage(string? Rule, string? ActivationId, IReadOnlyList<string> EventIds)
{
    /// <summary>An instance started by hand (API or Studio).</summary>
    public static Lineage Manual { get; } = new(null, null, []);
}

/// <summary>A request to start a workflow instance.</summary>
/// <param name="WorkflowId">Definition id, e.g. <c>block-source-ip</c>; the newest loaded version is used.</param>
/// <param name="Input">Instance input (a JSON object).</param>
/// <param name="CorrelationKey">
/// Business key (e.g. the source IP). While an instance of the same workflow with this key is not finished,
/// a second start returns that instance and creates nothing.
/// </param>
/// <param name="IdempotencyKey">
/// Caller's key for this exact request (a rule activation id plus the action's index); a repeated request with the same
/// key returns the instance the first one created, whatever its state.
/// </param>
/// <param name="Lineage">Where the request came from.</param>
/// <param name="StartedBy">Who starts it.</param>
public sealed record StartWorkflowRequest(
    string WorkflowId,
    JsonObject Input,
    string? CorrelationKey,
    string? IdempotencyKey,
    Lineage Lineage,
    Actor StartedBy);

/// <summary>What a start did.</summary>
/// <param name="InstanceId">The new instance, or the existing one the start was deduplicated against.</param>
/// <param name="Created">False when an existing instance was returned (same correlation key still active, or same idempotency key).</param>
public sealed record StartWorkflowResult(Guid InstanceId, bool Created);

/// <summary>A decision on a pending approval.</summary>
public enum ApprovalOutcome
{
    /// <summary>Approved: the instance continues.</summary>
    Approved,

    /// <summary>Rejected: the instance compensates its completed steps and ends as compensated.</summary>
    Rejected,
}

/// <summary>The durable workflow runtime as the host sees it.</summary>
public interface IWorkflowRuntime
{
    /// <summary>Starts an instance (or returns the one it deduplicates against) and schedules it to run.</summary>
    /// <exception cref="WorkflowException">Code <c>WF4040</c> unknown workflow; <c>WF4000</c> input is not acceptable.</exception>
    Task<StartWorkflowResult> StartAsync(StartWorkflowRequest request, CancellationToken cancellationToken);

    /// <summary>Records a decision on a pending approval and resumes its instance.</summary>
    /// <param name="approvalId">Approval id as listed by <see cref="IWorkflowQueries.ListApprovalsAsync"/>.</param>
    /// <param name="outcome">Approve or reject.</param>
    /// <param name="actor">Who decides; must be an assignee.</param>
    /// <param name="comment">Free text kept with the decision.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <exception cref="WorkflowException">
    /// <c>WF4041</c> no such approval; <c>WF4090</c> already decided or timed out; <c>WF4030</c> the actor is not an assignee.
    /// </exception>
    Task DecideAsync(Guid approvalId, ApprovalOutcome outcome, Actor actor, string? comment, CancellationToken cancellationToken);

    /// <summary>As <see cref="DecideAsync(Guid, ApprovalOutcome, Actor, string?, CancellationToken)"/>, naming the channel the decision came through.</summary>
    /// <param name="approvalId">Approval id.</param>
    /// <param name="outcome">Approve or reject.</param>
    /// <param name="actor">Who decides; must be an assignee.</param>
    /// <param name="comment">Free text.</param>
    /// <param name="via"><c>http</c>, <c>amqp</c> or <c>api</c>: recorded with the decision.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The approval after the decision (still <c>pending</c> while an N-of-M approval needs more approvals).</returns>
    /// <exception cref="WorkflowException"><c>WF4041</c>, <c>WF4090</c> (also: this user already decided), <c>WF4030</c>.</exception>
    Task<ApprovalInfo> DecideAsync(Guid approvalId, ApprovalOutcome outcome, Actor actor, string? comment, string via, CancellationToken cancellationToken);

    /// <summary>
    /// Delivers an event to the instances waiting for it (<c>wait_for_event</c>): those whose bookmark has the event's
    /// type, whose correlation value matches and whose condition holds are resumed with the event as the step output.
    /// Costs one dictionary lookup when no instance waits for the type.
    /// </summary>
    /// <returns>How many waiting steps the event resumed.</returns>
    Task<int> DeliverEventAsync(WorkflowEvent evt, CancellationToken cancellationToken);

    /// <summary>
    /// Sends a signal to the unfinished instance of <paramref name="workflowId"/> with <paramref name="correlationKey"/>:
    /// resumes its <c>wait_for_event</c> step with <c>signal: NAME</c>, the payload becoming the step output.
    /// </summary>
    /// <returns>Whether a waiting step was resumed, and if not, why (no instance / not waiting on that signal).</returns>
    Task<SignalResult> SignalAsync(string workflowId, string correlationKey, string signal, JsonObject payload, CancellationToken cancellationToken);

    /// <summary>
    /// Cancels an unfinished instance: its waits are withdrawn (approvals cancelled, timers and bookmarks removed, called
    /// children cancelled), its completed steps compensated in reverse order, and it ends <c>cancelled</c>.
    /// </summary>
    /// <exception cref="WorkflowException"><c>WF4042</c> no such instance; <c>WF4090</c> it is already finished.</exception>
    Task CancelAsync(Guid instanceId, Actor actor, string? reason, CancellationToken cancellationToken);

    /// <summary>
    /// Retries a failed instance (state <c>failed</c> with an open incident): the step whose retries were exhausted runs
    /// again from attempt 1, or the compensation that failed runs again. The open incidents are resolved as <c>retry</c>.
    /// </summary>
    /// <exception cref="WorkflowException"><c>WF4042</c> no such instance; <c>WF4091</c> the instance is not failed or has nothing to retry.</exception>
    Task RetryAsync(Guid instanceId, Actor actor, CancellationToken cancellationToken);

    /// <summary>
    /// Resolves an incident: <c>retry</c> (as <see cref="RetryAsync"/>), <c>skip</c> (a failed compensation counts as done;
    /// compensation goes on), <c>compensate</c> (give up an exhausted step: compensate and end <c>compensated</c>), or
    /// <c>acknowledge</c> (only mark it resolved).
    /// </summary>
    /// <exception cref="WorkflowException"><c>WF4043</c> no such incident; <c>WF4090</c> already resolved; <c>WF4001</c> unknown action.</exception>
    Task ResolveIncidentAsync(Guid incidentId, string action, Actor actor, string? comment, CancellationToken cancellationToken);

    /// <summary>
    /// Runs the runtime until cancelled: resumes instances that were running when the process stopped, fires due
    /// timers (also those that fell due while the process was down), runs scheduled instances and dispatches the outbox.
    /// </summary>
    Task RunAsync(CancellationToken cancellationToken);
}

/// <summary>An event as the server applies it, for <see cref="IWorkflowRuntime.DeliverEventAsync"/>.</summary>
/// <param name="Id">Event id (message id).</param>
/// <param name="Type">Event type, e.g. <c>firewall.ack</c>.</param>
/// <param name="Time">Event time (UTC).</param>
/// <param name="Data">The event's JSON data.</param>
public sealed record WorkflowEvent(string Id, string Type, DateTimeOffset Time, JsonNode? Data)
{
    /// <summary><c>{ id, type, time, data }</c>: what conditions and correlation paths see as <c>event</c>.</summary>
    public JsonObject ToJson() => new()
    {
        ["id"] = Id,
        ["type"] = Type,
        ["time"] = Time.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        ["data"] = Data?.DeepClone(),
    };
}

/// <summary>What <see cref="IWorkflowRuntime.SignalAsync"/> did.</summary>
/// <param name="Delivered">True when a waiting step was resumed.</param>
/// <param name="InstanceId">The instance found, or null.</param>
/// <param name="Reason">Why nothing was resumed (<c>no-instance</c>, <c>not-waiting</c>), or null.</param>
public sealed record SignalResult(bool Delivered, Guid? InstanceId, string? Reason);

/// <summary>A workflow error a caller can act on, with a stable code (<c>WFnnnn</c>) for the API's ProblemDetails.</summary>
public sealed class WorkflowException : Exception
{
    /// <summary>Creates the exception.</summary>
    public WorkflowException(string code, string message) : base(message) => Code = code;

    /// <summary>Creates the exception (no code: <c>WF5000</c>).</summary>
    public WorkflowException() : this("WF5000", "workflow error") { }

    /// <summary>Creates the exception (code <c>WF5000</c>).</summary>
    public WorkflowException(string message) : this("WF5000", message) { }

    /// <summary>Creates the exception (code <c>WF5000</c>).</summary>
    public WorkflowException(string message, Exception innerException) : base(message, innerException) => Code = "WF5000";

    /// <summary>Stable error code; the thousands digit mirrors the HTTP status class (WF4040 → 404).</summary>
    public string Code { get; }
}
