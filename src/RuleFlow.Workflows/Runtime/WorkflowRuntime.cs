using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using RuleFlow.Scripting;
using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Steps;

namespace RuleFlow.Workflows.Runtime;

/// <summary>An instance reached a final state (see <see cref="WorkflowRuntime.InstanceEnded"/>).</summary>
/// <param name="InstanceId">The instance.</param>
/// <param name="WorkflowId">Its workflow.</param>
/// <param name="State">The final state.</param>
/// <param name="Error">Why it did not complete, or null.</param>
public sealed class InstanceEndedEventArgs(Guid InstanceId, string WorkflowId, InstanceState State, string? Error) : EventArgs
{
    /// <summary>The instance.</summary>
    public Guid InstanceId { get; } = InstanceId;

    /// <summary>Its workflow.</summary>
    public string WorkflowId { get; } = WorkflowId;

    /// <summary>The final state.</summary>
    public InstanceState State { get; } = State;

    /// <summary>Why it did not complete, or null.</summary>
    public string? Error { get; } = Error;
}

/// <summary>
/// The durable workflow runtime. An instance is a set of frames (step lists in progress); the runtime advances one frame
/// by one step at a time, and after every step the instance (state, frames, variables, outputs, compensation stack), its
/// journal entries, outbox messages, approvals, timers, bookmarks, incidents and called children are committed in ONE
/// transaction, checked against the instance's revision. Concurrent instances share transactions (group commit).
/// </summary>
/// <remarks>
/// <para>Saga: a failure, a rejection or a cancellation compensates the completed steps that declare <c>compensate</c>,
/// last completed first (also inside parallel branches and loops); each compensation is journaled, retried
/// <see cref="WorkflowOptions.CompensationAttempts"/> times, and one that still fails halts the instance as
/// <see cref="InstanceState.Failed"/> with an incident (retry or skip it through the API).</para>
/// <para>Within a process one instance is advanced by one caller at a time (a lock per instance); across processes the
/// revision check makes a second writer reload and retry.</para>
/// <para>Side effects: steps get a stable idempotency key (<see cref="IdempotencyKeys"/>); publish steps write to the
/// outbox, which <see cref="DispatchOutboxAsync"/> delivers at least once with a stable message id.</para>
/// </remarks>
public sealed partial class WorkflowRuntime : IWorkflowRuntime
{
    internal const string RetryTimer = "retry";
    internal const string StepTimeoutTimer = "step.timeout";
    internal const string CallDoneTimer = "call.done";
    private const int MaxConflictRetries = 20;

    private readonly IWorkflowStore store;
    private readonly IWorkflowDefinitionRegistry registry;
    private readonly IMessageTransport transport;
    private readonly TimeProvider time;
    private readonly WorkflowOptions options;
    private readonly ILogger<WorkflowRuntime> logger;
    private readonly TemplateRenderer templates;
    private readonly ExpressionEvaluator expressions;
    private readonly Dictionary<string, IStepExecutor> executors;
    private readonly Channel<Guid> queue = Channel.CreateUnbounded<Guid>(new UnboundedChannelOptions { SingleReader = false });
    private readonly KeyedLock<Guid> locks = new();
    private readonly Channel<OutboxRecord> outboxFresh = Channel.CreateUnbounded<OutboxRecord>(new UnboundedChannelOptions { SingleReader = false });
    private readonly HashSet<string> outboxSent = new(StringComparer.Ordinal);
    private readonly Queue<string> outboxSentOrder = new();
    private long outboxNextPoll; // Stopwatch timestamp: polling is a cadence in real time, not business time
    private readonly SemaphoreSlim timerSignal = new(0, 1);
    private readonly SemaphoreSlim outboxGate = new(1, 1);
    private readonly SemaphoreSlim timerGate = new(1, 1);
    private readonly ConcurrentDictionary<string, int> bookmarkTypes = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim bookmarkIndexGate = new(1, 1);
    private volatile bool bookmarkIndexLoaded;
    private int running;

    /// <summary>Creates the runtime (normally through <c>AddRuleFlowWorkflows</c>).</summary>
    public WorkflowRuntime(
        IWorkflowStore store,
        IWorkflowDefinitionRegistry registry,
        ScriptSandbox sandbox,
        TemplateRenderer templates,
        IMessageTransport transport,
        IEnumerable<IScriptHostModule> modules,
        TimeProvider time,
        WorkflowOptions options,
        ILogger<WorkflowRuntime> logger,
        WorkflowHttpClient? http = null,
        IEnumerable<IWorkflowObserver>? observers = null)
    {
        ArgumentNullException.ThrowIfNull(sandbox);
        ArgumentNullException.ThrowIfNull(templates);
        ArgumentNullException.ThrowIfNull(modules);
        ArgumentNullException.ThrowIfNull(options);
        this.store = store;
        this.registry = registry;
        this.transport = transport;
        this.time = time;
        this.options = options;
        this.logger = logger;
        this.templates = templates;
        expressions = new ExpressionEvaluator(sandbox);
        IStepExecutor[] all =
        [
            new ValidateStepExecutor(expressions),
            new ApprovalStepExecutor(templates),
            new ScriptStepExecutor(sandbox, modules.ToList()),
            new PublishStepExecutor(templates),
            new HttpStepExecutor(templates, http ?? new WorkflowHttpClient(new HttpClient()), time),
            new TimerStepExecutor(templates, StepKinds.Delay),
            new TimerStepExecutor(templates, StepKinds.WaitUntil),
            new WaitForEventStepExecutor(templates),
            new SetStepExecutor(templates),
            new FailStepExecutor(templates),
        ];
        executors = all.ToDictionary(e => e.Kind, StringComparer.Ordinal);
        this.observers = observers?.ToArray() ?? [];
    }

    private readonly IWorkflowObserver[] observers;

    /// <summary>Tells the observers about a durable commit (nothing to do, and nothing allocated, when there are none).</summary>
    private void Observe(InstanceCommit commit)
    {
        foreach (var observer in observers)
        {
            try
            {
                observer.Committed(commit);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                logger.LogWarning(e, "A workflow observer failed on instance {InstanceId}", commit.Instance.Id);
            }
        }
    }

    /// <summary>
    /// Raised once an instance reached a final state and that state is durable (completed, compensated, failed, cancelled),
    /// on the thread that committed it: keep handlers short. For metrics, benchmarks and tests.
    /// </summary>
    public event EventHandler<InstanceEndedEventArgs>? InstanceEnded;

    private void Ended(InstanceRecord instance)
    {
        LogFinished(instance.Id, instance.WorkflowId, instance.State, instance.Error);
        InstanceEnded?.Invoke(this, new InstanceEndedEventArgs(instance.Id, instance.WorkflowId, instance.State, instance.Error));
    }

    /// <summary>True while <see cref="RunAsync"/> runs.</summary>
    public bool IsRunning => Volatile.Read(ref running) == 1;

    /// <summary>Database transactions the store committed so far (group commit shares them between instances).</summary>
    public long CommitTransactions => store.Counters.Transactions;

    /// <inheritdoc />
    public async Task<StartWorkflowResult> StartAsync(StartWorkflowRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var definition = registry.Find(request.WorkflowId)
            ?? throw new WorkflowException("WF4040", $"unknown workflow '{request.WorkflowId}'");
        CheckInput(definition, request.Input);
        var now = time.GetUtcNow();
        var (instance, journal) = NewInstance(definition, Guid.CreateVersion7(now), request.Input, request.CorrelationKey, request.IdempotencyKey,
            request.Lineage, request.StartedBy.Name, null, null, now);
        InstanceRecord stored;
        bool created;
        using (await locks.AcquireAsync(instance.Id, cancellationToken).ConfigureAwait(false))
        {
            (stored, created) = await store.CreateInstanceAsync(instance, journal, cancellationToken).ConfigureAwait(false);
            if (created)
            {
                HandOff(stored);
            }
        }

        if (created && observers.Length > 0)
        {
            Observe(new InstanceCommit(stored) { Journal = journal });
        }

        if (created)
        {
            LogStarted(stored.Id, stored.WorkflowId, stored.Version, stored.CorrelationKey);
            Schedule(stored.Id);
        }
        else
        {
            LogDeduplicated(stored.Id, request.WorkflowId, request.CorrelationKey, request.IdempotencyKey);
        }

        return new StartWorkflowResult(stored.Id, created);
    }

