using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace RuleFlow.Storage.Ingest;

/// <summary>States of a rule firing's actions.</summary>
public enum FiringStatus
{
    /// <summary>Journaled with its event; actions not yet carried out (they are carried out at the next start if the process stops here).</summary>
    Pending,

    /// <summary>Every action was carried out (a deduplicated workflow start counts as carried out).</summary>
    Done,

    /// <summary>An action failed for good (e.g. an unknown workflow); <see cref="RuleFiringRecord.Error"/> says why.</summary>
    Failed,
}

/// <summary>
/// A rule activation that fired, journaled in the same transaction as the event that caused it, so its actions
/// are carried out at least once and, through their idempotency keys, take effect once.
/// </summary>
public sealed class RuleFiringRecord
{
    /// <summary>Row id (firing order).</summary>
    public long Id { get; set; }

    /// <summary>Deterministic activation id (rule + matched event ids). Unique.</summary>
    public required string ActivationId { get; set; }

    /// <summary>Rule name.</summary>
    public required string Rule { get; set; }

    /// <summary>Event time of the firing (session clock).</summary>
    public DateTimeOffset Time { get; set; }

    /// <summary>Processing time of the firing.</summary>
    public DateTimeOffset FiredAt { get; set; }

    /// <summary>Journal sequence of the event whose insertion fired it.</summary>
    public long EventSequence { get; set; }

    /// <summary>JSON array of the matched event ids.</summary>
    public required string EventIds { get; set; }

    /// <summary>JSON array of the evaluated actions (<c>{ "kind": "start-workflow", … }</c>).</summary>
    public required string Actions { get; set; }

    /// <summary>Action status.</summary>
    public FiringStatus Status { get; set; }

    /// <summary>JSON array of what each action did (e.g. the workflow instance id), once carried out.</summary>
    public string? Results { get; set; }

    /// <summary>Why an action failed, when <see cref="Status"/> is <see cref="FiringStatus.Failed"/>.</summary>
    public string? Error { get; set; }
}

internal sealed class RuleFiringRecordConfiguration : IEntityTypeConfiguration<RuleFiringRecord>
{
    public void Configure(EntityTypeBuilder<RuleFiringRecord> builder)
    {
        builder.ToTable("rule_firings");
        builder.HasKey(e => e.Id);
        builder.Property(e => e.Id).ValueGeneratedOnAdd();
        builder.Property(e => e.ActivationId).HasMaxLength(100);
        builder.HasIndex(e => e.ActivationId).IsUnique();
        builder.Property(e => e.Rule).HasMaxLength(300);
        builder.HasIndex(e => new { e.Rule, e.Id });
        builder.HasIndex(e => e.Status);
        builder.Property(e => e.Status).HasConversion<string>().HasMaxLength(20);
    }
}
