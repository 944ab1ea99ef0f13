using System.Text.Json.Nodes;
using RuleFlow.Workflows.Definitions;

namespace RuleFlow.Workflows.Runtime;

/// <summary>
/// The durable state of one workflow instance, as the runtime reads and writes it. Immutable: the runtime makes a new
/// record per step (<c>with</c>) and commits it through <see cref="IWorkflowStore.CommitAsync"/>.
/// </summary>
public sealed record InstanceRecord
{
    /// <summary>Instance id (a version-7 GUID: ordered by creation time).</summary>
    public required Guid Id { get; init; }

    /// <summary>Definition id.</summary>
    public required string WorkflowId { get; init; }

    /// <summary>Definition version the instance runs on.</summary>
    public required int Version { get; init; }

    /// <summary>Content hash of that exact definition (see <see cref="WorkflowDefinition.ContentHash"/>).</summary>
    public required string DefinitionHash { get; init; }

    /// <summary>Lifecycle state.</summary>
    public required InstanceState State { get; init; }

    /// <summary>Business key for start deduplication, or null.</summary>
    public string? CorrelationKey { get; init; }

    /// <summary>The start request's idempotency key, or null.</summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>The instance input.</summary>
    public required JsonObject Input { get; init; }

    /// <summary>Workflow variables (<c>vars</c> in scripts).</summary>
    public required JsonObject Variables { get; init; }

    /// <summary>Outputs of completed steps: <c>{ "stepId": output }</c>.</summary>
    public required JsonObject StepOutputs { get; init; }

    /// <summary>0-based index of the top-level step to run (or running / waiting); equals the step count when all are done.</summary>
    public int StepIndex { get; init; }

    /// <summary>Where the instance is: frames (step lists in progress, with their bookmarks), compensation stack and queue.</summary>
    public required ExecutionState Execution { get; init; }

    /// <summary>The instance output once completed (see <see cref="WorkflowDefinition.Output"/>), else null.</summary>
    public JsonNode? Output { get; init; }

    /// <summary>The calling instance when started by a <c>call</c> step, else null.</summary>
    public Guid? ParentInstanceId { get; init; }

    /// <summary>The caller's frame that waits for this instance, else null.</summary>
    public string? ParentFrame { get; init; }

    /// <summary>Id of the step at <see cref="StepIndex"/>, or the step being compensated; null when none.</summary>
    public string? CurrentStep { get; init; }

    /// <summary>Ids of completed steps that declare <c>compensate</c>, in completion order (compensation pops from the end).</summary>
    public IReadOnlyList<string> CompensationStack => Execution.Stack.Select(e => e.StepId).ToList();

    /// <summary>What a waiting instance waits for, e.g. <c>approval:&lt;id&gt;</c> or <c>event:firewall.ack=10.0.0.1; timer:2026-…</c>; null otherwise.</summary>
    public string? WaitingFor { get; init; }

    /// <summary>The failure or rejection that led to compensation, or null.</summary>
    public string? Error { get; init; }

    /// <summary>Where the instance came from.</summary>
    public required Lineage Lineage { get; init; }

    /// <summary>Name of the actor that started it.</summary>
    public required string StartedBy { get; init; }

    /// <summary>Creation time (UTC).</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Last change (UTC).</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>When the instance reached a final state, or null.</summary>
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>Sequence number of the last journal entry (entries are numbered 1, 2, …).</summary>
    public long JournalSequence { get; init; }

    /// <summary>Optimistic concurrency token: the revision this record was read at; the store increments it on every commit.</summary>
    public int Revision { get; init; }

    /// <summary>True in a final state (completed, failed, compensated, cancelled).</summary>
    public bool IsFinished => State is InstanceState.Completed or InstanceState.Failed or InstanceState.Compensated or InstanceState.Cancelled;
}

/// <summary>A journal row to append (see <see cref="JournalEntry"/> for the kinds).</summary>
public sealed record JournalRecord(Guid InstanceId, long Sequence, DateTimeOffset At, string? StepId, string Kind, int Attempt, JsonNode? Data);

