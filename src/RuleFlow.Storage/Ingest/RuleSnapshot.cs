using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace RuleFlow.Storage.Ingest;

/// <summary>
/// A snapshot of the rule session's working memory (clock, retained events, facts, per-rule state, timers) taken after
/// the event at <see cref="JournalSequence"/> was applied. Start-up restores the newest snapshot and replays only the
/// journal after it; events the snapshot covers may then be pruned from the journal.
/// </summary>
public sealed class RuleSnapshot
{
    /// <summary>Row id (newest = largest).</summary>
    public long Id { get; set; }

    /// <summary>The last journal sequence whose event is included.</summary>
    public long JournalSequence { get; set; }

    /// <summary>Fingerprint of the rule set that wrote it (restoring under another set re-derives partial matches).</summary>
    public required string Fingerprint { get; set; }

    /// <summary>When it was taken.</summary>
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>The engine's snapshot bytes.</summary>
    public required byte[] Data { get; set; }
}

internal sealed class RuleSnapshotConfiguration : IEntityTypeConfiguration<RuleSnapshot>
{
    public void Configure(EntityTypeBuilder<RuleSnapshot> builder)
    {
        builder.ToTable("rule_snapshots");
        builder.HasKey(e => e.Id);
        builder.Property(e => e.Id).ValueGeneratedOnAdd();
        builder.Property(e => e.Fingerprint).HasMaxLength(128);
        builder.HasIndex(e => e.JournalSequence);
    }
}
