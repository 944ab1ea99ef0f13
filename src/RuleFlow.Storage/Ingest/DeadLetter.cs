using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace RuleFlow.Storage.Ingest;

/// <summary>
/// A message refused at ingest (not JSON, not an object, too large, unknown type, bad event time), recorded with its
/// reason. Over AMQP the message itself is also moved to the dead-letter queue (<c>ruleflow.events_error</c>).
/// </summary>
public sealed class DeadLetter
{
    /// <summary>Row id.</summary>
    public long Id { get; set; }

    /// <summary>When it was refused.</summary>
    public DateTimeOffset At { get; set; }

    /// <summary>
    /// Where it came from: <c>amqp:&lt;exchange&gt;/&lt;routing key&gt;</c>, or <c>http:&lt;type&gt;</c> for a POST to
    /// <c>/api/events/&lt;type&gt;</c> (the type as the caller wrote it; at most 500 characters).
    /// </summary>
    public required string Source { get; set; }

    /// <summary>Message id when the transport gave one.</summary>
    public string? MessageId { get; set; }

    /// <summary>Stable reason code, e.g. <c>RF5001</c> (not JSON).</summary>
    public required string Code { get; set; }

    /// <summary>Human-readable reason, naming where in the body the problem is.</summary>
    public required string Reason { get; set; }

    /// <summary>Size of the body in bytes.</summary>
    public long BodyBytes { get; set; }

    /// <summary>The first 4 KiB of the body as UTF-8 (invalid bytes replaced), for a first look.</summary>
    public required string BodyPreview { get; set; }
}

internal sealed class DeadLetterConfiguration : IEntityTypeConfiguration<DeadLetter>
{
    public void Configure(EntityTypeBuilder<DeadLetter> builder)
    {
        builder.ToTable("dead_letters");
        builder.HasKey(e => e.Id);
        builder.Property(e => e.Id).ValueGeneratedOnAdd();
        builder.Property(e => e.Source).HasMaxLength(500);
        builder.Property(e => e.MessageId).HasMaxLength(200);
        builder.Property(e => e.Code).HasMaxLength(20);
        builder.HasIndex(e => e.At);
    }
}