/// <summary>A durable timer: fires at <see cref="DueAt"/> even if the process was down then (it fires at the next start).</summary>
/// <param name="Id">Timer id (deterministic per instance and step, so a re-run does not create a second one).</param>
/// <param name="InstanceId">The instance to wake.</param>
/// <param name="Kind"><c>approval.timeout</c>, <c>delay</c>, <c>event.timeout</c>, <c>step.timeout</c>, <c>retry</c>, <c>call.done</c>.</param>
/// <param name="StepId">The step that set it.</param>
/// <param name="DueAt">When it fires (UTC, 1 ms precision).</param>
/// <param name="Payload">Kind-specific data (e.g. <c>{ "approvalId": … }</c>), or null.</param>
public sealed record TimerRecord(Guid Id, Guid InstanceId, string Kind, string StepId, DateTimeOffset DueAt, JsonObject? Payload);

/// <summary>A message in the outbox.</summary>
/// <param name="Id">Stable message id (a GUID derived from the idempotency key of the step that wrote it).</param>
/// <param name="InstanceId">The instance that wrote it, or null (a rule's publish action).</param>
/// <param name="StepId">The step, or null.</param>
/// <param name="Exchange">Target exchange.</param>
/// <param name="RoutingKey">Routing key.</param>
/// <param name="Body">UTF-8 JSON text.</param>
/// <param name="Headers">Application headers.</param>
/// <param name="CreatedAt">When written (UTC).</param>
/// <param name="Attempts">Delivery attempts so far.</param>
/// <param name="NextAttemptAt">Not delivered before this time (backoff).</param>
/// <param name="SentAt">When the transport confirmed it, or null while pending.</param>
/// <param name="LastError">The last delivery error, or null.</param>
public sealed record OutboxRecord(
    string Id,
    Guid? InstanceId,
    string? StepId,
    string Exchange,
    string RoutingKey,
    string Body,
    IReadOnlyDictionary<string, string> Headers,
    DateTimeOffset CreatedAt,
    int Attempts,
    DateTimeOffset NextAttemptAt,
    DateTimeOffset? SentAt,
    string? LastError);

/// <summary>Something that needs a person: a compensation that kept failing, a step whose retries are exhausted, a missing definition.</summary>
/// <param name="Id">Incident id.</param>
/// <param name="InstanceId">The instance.</param>
/// <param name="StepId">The step, or null.</param>
/// <param name="Kind"><c>compensation.failed</c>, <c>retry.exhausted</c>, <c>definition.missing</c>.</param>
/// <param name="Message">What happened.</param>
/// <param name="CreatedAt">When (UTC).</param>
/// <param name="ResolvedAt">When resolved, or null while open.</param>
/// <param name="ResolvedBy">Who resolved it, or null.</param>
/// <param name="Resolution">How: <c>retry</c>, <c>skip</c>, <c>compensate</c>, <c>acknowledge</c>; with the comment after a colon.</param>
public sealed record IncidentRecord(Guid Id, Guid InstanceId, string? StepId, string Kind, string Message, DateTimeOffset CreatedAt, DateTimeOffset? ResolvedAt,
    string? ResolvedBy = null, string? Resolution = null);

/// <summary>
/// A bookmark of a <c>wait_for_event</c> step: an instance frame waits for an event of <see cref="EventType"/> whose value at
/// <see cref="CorrelationPath"/> equals <see cref="CorrelationValue"/>. Indexed by (event type, correlation value).
/// </summary>
/// <param name="Id">Bookmark id (deterministic per step execution).</param>
/// <param name="InstanceId">The waiting instance.</param>
/// <param name="Frame">The waiting frame.</param>
/// <param name="StepId">The step.</param>
/// <param name="EventType">Event type.</param>
/// <param name="CorrelationPath">Dotted path into <c>{ id, type, time, data }</c>, or null.</param>
/// <param name="CorrelationValue">The value expected there (text), or null.</param>
/// <param name="CreatedAt">When (UTC).</param>
public sealed record BookmarkRecord(Guid Id, Guid InstanceId, string Frame, string StepId, string EventType, string? CorrelationPath, string? CorrelationValue, DateTimeOffset CreatedAt);

/// <summary>A stored definition version.</summary>
/// <param name="WorkflowId">Definition id.</param>
/// <param name="Version">Its version.</param>
/// <param name="ContentHash">SHA-256 of the source text (hex).</param>
/// <param name="Format">YAML or JSON.</param>
/// <param name="SourcePath">Where it was loaded from.</param>
/// <param name="SourceText">The text.</param>
/// <param name="RegisteredAt">First registration (UTC).</param>
public sealed record DefinitionRecord(string WorkflowId, int Version, string ContentHash, DefinitionFormat Format, string SourcePath, string SourceText, DateTimeOffset RegisteredAt);

