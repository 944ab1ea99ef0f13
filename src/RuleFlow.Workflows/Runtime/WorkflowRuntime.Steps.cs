using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Steps;

namespace RuleFlow.Workflows.Runtime;

/// <summary>Step execution, compensation and approval resolution: each builds the one commit of a step.</summary>
public sealed partial class WorkflowRuntime
{
    private async Task<InstanceCommit> RunStepAsync(WorkflowDefinition definition, InstanceRecord instance, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var journal = new JournalWriter(instance, now);
        if (instance.StepIndex >= definition.Steps.Count)
        {
            return Complete(instance, journal, now, []);
        }

        var step = definition.Steps[instance.StepIndex];
        var context = new StepContext(definition, instance, step, step.Id, IdempotencyKeys.ForStep(instance.Id, step.Id), now);
        journal.Add(step.Id, "step.started", new JsonObject { ["kind"] = step.Kind, ["idempotencyKey"] = context.IdempotencyKey });
        var outcome = await ExecuteAsync(context, cancellationToken).ConfigureAwait(false);
        switch (outcome)
        {
            case StepCompleted completed:
                journal.Add(step.Id, "step.completed", CompletedData(completed));
                var outputs = (JsonObject)instance.StepOutputs.DeepClone();
                outputs[step.Id] = completed.Output?.DeepClone();
                var next = Advance(definition, instance, step, outputs, completed.Variables ?? instance.Variables, now);
                return next.StepIndex >= definition.Steps.Count
                    ? Complete(next, journal, now, completed.Outbox)
                    : new InstanceCommit(next with { JournalSequence = journal.Sequence }) { Journal = journal.Entries, Outbox = completed.Outbox };

            case StepWaiting waiting:
                journal.Add(step.Id, "step.waiting", new JsonObject
                {
                    ["waitingFor"] = waiting.WaitingFor,
                    ["approvalId"] = waiting.Approval.Id.ToString("D"),
                    ["assignees"] = new JsonArray(waiting.Approval.Assignees.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray()),
                    ["dueAt"] = waiting.Approval.DueAt?.ToString("O"),
                });
                var waitingInstance = instance with
                {
                    State = InstanceState.Waiting,
                    WaitingFor = waiting.WaitingFor,
                    CurrentStep = step.Id,
                    UpdatedAt = now,
                    JournalSequence = journal.Sequence,
                };
                LogWaiting(instance.Id, step.Id, waiting.WaitingFor);
                return new InstanceCommit(waitingInstance)
                {
                    Journal = journal.Entries,
                    NewApprovals = [waiting.Approval],
                    NewTimers = waiting.Timer is null ? [] : [waiting.Timer],
                };

            case StepFailed failed:
                journal.Add(step.Id, "step.failed", FailedData(failed));
                LogStepFailed(instance.Id, step.Id, failed.Code, failed.Message);
                return BeginCompensation(instance, journal, now, $"step '{step.Id}' failed: {failed.Message}", step.Id);

            default:
                throw new InvalidOperationException("unknown step outcome " + outcome.GetType().Name);
        }
    }

