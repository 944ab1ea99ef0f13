using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Storage.Workflows;

/// <summary>
/// <see cref="IWorkflowStore"/> over EF Core (SQLite or PostgreSQL). Every <see cref="CommitAsync"/> is one database
/// transaction; the instance row's <c>Revision</c> is the optimistic concurrency token. Thread-safe (a context per call).
/// </summary>
public sealed class EfWorkflowStore(IDbContextFactory<RuleFlowDbContext> factory) : IWorkflowStore
{
    /// <inheritdoc />
    public async Task<(InstanceRecord Instance, bool Created)> CreateInstanceAsync(InstanceRecord instance, IReadOnlyList<JournalRecord> journal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentNullException.ThrowIfNull(journal);
        var existing = await FindDuplicateAsync(instance, cancellationToken).ConfigureAwait(false);
        if (existing is not null)
        {
            return (existing, false);
        }

        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        db.Set<WorkflowInstanceEntity>().Add(WorkflowMapping.ToEntity(instance, instance.Revision));
        db.Set<WorkflowJournalEntity>().AddRange(journal.Select(WorkflowMapping.ToEntity));
        try
        {
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            return (instance, true);
        }
        catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
        {
            // A concurrent start won the unique index (correlation or idempotency key): return its instance.
            existing = await FindDuplicateAsync(instance, cancellationToken).ConfigureAwait(false);
            if (existing is not null)
            {
                return (existing, false);
            }

            throw;
        }
    }

    private async Task<InstanceRecord?> FindDuplicateAsync(InstanceRecord instance, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var set = db.Set<WorkflowInstanceEntity>().AsNoTracking();
        if (instance.IdempotencyKey is { } idempotencyKey)
        {
            var byKey = await set.FirstOrDefaultAsync(i => i.IdempotencyKey == idempotencyKey, cancellationToken).ConfigureAwait(false);
            if (byKey is not null)
            {
                return WorkflowMapping.ToRecord(byKey);
            }
        }

        if (instance.CorrelationKey is { } correlationKey)
        {
            var active = await set.FirstOrDefaultAsync(i => i.WorkflowId == instance.WorkflowId && i.ActiveCorrelationKey == correlationKey, cancellationToken).ConfigureAwait(false);
            if (active is not null)
            {
                return WorkflowMapping.ToRecord(active);
            }
        }

        return null;
    }

