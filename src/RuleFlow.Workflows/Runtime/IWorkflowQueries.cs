using System.Text.Json.Nodes;

namespace RuleFlow.Workflows.Runtime;

/// <summary>Lifecycle states of a workflow instance.</summary>
public enum InstanceState
{
    /// <summary>Running a step (or scheduled to).</summary>
    Running,

    /// <summary>Waiting on a bookmark (approval, timer, event).</summary>
    Waiting,

    /// <summary>Undoing completed steps in reverse order.</summary>
    Compensating,

    /// <summary>All steps completed.</summary>
    Completed,

    /// <summary>A step failed and compensation could not restore the state (an incident exists).</summary>
    Failed,

    /// <summary>A failure or a rejection was compensated: completed steps were undone.</summary>
    Compensated,

    /// <summary>Cancelled by an operator.</summary>
    Cancelled,
}

/// <summary>Filter and page for <see cref="IWorkflowQueries.ListInstancesAsync"/>.</summary>
/// <param name="Workflow">Definition id, or null for all.</param>
/// <param name="State">State, or null for all.</param>
/// <param name="CorrelationKey">Exact correlation key, or null.</param>
/// <param name="Page">1-based page number.</param>
/// <param name="PageSize">Items per page, 1..500.</param>
public sealed record InstanceQuery(string? Workflow, InstanceState? State, string? CorrelationKey, int Page = 1, int PageSize = 50)
{
    /// <summary>Only instances created at or after this time, or null.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Only instances created before this time, or null.</summary>
    public DateTimeOffset? To { get; init; }
}

/// <summary>One page of results.</summary>
/// <param name="Items">The page's items, newest first.</param>
/// <param name="Total">Count of all items that match the filter.</param>
public sealed record Page<T>(IReadOnlyList<T> Items, int Total);

/// <summary>An instance as listed by <c>GET /api/instances</c>.</summary>
public sealed record InstanceSummary(
    Guid Id,
    string Workflow,
    int Version,
    InstanceState State,
    string? CorrelationKey,
    JsonObject Input,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>One journal entry: a step or compensation started, completed or failed; an instance state change.</summary>
/// <param name="Sequence">1-based order within the instance.</param>
/// <param name="At">When it happened (UTC).</param>
/// <param name="StepId">Step id, or null for instance-level entries.</param>
/// <param name="Kind">
/// <c>instance.started</c>, <c>step.started</c>, <c>step.completed</c>, <c>step.failed</c>, <c>step.waiting</c>,
/// <c>compensation.started</c>, <c>compensation.completed</c>, <c>compensation.failed</c>, <c>instance.completed</c>,
/// <c>instance.compensated</c>, <c>instance.failed</c>, <c>approval.decided</c>, …
/// </param>
/// <param name="Attempt">1-based attempt of the step.</param>
/// <param name="Data">Input, output or error of the entry (JSON), or null.</param>
public sealed record JournalEntry(long Sequence, DateTimeOffset At, string? StepId, string Kind, int Attempt, JsonNode? Data);

/// <summary>An approval request and, once decided, its decision.</summary>
/// <param name="Id">Approval id (used by <c>POST /api/approvals/{id}/approve|reject</c>).</param>
/// <param name="InstanceId">The waiting instance.</param>
/// <param name="Workflow">Its workflow id.</param>
/// <param name="StepId">The approval step.</param>
/// <param name="State"><c>pending</c>, <c>approved</c>, <c>rejected</c>, <c>timed_out</c> or <c>cancelled</c>.</param>
/// <param name="Assignees">Users and roles allowed to decide (<c>role:approver</c>, <c>user:alice</c>).</param>
/// <param name="Message">The rendered message (Handlebars) with the evidence.</param>
/// <param name="CreatedAt">When the approval was requested.</param>
/// <param name="DueAt">When it times out, or null.</param>
/// <param name="DecidedBy">Who decided (<c>system</c> for a timeout), or null.</param>
/// <param name="DecidedAt">When, or null.</param>
/// <param name="Comment">The decision's comment, or null.</param>
/// <param name="Required">Approvals needed (N of N-of-M).</param>
/// <param name="Decisions">Every decision so far, in order.</param>
/// <param name="Level">0, or 1 once escalated.</param>
public sealed record ApprovalInfo(
    Guid Id,
    Guid InstanceId,
    string Workflow,
    string StepId,
    string State,
    IReadOnlyList<string> Assignees,
    string Message,
    DateTimeOffset CreatedAt,
    DateTimeOffset? DueAt,
    string? DecidedBy,
    DateTimeOffset? DecidedAt,
    string? Comment,
    int Required = 1,
    IReadOnlyList<ApprovalDecision>? Decisions = null,
    int Level = 0)
{
    /// <summary>Every decision so far (never null).</summary>
    public IReadOnlyList<ApprovalDecision> AllDecisions => Decisions ?? [];
}

/// <summary>One person's decision on an approval.</summary>
/// <param name="By">User name (<c>system</c> for a timeout).</param>
/// <param name="At">When (UTC).</param>
/// <param name="Outcome"><c>approved</c> or <c>rejected</c>.</param>
/// <param name="Comment">Their comment, or null.</param>
/// <param name="Via"><c>http</c>, <c>amqp</c>, <c>timeout</c> or <c>api</c>.</param>
public sealed record ApprovalDecision(string By, DateTimeOffset At, string Outcome, string? Comment, string Via);

/// <summary>An instance with everything the API shows of it.</summary>
public sealed record InstanceDetails(
    InstanceSummary Summary,
    string? CurrentStep,
    string? WaitingFor,
    JsonObject Variables,
    string? Error,
    Lineage Lineage,
    IReadOnlyList<JournalEntry> Journal,
    IReadOnlyList<ApprovalInfo> Approvals)
{
    /// <summary>The instance output (completed instances), or null.</summary>
    public JsonNode? Output { get; init; }

    /// <summary>The calling instance, or null.</summary>
    public Guid? ParentInstanceId { get; init; }

    /// <summary>Open and resolved incidents of the instance.</summary>
    public IReadOnlyList<IncidentRecord> Incidents { get; init; } = [];

    /// <summary>Messages the instance wrote to the outbox (lineage: instance → steps → published messages).</summary>
    public IReadOnlyList<OutboxRecord> Messages { get; init; } = [];
}

/// <summary>Read side of the workflow store, for the HTTP API and the Studio.</summary>
public interface IWorkflowQueries
{
    /// <summary>Lists instances matching <paramref name="query"/>, newest first.</summary>
    Task<Page<InstanceSummary>> ListInstancesAsync(InstanceQuery query, CancellationToken cancellationToken);

    /// <summary>One instance with its journal and approvals, or null when unknown.</summary>
    Task<InstanceDetails?> GetInstanceAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Approvals in a state (<c>pending</c>, …) or all when null, newest first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<ApprovalInfo>> ListApprovalsAsync(string? state, int limit, CancellationToken cancellationToken);

    /// <summary>Journal entries of all instances whose kind starts with <paramref name="kindPrefix"/> (e.g. <c>step.</c>: step executions).</summary>
    Task<long> CountJournalEntriesAsync(string kindPrefix, CancellationToken cancellationToken);
}