/// <summary>
/// Everything one step changes, written in ONE transaction: the instance (checked against its
/// <see cref="InstanceRecord.Revision"/>), journal entries, outbox messages, approvals, timers and incidents.
/// </summary>
public sealed record InstanceCommit(InstanceRecord Instance)
{
    /// <summary>
    /// The state the instance had before this commit, when the committer knows it (then a store may skip rewriting
    /// what did not change, e.g. the state indexes); null when unknown.
    /// </summary>
    public InstanceState? PreviousState { get; init; }

    /// <summary>Journal entries to append.</summary>
    public IReadOnlyList<JournalRecord> Journal { get; init; } = [];

    /// <summary>Outbox messages to insert.</summary>
    public IReadOnlyList<OutboxRecord> Outbox { get; init; } = [];

    /// <summary>Approvals to insert.</summary>
    public IReadOnlyList<ApprovalInfo> NewApprovals { get; init; } = [];

    /// <summary>Approvals to update (decided, timed out, cancelled); matched by id.</summary>
    public IReadOnlyList<ApprovalInfo> UpdatedApprovals { get; init; } = [];

    /// <summary>Timers to insert.</summary>
    public IReadOnlyList<TimerRecord> NewTimers { get; init; } = [];

    /// <summary>Timers to delete (fired or no longer needed); missing ones are ignored.</summary>
    public IReadOnlyList<Guid> DeletedTimers { get; init; } = [];

    /// <summary>Incidents to open.</summary>
    public IReadOnlyList<IncidentRecord> Incidents { get; init; } = [];

    /// <summary>Incidents to mark resolved (matched by id; <see cref="IncidentRecord.ResolvedAt"/> etc. taken from the record).</summary>
    public IReadOnlyList<IncidentRecord> ResolvedIncidents { get; init; } = [];

    /// <summary>Pending approvals to mark <c>cancelled</c> (their step was cancelled).</summary>
    public IReadOnlyList<Guid> CancelledApprovals { get; init; } = [];

    /// <summary>Event bookmarks to insert.</summary>
    public IReadOnlyList<BookmarkRecord> NewBookmarks { get; init; } = [];

    /// <summary>Event bookmarks to delete (matched by id; missing ones are ignored).</summary>
    public IReadOnlyList<BookmarkRecord> DeletedBookmarks { get; init; } = [];

    /// <summary>Instances to create in the same transaction (children of <c>call</c> steps), each with its first journal entries.</summary>
    public IReadOnlyList<(InstanceRecord Instance, IReadOnlyList<JournalRecord> Journal)> NewInstances { get; init; } = [];
}

/// <summary>The instance changed since it was read (another process or call advanced it): reload and retry.</summary>
public sealed class WorkflowConcurrencyException : Exception
{
    /// <summary>Creates the exception.</summary>
    public WorkflowConcurrencyException() : base("the workflow instance was changed concurrently") { }

    /// <summary>Creates the exception.</summary>
    public WorkflowConcurrencyException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public WorkflowConcurrencyException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>What a store has written so far (for benchmarks and metrics).</summary>
/// <param name="Transactions">Database transactions committed (group commit puts several writes in one).</param>
/// <param name="Writes">Writes (step commits, starts, outbox marks …) those transactions held.</param>
public readonly record struct StoreCounters(long Transactions, long Writes);

/// <summary>
/// Durable storage of workflow instances, journal, approvals, timers, outbox, incidents and definition versions.
/// Implementations: <c>SqlWorkflowStore</c> in RuleFlow.Storage (SQLite or PostgreSQL, <c>AddRuleFlowWorkflowStore</c>) and
/// <see cref="InMemoryWorkflowStore"/> (<c>AddRuleFlowInMemoryWorkflowStore</c>). All times are UTC with 1 ms precision.
/// A store never keeps a reference to a record or JSON node it was given: it writes copies (the runtime reuses its objects).
/// </summary>
public interface IWorkflowStore
{
    /// <summary>Transactions and writes so far.</summary>
    StoreCounters Counters { get; }

