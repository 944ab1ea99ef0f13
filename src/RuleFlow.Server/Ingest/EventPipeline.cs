using System.Diagnostics;
using System.Text.Json;
using RuleFlow.Rules;
using RuleFlow.Server.Hosting;
using RuleFlow.Server.Rules;
using RuleFlow.Storage.Ingest;

namespace RuleFlow.Server.Ingest;

/// <summary>What happened to an accepted event.</summary>
/// <param name="EventId">Its id.</param>
/// <param name="Duplicate">True when an event with this id was already journaled: nothing changed.</param>
/// <param name="Sequence">Journal position, or 0 for a duplicate.</param>
/// <param name="Firings">Rule activations it fired.</param>
public sealed record IngestOutcome(string EventId, bool Duplicate, long Sequence, IReadOnlyList<RuleFiring> Firings);

/// <summary>
/// The single writer between ingest and the rule session: this is where an event enters working memory. For each
/// event, in arrival order: ignore it if its id is journaled already (a redelivery), insert it into the rule session,
/// journal it together with the firings it caused (one transaction), then carry the firings' actions out. The broker
/// message is acknowledged only after this returns. At start, working memory is rebuilt by replaying the journal
/// (the engine is deterministic on event time) and firings whose actions were not carried out are carried out.
/// </summary>
/// <remarks>One event at a time (a gate): the rule session is single-threaded and order matters for windows.</remarks>
public sealed class EventPipeline(
    RuleHost rules,
    EventJournal journal,
    ActionExecutor actions,
    IngestMetrics metrics,
    ServerState state,
    TimeProvider time,
    RuleFlow.Workflows.Runtime.IWorkflowRuntime workflows,
    ILogger<EventPipeline> logger) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private RuleSession? _session;
    private bool _needsRebuild = true;

    /// <summary>Statistics of the current rule session (null before recovery).</summary>
    public RuleSessionStatistics? SessionStatistics => _session?.Statistics;

    /// <summary>Processes one accepted event (see the class summary). Waits for the server to be ready first.</summary>
    /// <exception cref="IngestRejectedException">The rule engine failed on this event (code RF5900): dead-letter it.</exception>
    /// <exception cref="OperationCanceledException">Cancelled (shutdown): the message is not acknowledged and will be redelivered.</exception>
    public async Task<IngestOutcome> ProcessAsync(AcceptedEvent accepted, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(accepted);
        await state.Ready.WaitAsync(cancellationToken).ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_needsRebuild)
            {
                await RebuildAsync(cancellationToken).ConfigureAwait(false);
            }

            var evt = accepted.Event;
            if (await StoreRetry.RunAsync(ct => journal.ContainsAsync(evt.Id, ct), logger, "checking for a duplicate", cancellationToken).ConfigureAwait(false))
            {
                metrics.Duplicate();
                logger.LogDebug("Event {EventId} is already journaled: ignored", evt.Id);
                return new IngestOutcome(evt.Id, true, 0, []);
            }

            IReadOnlyList<RuleFiring> firings;
            try
            {
                firings = _session!.Insert(evt);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _needsRebuild = true;
                logger.LogError(e, "Rule engine failed on event {EventId} of type {EventType}", evt.Id, evt.Type);
                throw new IngestRejectedException(IngestErrors.ProcessingFailed, $"the rule engine failed on this event: {e.Message}");
            }

            var stored = new StoredEvent
            {
                EventId = evt.Id, Type = evt.Type, Time = evt.Time, ReceivedAt = accepted.ReceivedAt,
                Source = accepted.Source, Payload = accepted.Payload,
            };
            var records = firings.Select(f => new RuleFiringRecord
            {
                ActivationId = f.ActivationId, Rule = f.Rule, Time = f.Time, FiredAt = time.GetUtcNow(),
                EventIds = JsonSerializer.Serialize(f.EventIds), Actions = ActionExecutor.Describe(f.Actions), Status = FiringStatus.Pending,
            }).ToList();

            bool appended;
            try
            {
                appended = await StoreRetry.RunAsync(ct => journal.AppendAsync(stored, records, ct), logger, "journaling an event", cancellationToken)
                    .ConfigureAwait(false);
            }
            catch
            {
                _needsRebuild = true; // the session holds an event the journal does not: rebuild before the next one
                throw;
            }

            if (!appended)
            {
                // Another writer journaled the same id between the check and the append (or a retried append had committed).
                _needsRebuild = true;
                metrics.Duplicate();
                await CarryOutPendingAsync(cancellationToken).ConfigureAwait(false);
                return new IngestOutcome(evt.Id, true, 0, []);
            }

            metrics.Accepted();
            metrics.Fired(firings.Count);

            // Workflows (issue 4): resume wait_for_event steps waiting for this event (a dictionary lookup when none waits).
            await workflows.DeliverEventAsync(new RuleFlow.Workflows.Runtime.WorkflowEvent(evt.Id, evt.Type, evt.Time,
                System.Text.Json.Nodes.JsonNode.Parse(evt.Data.GetRawText())), cancellationToken).ConfigureAwait(false);

            for (var i = 0; i < firings.Count; i++)
            {
                var firing = firings[i];
                logger.LogInformation("Rule {Rule} fired at {EventTime:o} (activation {ActivationId}, {EventCount} event(s))",
                    firing.Rule, firing.Time, firing.ActivationId, firing.EventIds.Count);
                await actions.ExecuteAsync(records[i].Id, firing.Rule, firing.ActivationId, firing.EventIds, firing.Actions, cancellationToken)
                    .ConfigureAwait(false);
            }

            return new IngestOutcome(evt.Id, false, stored.Sequence, firings);
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