    private async Task<InstanceCommit> CompensateStepAsync(WorkflowDefinition definition, InstanceRecord instance, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var journal = new JournalWriter(instance, now);
        if (instance.CompensationStack.Count == 0)
        {
            return FinishCompensated(instance, journal, now, []);
        }

        var stepId = instance.CompensationStack[^1];
        var step = definition.FindStep(stepId);
        var outbox = new List<OutboxRecord>();
        var outputs = new JsonArray();
        for (var index = 0; step is not null && index < step.Compensate.Count; index++)
        {
            var action = step.Compensate[index];
            var key = IdempotencyKeys.ForCompensation(instance.Id, stepId, index);
            var attempts = Math.Max(1, options.CompensationAttempts);
            for (var attempt = 1; ; attempt++)
            {
                journal.Add(stepId, "compensation.started", new JsonObject { ["action"] = index, ["kind"] = action.Kind, ["idempotencyKey"] = key }, attempt);
                var context = new StepContext(definition, instance, action, stepId, key, time.GetUtcNow());
                var outcome = await ExecuteAsync(context, cancellationToken).ConfigureAwait(false);
                if (outcome is StepCompleted completed)
                {
                    outbox.AddRange(completed.Outbox);
                    outputs.Add(completed.Output?.DeepClone());
                    var data = CompletedData(completed);
                    data["action"] = index;
                    journal.Add(stepId, "compensation.completed", data, attempt);
                    break;
                }

                var failed = outcome as StepFailed ?? new StepFailed(StepErrorCodes.Internal, "a compensation cannot wait", null);
                var failedData = FailedData(failed);
                failedData["action"] = index;
                journal.Add(stepId, "compensation.failed", failedData, attempt);
                LogCompensationFailed(instance.Id, stepId, attempt, attempts, failed.Message);
                if (attempt >= attempts)
                {
                    var message = $"compensation of step '{stepId}' failed after {attempt} attempts: {failed.Message}";
                    journal.Add(null, "instance.failed", new JsonObject { ["error"] = message, ["cause"] = instance.Error });
                    var failedInstance = instance with
                    {
                        State = InstanceState.Failed,
                        CurrentStep = stepId,
                        Error = message,
                        UpdatedAt = now,
                        EndedAt = time.GetUtcNow(),
                        JournalSequence = journal.Sequence,
                    };
                    var incident = new IncidentRecord(Guid.CreateVersion7(time.GetUtcNow()), instance.Id, stepId, "compensation.failed", message, time.GetUtcNow(), null);
                    return new InstanceCommit(failedInstance) { Journal = journal.Entries, Incidents = [incident], Outbox = outbox };
                }

                var delay = TimeSpan.FromTicks(options.CompensationRetryDelay.Ticks * (1L << Math.Min(attempt - 1, 20)));
                await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
            }
        }

        var remaining = instance.CompensationStack.Take(instance.CompensationStack.Count - 1).ToList();
        var next = instance with
        {
            CompensationStack = remaining,
            CurrentStep = remaining.Count > 0 ? remaining[^1] : null,
            UpdatedAt = time.GetUtcNow(),
        };
        return remaining.Count == 0
            ? FinishCompensated(next, journal, now, outbox)
            : new InstanceCommit(next with { JournalSequence = journal.Sequence }) { Journal = journal.Entries, Outbox = outbox };
    }