    /// <summary>
    /// Inserts a new instance with its first journal entries, unless an instance with the same
    /// <see cref="InstanceRecord.IdempotencyKey"/> exists, or an unfinished one of the same workflow with the same
    /// <see cref="InstanceRecord.CorrelationKey"/>: then returns that one with <c>Created = false</c>.
    /// Enforced by unique indexes, so concurrent starts in several processes also create one instance.
    /// </summary>
    Task<(InstanceRecord Instance, bool Created)> CreateInstanceAsync(InstanceRecord instance, IReadOnlyList<JournalRecord> journal, CancellationToken cancellationToken);

    /// <summary>The instance, or null.</summary>
    Task<InstanceRecord?> GetInstanceAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>
    /// Writes a step's changes atomically and returns the new revision once they are durable. A store may write the
    /// commits of several instances that arrive together in one transaction (group commit, see
    /// <see cref="WorkflowOptions.GroupCommit"/>); each caller still returns only when its own commit is durable.
    /// </summary>
    /// <exception cref="WorkflowConcurrencyException">The instance's revision is no longer <see cref="InstanceRecord.Revision"/> (nothing of the commit is written).</exception>
    Task<int> CommitAsync(InstanceCommit commit, CancellationToken cancellationToken);

    /// <summary>The unfinished instance of <paramref name="workflowId"/> with <paramref name="correlationKey"/>, or null.</summary>
    Task<InstanceRecord?> FindActiveInstanceAsync(string workflowId, string correlationKey, CancellationToken cancellationToken);

    /// <summary>Event bookmarks waiting for <paramref name="eventType"/>.</summary>
    Task<IReadOnlyList<BookmarkRecord>> GetBookmarksAsync(string eventType, CancellationToken cancellationToken);

    /// <summary>How many bookmarks wait per event type (to build the in-memory index at start).</summary>
    Task<IReadOnlyDictionary<string, int>> CountBookmarksAsync(CancellationToken cancellationToken);

    /// <summary>An incident, or null.</summary>
    Task<IncidentRecord?> GetIncidentAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Stored versions of a workflow (or of all when null), newest version first.</summary>
    Task<IReadOnlyList<DefinitionRecord>> ListDefinitionsAsync(string? workflowId, CancellationToken cancellationToken);

    /// <summary>Ids of instances in state running or compensating (to resume after a restart), oldest first.</summary>
    Task<IReadOnlyList<Guid>> ListInstancesToResumeAsync(CancellationToken cancellationToken);

    /// <summary>An approval, or null.</summary>
    Task<ApprovalInfo?> GetApprovalAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Timers due at <paramref name="now"/> or earlier, earliest first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<TimerRecord>> GetDueTimersAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);

    /// <summary>Deletes a timer that no longer applies (e.g. its approval was decided); no error when missing.</summary>
    Task DeleteTimerAsync(Guid id, CancellationToken cancellationToken);

    /// <summary>Adds a message to the outbox outside any instance (a rule's publish action); a duplicate id is ignored.</summary>
    Task EnqueueOutboxAsync(OutboxRecord message, CancellationToken cancellationToken);

    /// <summary>Unsent messages whose next attempt is due, oldest first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<OutboxRecord>> GetPendingOutboxAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);

    /// <summary>Marks messages delivered (one write for all of them).</summary>
    Task MarkOutboxSentAsync(IReadOnlyList<string> ids, DateTimeOffset sentAt, CancellationToken cancellationToken);

    /// <summary>Records a failed delivery and when to try again.</summary>
    Task MarkOutboxFailedAsync(string id, int attempts, DateTimeOffset nextAttemptAt, string error, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a definition version (idempotent per id and content hash) and returns it with its version: the declared one,
    /// else the stored one for the same content, else 1 + the highest stored version of the id.
    /// </summary>
    Task<DefinitionRecord> RegisterDefinitionAsync(WorkflowDefinition definition, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>A stored definition version by content hash, or null.</summary>
    Task<DefinitionRecord?> GetDefinitionAsync(string workflowId, string contentHash, CancellationToken cancellationToken);

    /// <summary>Open incidents, newest first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<IncidentRecord>> ListIncidentsAsync(Guid? instanceId, int limit, CancellationToken cancellationToken);
}