    /// <inheritdoc />
    public async Task<InstanceRecord?> GetInstanceAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var entity = await db.Set<WorkflowInstanceEntity>().AsNoTracking().FirstOrDefaultAsync(i => i.Id == id, cancellationToken).ConfigureAwait(false);
        return entity is null ? null : WorkflowMapping.ToRecord(entity);
    }

    /// <inheritdoc />
    public async Task<int> CommitAsync(InstanceCommit commit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(commit);
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await StageAsync(db, [commit], cancellationToken).ConfigureAwait(false);
        try
        {
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateConcurrencyException ex)
        {
            throw new WorkflowConcurrencyException($"instance {commit.Instance.Id} is no longer at revision {commit.Instance.Revision}", ex);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return commit.Instance.Revision + 1;
    }

    /// <inheritdoc />
    /// <remarks>
    /// One transaction for all commits. When one instance's revision changed, the whole transaction is rolled back and the
    /// commits are written one by one (the conflicting one gets null), so a conflict costs a retry, never a lost write.
    /// </remarks>
    public async Task<IReadOnlyList<int?>> CommitBatchAsync(IReadOnlyList<InstanceCommit> commits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(commits);
        if (commits.Count == 1 || commits.Select(c => c.Instance.Id).Distinct().Count() != commits.Count)
        {
            return await OneByOneAsync(commits, cancellationToken).ConfigureAwait(false);
        }

        await using (var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false))
        {
            db.ChangeTracker.AutoDetectChangesEnabled = false;
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await StageAsync(db, commits, cancellationToken).ConfigureAwait(false);
            try
            {
                await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return commits.Select(c => (int?)(c.Instance.Revision + 1)).ToList();
            }
            catch (DbUpdateConcurrencyException)
            {
                await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        return await OneByOneAsync(commits, cancellationToken).ConfigureAwait(false);
    }

    private async Task<IReadOnlyList<int?>> OneByOneAsync(IReadOnlyList<InstanceCommit> commits, CancellationToken cancellationToken)
    {
        var results = new List<int?>();
        foreach (var commit in commits)
        {
            try
            {
                results.Add(await CommitAsync(commit, cancellationToken).ConfigureAwait(false));
            }
            catch (WorkflowConcurrencyException)
            {
                results.Add(null);
            }
        }

        return results;
    }

    private static async Task StageAsync(RuleFlowDbContext db, IReadOnlyList<InstanceCommit> commits, CancellationToken cancellationToken)
    {
        var deletedTimers = new List<Guid>();
        var deletedBookmarks = new List<Guid>();
        var cancelledApprovals = new List<Guid>();
        foreach (var commit in commits)
        {
            var expected = commit.Instance.Revision;
            var entry = db.Set<WorkflowInstanceEntity>().Attach(WorkflowMapping.ToEntity(commit.Instance, expected + 1));
            entry.State = EntityState.Modified;
            entry.Property(e => e.Revision).OriginalValue = expected;
            foreach (var (child, childJournal) in commit.NewInstances)
            {
                db.Set<WorkflowInstanceEntity>().Add(WorkflowMapping.ToEntity(child, child.Revision));
                db.Set<WorkflowJournalEntity>().AddRange(childJournal.Select(WorkflowMapping.ToEntity));
            }

            db.Set<WorkflowJournalEntity>().AddRange(commit.Journal.Select(WorkflowMapping.ToEntity));
            db.Set<OutboxMessageEntity>().AddRange(commit.Outbox.Select(WorkflowMapping.ToEntity));
            db.Set<WorkflowApprovalEntity>().AddRange(commit.NewApprovals.Select(WorkflowMapping.ToEntity));
            foreach (var approval in commit.UpdatedApprovals)
            {
                db.Set<WorkflowApprovalEntity>().Attach(WorkflowMapping.ToEntity(approval)).State = EntityState.Modified;
            }

            db.Set<WorkflowTimerEntity>().AddRange(commit.NewTimers.Select(WorkflowMapping.ToEntity));
            db.Set<WorkflowBookmarkEntity>().AddRange(commit.NewBookmarks.Select(WorkflowMapping.ToEntity));
            db.Set<WorkflowIncidentEntity>().AddRange(commit.Incidents.Select(WorkflowMapping.ToEntity));
            foreach (var incident in commit.ResolvedIncidents)
            {
                db.Set<WorkflowIncidentEntity>().Attach(WorkflowMapping.ToEntity(incident)).State = EntityState.Modified;
            }

            deletedTimers.AddRange(commit.DeletedTimers);
            deletedBookmarks.AddRange(commit.DeletedBookmarks.Select(b => b.Id));
            cancelledApprovals.AddRange(commit.CancelledApprovals);
        }

        if (deletedTimers.Count > 0)
        {
            await db.Set<WorkflowTimerEntity>().Where(t => deletedTimers.Contains(t.Id)).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        }

        if (deletedBookmarks.Count > 0)
        {
            await db.Set<WorkflowBookmarkEntity>().Where(t => deletedBookmarks.Contains(t.Id)).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        }

        if (cancelledApprovals.Count > 0)
        {
            await db.Set<WorkflowApprovalEntity>().Where(a => cancelledApprovals.Contains(a.Id) && a.State == "pending")
                .ExecuteUpdateAsync(u => u.SetProperty(a => a.State, "cancelled"), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async Task<InstanceRecord?> FindActiveInstanceAsync(string workflowId, string correlationKey, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var entity = await db.Set<WorkflowInstanceEntity>().AsNoTracking()
            .FirstOrDefaultAsync(i => i.WorkflowId == workflowId && i.ActiveCorrelationKey == correlationKey, cancellationToken).ConfigureAwait(false);
        return entity is null ? null : WorkflowMapping.ToRecord(entity);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<BookmarkRecord>> GetBookmarksAsync(string eventType, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var rows = await db.Set<WorkflowBookmarkEntity>().AsNoTracking().Where(b => b.EventType == eventType)
            .OrderBy(b => b.CreatedAt).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.Select(WorkflowMapping.ToRecord).ToList();
    }

    /// <inheritdoc />
    public async Task<IReadOnlyDictionary<string, int>> CountBookmarksAsync(CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var rows = await db.Set<WorkflowBookmarkEntity>().AsNoTracking().GroupBy(b => b.EventType)
            .Select(g => new { g.Key, Count = g.Count() }).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.ToDictionary(r => r.Key, r => r.Count, StringComparer.Ordinal);
    }

    /// <inheritdoc />
    public async Task<IncidentRecord?> GetIncidentAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var row = await db.Set<WorkflowIncidentEntity>().AsNoTracking().FirstOrDefaultAsync(i => i.Id == id, cancellationToken).ConfigureAwait(false);
        return row is null ? null : WorkflowMapping.ToRecord(row);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<DefinitionRecord>> ListDefinitionsAsync(string? workflowId, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var query = db.Set<WorkflowDefinitionEntity>().AsNoTracking();
        if (workflowId is not null)
        {
            query = query.Where(d => d.WorkflowId == workflowId);
        }

        var rows = await query.ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.OrderBy(r => r.WorkflowId, StringComparer.Ordinal).ThenByDescending(r => r.Version).Select(WorkflowMapping.ToRecord).ToList();
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<Guid>> ListInstancesToResumeAsync(CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var running = nameof(InstanceState.Running);
        var compensating = nameof(InstanceState.Compensating);
        return await db.Set<WorkflowInstanceEntity>().AsNoTracking()
            .Where(i => i.State == running || i.State == compensating)
            .OrderBy(i => i.CreatedAt)
            .Select(i => i.Id)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<ApprovalInfo?> GetApprovalAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var entity = await db.Set<WorkflowApprovalEntity>().AsNoTracking().FirstOrDefaultAsync(a => a.Id == id, cancellationToken).ConfigureAwait(false);
        return entity is null ? null : WorkflowMapping.ToInfo(entity);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<TimerRecord>> GetDueTimersAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var rows = await db.Set<WorkflowTimerEntity>().AsNoTracking()
            .Where(t => t.DueAt <= now)
            .OrderBy(t => t.DueAt)
            .Take(limit)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.Select(WorkflowMapping.ToRecord).ToList();
    }

    /// <inheritdoc />
    public async Task DeleteTimerAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await db.Set<WorkflowTimerEntity>().Where(t => t.Id == id).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task EnqueueOutboxAsync(OutboxRecord message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        if (await db.Set<OutboxMessageEntity>().AnyAsync(m => m.Id == message.Id, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        db.Set<OutboxMessageEntity>().Add(WorkflowMapping.ToEntity(message));
        try
        {
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
        {
            // Inserted concurrently with the same id: nothing to do.
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<OutboxRecord>> GetPendingOutboxAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var rows = await db.Set<OutboxMessageEntity>().AsNoTracking()
            .Where(m => m.SentAt == null && m.NextAttemptAt <= now)
            .OrderBy(m => m.CreatedAt)
            .Take(limit)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.Select(WorkflowMapping.ToRecord).ToList();
    }

    /// <inheritdoc />
    public async Task MarkOutboxSentAsync(string id, DateTimeOffset sentAt, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await db.Set<OutboxMessageEntity>().Where(m => m.Id == id)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.SentAt, sentAt).SetProperty(m => m.LastError, (string?)null), cancellationToken)
            .ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task MarkOutboxFailedAsync(string id, int attempts, DateTimeOffset nextAttemptAt, string error, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var text = error.Length > 2000 ? error[..2000] : error;
        await db.Set<OutboxMessageEntity>().Where(m => m.Id == id)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.Attempts, attempts).SetProperty(m => m.NextAttemptAt, nextAttemptAt).SetProperty(m => m.LastError, text), cancellationToken)
            .ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<DefinitionRecord> RegisterDefinitionAsync(WorkflowDefinition definition, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(definition);
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var set = db.Set<WorkflowDefinitionEntity>();
        var existing = await set.AsNoTracking()
            .FirstOrDefaultAsync(d => d.WorkflowId == definition.Id && d.ContentHash == definition.ContentHash, cancellationToken).ConfigureAwait(false);
        if (existing is not null)
        {
            return WorkflowMapping.ToRecord(existing);
        }

        var highest = await set.Where(d => d.WorkflowId == definition.Id).MaxAsync(d => (int?)d.Version, cancellationToken).ConfigureAwait(false) ?? 0;
        var entity = new WorkflowDefinitionEntity
        {
            WorkflowId = definition.Id,
            ContentHash = definition.ContentHash,
            Version = definition.DeclaredVersion ?? highest + 1,
            Format = definition.Format.ToString(),
            SourcePath = definition.SourcePath,
            SourceText = definition.SourceText,
            RegisteredAt = now,
        };
        set.Add(entity);
        try
        {
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
        {
            // Registered concurrently by another process: read what it stored.
            await using var again = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
            var stored = await again.Set<WorkflowDefinitionEntity>().AsNoTracking()
                .FirstOrDefaultAsync(d => d.WorkflowId == definition.Id && d.ContentHash == definition.ContentHash, cancellationToken).ConfigureAwait(false);
            if (stored is null)
            {
                throw;
            }

            return WorkflowMapping.ToRecord(stored);
        }

        return WorkflowMapping.ToRecord(entity);
    }

    /// <inheritdoc />
    public async Task<DefinitionRecord?> GetDefinitionAsync(string workflowId, string contentHash, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var entity = await db.Set<WorkflowDefinitionEntity>().AsNoTracking()
            .FirstOrDefaultAsync(d => d.WorkflowId == workflowId && d.ContentHash == contentHash, cancellationToken).ConfigureAwait(false);
        return entity is null ? null : WorkflowMapping.ToRecord(entity);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<IncidentRecord>> ListIncidentsAsync(Guid? instanceId, int limit, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var query = db.Set<WorkflowIncidentEntity>().AsNoTracking().Where(i => i.ResolvedAt == null);
        if (instanceId is { } id)
        {
            query = query.Where(i => i.InstanceId == id);
        }

        var rows = await query.OrderByDescending(i => i.CreatedAt).Take(limit).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.Select(WorkflowMapping.ToRecord).ToList();
    }
}

/// <summary>Maps between the runtime's records and the rows.</summary>
internal static class WorkflowMapping
{
    public static WorkflowInstanceEntity ToEntity(InstanceRecord r, int revision) => new()
    {
        Id = r.Id,
        WorkflowId = r.WorkflowId,
        Version = r.Version,
        DefinitionHash = r.DefinitionHash,
        State = r.State.ToString(),
        CorrelationKey = r.CorrelationKey,
        ActiveCorrelationKey = r.IsFinished ? null : r.CorrelationKey,
        IdempotencyKey = r.IdempotencyKey,
        InputJson = r.Input.ToJsonString(),
        VariablesJson = r.Variables.ToJsonString(),
        OutputsJson = r.StepOutputs.ToJsonString(),
        StepIndex = r.StepIndex,
        CurrentStep = r.CurrentStep,
        ExecutionJson = r.Execution.ToJson(),
        OutputJson = r.Output?.ToJsonString(),
        ParentInstanceId = r.ParentInstanceId,
        ParentFrame = r.ParentFrame,
        WaitingFor = r.WaitingFor,
        Error = r.Error,
        LineageJson = new JsonObject
        {
            ["rule"] = r.Lineage.Rule,
            ["activationId"] = r.Lineage.ActivationId,
            ["eventIds"] = new JsonArray(r.Lineage.EventIds.Select(e => (JsonNode?)JsonValue.Create(e)).ToArray()),
        }.ToJsonString(),
        StartedBy = r.StartedBy,
        CreatedAt = r.CreatedAt,
        UpdatedAt = r.UpdatedAt,
        EndedAt = r.EndedAt,
        JournalSequence = r.JournalSequence,
        Revision = revision,
    };

    public static InstanceRecord ToRecord(WorkflowInstanceEntity e) => new()
    {
        Id = e.Id,
        WorkflowId = e.WorkflowId,
        Version = e.Version,
        DefinitionHash = e.DefinitionHash,
        State = Enum.Parse<InstanceState>(e.State),
        CorrelationKey = e.CorrelationKey,
        IdempotencyKey = e.IdempotencyKey,
        Input = ParseObject(e.InputJson),
        Variables = ParseObject(e.VariablesJson),
        StepOutputs = ParseObject(e.OutputsJson),
        StepIndex = e.StepIndex,
        CurrentStep = e.CurrentStep,
        Execution = ExecutionState.FromJson(e.ExecutionJson),
        Output = e.OutputJson is null ? null : JsonNode.Parse(e.OutputJson),
        ParentInstanceId = e.ParentInstanceId,
        ParentFrame = e.ParentFrame,
        WaitingFor = e.WaitingFor,
        Error = e.Error,
        Lineage = ParseLineage(e.LineageJson),
        StartedBy = e.StartedBy,
        CreatedAt = e.CreatedAt,
        UpdatedAt = e.UpdatedAt,
        EndedAt = e.EndedAt,
        JournalSequence = e.JournalSequence,
        Revision = e.Revision,
    };

    public static Lineage ParseLineage(string json)
    {
        var node = ParseObject(json);
        var events = node["eventIds"] is JsonArray array ? array.Select(e => e?.GetValue<string>() ?? string.Empty).ToList() : [];
        return new Lineage(node["rule"]?.GetValue<string>(), node["activationId"]?.GetValue<string>(), events);
    }

    public static JsonObject ParseObject(string json) => JsonNode.Parse(json) as JsonObject ?? [];

    public static WorkflowJournalEntity ToEntity(JournalRecord r) => new()
    {
        InstanceId = r.InstanceId,
        Sequence = r.Sequence,
        At = r.At,
        StepId = r.StepId,
        Kind = r.Kind,
        Attempt = r.Attempt,
        DataJson = r.Data?.ToJsonString(),
    };

    public static JournalEntry ToEntry(WorkflowJournalEntity e) =>
        new(e.Sequence, e.At, e.StepId, e.Kind, e.Attempt, e.DataJson is null ? null : JsonNode.Parse(e.DataJson));

    public static WorkflowApprovalEntity ToEntity(ApprovalInfo a) => new()
    {
        Id = a.Id,
        InstanceId = a.InstanceId,
        Workflow = a.Workflow,
        StepId = a.StepId,
        State = a.State,
        AssigneesJson = JsonSerializer.Serialize(a.Assignees),
        Message = a.Message,
        CreatedAt = a.CreatedAt,
        DueAt = a.DueAt,
        DecidedBy = a.DecidedBy,
        DecidedAt = a.DecidedAt,
        Comment = a.Comment,
        Required = a.Required,
        DecisionsJson = JsonSerializer.Serialize(a.AllDecisions, JsonOptions),
        Level = a.Level,
    };

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    public static ApprovalInfo ToInfo(WorkflowApprovalEntity e) => new(
        e.Id, e.InstanceId, e.Workflow, e.StepId, e.State, JsonSerializer.Deserialize<List<string>>(e.AssigneesJson) ?? [],
        e.Message, e.CreatedAt, e.DueAt, e.DecidedBy, e.DecidedAt, e.Comment, e.Required,
        JsonSerializer.Deserialize<List<ApprovalDecision>>(e.DecisionsJson, JsonOptions) ?? [], e.Level);

    public static WorkflowBookmarkEntity ToEntity(BookmarkRecord b) => new()
    {
        Id = b.Id, InstanceId = b.InstanceId, Frame = b.Frame, StepId = b.StepId, EventType = b.EventType,
        CorrelationPath = b.CorrelationPath, CorrelationValue = b.CorrelationValue, CreatedAt = b.CreatedAt,
    };

    public static BookmarkRecord ToRecord(WorkflowBookmarkEntity e) =>
        new(e.Id, e.InstanceId, e.Frame, e.StepId, e.EventType, e.CorrelationPath, e.CorrelationValue, e.CreatedAt);

    public static IncidentRecord ToRecord(WorkflowIncidentEntity r) =>
        new(r.Id, r.InstanceId, r.StepId, r.Kind, r.Message, r.CreatedAt, r.ResolvedAt, r.ResolvedBy, r.Resolution);

    public static WorkflowTimerEntity ToEntity(TimerRecord t) => new()
    {
        Id = t.Id,
        InstanceId = t.InstanceId,
        Kind = t.Kind,
        StepId = t.StepId,
        DueAt = t.DueAt,
        PayloadJson = t.Payload?.ToJsonString(),
    };

    public static TimerRecord ToRecord(WorkflowTimerEntity e) =>
        new(e.Id, e.InstanceId, e.Kind, e.StepId, e.DueAt, e.PayloadJson is null ? null : ParseObject(e.PayloadJson));

    public static OutboxMessageEntity ToEntity(OutboxRecord m) => new()
    {
        Id = m.Id,
        InstanceId = m.InstanceId,
        StepId = m.StepId,
        Exchange = m.Exchange,
        RoutingKey = m.RoutingKey,
        Body = m.Body,
        HeadersJson = JsonSerializer.Serialize(m.Headers),
        CreatedAt = m.CreatedAt,
        Attempts = m.Attempts,
        NextAttemptAt = m.NextAttemptAt,
        SentAt = m.SentAt,
        LastError = m.LastError,
    };

    public static OutboxRecord ToRecord(OutboxMessageEntity e) => new(
        e.Id, e.InstanceId, e.StepId, e.Exchange, e.RoutingKey, e.Body,
        JsonSerializer.Deserialize<Dictionary<string, string>>(e.HeadersJson) ?? [],
        e.CreatedAt, e.Attempts, e.NextAttemptAt, e.SentAt, e.LastError);

    public static WorkflowIncidentEntity ToEntity(IncidentRecord i) => new()
    {
        Id = i.Id,
        InstanceId = i.InstanceId,
        StepId = i.StepId,
        Kind = i.Kind,
        Message = i.Message,
        CreatedAt = i.CreatedAt,
        ResolvedAt = i.ResolvedAt,
        ResolvedBy = i.ResolvedBy,
        Resolution = i.Resolution,
    };

    public static DefinitionRecord ToRecord(WorkflowDefinitionEntity e) => new(
        e.WorkflowId, e.Version, e.ContentHash, Enum.Parse<DefinitionFormat>(e.Format), e.SourcePath, e.SourceText, e.RegisteredAt);
}
