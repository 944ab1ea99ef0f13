using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace RuleFlow.Storage.Workflows;

/// <summary>Row of <c>wf_instances</c>: one workflow instance. JSON columns hold UTF-8 JSON text.</summary>
public sealed class WorkflowInstanceEntity
{
    /// <summary>Instance id.</summary>
    public Guid Id { get; set; }

    /// <summary>Definition id.</summary>
    public string WorkflowId { get; set; } = "";

    /// <summary>Definition version.</summary>
    public int Version { get; set; }

    /// <summary>Definition content hash (SHA-256 hex).</summary>
    public string DefinitionHash { get; set; } = "";

    /// <summary>State name (<c>Running</c>, <c>Waiting</c>, …).</summary>
    public string State { get; set; } = "";

    /// <summary>Correlation key, kept after the instance ends.</summary>
    public string? CorrelationKey { get; set; }

    /// <summary>
    /// The correlation key while the instance is not finished, else null: unique together with <see cref="WorkflowId"/>,
    /// so the database itself refuses a second active instance with the same key (NULLs do not collide).
    /// </summary>
    public string? ActiveCorrelationKey { get; set; }

    /// <summary>The start request's idempotency key (unique), or null.</summary>
    public string? IdempotencyKey { get; set; }

    /// <summary>Input (JSON object).</summary>
    public string InputJson { get; set; } = "{}";

    /// <summary>Variables (JSON object).</summary>
    public string VariablesJson { get; set; } = "{}";

    /// <summary>Step outputs (JSON object keyed by step id).</summary>
    public string OutputsJson { get; set; } = "{}";

    /// <summary>Index of the current step.</summary>
    public int StepIndex { get; set; }

    /// <summary>Current step id.</summary>
    public string? CurrentStep { get; set; }

    /// <summary>Execution state (JSON: frames, compensation stack and queue; see <c>ExecutionState</c>).</summary>
    public string ExecutionJson { get; set; } = "{}";

    /// <summary>Instance output (JSON) once completed, else null.</summary>
    public string? OutputJson { get; set; }

    /// <summary>Calling instance (a <c>call</c> step), else null.</summary>
    public Guid? ParentInstanceId { get; set; }

    /// <summary>The caller's waiting frame, else null.</summary>
    public string? ParentFrame { get; set; }

    /// <summary>Bookmark waited on, e.g. <c>approval:&lt;id&gt;</c>.</summary>
    public string? WaitingFor { get; set; }

    /// <summary>Failure or rejection reason.</summary>
    public string? Error { get; set; }

    /// <summary>Lineage (JSON: <c>{ rule, activationId, eventIds }</c>).</summary>
    public string LineageJson { get; set; } = "{}";

    /// <summary>Actor that started it.</summary>
    public string StartedBy { get; set; } = "";

    /// <summary>Created (Unix ms).</summary>
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Last change (Unix ms).</summary>
    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>Ended (Unix ms), or null.</summary>
    public DateTimeOffset? EndedAt { get; set; }

    /// <summary>Last journal sequence.</summary>
    public long JournalSequence { get; set; }

    /// <summary>Optimistic concurrency token, +1 per commit.</summary>
    public int Revision { get; set; }
}

/// <summary>Row of <c>wf_journal</c>.</summary>
public sealed class WorkflowJournalEntity
{
    /// <summary>Row id.</summary>
    public long Id { get; set; }

    /// <summary>Instance.</summary>
    public Guid InstanceId { get; set; }

    /// <summary>1-based sequence within the instance (unique with <see cref="InstanceId"/>).</summary>
    public long Sequence { get; set; }

    /// <summary>When (Unix ms).</summary>
    public DateTimeOffset At { get; set; }

    /// <summary>Step id or null.</summary>
    public string? StepId { get; set; }

    /// <summary>Entry kind, e.g. <c>step.completed</c>.</summary>
    public string Kind { get; set; } = "";

    /// <summary>Attempt.</summary>
    public int Attempt { get; set; }

