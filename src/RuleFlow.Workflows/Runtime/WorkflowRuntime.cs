using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using RuleFlow.Scripting;
using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Steps;

namespace RuleFlow.Workflows.Runtime;

/// <summary>
/// The durable workflow runtime. Instances advance step by step; after every step the instance (state, current step,
/// variables, step outputs, compensation stack), its journal entries, outbox messages, approvals, timers and incidents
/// are committed in ONE transaction (<see cref="IWorkflowStore.CommitAsync"/>), checked against the instance's revision.
/// </summary>
/// <remarks>
/// <para>Saga: a step failure or a rejection compensates the completed steps that declare <c>compensate</c>, in reverse
/// completion order; each compensation is journaled (<c>compensation.started/completed/failed</c>), retried
/// <see cref="WorkflowOptions.CompensationAttempts"/> times, and a compensation that still fails ends the instance as
/// <see cref="InstanceState.Failed"/> with an incident.</para>
/// <para>Within a process one instance is advanced by one caller at a time (a lock per instance); across processes the
/// revision check makes a second writer reload and retry.</para>
/// <para>Side effects: scripts get the step's idempotency key (<see cref="IdempotencyKeys"/>); publish steps write to
/// the outbox, which <see cref="DispatchOutboxAsync"/> delivers at least once with a stable message id.</para>
/// </remarks>
public sealed partial class WorkflowRuntime : IWorkflowRuntime
{
    private const int MaxConflictRetries = 20;

