using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace RuleFlow.Storage.Ingest;

/// <summary>
/// A binding of the ingest queue to an exchange that RuleFlow made, recorded before it is made. AMQP cannot list a queue's
/// bindings, so this record is how a server started after the rules dropped a declaration knows to unbind it.
/// </summary>
public sealed class IngestBindingRecord
{
    /// <summary>The ingest queue (<c>RuleFlow:RabbitMq:Queue</c>).</summary>
    public required string Queue { get; set; }

    /// <summary>The exchange the queue is bound to.</summary>
    public required string Exchange { get; set; }

    /// <summary>The binding's routing key (a topic pattern, or empty).</summary>
    public required string RoutingKey { get; set; }

    /// <summary>When it was recorded.</summary>
    public DateTimeOffset RecordedAt { get; set; }
}

internal sealed class IngestBindingRecordConfiguration : IEntityTypeConfiguration<IngestBindingRecord>
{
    public void Configure(EntityTypeBuilder<IngestBindingRecord> builder)
    {
        builder.ToTable("ingest_bindings");
        builder.HasKey(e => new { e.Queue, e.Exchange, e.RoutingKey });
        builder.Property(e => e.Queue).HasMaxLength(255);
        builder.Property(e => e.Exchange).HasMaxLength(255);
        builder.Property(e => e.RoutingKey).HasMaxLength(255);
    }
}

/// <summary>The recorded bindings of the ingest queue (see <see cref="IngestBindingRecord"/>).</summary>
public sealed class IngestBindingStore(IDbContextFactory<RuleFlowDbContext> factory, TimeProvider time)
{
    /// <summary>The (exchange, routing key) pairs recorded for <paramref name="queue"/>.</summary>
    /// <exception cref="DbUpdateException">The store failed.</exception>
    public async Task<IReadOnlyList<(string Exchange, string RoutingKey)>> ListAsync(string queue, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var rows = await db.Set<IngestBindingRecord>().AsNoTracking().Where(b => b.Queue == queue)
            .OrderBy(b => b.Exchange).ThenBy(b => b.RoutingKey).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(b => (b.Exchange, b.RoutingKey))];
    }

    /// <summary>
    /// Records the bindings of <paramref name="bindings"/> that are not recorded yet (rows are added, none replaced: several servers
    /// may record at the same time; a row another one added meanwhile is not an error).
    /// </summary>
    /// <exception cref="DbUpdateException">The store failed.</exception>
    public async Task AddAsync(string queue, IEnumerable<(string Exchange, string RoutingKey)> bindings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bindings);
        var wanted = bindings.Distinct().ToList();
        for (var attempt = 0; ; attempt++)
        {
            var missing = wanted.Except(await ListAsync(queue, cancellationToken).ConfigureAwait(false)).ToList();
            if (missing.Count == 0)
            {
                return;
            }

            await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
            var now = time.GetUtcNow();
            foreach (var (exchange, routingKey) in missing)
            {
                db.Add(new IngestBindingRecord { Queue = queue, Exchange = exchange, RoutingKey = routingKey, RecordedAt = now });
            }

            try
            {
                await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (DbUpdateException) when (attempt == 0)
            {
                // Another server recorded one of them first (a duplicate key): read again and add what is still missing.
            }
        }
    }

    /// <summary>Forgets the given bindings of <paramref name="queue"/> (those not recorded are ignored).</summary>
    /// <exception cref="DbUpdateException">The store failed.</exception>
    public async Task RemoveAsync(string queue, IEnumerable<(string Exchange, string RoutingKey)> bindings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bindings);
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        foreach (var (exchange, routingKey) in bindings.Distinct())
        {
            await db.Set<IngestBindingRecord>().Where(b => b.Queue == queue && b.Exchange == exchange && b.RoutingKey == routingKey)
                .ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
