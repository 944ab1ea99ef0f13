using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using RuleFlow.Rules;
using RuleFlow.Server.Hosting;
using RuleFlow.Server.Rules;
using RuleFlow.Storage.Ingest;
using RuleFlow.Workflows.Runtime;

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
    string? FailureReason = null)
{
    /// <summary>
    /// What the rule session did with the event (journaled in every case): <c>applied</c>, <c>late</c>, <c>invalid</c>,
    /// <c>deduplicated</c> or <c>unknown-type</c>; null for a duplicate or a failure.
    /// </summary>
    public string? Status { get; init; }

    /// <summary>Why the session did not apply it (late, invalid: naming the field), or null.</summary>
    public string? Problem { get; init; }
}

/// <summary>
/// The single writer between ingest and the rule session: this is where an event enters working memory. For each
/// batch of events, in arrival order: drop those whose id is journaled already (redeliveries) or repeated in the batch,
/// insert the others into the rule session one at a time, journal them together with the firings they caused in ONE
/// transaction (group commit), then carry the firings' actions out. The broker messages are acknowledged only after this
/// returns.
/// </summary>
/// <remarks>
/// <para>Durable correlation state: working memory is snapshotted every <c>RuleFlow:Rules:SnapshotEvery</c> events, after
/// a reload and at shutdown; at start the newest snapshot is restored and only the journal after it is replayed (the
/// engine is deterministic on event time, so the state is the one the uninterrupted run had). Firings journaled but not
/// carried out are carried out then.</para>
/// <para>The idle clock (<see cref="AdvanceIdleClockAsync"/>): on a quiet stream the rule clock follows the wall clock,
/// lagging by <c>IdleAfter</c>, so timers (absence, <c>once after</c>, <c>group … wait</c>) fire; their firings are journaled
/// with activation ids derived from the timer, so a timer fired again after a restart is carried out once.</para>
/// <para>One batch at a time (a gate): the rule session is single-threaded and order matters for windows.</para>
/// </remarks>
public sealed class EventPipeline(
    RuleHost rules,
    EventJournal journal,
    ActionExecutor actions,
    IngestMetrics metrics,
    ServerState state,
    TimeProvider time,
    IWorkflowRuntime workflows,
    IOptions<RuleFlowOptions> options,
    ILogger<EventPipeline> logger,
    LiveFeed? feed = null) : IDisposable
{
    /// <summary>Journal rows of this type are moves of the idle clock (replayed with <c>AdvanceTo</c>), not events.</summary>
    public const string ClockEventType = "ruleflow.clock";

    private readonly SemaphoreSlim _gate = new(1, 1);
    private RuleSession? _session;
    private bool _needsRebuild = true;
    private long _lastSequence;
    private long _sinceSnapshot;
    private DateTimeOffset? _lastEventTime;
    private DateTimeOffset _lastArrival;

    private RuleSessionOptions SessionOptions => new() { AllowedLateness = options.Value.Rules.AllowedLateness };

    /// <summary>
    /// Statistics of the current rule session (null before recovery), read between two batches: the session is not thread-safe,
    /// and reading it while a batch runs could see its collections change.
    /// </summary>
    public async Task<RuleSessionStatistics?> GetSessionStatisticsAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return _session?.Statistics;
        }
        finally
        {
            _gate.Release();
        }
    }

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

                string? problem = null;
                if (_session.LastInsertStatus == InsertStatus.Late)
                {
                    // Journaled all the same (nothing is dropped silently), counted by the session, logged here.
                    logger.LogWarning(
                        "Late event {EventId} of type {EventType}: its time {EventTime:o} is older than the rule clock {Clock:o} allows; it matched nothing",
                        evt.Id, evt.Type, evt.Time, _session.Clock);
                    problem = $"its time {evt.Time:o} is older than the rule clock {_session.Clock:o} allows for its type (its windows' retention and RuleFlow:Rules:AllowedLateness); it matched nothing";
                }
                else if (_session.LastInsertStatus == InsertStatus.Invalid)
                {
                    // A producer that broke its type's declaration: journaled and counted; the sender and the log are told why.
                    problem = (_session.DescribeInvalid(evt) ?? "it breaks its type's declaration") + "; it matched nothing";
                    logger.LogWarning("Invalid event {EventId} of type {EventType}: {Problem}", evt.Id, evt.Type, problem);
                }

                var status = StatusText(_session.LastInsertStatus);

                _lastEventTime = _lastEventTime is { } last && last > evt.Time ? last : evt.Time;
                _lastArrival = accepted.ReceivedAt;
                pending.Add(new Pending(i, accepted, firings, Record(accepted, firings), status, problem));
            }

            await CommitAsync(pending, outcomes, cancellationToken).ConfigureAwait(false);
            if (_sinceSnapshot >= Math.Max(1, options.Value.Rules.SnapshotEvery))
            {
                await SnapshotAsync(cancellationToken).ConfigureAwait(false);
            }

            return outcomes;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Rebuilds working memory (newest snapshot, then the journal after it) under the rule set in force and carries out
    /// pending firings. Called at start and after a failure that left the session ahead of the journal.
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

    /// <summary>
    /// Puts the rule set in force into the running session: working memory (retained events, facts, clock, the state of
    /// rules whose identity is unchanged) is carried over, partial matches are re-derived, nothing is re-fired; then a
    /// snapshot is taken so a restart resumes exactly here.
    /// </summary>
    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_session is null || _needsRebuild)
            {
                await RebuildAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                _session = rules.Current.CreateSession(_session, SessionOptions);
                logger.LogInformation("Rule set reloaded into the running session: working memory kept ({EventCount} event(s) held)",
                    _session.Statistics.WorkingMemoryEvents);
            }

            await SnapshotAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Takes a snapshot now (at shutdown), unless nothing changed since the last one.</summary>
    public async Task SnapshotNowAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_session is not null && !_needsRebuild && _sinceSnapshot > 0)
            {
                await SnapshotAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The live explanation of one rule (partial matches, windows, timers, storm control) for <c>GET /api/rules/{name}/matches</c>.</summary>
    /// <exception cref="ArgumentException">No rule has this name.</exception>
    public async Task<RuleMatchesReport> ExplainAsync(string ruleName, CancellationToken cancellationToken)
    {
        await state.Ready.WaitAsync(cancellationToken).ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_needsRebuild)
            {
                await RebuildAsync(cancellationToken).ConfigureAwait(false);
            }

            return _session!.Explain(ruleName);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// The idle clock: when no event arrived for <c>IdleAfter</c> and timers are pending, moves the rule clock to the last
    /// event time plus the quiet time minus <c>IdleAfter</c>, journals the timer firings (once per activation) and carries
    /// them out. Returns the number of firings carried out. Skips when a batch is being processed.
    /// </summary>
    public async Task<int> AdvanceIdleClockAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value.Rules;
        if (!settings.IdleClock || !state.IsReady || !await _gate.WaitAsync(0, cancellationToken).ConfigureAwait(false))
        {
            return 0;
        }

        try
        {
            if (_session is null || _needsRebuild || _lastEventTime is not { } lastEvent || _session.Statistics.PendingTimers == 0)
            {
                return 0;
            }

            var quiet = time.GetUtcNow() - _lastArrival;
            if (quiet < settings.IdleAfter)
            {
                return 0;
            }

            var target = lastEvent + quiet - settings.IdleAfter;
            if (target - _session.Clock < settings.IdleAfter)
            {
                return 0; // at most one clock move per IdleAfter of quiet: each is a journal row
            }

            var firings = _session.AdvanceTo(target);

            // The move is journaled like an event, so a replay judges later events' lateness against the same clock.
            var now = time.GetUtcNow();
            var tick = new StoredEvent
            {
                EventId = $"clock:{target.UtcTicks}", Type = ClockEventType, Time = target, ReceivedAt = now, Source = "clock", Payload = "{}",
            };
            var records = firings.Select(f => Record(f)).ToList();
            try
            {
                await StoreRetry.RunAsync(ct => journal.AppendBatchAsync([(tick, records)], ct), logger, "journaling a clock move", cancellationToken)
                    .ConfigureAwait(false);
            }
            catch
            {
                _needsRebuild = true;
                throw;
            }

            _lastSequence = Math.Max(_lastSequence, tick.Sequence);
            _sinceSnapshot++;
            var carried = 0;
            for (var f = 0; f < firings.Count; f++)
            {
                if (records[f].Id != 0)
                {
                    carried++;
                    await FireAsync(firings[f], records[f], cancellationToken).ConfigureAwait(false);
                }
            }

            return carried;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Prunes journaled events covered by a snapshot and older than <c>RuleFlow:Ingest:JournalRetention</c>.</summary>
    public async Task<int> PruneAsync(CancellationToken cancellationToken)
    {
        var pruned = await journal.PruneAsync(time.GetUtcNow() - options.Value.Ingest.JournalRetention, cancellationToken).ConfigureAwait(false);
        if (pruned > 0)
        {
            logger.LogInformation("Pruned {EventCount} journaled event(s) older than {Retention} and covered by a snapshot", pruned, options.Value.Ingest.JournalRetention);
        }

        return pruned;
    }

    private sealed record Pending(int Index, AcceptedEvent Accepted, IReadOnlyList<RuleFiring> Firings, (StoredEvent Event, List<RuleFiringRecord> Firings) Journal,
        string? Status = null, string? Problem = null);

    private static string StatusText(InsertStatus status) => status switch
    {
        InsertStatus.Applied => "applied",
        InsertStatus.Late => "late",
        InsertStatus.Invalid => "invalid",
        InsertStatus.Deduplicated => "deduplicated",
        InsertStatus.UnknownType => "unknown-type",
        _ => status.ToString().ToLowerInvariant(),
    };

    private (StoredEvent, List<RuleFiringRecord>) Record(AcceptedEvent accepted, IReadOnlyList<RuleFiring> firings)
    {
        var evt = accepted.Event;
        var stored = new StoredEvent
        {
            EventId = evt.Id, Type = evt.Type, Time = evt.Time, ReceivedAt = accepted.ReceivedAt,
            Source = accepted.Source, Payload = accepted.Payload,
        };
        return (stored, firings.Select(Record).ToList());
    }

    private RuleFiringRecord Record(RuleFiring firing) => new()
    {
        ActivationId = firing.ActivationId, Rule = firing.Rule, Time = firing.Time, FiredAt = time.GetUtcNow(),
        EventIds = JsonSerializer.Serialize(firing.EventIds), Actions = ActionExecutor.Describe(firing.Actions), Status = FiringStatus.Pending,
    };

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
            _lastSequence = Math.Max(_lastSequence, p.Journal.Event.Sequence);
            _sinceSnapshot++;
            outcomes[p.Index] = new IngestOutcome(p.Accepted.Event.Id, false, p.Journal.Event.Sequence, p.Firings)
            {
                Status = p.Status, Problem = p.Problem,
            };

            // Workflows waiting for this event (wait_for_event) resume: a dictionary lookup when none waits.
            var evt = p.Accepted.Event;
            feed?.EventReceived(evt.Type, evt.Id, evt.Time);
            await workflows.DeliverEventAsync(new WorkflowEvent(evt.Id, evt.Type, evt.Time, JsonNode.Parse(evt.Data.GetRawText())), cancellationToken)
                .ConfigureAwait(false);

            for (var f = 0; f < p.Firings.Count; f++)
            {
                if (p.Journal.Firings[f].Id == 0)
                {
                    logger.LogDebug("Activation {ActivationId} of rule {Rule} is journaled already: not carried out again", p.Firings[f].ActivationId, p.Firings[f].Rule);
                    continue;
                }

                await FireAsync(p.Firings[f], p.Journal.Firings[f], cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task FireAsync(RuleFiring firing, RuleFiringRecord record, CancellationToken cancellationToken)
    {
        logger.LogInformation("Rule {Rule} fired at {EventTime:o} (activation {ActivationId}, {EventCount} event(s))",
            firing.Rule, firing.Time, firing.ActivationId, firing.EventIds.Count);
        await actions.ExecuteAsync(record.Id, firing.Rule, firing.ActivationId, firing.EventIds, firing.Actions, cancellationToken).ConfigureAwait(false);
    }

    private async Task SnapshotAsync(CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        using var buffer = new MemoryStream();
        _session!.SaveSnapshot(buffer);
        var snapshot = new RuleSnapshot
        {
            JournalSequence = _lastSequence, Fingerprint = rules.Current.Fingerprint, CreatedAt = time.GetUtcNow(), Data = buffer.ToArray(),
        };
        await StoreRetry.RunAsync(ct => journal.SaveSnapshotAsync(snapshot, keep: 2, ct), logger, "saving a snapshot", cancellationToken).ConfigureAwait(false);
        _sinceSnapshot = 0;
        logger.LogInformation("Working memory snapshot at journal sequence {Sequence}: {Bytes} bytes in {ElapsedMs} ms",
            snapshot.JournalSequence, snapshot.Data.Length, stopwatch.ElapsedMilliseconds);
    }

    private async Task RebuildAsync(CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var ruleSet = rules.Current;
        RuleSession? session = null;
        long from = 0;
        var snapshot = await StoreRetry.RunAsync(journal.LatestSnapshotAsync, logger, "reading the snapshot", cancellationToken).ConfigureAwait(false);
        if (snapshot is not null)
        {
            try
            {
                using var stream = new MemoryStream(snapshot.Data, writable: false);
                session = ruleSet.RestoreSession(stream, SessionOptions);
                from = snapshot.JournalSequence;
                logger.LogInformation("Working memory restored from the snapshot at journal sequence {Sequence} ({Fingerprint})",
                    snapshot.JournalSequence, snapshot.Fingerprint == ruleSet.Fingerprint ? "same rule set" : "rule set changed since");
            }
            catch (RuleSnapshotException e)
            {
                logger.LogError(e, "The snapshot at journal sequence {Sequence} cannot be restored; replaying the whole journal instead", snapshot.JournalSequence);
            }
        }

        session ??= ruleSet.CreateSession(SessionOptions);
        long replayed = 0;
        StoredEvent? lastStored = null;
        await foreach (var stored in journal.ReadAfterAsync(from, 1000, cancellationToken).ConfigureAwait(false))
        {
            if (from == 0 && replayed == 0 && stored.Sequence > 1 && snapshot is not null)
            {
                logger.LogWarning("The journal before sequence {Sequence} was pruned and the snapshot is unusable: working memory misses those events",
                    stored.Sequence);
            }

            try
            {
                // Firings were journaled the first time; a clock row repeats a move of the idle clock.
                _ = stored.Type == ClockEventType
                    ? session.AdvanceTo(stored.Time)
                    : session.Insert(new RuleEvent(stored.EventId, stored.Type, stored.Time, JsonElement.Parse(stored.Payload)));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "Replaying journaled event {EventId} (sequence {Sequence}) failed; it is skipped", stored.EventId, stored.Sequence);
            }

            lastStored = stored;
            replayed++;
        }

        _session = session;
        _needsRebuild = false;
        _lastSequence = Math.Max(from, await StoreRetry.RunAsync(journal.LastSequenceAsync, logger, "reading the journal", cancellationToken).ConfigureAwait(false));
        if (lastStored is not null)
        {
            _lastEventTime = lastStored.Time > session.Clock ? lastStored.Time : session.Clock;
            _lastArrival = lastStored.ReceivedAt;
        }
        else if (_lastEventTime is null && session.Clock > DateTimeOffset.UnixEpoch)
        {
            _lastEventTime = session.Clock;
            _lastArrival = snapshot?.CreatedAt ?? time.GetUtcNow();
        }

        _sinceSnapshot = replayed;
        logger.LogInformation("Working memory rebuilt: {EventCount} journaled event(s) replayed in {ElapsedMs} ms", replayed, stopwatch.ElapsedMilliseconds);
        if (replayed >= Math.Max(1, options.Value.Rules.SnapshotEvery))
        {
            await SnapshotAsync(cancellationToken).ConfigureAwait(false);
        }
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
