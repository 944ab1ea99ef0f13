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

    /// <summary>Makes the recorded bindings of <paramref name="queue"/> exactly <paramref name="bindings"/> (one transaction).</summary>
    /// <exception cref="DbUpdateException">The store failed.</exception>
    public async Task ReplaceAsync(string queue, IEnumerable<(string Exchange, string RoutingKey)> bindings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bindings);
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var set = db.Set<IngestBindingRecord>();
        set.RemoveRange(await set.Where(b => b.Queue == queue).ToListAsync(cancellationToken).ConfigureAwait(false));
        var now = time.GetUtcNow();
        foreach (var (exchange, routingKey) in bindings.Distinct())
        {
            set.Add(new IngestBindingRecord { Queue = queue, Exchange = exchange, RoutingKey = routingKey, RecordedAt = now });
        }

        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }
}