    private readonly IWorkflowStore store;
    private readonly IWorkflowDefinitionRegistry registry;
    private readonly IMessageTransport transport;
    private readonly TimeProvider time;
    private readonly WorkflowOptions options;
    private readonly ILogger<WorkflowRuntime> logger;
    private readonly Dictionary<string, IStepExecutor> executors;
    private readonly Channel<Guid> queue = Channel.CreateUnbounded<Guid>(new UnboundedChannelOptions { SingleReader = false });
    private readonly KeyedLock<Guid> locks = new();
    private readonly SemaphoreSlim outboxSignal = new(0, 1);
    private readonly SemaphoreSlim outboxGate = new(1, 1);
    private readonly SemaphoreSlim timerGate = new(1, 1);
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
        ILogger<WorkflowRuntime> logger)
    {
        ArgumentNullException.ThrowIfNull(sandbox);
        ArgumentNullException.ThrowIfNull(templates);
        ArgumentNullException.ThrowIfNull(modules);
        this.store = store;
        this.registry = registry;
        this.transport = transport;
        this.time = time;
        this.options = options;
        this.logger = logger;
        IStepExecutor[] all =
        [
            new ValidateStepExecutor(),
            new ApprovalStepExecutor(templates),
            new ScriptStepExecutor(sandbox, modules.ToList()),
            new PublishStepExecutor(templates),
        ];
        executors = all.ToDictionary(e => e.Kind, StringComparer.Ordinal);
    }

    /// <summary>True while <see cref="RunAsync"/> runs.</summary>
    public bool IsRunning => Volatile.Read(ref running) == 1;

    /// <inheritdoc />
    public async Task<StartWorkflowResult> StartAsync(StartWorkflowRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var definition = registry.Find(request.WorkflowId)
            ?? throw new WorkflowException("WF4040", $"unknown workflow '{request.WorkflowId}'");
        if (definition.InputSchema is { } schema)
        {
            var violations = schema.Validate(request.Input);
            if (violations.Count > 0)
            {
                throw new WorkflowException("WF4000",
                    $"input of workflow '{definition.Id}' does not fit its schema: " + string.Join("; ", violations.Select(v => v.Message)));
            }
        }

        var now = time.GetUtcNow();
        var instance = new InstanceRecord
        {
            Id = Guid.CreateVersion7(now),
            WorkflowId = definition.Id,
            Version = definition.Version,
            DefinitionHash = definition.ContentHash,
            State = InstanceState.Running,
            CorrelationKey = request.CorrelationKey,
            IdempotencyKey = request.IdempotencyKey,
            Input = (JsonObject)request.Input.DeepClone(),
            Variables = [],
            StepOutputs = [],
            StepIndex = 0,
            CurrentStep = definition.Steps[0].Id,
            CompensationStack = [],
            Lineage = request.Lineage,
            StartedBy = request.StartedBy.Name,
            CreatedAt = now,
            UpdatedAt = now,
            JournalSequence = 1,
        };
        var started = new JournalRecord(instance.Id, 1, now, null, "instance.started", 1, new JsonObject
        {
            ["workflow"] = definition.Id,
            ["version"] = definition.Version,
            ["contentHash"] = definition.ContentHash,
            ["correlationKey"] = request.CorrelationKey,
            ["startedBy"] = request.StartedBy.Name,
            ["rule"] = request.Lineage.Rule,
            ["activationId"] = request.Lineage.ActivationId,
            ["eventIds"] = new JsonArray(request.Lineage.EventIds.Select(e => (JsonNode?)JsonValue.Create(e)).ToArray()),
        });
        var (stored, created) = await store.CreateInstanceAsync(instance, [started], cancellationToken).ConfigureAwait(false);
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

    /// <inheritdoc />
    /// <remarks>
    /// Who may decide: an actor named by a <c>user:NAME</c> assignee (case-insensitive), an actor holding the role of a
    /// <c>role:NAME</c> assignee, or an actor with role <c>admin</c>. The instance continues asynchronously (scheduled for
    /// <see cref="RunAsync"/>'s workers, or run it with <see cref="RunInstanceAsync"/>).
    /// </remarks>
    public async Task DecideAsync(Guid approvalId, ApprovalOutcome outcome, Actor actor, string? comment, CancellationToken cancellationToken)
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

        using (await locks.AcquireAsync(approval.InstanceId, cancellationToken).ConfigureAwait(false))
        {
            for (var attempt = 0; ; attempt++)
            {
                approval = await store.GetApprovalAsync(approvalId, cancellationToken).ConfigureAwait(false)
                    ?? throw new WorkflowException("WF4041", $"no approval '{approvalId}'");
                if (approval.State != "pending")
                {
                    throw new WorkflowException("WF4090", $"approval '{approvalId}' is already {approval.State}");
                }

                var instance = await store.GetInstanceAsync(approval.InstanceId, cancellationToken).ConfigureAwait(false);
                if (instance is null || instance.State != InstanceState.Waiting || instance.WaitingFor != WaitKey(approvalId))
                {
                    throw new WorkflowException("WF4090", $"instance '{approval.InstanceId}' is not waiting on approval '{approvalId}'");
                }

                var definition = await GetDefinitionAsync(instance, cancellationToken).ConfigureAwait(false);
                var commit = ResolveApproval(definition, instance, approval, outcome, actor, comment, timedOut: false);
                try
                {
                    await store.CommitAsync(commit, cancellationToken).ConfigureAwait(false);
                }
                catch (WorkflowConcurrencyException) when (attempt < MaxConflictRetries)
                {
                    continue;
                }

                LogDecided(approvalId, instance.Id, outcome, actor.Name);
                break;
            }
        }

        Schedule(approval.InstanceId);
    }

    /// <summary>True when <paramref name="actor"/> may decide an approval with <paramref name="assignees"/>.</summary>
    public static bool MayDecide(Actor actor, IEnumerable<string> assignees)
    {
        ArgumentNullException.ThrowIfNull(actor);
        ArgumentNullException.ThrowIfNull(assignees);
        if (actor.IsInRole("admin"))
        {
            return true;
        }

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
    /// compensations, committing after each. Serialized per instance within this process.
    /// </summary>
    /// <exception cref="WorkflowConcurrencyException">The instance kept changing under this call (more than 20 reloads).</exception>
    public async Task RunInstanceAsync(Guid instanceId, CancellationToken cancellationToken)
    {
        using var held = await locks.AcquireAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var conflicts = 0;
        var instance = await store.GetInstanceAsync(instanceId, cancellationToken).ConfigureAwait(false);
        while (instance is { State: InstanceState.Running or InstanceState.Compensating })
        {
            var definition = await registry.GetVersionAsync(instance.WorkflowId, instance.DefinitionHash, cancellationToken).ConfigureAwait(false);
            var commit = definition is null
                ? FailWithoutDefinition(instance)
                : instance.State == InstanceState.Running
                    ? await RunStepAsync(definition, instance, cancellationToken).ConfigureAwait(false)
                    : await CompensateStepAsync(definition, instance, cancellationToken).ConfigureAwait(false);
            try
            {
                var revision = await store.CommitAsync(commit, cancellationToken).ConfigureAwait(false);
                instance = commit.Instance with { Revision = revision };
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

            if (commit.Outbox.Count > 0)
            {
                SignalOutbox();
            }

            if (instance.IsFinished)
            {
                LogFinished(instance.Id, instance.WorkflowId, instance.State, instance.Error);
            }
        }
    }

    /// <summary>
    /// Fires due timers (approval timeouts apply their <c>on_timeout</c>) and returns how many fired. Called by
    /// <see cref="RunAsync"/> every <see cref="WorkflowOptions.PollInterval"/>; tests call it after moving their clock.
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

    /// <summary>
    /// Delivers due outbox messages through the <see cref="IMessageTransport"/>: each is marked sent only after the
    /// transport returns; a failure is recorded and retried with exponential backoff (from
    /// <see cref="WorkflowOptions.OutboxRetryDelay"/> up to <see cref="WorkflowOptions.OutboxMaxRetryDelay"/>).
    /// Returns how many were sent. One dispatch runs at a time per runtime.
    /// </summary>
    public async Task<int> DispatchOutboxAsync(CancellationToken cancellationToken)
    {
        await outboxGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var sent = 0;
            var pending = await store.GetPendingOutboxAsync(time.GetUtcNow(), options.OutboxBatchSize, cancellationToken).ConfigureAwait(false);
            foreach (var message in pending)
            {
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

                await store.MarkOutboxSentAsync(message.Id, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
                sent++;
            }

            return sent;
        }
        finally
        {
            outboxGate.Release();
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

            await Task.Delay(options.PollInterval, time, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task OutboxLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var sent = 0;
            try
            {
                sent = await DispatchOutboxAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                LogLoopFailed(ex, "outbox");
            }

            if (sent < options.OutboxBatchSize)
            {
                await outboxSignal.WaitAsync(options.PollInterval, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private void SignalOutbox()
    {
        try
        {
            outboxSignal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    private async Task<bool> FireTimerAsync(TimerRecord timer, CancellationToken cancellationToken)
    {
        if (timer.Kind != ApprovalStepExecutor.TimerKind
            || timer.Payload?["approvalId"]?.GetValue<string>() is not { } approvalText
            || !Guid.TryParse(approvalText, out var approvalId))
        {
            LogStaleTimer(timer.Id, timer.Kind);
            await store.DeleteTimerAsync(timer.Id, cancellationToken).ConfigureAwait(false);
            return false;
        }

        using (await locks.AcquireAsync(timer.InstanceId, cancellationToken).ConfigureAwait(false))
        {
            for (var attempt = 0; ; attempt++)
            {
                var approval = await store.GetApprovalAsync(approvalId, cancellationToken).ConfigureAwait(false);
                var instance = await store.GetInstanceAsync(timer.InstanceId, cancellationToken).ConfigureAwait(false);
                if (approval is not { State: "pending" } || instance is null || instance.WaitingFor != WaitKey(approvalId))
                {
                    await store.DeleteTimerAsync(timer.Id, cancellationToken).ConfigureAwait(false);
                    return false;
                }

                var definition = await GetDefinitionAsync(instance, cancellationToken).ConfigureAwait(false);
                var step = definition.FindStep(timer.StepId) as ApprovalStep;
                var outcome = step?.OnTimeout == ApprovalTimeoutAction.Approve ? ApprovalOutcome.Approved : ApprovalOutcome.Rejected;
                var comment = step?.Timeout is { } timeout ? $"timed out after {Duration.Format(timeout)}" : "timed out";
                var commit = ResolveApproval(definition, instance, approval, outcome, Actor.System, comment, timedOut: true);
                try
                {
                    await store.CommitAsync(commit, cancellationToken).ConfigureAwait(false);
                }
                catch (WorkflowConcurrencyException) when (attempt < MaxConflictRetries)
                {
                    continue;
                }

                LogTimedOut(approvalId, instance.Id, outcome);
                break;
            }
        }

        Schedule(timer.InstanceId);
        return true;
    }

    private async Task<WorkflowDefinition> GetDefinitionAsync(InstanceRecord instance, CancellationToken cancellationToken) =>
        await registry.GetVersionAsync(instance.WorkflowId, instance.DefinitionHash, cancellationToken).ConfigureAwait(false)
        ?? throw new WorkflowException("WF5000", $"definition {instance.WorkflowId} ({instance.DefinitionHash}) of instance {instance.Id} is not available");

    private static string WaitKey(Guid approvalId) => "approval:" + approvalId.ToString("D");
}
