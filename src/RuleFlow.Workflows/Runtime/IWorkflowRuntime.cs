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

    /// <summary>
    /// Runs the runtime until cancelled: resumes instances that were running when the process stopped, fires due
    /// timers (also those that fell due while the process was down), runs scheduled instances and dispatches the outbox.
    /// </summary>
    Task RunAsync(CancellationToken cancellationToken);
}

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