    /// <summary>Data (JSON) or null.</summary>
    public string? DataJson { get; set; }
}

/// <summary>Row of <c>wf_approvals</c>.</summary>
public sealed class WorkflowApprovalEntity
{
    /// <summary>Approval id.</summary>
    public Guid Id { get; set; }

    /// <summary>Instance.</summary>
    public Guid InstanceId { get; set; }

    /// <summary>Workflow id.</summary>
    public string Workflow { get; set; } = "";

    /// <summary>Step id.</summary>
    public string StepId { get; set; } = "";

    /// <summary><c>pending</c>, <c>approved</c>, <c>rejected</c>, <c>timed_out</c>, <c>cancelled</c>.</summary>
    public string State { get; set; } = "";

    /// <summary>Assignees (JSON array of strings).</summary>
    public string AssigneesJson { get; set; } = "[]";

    /// <summary>Rendered message.</summary>
    public string Message { get; set; } = "";

    /// <summary>Requested (Unix ms).</summary>
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Times out (Unix ms) or null.</summary>
    public DateTimeOffset? DueAt { get; set; }

    /// <summary>Decider.</summary>
    public string? DecidedBy { get; set; }

    /// <summary>Decided (Unix ms).</summary>
    public DateTimeOffset? DecidedAt { get; set; }

    /// <summary>Decision comment.</summary>
    public string? Comment { get; set; }

    /// <summary>Approvals needed (N of N-of-M).</summary>
    public int Required { get; set; } = 1;

    /// <summary>Every decision (JSON array of <c>{ by, at, outcome, comment, via }</c>).</summary>
    public string DecisionsJson { get; set; } = "[]";

    /// <summary>0, or 1 once escalated.</summary>
    public int Level { get; set; }
}

/// <summary>Row of <c>wf_bookmarks</c>: a <c>wait_for_event</c> step waiting for an event type and correlation value.</summary>
public sealed class WorkflowBookmarkEntity
{
    /// <summary>Bookmark id.</summary>
    public Guid Id { get; set; }

    /// <summary>Instance.</summary>
    public Guid InstanceId { get; set; }

    /// <summary>Frame.</summary>
    public string Frame { get; set; } = "";

    /// <summary>Step.</summary>
    public string StepId { get; set; } = "";

    /// <summary>Event type.</summary>
    public string EventType { get; set; } = "";

    /// <summary>Path of the correlation value in the event, or null.</summary>
    public string? CorrelationPath { get; set; }

    /// <summary>Expected correlation value, or null.</summary>
    public string? CorrelationValue { get; set; }

    /// <summary>Created.</summary>
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>Row of <c>wf_timers</c>: a durable timer.</summary>
public sealed class WorkflowTimerEntity
{
    /// <summary>Timer id.</summary>
    public Guid Id { get; set; }

    /// <summary>Instance.</summary>
    public Guid InstanceId { get; set; }

    /// <summary>Kind, e.g. <c>approval.timeout</c>.</summary>
    public string Kind { get; set; } = "";

    /// <summary>Step id.</summary>
    public string StepId { get; set; } = "";

    /// <summary>Due (Unix ms).</summary>
    public DateTimeOffset DueAt { get; set; }

    /// <summary>Payload (JSON) or null.</summary>
    public string? PayloadJson { get; set; }
}

/// <summary>Row of <c>outbox_messages</c>.</summary>
public sealed class OutboxMessageEntity
{
    /// <summary>Stable message id.</summary>
    public string Id { get; set; } = "";

    /// <summary>Instance or null.</summary>
    public Guid? InstanceId { get; set; }

    /// <summary>Step or null.</summary>
    public string? StepId { get; set; }

    /// <summary>Exchange.</summary>
    public string Exchange { get; set; } = "";

    /// <summary>Routing key.</summary>
    public string RoutingKey { get; set; } = "";

    /// <summary>Body (UTF-8 JSON text).</summary>
    public string Body { get; set; } = "";