    private static void CheckInput(WorkflowDefinition definition, JsonObject input)
    {
        if (definition.InputSchema is { } schema)
        {
            var violations = schema.Validate(input);
            if (violations.Count > 0)
            {
                throw new WorkflowException("WF4000",
                    $"input of workflow '{definition.Id}' does not fit its schema: " + string.Join("; ", violations.Select(v => v.Message)));
            }
        }
    }

    private static (InstanceRecord Instance, IReadOnlyList<JournalRecord> Journal) NewInstance(WorkflowDefinition definition, Guid id, JsonObject input,
        string? correlationKey, string? idempotencyKey, Lineage lineage, string startedBy, Guid? parent, string? parentFrame, DateTimeOffset now)
    {
        var instance = new InstanceRecord
        {
            Id = id,
            WorkflowId = definition.Id,
            Version = definition.Version,
            DefinitionHash = definition.ContentHash,
            State = InstanceState.Running,
            CorrelationKey = correlationKey,
            IdempotencyKey = idempotencyKey,
            Input = (JsonObject)input.DeepClone(),
            Variables = [],
            StepOutputs = [],
            StepIndex = 0,
            CurrentStep = definition.Steps[0].Id,
            Execution = ExecutionState.Start(),
            Lineage = lineage,
            StartedBy = startedBy,
            CreatedAt = now,
            UpdatedAt = now,
            JournalSequence = 1,
            ParentInstanceId = parent,
            ParentFrame = parentFrame,
        };
        var started = new JournalRecord(instance.Id, 1, now, null, "instance.started", 1, new JsonObject
        {
            ["workflow"] = definition.Id,
            ["version"] = definition.Version,
            ["contentHash"] = definition.ContentHash,
            ["correlationKey"] = correlationKey,
            ["startedBy"] = startedBy,
            ["rule"] = lineage.Rule,
            ["activationId"] = lineage.ActivationId,
            ["eventIds"] = new JsonArray(lineage.EventIds.Select(e => (JsonNode?)JsonValue.Create(e)).ToArray()),
            ["parentInstanceId"] = parent?.ToString("D"),
        });
        return (instance, [started]);
    }

    /// <inheritdoc />
    public Task DecideAsync(Guid approvalId, ApprovalOutcome outcome, Actor actor, string? comment, CancellationToken cancellationToken) =>
        DecideAsync(approvalId, outcome, actor, comment, "api", cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// Who may decide: an actor named by a <c>user:NAME</c> assignee (case-insensitive) or holding the role of a
    /// <c>role:NAME</c> assignee — nobody else, whatever their roles. N-of-M: the approval is approved once
    /// <see cref="ApprovalInfo.Required"/> different assignees approved; one rejection rejects it.
    /// </remarks>
    public async Task<ApprovalInfo> DecideAsync(Guid approvalId, ApprovalOutcome outcome, Actor actor, string? comment, string via, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var approval = await store.GetApprovalAsync(approvalId, cancellationToken).ConfigureAwait(false)
            ?? throw new WorkflowException("WF4041", $"no approval '{approvalId}'");
        if (!MayDecide(actor, approval.Assignees))
        {
            LogRefused(approvalId, actor.Name);
            throw new WorkflowException("WF4030",
                $"'{actor.Name}' may not decide approval '{approvalId}': assignees are {string.Join(", ", approval.Assignees)}");
        }

        ApprovalInfo? result = null;
        await MutateAsync(approval.InstanceId, async (tick, ct) =>
        {
            var current = await store.GetApprovalAsync(approvalId, ct).ConfigureAwait(false)
                ?? throw new WorkflowException("WF4041", $"no approval '{approvalId}'");
            if (current.State != "pending")
            {
                throw new WorkflowException("WF4090", $"approval '{approvalId}' is already {current.State}");
            }

            if (current.AllDecisions.Any(d => string.Equals(d.By, actor.Name, StringComparison.OrdinalIgnoreCase)))
            {
                throw new WorkflowException("WF4090", $"'{actor.Name}' already decided approval '{approvalId}'");
            }

            var frame = tick.Exec.Frames.Find(f => f.Wait is { Kind: "approval" } w && w.Id == approvalId.ToString("D"))
                ?? throw new WorkflowException("WF4090", $"instance '{current.InstanceId}' is not waiting on approval '{approvalId}'");
            result = ApplyDecision(tick, frame, current, outcome, actor.Name, comment, via, timedOut: false);
            LogDecided(approvalId, tick.Instance.Id, outcome, actor.Name);
        }, cancellationToken).ConfigureAwait(false);
        return result!;
    }

    /// <summary>True when <paramref name="actor"/> may decide an approval with <paramref name="assignees"/>: only assignees may.</summary>
    public static bool MayDecide(Actor actor, IEnumerable<string> assignees)
    {
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(assignees);
        foreach (var assignee in assignees)
        {
            if (assignee.StartsWith("user:", StringComparison.Ordinal) && string.Equals(assignee[5..], actor.Name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }

            if (assignee.StartsWith("role:", StringComparison.Ordinal) && actor.IsInRole(assignee[5..]))
            {
                return true;
            }
        }

        return false;
    }

    private ApprovalInfo ApplyDecision(Tick tick, Frame frame, ApprovalInfo approval, ApprovalOutcome outcome, string by, string? comment, string via, bool timedOut)
    {
        var outcomeText = outcome == ApprovalOutcome.Approved ? "approved" : "rejected";
        var decision = new ApprovalDecision(by, tick.Now, outcomeText, comment, via);
        var decisions = approval.AllDecisions.Append(decision).ToList();
        var approvals = decisions.Count(d => d.Outcome == "approved");
        var final = timedOut || outcome == ApprovalOutcome.Rejected || approvals >= approval.Required;
        var updated = approval with
        {
            Decisions = decisions,
            State = !final ? "pending" : timedOut ? "timed_out" : outcomeText,
            DecidedBy = final ? by : null,
            DecidedAt = final ? tick.Now : null,
            Comment = final ? comment : null,
        };
        tick.UpdatedApprovals.Add(updated);
        tick.Changed = true;
        var output = new JsonObject
        {
            ["approvalId"] = approval.Id.ToString("D"),
            ["outcome"] = outcomeText,
            ["decidedBy"] = by,
            ["decidedAt"] = tick.Now.ToString("O", CultureInfo.InvariantCulture),
            ["comment"] = comment,
            ["timedOut"] = timedOut,
            ["via"] = via,
            ["approvals"] = approvals,
            ["required"] = approval.Required,
            ["decisions"] = new JsonArray(decisions.Select(d => (JsonNode)new JsonObject
            {
                ["by"] = d.By, ["at"] = d.At.ToString("O", CultureInfo.InvariantCulture), ["outcome"] = d.Outcome, ["comment"] = d.Comment, ["via"] = d.Via,
            }).ToArray()),
        };
        tick.Journal.Add(approval.StepId, timedOut ? "approval.timed_out" : "approval.decided", output.DeepClone());
        if (!final)
        {
            return updated;
        }

        if (frame.Wait?.TimerId is { } timer)
        {
            tick.DeletedTimers.Add(timer);
        }

        if (frame.Wait?.TimeoutTimerId is { } timeout)
        {
            tick.DeletedTimers.Add(timeout);
        }

        frame.Wait = null;
        var step = tick.StepOf(frame) ?? tick.Definition.FindStep(approval.StepId)!;
        if (outcome == ApprovalOutcome.Approved)
        {
            tick.CompleteStep(frame, step, output);
        }
        else
        {
            var reason = timedOut
                ? $"approval '{approval.StepId}' timed out ({comment}) and on_timeout is reject"
                : $"approval '{approval.StepId}' rejected by {by}" + (string.IsNullOrWhiteSpace(comment) ? string.Empty : ": " + comment);
            tick.Outputs[step.Id] = output.DeepClone();
            tick.FailStep(frame, step with { Retry = null }, new StepFailed(StepErrorCodes.Rejected, reason, output), "step.rejected");
        }

        return updated;
    }

    /// <inheritdoc />
    public async Task<int> DeliverEventAsync(WorkflowEvent evt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(evt);
        await EnsureBookmarkIndexAsync(cancellationToken).ConfigureAwait(false);
        if (!bookmarkTypes.TryGetValue(evt.Type, out var count) || count <= 0)
        {
            return 0;
        }

        var json = evt.ToJson();
        var resumed = 0;
        foreach (var bookmark in await store.GetBookmarksAsync(evt.Type, cancellationToken).ConfigureAwait(false))
        {
            if (bookmark.CorrelationPath is { } path)
            {
                var value = TemplateRenderer.Resolve(json, path);
                var text = value is JsonValue v && v.TryGetValue<string>(out var s) ? s : value?.ToJsonString();
                if (!string.Equals(text, bookmark.CorrelationValue, StringComparison.Ordinal))
                {
                    continue;
                }
            }

            var matched = false;
            await MutateAsync(bookmark.InstanceId, (tick, _) =>
            {
                var frame = tick.Exec.Frames.Find(f => f.Wait is { Kind: "event" } w && w.Id == bookmark.Id.ToString("D"));
                if (frame is null || tick.StepOf(frame) is not WaitForEventStep step)
                {
                    return Task.CompletedTask;
                }

                if (step.Condition is { } condition)
                {
                    var scope = tick.Scope(frame);
                    scope["event"] = json.DeepClone();
                    try
                    {
                        if (!ExpressionEvaluator.Truthy(expressions.Evaluate(condition, scope, new ScriptCallContext(tick.Instance.Id, step.Id, tick.KeyFor(frame, step.Id)))))
                        {
                            return Task.CompletedTask;
                        }
                    }
                    catch (ScriptException ex)
                    {
                        LogConditionFailed(tick.Instance.Id, step.Id, ex.Message);
                        return Task.CompletedTask;
                    }
                }

                tick.Withdraw(new Frame { Id = "-", Wait = frame.Wait });
                frame.Wait = null;
                tick.CompleteStep(frame, step, json.DeepClone());
                matched = true;
                return Task.CompletedTask;
            }, cancellationToken).ConfigureAwait(false);
            if (matched)
            {
                resumed++;
            }
        }

        return resumed;
    }

    private async Task EnsureBookmarkIndexAsync(CancellationToken cancellationToken)
    {
        if (bookmarkIndexLoaded)
        {
            return;
        }

        await bookmarkIndexGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!bookmarkIndexLoaded)
            {
                foreach (var (type, count) in await store.CountBookmarksAsync(cancellationToken).ConfigureAwait(false))
                {
                    bookmarkTypes.AddOrUpdate(type, count, (_, c) => c + count);
                }

                bookmarkIndexLoaded = true;
            }
        }
        finally
        {
            bookmarkIndexGate.Release();
        }
    }

