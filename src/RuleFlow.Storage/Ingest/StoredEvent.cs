using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace RuleFlow.Storage.Ingest;

/// <summary>
/// One accepted event in the event journal, in the order it was applied to the rule session. Replaying the journal
/// in <see cref="Sequence"/> order rebuilds working memory exactly (the engine is deterministic on event time).
/// </summary>
public sealed class StoredEvent
{
    /// <summary>Journal position (1, 2, …): the order events were applied in.</summary>
    public long Sequence { get; set; }

    /// <summary>Event id: the AMQP <c>message_id</c>, the HTTP <c>Idempotency-Key</c>, else <c>sha256:</c> + hash of the body. Unique.</summary>
    public required string EventId { get; set; }

    /// <summary>Event type, e.g. <c>ssh.auth</c>.</summary>
    public required string Type { get; set; }

    /// <summary>Event time (from the declared time field, else the arrival time).</summary>
    public DateTimeOffset Time { get; set; }

    /// <summary>When RuleFlow received it.</summary>
    public DateTimeOffset ReceivedAt { get; set; }

    /// <summary>Where it came from: <c>amqp:&lt;exchange&gt;/&lt;routing key&gt;</c> or <c>http</c>.</summary>
    public required string Source { get; set; }

    /// <summary>The event's JSON object, as received.</summary>
    public required string Payload { get; set; }
}

internal sealed class StoredEventConfiguration : IEntityTypeConfiguration<StoredEvent>
{
    public void Configure(EntityTypeBuilder<StoredEvent> builder)
    {
        builder.ToTable("events");
        builder.HasKey(e => e.Sequence);
        builder.Property(e => e.Sequence).ValueGeneratedNever(); // assigned by EventJournal in journal order
        builder.Property(e => e.EventId).HasMaxLength(200);
        builder.HasIndex(e => e.EventId).IsUnique();
        builder.Property(e => e.Type).HasMaxLength(200);
        builder.HasIndex(e => new { e.Type, e.Sequence });
        builder.Property(e => e.Source).HasMaxLength(500);
    }
}