    /// <summary>Headers (JSON object of strings).</summary>
    public string HeadersJson { get; set; } = "{}";

    /// <summary>Written (Unix ms).</summary>
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Delivery attempts.</summary>
    public int Attempts { get; set; }

    /// <summary>Next attempt not before (Unix ms).</summary>
    public DateTimeOffset NextAttemptAt { get; set; }

    /// <summary>Sent (Unix ms), null while pending.</summary>
    public DateTimeOffset? SentAt { get; set; }

    /// <summary>Last error.</summary>
    public string? LastError { get; set; }
}

/// <summary>Row of <c>wf_incidents</c>.</summary>
public sealed class WorkflowIncidentEntity
{
    /// <summary>Incident id.</summary>
    public Guid Id { get; set; }

    /// <summary>Instance.</summary>
    public Guid InstanceId { get; set; }

    /// <summary>Step or null.</summary>
    public string? StepId { get; set; }

    /// <summary>Kind, e.g. <c>compensation.failed</c>.</summary>
    public string Kind { get; set; } = "";

    /// <summary>Message.</summary>
    public string Message { get; set; } = "";

    /// <summary>Opened (Unix ms).</summary>
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Resolved (Unix ms) or null.</summary>
    public DateTimeOffset? ResolvedAt { get; set; }

    /// <summary>Who resolved it, or null.</summary>
    public string? ResolvedBy { get; set; }

    /// <summary>How it was resolved (action and comment), or null.</summary>
    public string? Resolution { get; set; }
}

/// <summary>Row of <c>wf_definitions</c>: one definition version, keyed by workflow id and content hash.</summary>
public sealed class WorkflowDefinitionEntity
{
    /// <summary>Workflow id.</summary>
    public string WorkflowId { get; set; } = "";

    /// <summary>SHA-256 of the source (hex).</summary>
    public string ContentHash { get; set; } = "";

    /// <summary>Version.</summary>
    public int Version { get; set; }

    /// <summary><c>Yaml</c> or <c>Json</c>.</summary>
    public string Format { get; set; } = "";

    /// <summary>Source path.</summary>
    public string SourcePath { get; set; } = "";

    /// <summary>Source text.</summary>
    public string SourceText { get; set; } = "";

