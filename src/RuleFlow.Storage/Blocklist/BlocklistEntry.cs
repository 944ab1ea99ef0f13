using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace RuleFlow.Storage.Blocklist;

/// <summary>An IP address on RuleFlow's blocklist (written by the <c>blocklist.add</c> script function).</summary>
public sealed class BlocklistEntry
{
    /// <summary>The address in canonical text form (IPv4 dotted quad or compressed IPv6). Primary key.</summary>
    public required string Ip { get; set; }

    /// <summary>Why it was blocked.</summary>
    public string? Reason { get; set; }

    /// <summary>When it was added.</summary>
    public DateTimeOffset AddedAt { get; set; }

    /// <summary>Who added it: the idempotency key of the step (<c>{instance}:{step}</c>) or a user.</summary>
    public string? AddedBy { get; set; }
}

internal sealed class BlocklistEntryConfiguration : IEntityTypeConfiguration<BlocklistEntry>
{
    public void Configure(EntityTypeBuilder<BlocklistEntry> builder)
    {
        builder.ToTable("blocklist");
        builder.HasKey(e => e.Ip);
        builder.Property(e => e.Ip).HasMaxLength(64);
        builder.Property(e => e.Reason).HasMaxLength(500);
        builder.Property(e => e.AddedBy).HasMaxLength(200);
    }
}
