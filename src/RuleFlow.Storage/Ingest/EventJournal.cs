using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Storage.Ingest;

/// <summary>
/// The event journal and the rule firings it caused. An event and its firings are written in one transaction, so after
/// a crash either both are there (and the firings' actions are carried out from <see cref="PendingFiringsAsync"/>) or
/// neither is (and the broker redelivers the unacknowledged message).
/// </summary>
public sealed class EventJournal(IDbContextFactory<RuleFlowDbContext> factory)
{
    /// <summary>True when an event with this id is already journaled (a redelivery or a duplicate).</summary>
    public async Task<bool> ContainsAsync(string eventId, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Set<StoredEvent>().AnyAsync(e => e.EventId == eventId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The ids among <paramref name="eventIds"/> that are journaled already (one query).</summary>
    public async Task<IReadOnlySet<string>> ExistingIdsAsync(IReadOnlyCollection<string> eventIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(eventIds);
        if (eventIds.Count == 0)
        {
            return new HashSet<string>(StringComparer.Ordinal);
        }

        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var ids = eventIds.ToList();
        var found = await db.Set<StoredEvent>().Where(e => ids.Contains(e.EventId)).Select(e => e.EventId)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return found.ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>
    /// Appends events, in order, with the firings each caused, in ONE transaction (group commit): sets every
    /// <see cref="StoredEvent.Sequence"/> and <see cref="RuleFiringRecord.EventSequence"/>. A firing whose activation id
    /// is journaled already (e.g. a timer that fires again after a restart) is not written again: its
    /// <see cref="RuleFiringRecord.Id"/> stays 0, and its actions must not be carried out twice.
    /// </summary>
    /// <returns>False (and nothing written) when an event id is journaled already.</returns>
    /// <exception cref="DbUpdateException">The store failed; see <see cref="DbErrors.IsTransient"/>.</exception>
    public async Task<bool> AppendBatchAsync(IReadOnlyList<(StoredEvent Event, IReadOnlyList<RuleFiringRecord> Firings)> entries,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (entries.Count == 0)
        {
            return true;
        }

        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // The journal order is the order of `entries`: sequences are assigned here, inside the transaction, so one
            // SaveChanges writes the whole batch whatever order EF Core sends the rows in. A concurrent writer would
            // collide on the primary key and see a unique violation (false), never a silent reordering.
            // Pruning deletes events a snapshot covers, so the snapshot's sequence also bounds what was used: never reuse one.
            var last = Math.Max(
                await db.Set<StoredEvent>().MaxAsync(e => (long?)e.Sequence, cancellationToken).ConfigureAwait(false) ?? 0,
                await db.Set<RuleSnapshot>().MaxAsync(s => (long?)s.JournalSequence, cancellationToken).ConfigureAwait(false) ?? 0);
            foreach (var (storedEvent, _) in entries)
            {
                storedEvent.Sequence = ++last;
                db.Add(storedEvent);
            }

            var activationIds = entries.SelectMany(e => e.Firings).Select(f => f.ActivationId).ToList();
            var known = activationIds.Count == 0
                ? new HashSet<string>(StringComparer.Ordinal)
                : (await db.Set<RuleFiringRecord>().Where(f => activationIds.Contains(f.ActivationId)).Select(f => f.ActivationId)
                    .ToListAsync(cancellationToken).ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal);
            foreach (var (storedEvent, firings) in entries)
            {
                foreach (var firing in firings)
                {
                    if (known.Add(firing.ActivationId))
                    {
                        firing.EventSequence = storedEvent.Sequence;
                        db.Add(firing);
                    }
                }
            }

            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (DbUpdateException e) when (DbErrors.IsUniqueViolation(e))
        {
            await transaction.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
            return false;
        }
    }

    /// <summary>
    /// Appends an event and the firings it caused in one transaction, setting <see cref="StoredEvent.Sequence"/> and
    /// each firing's <see cref="RuleFiringRecord.EventSequence"/>.
    /// </summary>
    /// <returns>False (and nothing written) when an event with the same id, or a firing with the same activation id, exists.</returns>
    /// <exception cref="DbUpdateException">The store failed; see <see cref="DbErrors.IsTransient"/>.</exception>
    public Task<bool> AppendAsync(StoredEvent storedEvent, IReadOnlyList<RuleFiringRecord> firings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(storedEvent);
        ArgumentNullException.ThrowIfNull(firings);
        return AppendBatchAsync([(storedEvent, firings)], cancellationToken);
    }

    /// <summary>
    /// Journals firings that no event caused (timers fired by the idle clock), linked to the last journaled event
    /// (<paramref name="eventSequence"/>). A firing whose activation id is journaled already is skipped (its
    /// <see cref="RuleFiringRecord.Id"/> stays 0): a timer that fires again after a restart is carried out once.
    /// </summary>
    public async Task AppendFiringsAsync(IReadOnlyList<RuleFiringRecord> firings, long eventSequence, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(firings);
        if (firings.Count == 0)
        {
            return;
        }

        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var ids = firings.Select(f => f.ActivationId).ToList();
        var known = (await db.Set<RuleFiringRecord>().Where(f => ids.Contains(f.ActivationId)).Select(f => f.ActivationId)
            .ToListAsync(cancellationToken).ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal);
        foreach (var firing in firings)
        {
            if (known.Add(firing.ActivationId))
            {
                firing.EventSequence = eventSequence;
                db.Add(firing);
            }
        }

        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Streams the whole journal in <see cref="StoredEvent.Sequence"/> order, in batches of <paramref name="batchSize"/>.</summary>
    public IAsyncEnumerable<StoredEvent> ReadAllAsync(int batchSize = 1000, CancellationToken cancellationToken = default) =>
        ReadAfterAsync(0, batchSize, cancellationToken);

    /// <summary>Streams the journal after <paramref name="sequence"/> in order, in batches of <paramref name="batchSize"/>.</summary>
    public async IAsyncEnumerable<StoredEvent> ReadAfterAsync(long sequence, int batchSize = 1000, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var after = sequence;
        while (true)
        {
            List<StoredEvent> batch;
            await using (var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false))
            {
                batch = await db.Set<StoredEvent>().AsNoTracking()
                    .Where(e => e.Sequence > after)
                    .OrderBy(e => e.Sequence)
                    .Take(batchSize)
                    .ToListAsync(cancellationToken).ConfigureAwait(false);
            }

            foreach (var e in batch)
            {
                yield return e;
            }

            if (batch.Count < batchSize)
            {
                yield break;
            }

            after = batch[^1].Sequence;
        }
    }

    /// <summary>Saves a snapshot and deletes all but the newest <paramref name="keep"/> snapshots.</summary>
    public async Task SaveSnapshotAsync(RuleSnapshot snapshot, int keep, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        db.Add(snapshot);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        var keepFrom = await db.Set<RuleSnapshot>().OrderByDescending(s => s.Id).Skip(Math.Max(1, keep) - 1).Select(s => (long?)s.Id)
            .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        if (keepFrom is { } id)
        {
            await db.Set<RuleSnapshot>().Where(s => s.Id < id).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The newest snapshot, or null.</summary>
    public async Task<RuleSnapshot?> LatestSnapshotAsync(CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Set<RuleSnapshot>().AsNoTracking().OrderByDescending(s => s.Id).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The largest journal sequence, or 0 for an empty journal.</summary>
    public async Task<long> LastSequenceAsync(CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Set<StoredEvent>().MaxAsync(e => (long?)e.Sequence, cancellationToken).ConfigureAwait(false) ?? 0;
    }

    /// <summary>
    /// Deletes journaled events that are both covered by the newest snapshot (sequence at or below its
    /// <see cref="RuleSnapshot.JournalSequence"/>) and received before <paramref name="receivedBefore"/>; returns how many.
    /// Nothing is deleted without a snapshot: the journal is then the only record of working memory.
    /// </summary>
    public async Task<int> PruneAsync(DateTimeOffset receivedBefore, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var covered = await db.Set<RuleSnapshot>().MaxAsync(s => (long?)s.JournalSequence, cancellationToken).ConfigureAwait(false);
        if (covered is not { } upTo)
        {
            return 0;
        }

        return await db.Set<StoredEvent>().Where(e => e.Sequence <= upTo && e.ReceivedAt < receivedBefore)
            .ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Firings whose actions were not carried out yet, in firing order.</summary>
    public async Task<IReadOnlyList<RuleFiringRecord>> PendingFiringsAsync(CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Set<RuleFiringRecord>().AsNoTracking()
            .Where(f => f.Status == FiringStatus.Pending)
            .OrderBy(f => f.Id)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Records what a firing's actions did.</summary>
    /// <param name="firingId">The firing's row id.</param>
    /// <param name="status">Done or Failed.</param>
    /// <param name="results">JSON array of the actions' results, or null.</param>
    /// <param name="error">Why it failed, or null.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    public async Task CompleteFiringAsync(long firingId, FiringStatus status, string? results, string? error, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await db.Set<RuleFiringRecord>().Where(f => f.Id == firingId)
            .ExecuteUpdateAsync(s => s.SetProperty(f => f.Status, status).SetProperty(f => f.Results, results).SetProperty(f => f.Error, error),
                cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Journaled events, newest first, optionally of one type.</summary>
    /// <param name="type">Event type, or null for all.</param>
    /// <param name="page">1-based page.</param>
    /// <param name="pageSize">Items per page (1..500).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <param name="excludeType">A type left out when <paramref name="type"/> is null (the server's clock rows), or null.</param>
    public async Task<Page<StoredEvent>> ListEventsAsync(string? type, int page, int pageSize, CancellationToken cancellationToken, string? excludeType = null)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var query = db.Set<StoredEvent>().AsNoTracking();
        if (!string.IsNullOrEmpty(type))
        {
            query = query.Where(e => e.Type == type);
        }
        else if (excludeType is not null)
        {
            query = query.Where(e => e.Type != excludeType);
        }

        var total = await query.CountAsync(cancellationToken).ConfigureAwait(false);
        var items = await query.OrderByDescending(e => e.Sequence).Skip((page - 1) * pageSize).Take(pageSize)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return new Page<StoredEvent>(items, total);
    }

    /// <summary>Journaled events per type: how many, and when the last one arrived and its event time; by type name.</summary>
    /// <param name="excludeType">A type to leave out (the idle clock's rows), or null.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    public async Task<IReadOnlyList<EventTypeCount>> CountByTypeAsync(string? excludeType, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var query = db.Set<StoredEvent>().AsNoTracking();
        if (excludeType is not null)
        {
            query = query.Where(e => e.Type != excludeType);
        }

        var rows = await query.GroupBy(e => e.Type)
            .Select(g => new { Type = g.Key, Count = g.LongCount(), LastSequence = g.Max(e => e.Sequence) })
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        var last = rows.Select(r => r.LastSequence).ToList();
        var times = await db.Set<StoredEvent>().AsNoTracking().Where(e => last.Contains(e.Sequence))
            .Select(e => new { e.Sequence, e.ReceivedAt, e.Time }).ToListAsync(cancellationToken).ConfigureAwait(false);
        var bySequence = times.ToDictionary(t => t.Sequence);
        return [.. rows.OrderBy(r => r.Type, StringComparer.Ordinal).Select(r => new EventTypeCount(r.Type, r.Count,
            bySequence.TryGetValue(r.LastSequence, out var t) ? t.ReceivedAt : null, bySequence.TryGetValue(r.LastSequence, out var u) ? u.Time : null))];
    }

    /// <summary>Rule firings, newest first, optionally of one rule.</summary>
    /// <param name="rule">Rule name, or null for all.</param>
    /// <param name="page">1-based page.</param>
    /// <param name="pageSize">Items per page (1..500).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    public async Task<Page<RuleFiringRecord>> ListFiringsAsync(string? rule, int page, int pageSize, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var query = db.Set<RuleFiringRecord>().AsNoTracking();
        if (!string.IsNullOrEmpty(rule))
        {
            query = query.Where(f => f.Rule == rule);
        }

        var total = await query.CountAsync(cancellationToken).ConfigureAwait(false);
        var items = await query.OrderByDescending(f => f.Id).Skip((page - 1) * pageSize).Take(pageSize)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return new Page<RuleFiringRecord>(items, total);
    }
}

/// <summary>How many events of one type are journaled.</summary>
/// <param name="Type">Event type.</param>
/// <param name="Count">Events journaled (duplicates are not journaled twice).</param>
/// <param name="LastAt">When the last one arrived (UTC), or null.</param>
/// <param name="LastEventTime">The last one's event time, or null.</param>
public sealed record EventTypeCount(string Type, long Count, DateTimeOffset? LastAt, DateTimeOffset? LastEventTime);