    /// <summary>First registered (Unix ms).</summary>
    public DateTimeOffset RegisteredAt { get; set; }
}

internal sealed class WorkflowInstanceConfiguration : IEntityTypeConfiguration<WorkflowInstanceEntity>
{
    public void Configure(EntityTypeBuilder<WorkflowInstanceEntity> builder)
    {
        builder.ToTable("wf_instances");
        builder.HasKey(e => e.Id);
        builder.Property(e => e.WorkflowId).HasMaxLength(200).IsRequired();
        builder.Property(e => e.DefinitionHash).HasMaxLength(64).IsRequired();
        builder.Property(e => e.State).HasMaxLength(20).IsRequired();
        builder.Property(e => e.CorrelationKey).HasMaxLength(400);
        builder.Property(e => e.ActiveCorrelationKey).HasMaxLength(400);
        builder.Property(e => e.IdempotencyKey).HasMaxLength(400);
        builder.Property(e => e.Revision).IsConcurrencyToken();
        builder.HasIndex(e => new { e.WorkflowId, e.ActiveCorrelationKey }).IsUnique();
        builder.HasIndex(e => e.IdempotencyKey).IsUnique();
        builder.HasIndex(e => new { e.State, e.CreatedAt });
        builder.HasIndex(e => new { e.WorkflowId, e.CreatedAt });
        builder.HasIndex(e => e.CreatedAt);
        builder.HasIndex(e => e.ParentInstanceId);
    }
}

internal sealed class WorkflowBookmarkConfiguration : IEntityTypeConfiguration<WorkflowBookmarkEntity>
{
    public void Configure(EntityTypeBuilder<WorkflowBookmarkEntity> builder)
    {
        builder.ToTable("wf_bookmarks");
        builder.HasKey(e => e.Id);
        builder.Property(e => e.EventType).HasMaxLength(200).IsRequired();
        builder.Property(e => e.CorrelationValue).HasMaxLength(400);
        builder.HasIndex(e => new { e.EventType, e.CorrelationValue });
        builder.HasIndex(e => e.InstanceId);
    }
}

internal sealed class WorkflowJournalConfiguration : IEntityTypeConfiguration<WorkflowJournalEntity>
{
    public void Configure(EntityTypeBuilder<WorkflowJournalEntity> builder)
    {
        builder.ToTable("wf_journal");
        builder.HasKey(e => e.Id);
        builder.Property(e => e.Id).ValueGeneratedOnAdd();
        builder.Property(e => e.Kind).HasMaxLength(60).IsRequired();
        builder.Property(e => e.StepId).HasMaxLength(200);
        builder.HasIndex(e => new { e.InstanceId, e.Sequence }).IsUnique();
    }
}

internal sealed class WorkflowApprovalConfiguration : IEntityTypeConfiguration<WorkflowApprovalEntity>
{
    public void Configure(EntityTypeBuilder<WorkflowApprovalEntity> builder)
    {
        builder.ToTable("wf_approvals");
        builder.HasKey(e => e.Id);
        builder.Property(e => e.State).HasMaxLength(20).IsRequired();
        builder.Property(e => e.Workflow).HasMaxLength(200).IsRequired();
        builder.Property(e => e.StepId).HasMaxLength(200).IsRequired();
        builder.HasIndex(e => new { e.State, e.CreatedAt });
        builder.HasIndex(e => e.InstanceId);
    }
}

internal sealed class WorkflowTimerConfiguration : IEntityTypeConfiguration<WorkflowTimerEntity>
{
    public void Configure(EntityTypeBuilder<WorkflowTimerEntity> builder)
    {
        builder.ToTable("wf_timers");
        builder.HasKey(e => e.Id);
        builder.Property(e => e.Kind).HasMaxLength(60).IsRequired();
        builder.HasIndex(e => e.DueAt);
        builder.HasIndex(e => e.InstanceId);
    }
}

internal sealed class OutboxMessageConfiguration : IEntityTypeConfiguration<OutboxMessageEntity>
{
    public void Configure(EntityTypeBuilder<OutboxMessageEntity> builder)
    {
        builder.ToTable("outbox_messages");
        builder.HasKey(e => e.Id);
        builder.Property(e => e.Id).HasMaxLength(100);
        builder.Property(e => e.Exchange).HasMaxLength(255).IsRequired();
        builder.Property(e => e.RoutingKey).HasMaxLength(255).IsRequired();
        builder.HasIndex(e => new { e.SentAt, e.NextAttemptAt });
        builder.HasIndex(e => e.InstanceId);
    }
}

internal sealed class WorkflowIncidentConfiguration : IEntityTypeConfiguration<WorkflowIncidentEntity>
{
    public void Configure(EntityTypeBuilder<WorkflowIncidentEntity> builder)
    {
        builder.ToTable("wf_incidents");
        builder.HasKey(e => e.Id);
        builder.Property(e => e.Kind).HasMaxLength(60).IsRequired();
        builder.HasIndex(e => new { e.ResolvedAt, e.CreatedAt });
        builder.HasIndex(e => e.InstanceId);
    }
}

internal sealed class WorkflowDefinitionConfiguration : IEntityTypeConfiguration<WorkflowDefinitionEntity>
{
    public void Configure(EntityTypeBuilder<WorkflowDefinitionEntity> builder)
    {
        builder.ToTable("wf_definitions");
        builder.HasKey(e => new { e.WorkflowId, e.ContentHash });
        builder.Property(e => e.WorkflowId).HasMaxLength(200);
        builder.Property(e => e.ContentHash).HasMaxLength(64);
        builder.Property(e => e.Format).HasMaxLength(10).IsRequired();
        builder.HasIndex(e => new { e.WorkflowId, e.Version });
    }
}