    private InstanceCommit ResolveApproval(
        WorkflowDefinition definition,
        InstanceRecord instance,
        ApprovalInfo approval,
        ApprovalOutcome outcome,
        Actor actor,
        string? comment,
        bool timedOut)
    {
        var now = time.GetUtcNow();
        var journal = new JournalWriter(instance, now);
        var outcomeText = outcome == ApprovalOutcome.Approved ? "approved" : "rejected";
        var decided = approval with
        {
            State = timedOut ? "timed_out" : outcomeText,
            DecidedBy = actor.Name,
            DecidedAt = now,
            Comment = comment,
        };
        var output = new JsonObject
        {
            ["approvalId"] = approval.Id.ToString("D"),
            ["outcome"] = outcomeText,
            ["decidedBy"] = actor.Name,
            ["decidedAt"] = now.ToString("O"),
            ["comment"] = comment,
            ["timedOut"] = timedOut,
        };
        journal.Add(approval.StepId, timedOut ? "approval.timed_out" : "approval.decided", output.DeepClone());
        var timerId = IdempotencyKeys.ToGuid(IdempotencyKeys.ForStep(instance.Id, approval.StepId) + ":timer");
        var outputs = (JsonObject)instance.StepOutputs.DeepClone();
        outputs[approval.StepId] = output.DeepClone();
        var resumed = instance with { State = InstanceState.Running, WaitingFor = null, StepOutputs = outputs };
        InstanceCommit commit;
        if (outcome == ApprovalOutcome.Approved)
        {
            journal.Add(approval.StepId, "step.completed", new JsonObject { ["output"] = output });
            var step = definition.FindStep(approval.StepId) ?? definition.Steps[Math.Min(instance.StepIndex, definition.Steps.Count - 1)];
            var next = Advance(definition, resumed, step, outputs, instance.Variables, now);
            commit = next.StepIndex >= definition.Steps.Count
                ? Complete(next, journal, now, [])
                : new InstanceCommit(next with { JournalSequence = journal.Sequence }) { Journal = journal.Entries };
        }
        else
        {
            journal.Add(approval.StepId, "step.rejected", new JsonObject { ["output"] = output });
            var reason = timedOut
                ? $"approval '{approval.StepId}' timed out ({comment}) and on_timeout is reject"
                : $"approval '{approval.StepId}' rejected by {actor.Name}" + (string.IsNullOrWhiteSpace(comment) ? string.Empty : ": " + comment);
            commit = BeginCompensation(resumed, journal, now, reason, approval.StepId);
        }

        return commit with { UpdatedApprovals = [decided], DeletedTimers = [timerId] };
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

    private static InstanceRecord Advance(WorkflowDefinition definition, InstanceRecord instance, StepDefinition step, JsonObject outputs, JsonObject variables, DateTimeOffset now)
    {
        var nextIndex = instance.StepIndex + 1;
        return instance with
        {
            State = InstanceState.Running,
            StepOutputs = outputs,
            Variables = variables,
            StepIndex = nextIndex,
            CurrentStep = nextIndex < definition.Steps.Count ? definition.Steps[nextIndex].Id : null,
            CompensationStack = step.Compensate.Count > 0 ? [.. instance.CompensationStack, step.Id] : instance.CompensationStack,
            WaitingFor = null,
            UpdatedAt = now,
        };
    }

    private static InstanceCommit Complete(InstanceRecord instance, JournalWriter journal, DateTimeOffset now, IReadOnlyList<OutboxRecord> outbox) =>
        End(instance, InstanceState.Completed, "instance.completed", null, journal, now, outbox);

    /// <summary>Ends an instance in a final state, journaling <paramref name="kind"/>.</summary>
    private static InstanceCommit End(InstanceRecord instance, InstanceState state, string kind, JsonObject? data, JournalWriter journal,
        DateTimeOffset now, IReadOnlyList<OutboxRecord> outbox)
    {
        journal.Add(null, kind, data);
        var ended = instance with
        {
            State = state,
            CurrentStep = null,
            WaitingFor = null,
            UpdatedAt = now,
            EndedAt = now,
            JournalSequence = journal.Sequence,
        };
        return new InstanceCommit(ended) { Journal = journal.Entries, Outbox = outbox };
    }

    private static InstanceCommit BeginCompensation(InstanceRecord instance, JournalWriter journal, DateTimeOffset now, string reason, string stepId)
    {
        var compensating = instance with
        {
            State = InstanceState.Compensating,
            Error = reason,
            WaitingFor = null,
            CurrentStep = instance.CompensationStack.Count > 0 ? instance.CompensationStack[^1] : stepId,
            UpdatedAt = now,
        };
        if (instance.CompensationStack.Count == 0)
        {
            return FinishCompensated(compensating, journal, now, []);
        }

        journal.Add(null, "instance.compensating", new JsonObject
        {
            ["reason"] = reason,
            ["steps"] = new JsonArray(instance.CompensationStack.Reverse().Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
        });
        return new InstanceCommit(compensating with { JournalSequence = journal.Sequence }) { Journal = journal.Entries };
    }

    private static InstanceCommit FinishCompensated(InstanceRecord instance, JournalWriter journal, DateTimeOffset now, IReadOnlyList<OutboxRecord> outbox) =>
        End(instance, InstanceState.Compensated, "instance.compensated", new JsonObject { ["reason"] = instance.Error }, journal, now, outbox);

    private async Task<StepOutcome> ExecuteAsync(StepContext context, CancellationToken cancellationToken)
    {
        if (!executors.TryGetValue(context.Step.Kind, out var executor))
        {
            return new StepFailed(StepErrorCodes.Internal, $"no executor for step kind '{context.Step.Kind}'", null);
        }

        try
        {
            return await executor.ExecuteAsync(context, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogExecutorCrashed(ex, context.Instance.Id, context.OwnerStepId);
            return new StepFailed(StepErrorCodes.Internal, $"{context.Step.Kind} step crashed: {ex.Message}", null);
        }
    }

    private static JsonObject CompletedData(StepCompleted completed)
    {
        var data = new JsonObject { ["output"] = completed.Output?.DeepClone() };
        if (completed.Log.Count > 0)
        {
            data["log"] = new JsonArray(completed.Log.Select(l => (JsonNode?)JsonValue.Create(l)).ToArray());
        }

        if (completed.Outbox.Count > 0)
        {
            data["messageIds"] = new JsonArray(completed.Outbox.Select(m => (JsonNode?)JsonValue.Create(m.Id)).ToArray());
        }

        return data;
    }

    private static JsonObject FailedData(StepFailed failed)
    {
        var data = new JsonObject { ["code"] = failed.Code, ["message"] = failed.Message };
        if (failed.Details is not null)
        {
            data["details"] = failed.Details.DeepClone();
        }

        return data;
    }

    /// <summary>Numbers journal entries of one commit after the instance's last sequence.</summary>
    private sealed class JournalWriter(InstanceRecord instance, DateTimeOffset now)
    {
        private readonly List<JournalRecord> entries = [];

        public long Sequence { get; private set; } = instance.JournalSequence;

        public IReadOnlyList<JournalRecord> Entries => entries;

        public void Add(string? stepId, string kind, JsonNode? data, int attempt = 1)
        {
            Sequence++;
            entries.Add(new JournalRecord(instance.Id, Sequence, now, stepId, kind, attempt, data));
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

    [LoggerMessage(Level = LogLevel.Debug, Message = "Timer {TimerId} ({Kind}) no longer applies; deleted")]
    private partial void LogStaleTimer(Guid timerId, string kind);
}