    /// <inheritdoc />
    public async Task<SignalResult> SignalAsync(string workflowId, string correlationKey, string signal, JsonObject payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(payload);
        var instance = await store.FindActiveInstanceAsync(workflowId, correlationKey, cancellationToken).ConfigureAwait(false);
        if (instance is null)
        {
            return new SignalResult(false, null, "no-instance");
        }

        var delivered = false;
        await MutateAsync(instance.Id, (tick, _) =>
        {
            var frame = tick.Exec.Frames.Find(f => f.Wait is { Kind: "signal" } w && w.Name == signal);
            if (frame is null || tick.StepOf(frame) is not { } step)
            {
                return Task.CompletedTask;
            }

            tick.Withdraw(new Frame { Id = "-", Wait = frame.Wait });
            frame.Wait = null;
            tick.CompleteStep(frame, step, new JsonObject { ["signal"] = signal, ["payload"] = payload.DeepClone() });
            delivered = true;
            return Task.CompletedTask;
        }, cancellationToken).ConfigureAwait(false);
        return delivered ? new SignalResult(true, instance.Id, null) : new SignalResult(false, instance.Id, "not-waiting");
    }

    /// <inheritdoc />
    public async Task CancelAsync(Guid instanceId, Actor actor, string? reason, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        await MutateAsync(instanceId, (tick, _) =>
        {
            if (tick.Instance.IsFinished)
            {
                throw new WorkflowException("WF4090", $"instance '{instanceId}' is already {tick.Instance.State.ToString().ToLowerInvariant()}");
            }

            tick.Exec.Halted = false;
            tick.ResolvedIncidents.AddRange(OpenIncidentsResolved(tick, actor, "cancel"));
            tick.Journal.Add(null, "instance.cancel_requested", new JsonObject { ["by"] = actor.Name, ["reason"] = reason });
            tick.BeginCompensation($"cancelled by {actor.Name}" + (string.IsNullOrWhiteSpace(reason) ? string.Empty : ": " + reason), "cancelled");
            return Task.CompletedTask;
        }, cancellationToken, requireExisting: true, loadIncidents: true).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task RetryAsync(Guid instanceId, Actor actor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        await MutateAsync(instanceId, (tick, _) =>
        {
            RetryIn(tick, actor, "retry");
            return Task.CompletedTask;
        }, cancellationToken, requireExisting: true, loadIncidents: true).ConfigureAwait(false);
    }

    private void RetryIn(Tick tick, Actor actor, string how)
    {
        if (tick.Instance.State != InstanceState.Failed)
        {
            throw new WorkflowException("WF4091", $"instance '{tick.Instance.Id}' is {tick.Instance.State.ToString().ToLowerInvariant()}, not failed: nothing to retry");
        }

        var failedFrames = tick.Exec.Frames.Where(f => f.Status == FrameStatus.Failed).ToList();
        if (!tick.Exec.Halted && failedFrames.Count == 0)
        {
            throw new WorkflowException("WF4091", $"instance '{tick.Instance.Id}' has no failed step or compensation to retry");
        }

        tick.Exec.Halted = false;
        foreach (var frame in failedFrames)
        {
            frame.Status = FrameStatus.Ready;
            frame.Attempt = 1;
        }

        tick.ResolvedIncidents.AddRange(OpenIncidentsResolved(tick, actor, how));
        tick.Journal.Add(null, "instance.retried", new JsonObject
        {
            ["by"] = actor.Name,
            ["steps"] = new JsonArray(failedFrames.Select(f => (JsonNode?)JsonValue.Create(tick.StepIdOf(f))).ToArray()),
            ["compensation"] = tick.Exec.Undo.Count > 0 ? tick.Exec.Undo[0].StepId : null,
        });
        tick.Changed = true;
    }

    private List<IncidentRecord> OpenIncidentsResolved(Tick tick, Actor actor, string how) =>
        pendingIncidents.TryGetValue(tick.Instance.Id, out var open)
            ? open.Select(i => i with { ResolvedAt = tick.Now, ResolvedBy = actor.Name, Resolution = how }).ToList()
            : [];

    private readonly ConcurrentDictionary<Guid, IReadOnlyList<IncidentRecord>> pendingIncidents = new();

    /// <inheritdoc />
    public async Task ResolveIncidentAsync(Guid incidentId, string action, Actor actor, string? comment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var incident = await store.GetIncidentAsync(incidentId, cancellationToken).ConfigureAwait(false)
            ?? throw new WorkflowException("WF4043", $"no incident '{incidentId}'");
        if (incident.ResolvedAt is not null)
        {
            throw new WorkflowException("WF4090", $"incident '{incidentId}' was already resolved by {incident.ResolvedBy}");
        }

        if (action is not ("retry" or "skip" or "compensate" or "acknowledge"))
        {
            throw new WorkflowException("WF4001", $"action '{action}' is unknown; use retry, skip, compensate or acknowledge");
        }

        var how = string.IsNullOrWhiteSpace(comment) ? action : action + ": " + comment;
        await MutateAsync(incident.InstanceId, (tick, _) =>
        {
            var resolved = incident with { ResolvedAt = tick.Now, ResolvedBy = actor.Name, Resolution = how };
            switch (action)
            {
                case "retry":
                    RetryIn(tick, actor, how);
                    break;
                case "skip" when tick.Exec.Halted && tick.Exec.Undo.Count > 0:
                    tick.Exec.Halted = false;
                    tick.Journal.Add(tick.Exec.Undo[0].StepId, "compensation.skipped", new JsonObject { ["by"] = actor.Name, ["comment"] = comment });
                    tick.Exec.Undo.RemoveAt(0);
                    tick.ResolvedIncidents.AddRange(OpenIncidentsResolved(tick, actor, how));
                    if (tick.Exec.Undo.Count == 0)
                    {
                        tick.FinishUndo();
                    }

                    break;
                case "compensate" when tick.Exec.Frames.Exists(f => f.Status == FrameStatus.Failed):
                    tick.ResolvedIncidents.AddRange(OpenIncidentsResolved(tick, actor, how));
                    tick.BeginCompensation(tick.Error ?? "given up by " + actor.Name, "compensated");
                    break;
                case "acknowledge":
                    tick.ResolvedIncidents.Add(resolved);
                    tick.Journal.Add(incident.StepId, "incident.resolved", new JsonObject { ["incident"] = incidentId.ToString("D"), ["by"] = actor.Name, ["resolution"] = how });
                    tick.Changed = true;
                    break;
                default:
                    throw new WorkflowException("WF4091", $"action '{action}' does not apply to incident '{incidentId}' ({incident.Kind}) of an instance that is {tick.Instance.State.ToString().ToLowerInvariant()}");
            }

            if (!tick.ResolvedIncidents.Exists(i => i.Id == incidentId))
            {
                tick.ResolvedIncidents.Add(resolved);
            }

            return Task.CompletedTask;
        }, cancellationToken, requireExisting: true, loadIncidents: true).ConfigureAwait(false);
    }

    /// <summary>
    /// Loads an instance under its lock, lets <paramref name="apply"/> change a <see cref="Tick"/>, and commits it when it
    /// changed (reloading and re-applying on a revision conflict). Then schedules the instance and does the post-commit work.
    /// </summary>
    private async Task MutateAsync(Guid instanceId, Func<Tick, CancellationToken, Task> apply, CancellationToken cancellationToken, bool requireExisting = false,
        bool loadIncidents = false)
    {
        using (await locks.AcquireAsync(instanceId, cancellationToken).ConfigureAwait(false))
        {
            for (var attempt = 0; ; attempt++)
            {
                var instance = attempt == 0
                    ? await LoadAsync(instanceId, cancellationToken).ConfigureAwait(false)
                    : await store.GetInstanceAsync(instanceId, cancellationToken).ConfigureAwait(false);
                if (instance is null)
                {
                    if (requireExisting)
                    {
                        throw new WorkflowException("WF4042", $"no workflow instance '{instanceId}'");
                    }

                    return;
                }

                var definition = await GetDefinitionAsync(instance, cancellationToken).ConfigureAwait(false);
                if (loadIncidents)
                {
                    pendingIncidents[instanceId] = await store.ListIncidentsAsync(instanceId, 100, cancellationToken).ConfigureAwait(false);
                }

                var tick = new Tick(this, definition, instance, time.GetUtcNow());
                try
                {
                    await apply(tick, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    pendingIncidents.TryRemove(instanceId, out _);
                }

                if (!tick.Changed)
                {
                    return;
                }

                var commit = tick.Build();
                int revision;
                try
                {
                    revision = await store.CommitAsync(commit, cancellationToken).ConfigureAwait(false);
                }
                catch (WorkflowConcurrencyException) when (attempt < MaxConflictRetries)
                {
                    continue;
                }

                HandOff(commit.Instance with { Revision = revision });
                Observe(commit);
                AfterCommit(tick, commit);
                break;
            }
        }

        Schedule(instanceId);
    }

    /// <summary>
    /// The last committed record of an instance, kept in memory by whoever committed it so that the next worker of the
    /// instance does not read it back. Written and taken only under the instance's lock, so within this process it is
    /// never stale (another process's change shows as a revision conflict and a reload). Bounded: cleared when full.
    /// The runtime works on a record's objects in place; a taken record is owned by the taker.
    /// </summary>
    private readonly ConcurrentDictionary<Guid, InstanceRecord> handoff = new();
    private const int MaxHandOff = 4096;

    private void HandOff(InstanceRecord record)
    {
        if (record.IsFinished)
        {
            handoff.TryRemove(record.Id, out _);
            return;
        }

        if (handoff.Count >= MaxHandOff)
        {
            handoff.Clear();
        }

        handoff[record.Id] = record;
    }

    private async Task<InstanceRecord?> LoadAsync(Guid instanceId, CancellationToken cancellationToken) =>
        handoff.TryRemove(instanceId, out var record) ? record : await store.GetInstanceAsync(instanceId, cancellationToken).ConfigureAwait(false);

    private void AfterCommit(Tick tick, InstanceCommit commit)
    {
        foreach (var bookmark in commit.NewBookmarks)
        {
            bookmarkTypes.AddOrUpdate(bookmark.EventType, 1, (_, c) => c + 1);
        }

        foreach (var bookmark in commit.DeletedBookmarks)
        {
            bookmarkTypes.AddOrUpdate(bookmark.EventType, 0, (_, c) => Math.Max(0, c - 1));
        }

        foreach (var (child, _) in commit.NewInstances)
        {
            Schedule(child.Id);
        }

        foreach (var child in tick.CancelChildren)
        {
            _ = CancelChildAsync(child);
        }

        foreach (var message in commit.Outbox)
        {
            outboxFresh.Writer.TryWrite(message);
        }

        if (commit.NewTimers.Any(t => t.DueAt <= tick.Now))
        {
            SignalTimers();
        }

        if (commit.Instance.IsFinished)
        {
            Ended(commit.Instance);
        }
    }

    private async Task CancelChildAsync(Guid child)
    {
        try
        {
            await CancelAsync(child, Actor.System, "its caller was cancelled or moved on", CancellationToken.None).ConfigureAwait(false);
        }
        catch (WorkflowException)
        {
            // Already finished.
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Resumes every instance that was running or compensating when the process stopped (re-running its current step;
    /// side effects are protected by idempotency keys and the outbox), leaves waiting ones waiting, fires due timers every
    /// <see cref="WorkflowOptions.PollInterval"/> (those that fell due while the process was down fire at once), runs
    /// scheduled instances on <see cref="WorkflowOptions.MaxConcurrency"/> workers and dispatches the outbox.
    /// Returns when <paramref name="cancellationToken"/> is cancelled.
    /// </remarks>
    /// <exception cref="InvalidOperationException">The runtime is already running.</exception>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref running, 1) == 1)
        {
            throw new InvalidOperationException("the workflow runtime is already running");
        }

        try
        {
            await EnsureBookmarkIndexAsync(cancellationToken).ConfigureAwait(false);
            var resumed = await store.ListInstancesToResumeAsync(cancellationToken).ConfigureAwait(false);
            foreach (var id in resumed)
            {
                Schedule(id);
            }

            LogRunning(resumed.Count, options.MaxConcurrency);
            var tasks = new List<Task>();
            for (var i = 0; i < Math.Max(1, options.MaxConcurrency); i++)
            {
                tasks.Add(WorkerAsync(cancellationToken));
            }

            tasks.Add(TimerLoopAsync(cancellationToken));
            tasks.Add(OutboxLoopAsync(cancellationToken));
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            Volatile.Write(ref running, 0);
        }
    }

    /// <summary>Queues an instance for the workers of <see cref="RunAsync"/> (harmless when it has nothing to do).</summary>
    public void Schedule(Guid instanceId) => queue.Writer.TryWrite(instanceId);

    /// <summary>
    /// Advances one instance until it waits, ends, or (in another process) is advanced by someone else: runs its steps or
    /// compensations, committing after each (group commit). Serialized per instance within this process.
    /// </summary>
    /// <exception cref="WorkflowConcurrencyException">The instance kept changing under this call (more than 20 reloads).</exception>
    public async Task RunInstanceAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        using var held = await locks.AcquireAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var conflicts = 0;
        var instance = await LoadAsync(instanceId, cancellationToken).ConfigureAwait(false);
        while (instance is { State: InstanceState.Running or InstanceState.Compensating })
        {
            var definition = await registry.GetVersionAsync(instance.WorkflowId, instance.DefinitionHash, cancellationToken).ConfigureAwait(false);
            Tick? tick = null;
            InstanceCommit commit;
            if (definition is null)
            {
                commit = FailWithoutDefinition(instance);
            }
            else
            {
                // The tick works on the instance's objects in place: they were committed, and if this step's commit fails
                // the record is dropped and the instance read back from the store.
                tick = new Tick(this, definition, instance, time.GetUtcNow());
                var state = instance.State;
                await StepOnceAsync(tick, cancellationToken).ConfigureAwait(false);
                commit = tick.Build();
                if (!tick.Changed && commit.Instance.State == state)
                {
                    return;
                }
            }

            try
            {
                // Durable before anything else happens: the next step (and its side effects) starts only after this returns.
                var revision = await store.CommitAsync(commit, cancellationToken).ConfigureAwait(false);
                instance = commit.Instance with { Revision = revision };
                Observe(commit);
            }
            catch (WorkflowConcurrencyException)
            {
                if (++conflicts > MaxConflictRetries)
                {
                    throw;
                }

                LogConflict(instanceId);
                instance = await store.GetInstanceAsync(instanceId, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (tick is not null)
            {
                AfterCommit(tick, commit);
            }
            else
            {
                Ended(commit.Instance);
            }
        }

        if (instance is not null)
        {
            HandOff(instance);
        }
    }

    /// <summary>Runs one unit of work of a running or compensating instance: one compensation, or one step of the first ready frame.</summary>
    private async Task StepOnceAsync(Tick tick, CancellationToken cancellationToken)
    {
        var exec = tick.Exec;
        if (exec.Undo.Count > 0)
        {
            await CompensateOneAsync(tick, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (exec.AfterUndo is not null)
        {
            tick.FinishUndo();
            return;
        }

        var frame = exec.Frames.Find(f => f.Status == FrameStatus.Ready);
        if (frame is null)
        {
            if (exec.Frames.Count == 0 && tick.Instance.State == InstanceState.Running)
            {
                tick.End(InstanceState.Completed, "instance.completed", null);
            }

            return;
        }

        if (frame.Parent is not null)
        {
            exec.Frames.Remove(frame);
            exec.Frames.Add(frame);
        }

        var list = tick.Definition.Sequences[frame.Sequence];
        if (frame.Index >= list.Count)
        {
            tick.FinishFrame(frame);
            return;
        }

        var step = list[frame.Index];
        frame.StepStartedAt ??= tick.Now;
        tick.Changed = true;
        var key = tick.KeyFor(frame, step.Id);
        var callContext = new ScriptCallContext(tick.Instance.Id, step.Id, key);
        try
        {
            switch (step)
            {
                case IfStep ifStep:
                    var yes = ExpressionEvaluator.Truthy(expressions.Evaluate(ifStep.Condition, tick.Scope(frame), callContext));
                    var branch = yes ? ifStep.Then : ifStep.Else;
                    if (branch.Count == 0)
                    {
                        tick.CompleteStep(frame, step, new JsonObject { ["branch"] = yes ? "then" : "else" });
                    }
                    else
                    {
                        tick.StartChildren(frame, step, 1, [(step.Id + (yes ? ".then" : ".else"), 0, frame.Path, null)]);
                    }

                    return;
                case SwitchStep switchStep:
                    var value = expressions.Evaluate(switchStep.Value, tick.Scope(frame), callContext);
                    var index = switchStep.Cases.ToList().FindIndex(c => JsonNode.DeepEquals(c.Value, value)
                        || (c.Value is JsonValue cv && value is JsonValue vv && cv.ToJsonString().Trim('"') == vv.ToJsonString().Trim('"')));
                    var chosen = index >= 0 ? switchStep.Cases[index].Steps : switchStep.Default;
                    if (chosen.Count == 0)
                    {
                        tick.CompleteStep(frame, step, new JsonObject { ["case"] = index });
                    }
                    else
                    {
                        tick.StartChildren(frame, step, 1, [(index >= 0 ? step.Id + ".case." + index.ToString(CultureInfo.InvariantCulture) : step.Id + ".default", 0, frame.Path, null)]);
                    }

                    return;
                case ParallelStep parallel:
                    var needed = parallel.Join switch { JoinMode.Any => 1, JoinMode.N => parallel.Count, _ => parallel.Branches.Count };
                    tick.StartChildren(frame, step, needed,
                        parallel.Branches.Select((_, i) => (step.Id + ".branch." + i.ToString(CultureInfo.InvariantCulture), i, frame.Path, (JsonObject?)null)));
                    return;
                case ForeachStep loop:
                    if (expressions.Evaluate(loop.Items, tick.Scope(frame), callContext) is not JsonArray items)
                    {
                        tick.FailStep(frame, step, new StepFailed(StepErrorCodes.ScriptFailed, $"foreach items '{loop.Items}' is not an array", null));
                        return;
                    }

                    if (items.Count == 0)
                    {
                        tick.CompleteStep(frame, step, new JsonArray());
                        return;
                    }

                    var first = Math.Min(loop.Concurrency, items.Count);
                    tick.StartChildren(frame, step, items.Count,
                        Enumerable.Range(0, first).Select(i => (step.Id + ".do", i, tick.ItemPath(frame, step.Id, i), (JsonObject?)new JsonObject { ["item"] = items[i]?.DeepClone(), ["index"] = i })),
                        items);
                    frame.Container!.NextItem = first;
                    return;
                case CallStep call:
                    StartCall(tick, frame, call, key);
                    return;
            }
        }
        catch (ScriptException ex)
        {
            tick.FailStep(frame, step, new StepFailed(StepErrorCodes.ScriptFailed, $"{step.Kind} expression: {ex.Message}", new JsonObject { ["line"] = ex.Line, ["column"] = ex.Column }));
            return;
        }

        var context = new StepContext(tick.Definition, tick.Instance with { Variables = tick.Vars }, step, step.Id, key, tick.Now, tick.Scope(frame), frame.Id);
        var outcome = await ExecuteAsync(context, cancellationToken).ConfigureAwait(false);
        switch (outcome)
        {
            case StepCompleted completed:
                tick.CompleteStep(frame, step, completed.Output, completed);
                break;
            case StepWaiting waiting:
                frame.Status = FrameStatus.Waiting;
                frame.Wait = waiting.Wait;
                if (waiting.Approval is { } approval)
                {
                    tick.NewApprovals.Add(approval);
                }

                if (waiting.Timer is { } timer)
                {
                    tick.NewTimers.Add(timer);
                }

                if (waiting.Bookmark is { } bookmark)
                {
                    tick.NewBookmarks.Add(bookmark);
                }

                if (step.Timeout is { } timeout && step is not (ApprovalStep or WaitForEventStep))
                {
                    var timeoutTimer = new TimerRecord(context.Derive("timeout"), tick.Instance.Id, StepTimeoutTimer, step.Id, tick.Now + timeout, new JsonObject { ["frame"] = frame.Id });
                    tick.NewTimers.Add(timeoutTimer);
                    waiting.Wait.TimeoutTimerId = timeoutTimer.Id;
                }

                tick.Journal.Add(step.Id, "step.waiting", new JsonObject
                {
                    ["kind"] = step.Kind,
                    ["waitingFor"] = waiting.Wait.Describe,
                    ["idempotencyKey"] = key,
                    ["approvalId"] = waiting.Approval?.Id.ToString("D"),
                    ["assignees"] = waiting.Approval is null ? null : new JsonArray(waiting.Approval.Assignees.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray()),
                    ["required"] = waiting.Approval?.Required,
                    ["dueAt"] = (waiting.Approval?.DueAt ?? waiting.Timer?.DueAt)?.ToString("O", CultureInfo.InvariantCulture),
                }, frame.Attempt);
                LogWaiting(tick.Instance.Id, step.Id, waiting.Wait.Describe);
                break;
            case StepFailed failed:
                tick.FailStep(frame, step, failed);
                break;
        }
    }

    private void StartCall(Tick tick, Frame frame, CallStep call, string key)
    {
        var target = registry.Find(call.Workflow);
        if (target is null)
        {
            tick.FailStep(frame, call, new StepFailed("WF4040", $"call: unknown workflow '{call.Workflow}'", null));
            return;
        }

        JsonObject input;
        try
        {
            input = (call.Input is null ? new JsonObject() : templates.RenderValue(call.Input, tick.Scope(frame))) as JsonObject
                ?? throw new WorkflowException("WF4000", "call input must be an object");
            CheckInput(target, input);
        }
        catch (Exception ex) when (ex is TemplateException or WorkflowException)
        {
            tick.FailStep(frame, call, new StepFailed(ex is WorkflowException w ? w.Code : StepErrorCodes.TemplateFailed, "call: " + ex.Message, null));
            return;
        }

        var childId = IdempotencyKeys.ToGuid(key + ":call");
        var (child, journal) = NewInstance(target, childId, input, null, key + ":call", tick.Instance.Lineage, tick.Instance.StartedBy, tick.Instance.Id, frame.Id, tick.Now);
        tick.NewInstances.Add((child, journal));
        frame.Status = FrameStatus.Waiting;
        frame.Wait = new WaitInfo { Kind = "call", Id = childId.ToString("D"), Name = call.Workflow, Describe = "call:" + call.Workflow + ":" + childId.ToString("D") };
        if (call.Timeout is { } timeout)
        {
            var timer = new TimerRecord(IdempotencyKeys.ToGuid(key + ":timeout"), tick.Instance.Id, StepTimeoutTimer, call.Id, tick.Now + timeout, new JsonObject { ["frame"] = frame.Id });
            tick.NewTimers.Add(timer);
            frame.Wait.TimeoutTimerId = timer.Id;
        }

        tick.Journal.Add(call.Id, "step.waiting", new JsonObject
        {
            ["kind"] = call.Kind, ["waitingFor"] = frame.Wait.Describe, ["idempotencyKey"] = key, ["childInstanceId"] = childId.ToString("D"), ["input"] = input.DeepClone(),
        }, frame.Attempt);
    }

    private async Task CompensateOneAsync(Tick tick, CancellationToken cancellationToken)
    {
        var entry = tick.Exec.Undo[0];
        var step = tick.Definition.FindStep(entry.StepId);
        var stepKey = entry.Path.Length == 0 ? entry.StepId : entry.Path + "/" + entry.StepId;
        tick.Changed = true;
        for (var index = 0; step is not null && index < step.Compensate.Count; index++)
        {
            var action = step.Compensate[index];
            var key = IdempotencyKeys.ForCompensation(tick.Instance.Id, stepKey, index);
            var attempts = Math.Max(1, options.CompensationAttempts);
            for (var attempt = 1; ; attempt++)
            {
                var scope = tick.Scope(null, entry.Locals, entry.Outputs);
                var context = new StepContext(tick.Definition, tick.Instance with { Variables = tick.Vars }, action, entry.StepId, key, time.GetUtcNow(), scope, entry.Frame);
                var outcome = await ExecuteAsync(context, cancellationToken).ConfigureAwait(false);
                if (outcome is StepCompleted completed)
                {
                    tick.Outbox.AddRange(completed.Outbox);
                    var data = new JsonObject
                    {
                        ["action"] = index, ["kind"] = action.Kind, ["idempotencyKey"] = key, ["output"] = completed.Output?.DeepClone(),
                    };
                    if (entry.Path.Length > 0)
                    {
                        data["path"] = entry.Path;
                    }

                    if (completed.Outbox.Count > 0)
                    {
                        data["messageIds"] = new JsonArray(completed.Outbox.Select(m => (JsonNode?)JsonValue.Create(m.Id)).ToArray());
                    }

                    if (completed.Log.Count > 0)
                    {
                        data["log"] = new JsonArray(completed.Log.Select(l => (JsonNode?)JsonValue.Create(l)).ToArray());
                    }

                    tick.Journal.Add(entry.StepId, "compensation.completed", data, attempt);
                    break;
                }

                var failed = outcome as StepFailed ?? new StepFailed(StepErrorCodes.Internal, "a compensation cannot wait", null);
                tick.Journal.Add(entry.StepId, "compensation.failed", new JsonObject
                {
                    ["action"] = index, ["kind"] = action.Kind, ["code"] = failed.Code, ["message"] = failed.Message, ["details"] = failed.Details?.DeepClone(),
                }, attempt);
                LogCompensationFailed(tick.Instance.Id, entry.StepId, attempt, attempts, failed.Message);
                if (attempt >= attempts)
                {
                    var message = $"compensation of step '{entry.StepId}' failed after {attempt} attempts: {failed.Message}";
                    tick.Journal.Add(null, "instance.failed", new JsonObject { ["error"] = message, ["cause"] = tick.Error });
                    tick.Error = message;
                    tick.Exec.Halted = true;
                    tick.Incidents.Add(new IncidentRecord(Guid.CreateVersion7(time.GetUtcNow()), tick.Instance.Id, entry.StepId, "compensation.failed", message, time.GetUtcNow(), null));
                    return;
                }

                var delay = TimeSpan.FromTicks(options.CompensationRetryDelay.Ticks * (1L << Math.Min(attempt - 1, 20)));
                await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
            }
        }

        tick.Exec.Undo.RemoveAt(0);
        if (tick.Exec.Undo.Count == 0)
        {
            tick.FinishUndo();
        }
    }

    /// <summary>
    /// Fires due timers (delays, approval timeouts and escalations, event and step timeouts, retries, finished calls) and
    /// returns how many fired. Called by <see cref="RunAsync"/> every <see cref="WorkflowOptions.PollInterval"/> and when a
    /// commit creates a timer that is already due; tests call it after moving their clock.
    /// </summary>
    public async Task<int> ProcessDueTimersAsync(CancellationToken cancellationToken)
    {
        await timerGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var fired = 0;
            var due = await store.GetDueTimersAsync(time.GetUtcNow(), options.TimerBatchSize, cancellationToken).ConfigureAwait(false);
            foreach (var timer in due)
            {
                if (await FireTimerAsync(timer, cancellationToken).ConfigureAwait(false))
                {
                    fired++;
                }
            }

            return fired;
        }
        finally
        {
            timerGate.Release();
        }
    }

    private async Task<bool> FireTimerAsync(TimerRecord timer, CancellationToken cancellationToken)
    {
        var fired = false;
        await MutateAsync(timer.InstanceId, async (tick, ct) =>
        {
            var frameId = timer.Payload?["frame"]?.GetValue<string>();
            var frame = frameId is null ? null : tick.Exec.Find(frameId);
            var step = frame is null ? null : tick.StepOf(frame);
            tick.DeletedTimers.Add(timer.Id);
            tick.Changed = true;
            if (frame is null || step is null)
            {
                return;
            }

            switch (timer.Kind)
            {
                case RetryTimer when frame.Wait?.TimerId == timer.Id:
                case TimerStepExecutor.TimerKind when frame.Wait?.TimerId == timer.Id:
                    if (frame.Wait?.TimeoutTimerId is { } t)
                    {
                        tick.DeletedTimers.Add(t);
                    }

                    if (timer.Kind == RetryTimer)
                    {
                        frame.Wait = null;
                        frame.Status = FrameStatus.Ready;
                    }
                    else
                    {
                        frame.Wait = null;
                        tick.CompleteStep(frame, step, new JsonObject { ["firedAt"] = tick.Now.ToString("O", CultureInfo.InvariantCulture), ["dueAt"] = timer.DueAt.ToString("O", CultureInfo.InvariantCulture) });
                    }

                    fired = true;
                    return;
                case ApprovalStepExecutor.TimerKind when frame.Wait is { Kind: "approval" } wait && wait.TimerId == timer.Id:
                    var approval = await store.GetApprovalAsync(Guid.Parse(wait.Id), ct).ConfigureAwait(false);
                    if (approval is not { State: "pending" } || step is not ApprovalStep approvalStep)
                    {
                        return;
                    }

                    fired = true;
                    var action = approval.Level == 0 ? approvalStep.OnTimeout : approvalStep.Escalation?.OnTimeout ?? ApprovalTimeoutAction.Reject;
                    if (action == ApprovalTimeoutAction.Escalate && approvalStep.Escalation is { } escalation)
                    {
                        DateTimeOffset? dueAt = escalation.Timeout is { } second ? tick.Now + second : null;
                        var escalated = approval with { Assignees = escalation.Assignees, Level = 1, DueAt = dueAt };
                        tick.UpdatedApprovals.Add(escalated);
                        wait.TimerId = null;
                        if (dueAt is { } due)
                        {
                            var next = new TimerRecord(IdempotencyKeys.ToGuid(tick.KeyFor(frame, step.Id) + ":timer:1"), tick.Instance.Id, ApprovalStepExecutor.TimerKind, step.Id, due,
                                new JsonObject { ["approvalId"] = approval.Id.ToString("D"), ["frame"] = frame.Id, ["level"] = 1 });
                            tick.NewTimers.Add(next);
                            wait.TimerId = next.Id;
                        }

                        tick.Journal.Add(step.Id, "approval.escalated", new JsonObject
                        {
                            ["approvalId"] = approval.Id.ToString("D"),
                            ["from"] = new JsonArray(approval.Assignees.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray()),
                            ["to"] = new JsonArray(escalation.Assignees.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray()),
                            ["dueAt"] = dueAt?.ToString("O", CultureInfo.InvariantCulture),
                        });
                        LogEscalated(approval.Id, tick.Instance.Id);
                        return;
                    }

                    var limit = approval.Level == 0 ? approvalStep.Timeout : approvalStep.Escalation?.Timeout;
                    var comment = limit is { } l ? $"timed out after {Duration.Format(l)}" : "timed out";
                    var outcome = action == ApprovalTimeoutAction.Approve ? ApprovalOutcome.Approved : ApprovalOutcome.Rejected;
                    ApplyDecision(tick, frame, approval, outcome, Actor.System.Name, comment, "timeout", timedOut: true);
                    LogTimedOut(approval.Id, tick.Instance.Id, outcome);
                    return;
                case WaitForEventStepExecutor.TimerKind when frame.Wait is { } eventWait && eventWait.TimerId == timer.Id && step is WaitForEventStep waitStep:
                    fired = true;
                    tick.Withdraw(new Frame { Id = "-", Wait = new WaitInfo { Kind = eventWait.Kind, Id = eventWait.Id, Name = eventWait.Name } });
                    frame.Wait = null;
                    if (waitStep.OnTimeout == EventTimeoutAction.Continue)
                    {
                        tick.CompleteStep(frame, step, new JsonObject { ["timedOut"] = true });
                    }
                    else
                    {
                        tick.FailStep(frame, step, new StepFailed(StepErrorCodes.Timeout, $"no {(waitStep.Event ?? "signal " + waitStep.Signal)} arrived within {Duration.Format(waitStep.Timeout ?? TimeSpan.Zero)}", null));
                    }

                    return;
                case StepTimeoutTimer when frame.Wait?.TimeoutTimerId == timer.Id || frame.Container?.TimeoutTimerId == timer.Id:
                    fired = true;
                    if (frame.Container is { } container)
                    {
                        container.TimeoutTimerId = null;
                        tick.Withdraw(new Frame { Id = "-", Container = container });
                        frame.Container = null;
                    }
                    else if (frame.Wait is { } w)
                    {
                        w.TimeoutTimerId = null;
                        tick.Withdraw(new Frame { Id = "-", Wait = w });
                        frame.Wait = null;
                    }

                    frame.Status = FrameStatus.Ready;
                    tick.FailStep(frame, step, new StepFailed(StepErrorCodes.Timeout, $"step '{step.Id}' took longer than {Duration.Format(step.Timeout ?? TimeSpan.Zero)}", null));
                    return;
                case CallDoneTimer when frame.Wait is { Kind: "call" } callWait && callWait.Id == ChildOf(timer):
                    var child = await store.GetInstanceAsync(Guid.Parse(callWait.Id), ct).ConfigureAwait(false);
                    if (child is null || !child.IsFinished)
                    {
                        return;
                    }

                    fired = true;
                    if (callWait.TimeoutTimerId is { } ct2)
                    {
                        tick.DeletedTimers.Add(ct2);
                    }

                    frame.Wait = null;
                    if (child.State == InstanceState.Completed)
                    {
                        tick.CompleteStep(frame, step, child.Output?.DeepClone());
                    }
                    else
                    {
                        tick.FailStep(frame, step, new StepFailed(StepErrorCodes.CallFailed,
                            $"called workflow '{child.WorkflowId}' ended {child.State.ToString().ToLowerInvariant()}: {child.Error}", new JsonObject { ["childInstanceId"] = child.Id.ToString("D") }));
                    }

                    return;
            }
        }, cancellationToken).ConfigureAwait(false);
        if (!fired)
        {
            LogStaleTimer(timer.Id, timer.Kind);
        }

        return fired;
    }

    private InstanceCommit FailWithoutDefinition(InstanceRecord instance)
    {
        var now = time.GetUtcNow();
        var journal = new JournalWriter(instance, now);
        var message = $"definition {instance.WorkflowId} version {instance.Version} ({instance.DefinitionHash}) is not available";
        journal.Add(null, "instance.failed", new JsonObject { ["error"] = message });
        var failed = instance with { State = InstanceState.Failed, Error = message, UpdatedAt = now, EndedAt = now, JournalSequence = journal.Sequence };
        var incident = new IncidentRecord(Guid.CreateVersion7(now), instance.Id, instance.CurrentStep, "definition.missing", message, now, null);
        return new InstanceCommit(failed) { Journal = journal.Entries, Incidents = [incident] };
    }

    private async Task<StepOutcome> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        if (!executors.TryGetValue(context.Step.Kind, out var executor))
        {
            return new StepFailed(StepErrorCodes.Internal, $"no executor for step kind '{context.Step.Kind}'", null);
        }

        using var timeout = context.Step.Timeout is { } limit && context.Step is not (ApprovalStep or WaitForEventStep or DelayStep or WaitUntilStep)
            ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken)
            : null;
        timeout?.CancelAfter(context.Step.Timeout!.Value);
        try
        {
            return await executor.ExecuteAsync(context, timeout?.Token ?? cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout is { IsCancellationRequested: true } && !cancellationToken.IsCancellationRequested)
        {
            return new StepFailed(StepErrorCodes.Timeout, $"step '{context.Step.Id}' took longer than {Duration.Format(context.Step.Timeout!.Value)}", null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogExecutorCrashed(ex, context.Instance.Id, context.OwnerStepId);
            return new StepFailed(StepErrorCodes.Internal, $"{context.Step.Kind} step crashed: {ex.Message}", null);
        }
    }

    private static string? ChildOf(TimerRecord timer) => timer.Payload?["child"]?.GetValue<string>();

    private void SignalTimers()
    {
        try
        {
            timerSignal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    private async Task<WorkflowDefinition> GetDefinitionAsync(InstanceRecord instance, CancellationToken cancellationToken) =>
        await registry.GetVersionAsync(instance.WorkflowId, instance.DefinitionHash, cancellationToken).ConfigureAwait(false)
        ?? throw new WorkflowException("WF5000", $"definition {instance.WorkflowId} ({instance.DefinitionHash}) of instance {instance.Id} is not available");

    /// <summary>
    /// One round of outbox delivery through the <see cref="IMessageTransport"/>: the messages of commits that just became
    /// durable (handed over in memory, no read), and every <see cref="WorkflowOptions.PollInterval"/> the due rows of the
    /// store (messages of a previous process, failed deliveries whose backoff passed). A message is marked sent only
    /// after the transport returns (marks of a round share one write); a failure is recorded and retried with exponential
    /// backoff (from <see cref="WorkflowOptions.OutboxRetryDelay"/> up to <see cref="WorkflowOptions.OutboxMaxRetryDelay"/>).
    /// Ids sent by this runtime are remembered (the last 100,000), so a message seen both in memory and in a poll is sent
    /// once. Returns how many were sent. One round runs at a time per runtime.
    /// </summary>
    public async Task<int> DispatchOutboxAsync(CancellationToken cancellationToken)
    {
        await outboxGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var batch = new List<OutboxRecord>();
            while (batch.Count < options.OutboxBatchSize && outboxFresh.Reader.TryRead(out var fresh))
            {
                batch.Add(fresh);
            }

            if (batch.Count < options.OutboxBatchSize && Stopwatch.GetTimestamp() >= outboxNextPoll)
            {
                var due = await store.GetPendingOutboxAsync(time.GetUtcNow(), options.OutboxBatchSize, cancellationToken).ConfigureAwait(false);
                batch.AddRange(due);
                outboxNextPoll = due.Count >= options.OutboxBatchSize
                    ? 0
                    : Stopwatch.GetTimestamp() + (long)(options.PollInterval.TotalSeconds * Stopwatch.Frequency);
            }

            var sent = new List<string>();
            foreach (var message in batch)
            {
                if (outboxSent.Contains(message.Id))
                {
                    continue;
                }

                if ((AmqpLimits.CheckNames(message.Exchange, message.RoutingKey)
                     ?? message.Headers.Keys.Select(name => AmqpLimits.CheckName("header name", name)).FirstOrDefault(p => p is not null)) is { } undeliverable)
                {
                    // Written before publish names were checked where they are made: every publish would fail, so it is parked (never
                    // due again) with the reason, not retried every OutboxMaxRetryDelay for good. Nothing was attempted.
                    LogOutboxUndeliverable(message.Id, message.Exchange, undeliverable);
                    await store.MarkOutboxFailedAsync(message.Id, message.Attempts, DateTimeOffset.MaxValue, "not deliverable: " + undeliverable,
                        cancellationToken).ConfigureAwait(false);
                    continue;
                }

                try
                {
                    await transport.PublishAsync(
                        new OutboundMessage(message.Id, message.Exchange, message.RoutingKey, Encoding.UTF8.GetBytes(message.Body), message.Headers),
                        cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    var attempts = message.Attempts + 1;
                    var delay = TimeSpan.FromTicks(Math.Min(
                        options.OutboxMaxRetryDelay.Ticks,
                        options.OutboxRetryDelay.Ticks * (long)Math.Pow(2, Math.Min(attempts - 1, 30))));
                    LogOutboxFailed(ex, message.Id, message.Exchange, attempts, delay.TotalMilliseconds);
                    await store.MarkOutboxFailedAsync(message.Id, attempts, time.GetUtcNow() + delay, ex.Message, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                RememberSent(message.Id);
                sent.Add(message.Id);
            }

            try
            {
                await store.MarkOutboxSentAsync(sent, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                // Not marked: forget them so the next poll sends them again (at least once, same message id).
                foreach (var id in sent)
                {
                    outboxSent.Remove(id);
                }

                throw;
            }

            return sent.Count;
        }
        finally
        {
            outboxGate.Release();
        }
    }

    private void RememberSent(string id)
    {
        if (outboxSent.Add(id))
        {
            outboxSentOrder.Enqueue(id);
            if (outboxSentOrder.Count > 100_000)
            {
                outboxSent.Remove(outboxSentOrder.Dequeue());
            }
        }
    }

    private async Task WorkerAsync(CancellationToken cancellationToken)
    {
        await foreach (var id in queue.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await RunInstanceAsync(id, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogAdvanceFailed(ex, id);
                _ = RescheduleLaterAsync(id, cancellationToken);
            }
        }
    }

    private async Task RescheduleLaterAsync(Guid id, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(options.PollInterval * 5, time, cancellationToken).ConfigureAwait(false);
            Schedule(id);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task TimerLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await ProcessDueTimersAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                LogLoopFailed(ex, "timers");
            }

            await timerSignal.WaitAsync(options.PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task OutboxLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await DispatchOutboxAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                LogLoopFailed(ex, "outbox");
                await Task.Delay(options.PollInterval, time, cancellationToken).ConfigureAwait(false);
            }

            if (outboxFresh.Reader.Count == 0 && Stopwatch.GetTimestamp() < outboxNextPoll)
            {
                // Wake up for a freshly committed message or the next poll, whichever comes first.
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                wait.CancelAfter(options.PollInterval);
                try
                {
                    await outboxFresh.Reader.WaitToReadAsync(wait.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Workflow instance {InstanceId} of {WorkflowId} v{Version} started (correlation key {CorrelationKey})")]
    private partial void LogStarted(Guid instanceId, string workflowId, int version, string? correlationKey);

    [LoggerMessage(Level = LogLevel.Information, Message = "Start of {WorkflowId} deduplicated against instance {InstanceId} (correlation key {CorrelationKey}, idempotency key {IdempotencyKey})")]
    private partial void LogDeduplicated(Guid instanceId, string workflowId, string? correlationKey, string? idempotencyKey);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Actor} may not decide approval {ApprovalId}")]
    private partial void LogRefused(Guid approvalId, string actor);

    [LoggerMessage(Level = LogLevel.Information, Message = "Approval {ApprovalId} of instance {InstanceId}: {Outcome} by {Actor}")]
    private partial void LogDecided(Guid approvalId, Guid instanceId, ApprovalOutcome outcome, string actor);

    [LoggerMessage(Level = LogLevel.Information, Message = "Approval {ApprovalId} of instance {InstanceId} timed out: {Outcome}")]
    private partial void LogTimedOut(Guid approvalId, Guid instanceId, ApprovalOutcome outcome);

    [LoggerMessage(Level = LogLevel.Information, Message = "Approval {ApprovalId} of instance {InstanceId} escalated")]
    private partial void LogEscalated(Guid approvalId, Guid instanceId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Condition of {StepId} in instance {InstanceId} failed: {Error}")]
    private partial void LogConditionFailed(Guid instanceId, string stepId, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Workflow runtime running: {Resumed} instances resumed, {Workers} workers")]
    private partial void LogRunning(int resumed, int workers);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Instance {InstanceId} changed concurrently; reloading")]
    private partial void LogConflict(Guid instanceId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Workflow instance {InstanceId} of {WorkflowId} ended {State} {Error}")]
    private partial void LogFinished(Guid instanceId, string workflowId, InstanceState state, string? error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Workflow instance {InstanceId} waits at {StepId} for {WaitingFor}")]
    private partial void LogWaiting(Guid instanceId, string stepId, string waitingFor);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Step {StepId} of instance {InstanceId} failed ({Code}): {Error}")]
    private partial void LogStepFailed(Guid instanceId, string stepId, string code, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Compensation of {StepId} in instance {InstanceId} failed (attempt {Attempt} of {Attempts}): {Error}")]
    private partial void LogCompensationFailed(Guid instanceId, string stepId, int attempt, int attempts, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Step executor crashed in instance {InstanceId} at {StepId}")]
    private partial void LogExecutorCrashed(Exception exception, Guid instanceId, string stepId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Advancing instance {InstanceId} failed; retrying later")]
    private partial void LogAdvanceFailed(Exception exception, Guid instanceId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Workflow runtime {Loop} loop failed")]
    private partial void LogLoopFailed(Exception exception, string loop);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox message {MessageId} to {Exchange} failed (attempt {Attempts}); next try in {DelayMs} ms")]
    private partial void LogOutboxFailed(Exception exception, string messageId, string exchange, int attempts, double delayMs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Outbox message {MessageId} to {Exchange} cannot be delivered ({Reason}); parked, not retried")]
    private partial void LogOutboxUndeliverable(string messageId, string exchange, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Timer {TimerId} ({Kind}) no longer applies; deleted")]
    private partial void LogStaleTimer(Guid timerId, string kind);
}
