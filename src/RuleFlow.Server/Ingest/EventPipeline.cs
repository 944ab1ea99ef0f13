using System.Diagnostics;
using System.Text.Json;
using RuleFlow.Rules;
using RuleFlow.Server.Hosting;
using RuleFlow.Server.Rules;
using RuleFlow.Storage.Ingest;
using RuleFlow.Workflows.Runtime;
using System.Text.Json.Nodes;

namespace RuleFlow.Server.Ingest;

/// <summary>What happened to an accepted event.</summary>
/// <param name="EventId">Its id.</param>
/// <param name="Duplicate">True when an event with this id was already journaled: nothing changed.</param>
/// <param name="Sequence">Journal position, or 0 for a duplicate or a failure.</param>
/// <param name="Firings">Rule activations it fired.</param>
/// <param name="FailureCode">Set when the rule engine failed on the event (<see cref="IngestErrors.ProcessingFailed"/>): dead-letter it.</param>
/// <param name="FailureReason">Why, when it failed.</param>
public sealed record IngestOutcome(
    string EventId,
    bool Duplicate,
    long Sequence,
    IReadOnlyList<RuleFiring> Firings,
    string? FailureCode = null,
    string? FailureReason = null);

/// <summary>
/// The single writer between ingest and the rule session: this is where an event enters working memory. For each
/// batch of events, in arrival order: drop those whose id is journaled already (redeliveries) or repeated in the batch,
/// insert the others into the rule session one at a time, journal them together with the firings they caused in ONE
/// transaction (group commit), then carry the firings' actions out. The broker messages are acknowledged only after this
/// returns. At start, working memory is rebuilt by replaying the journal (the engine is deterministic on event time)
/// and firings whose actions were not carried out are carried out.
/// </summary>
/// <remarks>One batch at a time (a gate): the rule session is single-threaded and order matters for windows.</remarks>
public sealed class EventPipeline(
    RuleHost rules,
    EventJournal journal,
    ActionExecutor actions,
    IngestMetrics metrics,
    ServerState state,
    TimeProvider time,
    IWorkflowRuntime workflows,
    ILogger<EventPipeline> logger) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private RuleSession? _session;
    private bool _needsRebuild = true;

    /// <summary>Statistics of the current rule session (null before recovery).</summary>
    public RuleSessionStatistics? SessionStatistics => _session?.Statistics;

    /// <summary>Processes one accepted event (a batch of one).</summary>
    /// <exception cref="IngestRejectedException">The rule engine failed on this event (code RF5900).</exception>
    /// <exception cref="OperationCanceledException">Cancelled (shutdown) before the event was journaled.</exception>
    public async Task<IngestOutcome> ProcessAsync(AcceptedEvent accepted, CancellationToken cancellationToken)
    {
        var outcome = (await ProcessBatchAsync([accepted], cancellationToken).ConfigureAwait(false))[0];
        return outcome.FailureCode is null ? outcome : throw new IngestRejectedException(outcome.FailureCode, outcome.FailureReason!);
    }

    /// <summary>
    /// Processes a batch of accepted events in order (see the class summary). Waits for the server to be ready first.
    /// </summary>
    /// <returns>One outcome per event, in the same order. An event the engine failed on has a failure code; the
    /// events before it are journaled, the session is rebuilt and the events after it are processed.</returns>
    /// <exception cref="OperationCanceledException">Cancelled (shutdown): nothing after the last commit is acknowledged.</exception>
    public async Task<IReadOnlyList<IngestOutcome>> ProcessBatchAsync(IReadOnlyList<AcceptedEvent> batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        await state.Ready.WaitAsync(cancellationToken).ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_needsRebuild)
            {
                await RebuildAsync(cancellationToken).ConfigureAwait(false);
            }

            var outcomes = new IngestOutcome[batch.Count];
            var seen = new HashSet<string>(
                await StoreRetry.RunAsync(ct => journal.ExistingIdsAsync(batch.Select(a => a.Event.Id).ToList(), ct), logger,
                    "checking for duplicates", cancellationToken).ConfigureAwait(false),
                StringComparer.Ordinal);
            var pending = new List<Pending>(batch.Count);
            for (var i = 0; i < batch.Count; i++)
            {
                var accepted = batch[i];
                var evt = accepted.Event;
                if (!seen.Add(evt.Id))
                {
                    metrics.Duplicate();
                    logger.LogDebug("Event {EventId} is already journaled: ignored", evt.Id);
                    outcomes[i] = new IngestOutcome(evt.Id, true, 0, []);
                    continue;
                }

                IReadOnlyList<RuleFiring> firings;
                try
                {
                    firings = _session!.Insert(evt);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogError(e, "Rule engine failed on event {EventId} of type {EventType}", evt.Id, evt.Type);
                    outcomes[i] = new IngestOutcome(evt.Id, false, 0, [], IngestErrors.ProcessingFailed, $"the rule engine failed on this event: {e.Message}");
                    // The session may hold part of this event: journal what came before, then rebuild without it.
                    await CommitAsync(pending, outcomes, cancellationToken).ConfigureAwait(false);
                    pending.Clear();
                    await RebuildAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                pending.Add(new Pending(i, accepted, firings, Record(accepted, firings)));
            }

            await CommitAsync(pending, outcomes, cancellationToken).ConfigureAwait(false);
            return outcomes;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Rebuilds working memory from the journal under the rule set in force and carries out pending firings.
    /// Called at start, after a rule reload, and after a failure that left the session ahead of the journal.
    /// </summary>
    public async Task RecoverAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await RebuildAsync(cancellationToken).ConfigureAwait(false);
            await CarryOutPendingAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private sealed record Pending(int Index, AcceptedEvent Accepted, IReadOnlyList<RuleFiring> Firings, (StoredEvent Event, List<RuleFiringRecord> Firings) Journal);

    private (StoredEvent, List<RuleFiringRecord>) Record(AcceptedEvent accepted, IReadOnlyList<RuleFiring> firings)
    {
        var evt = accepted.Event;
        var stored = new StoredEvent
        {
            EventId = evt.Id, Type = evt.Type, Time = evt.Time, ReceivedAt = accepted.ReceivedAt,
            Source = accepted.Source, Payload = accepted.Payload,
        };
        var now = time.GetUtcNow();
        var records = firings.Select(f => new RuleFiringRecord
        {
            ActivationId = f.ActivationId, Rule = f.Rule, Time = f.Time, FiredAt = now,
            EventIds = JsonSerializer.Serialize(f.EventIds), Actions = ActionExecutor.Describe(f.Actions), Status = FiringStatus.Pending,
        }).ToList();
        return (stored, records);
    }

    /// <summary>Journals the pending events in one transaction, then carries their firings out, in order.</summary>
    private async Task CommitAsync(List<Pending> pending, IngestOutcome[] outcomes, CancellationToken cancellationToken)
    {
        if (pending.Count == 0)
        {
            return;
        }

        bool appended;
        try
        {
            var entries = pending.Select(p => (p.Journal.Event, (IReadOnlyList<RuleFiringRecord>)p.Journal.Firings)).ToList();
            appended = await StoreRetry.RunAsync(ct => journal.AppendBatchAsync(entries, ct), logger, "journaling events", cancellationToken)
                .ConfigureAwait(false);
        }
        catch
        {
            _needsRebuild = true; // the session holds events the journal does not: rebuild before the next batch
            throw;
        }

        var journaled = pending;
        if (!appended)
        {
            // One of these ids was journaled in the meantime (another writer, or a retried append that had committed). The
            // session is ahead of the journal: append one by one so the new events are kept, then rebuild before the next batch.
            _needsRebuild = true;
            journaled = [];
            foreach (var p in pending)
            {
                var single = await StoreRetry.RunAsync(ct => journal.AppendAsync(p.Journal.Event, p.Journal.Firings, ct), logger,
                    "journaling an event", cancellationToken).ConfigureAwait(false);
                if (single)
                {
                    journaled.Add(p);
                }
                else
                {
                    metrics.Duplicate();
                    outcomes[p.Index] = new IngestOutcome(p.Accepted.Event.Id, true, 0, []);
                }
            }
        }

        foreach (var p in journaled)
        {
            metrics.Accepted();
            metrics.Fired(p.Firings.Count);
            outcomes[p.Index] = new IngestOutcome(p.Accepted.Event.Id, false, p.Journal.Event.Sequence, p.Firings);

            // Workflows waiting for this event (wait_for_event) resume: a dictionary lookup when none waits.
            var evt = p.Accepted.Event;
            await workflows.DeliverEventAsync(new WorkflowEvent(evt.Id, evt.Type, evt.Time, JsonNode.Parse(evt.Data.GetRawText())), cancellationToken)
                .ConfigureAwait(false);

            for (var f = 0; f < p.Firings.Count; f++)
            {
                var firing = p.Firings[f];
                if (p.Journal.Firings[f].Id == 0)
                {
                    logger.LogDebug("Activation {ActivationId} of rule {Rule} is journaled already: not carried out again", firing.ActivationId, firing.Rule);
                    continue;
                }

                logger.LogInformation("Rule {Rule} fired at {EventTime:o} (activation {ActivationId}, {EventCount} event(s))",
                    firing.Rule, firing.Time, firing.ActivationId, firing.EventIds.Count);
                await actions.ExecuteAsync(p.Journal.Firings[f].Id, firing.Rule, firing.ActivationId, firing.EventIds, firing.Actions, cancellationToken)
                    .ConfigureAwait(false);
            }
        }
    }

    private async Task RebuildAsync(CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var session = rules.Current.CreateSession();
        long replayed = 0;
        await foreach (var stored in journal.ReadAllAsync(1000, cancellationToken).ConfigureAwait(false))
        {
            var data = JsonSerializer.Deserialize<JsonElement>(stored.Payload);
            try
            {
                session.Insert(new RuleEvent(stored.EventId, stored.Type, stored.Time, data)); // firings were journaled the first time
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "Replaying journaled event {EventId} (sequence {Sequence}) failed; it is skipped", stored.EventId, stored.Sequence);
            }

            replayed++;
        }

        _session = session;
        _needsRebuild = false;
        logger.LogInformation("Working memory rebuilt from {EventCount} journaled event(s) in {ElapsedMs} ms", replayed, stopwatch.ElapsedMilliseconds);
    }

    private async Task CarryOutPendingAsync(CancellationToken cancellationToken)
    {
        var pending = await StoreRetry.RunAsync(journal.PendingFiringsAsync, logger, "reading pending firings", cancellationToken).ConfigureAwait(false);
        if (pending.Count > 0)
        {
            logger.LogInformation("Carrying out {FiringCount} firing(s) whose actions were interrupted", pending.Count);
        }

        foreach (var firing in pending)
        {
            var eventIds = JsonSerializer.Deserialize<string[]>(firing.EventIds) ?? [];
            await actions.ExecuteAsync(firing.Id, firing.Rule, firing.ActivationId, eventIds, ActionExecutor.Parse(firing.Actions), cancellationToken)
                .ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _gate.Dispose();
}
