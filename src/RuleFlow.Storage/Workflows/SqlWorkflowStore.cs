using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Storage.Workflows;

/// <summary>
/// <see cref="IWorkflowStore"/> on SQLite or PostgreSQL. The write path (starts, step commits, outbox marks, timer
/// deletes) goes through ONE <see cref="WorkflowWriter"/>: prepared ADO.NET statements on one long-lived connection, and
/// every write waiting at the same moment shares one transaction (group commit, <see cref="WorkflowOptions.GroupCommit"/>,
/// at most <see cref="WorkflowOptions.GroupCommitMaxBatch"/> writes). The instance row's <c>Revision</c> is the optimistic
/// concurrency token: a commit whose UPDATE finds another revision writes nothing and raises
/// <see cref="WorkflowConcurrencyException"/> for its caller only. The hot read (<see cref="GetInstanceAsync"/>) is
/// plain ADO.NET; the other reads and the definition registry use EF Core. The tables are the EF Core model's
/// (<see cref="StoreInitializer"/> creates them). Thread-safe.
/// </summary>
public sealed class SqlWorkflowStore : IWorkflowStore, IAsyncDisposable
{
    private readonly IDbContextFactory<RuleFlowDbContext> factory;
    private readonly WorkflowOptions options;
    private readonly ILogger<SqlWorkflowStore> logger;
    private readonly Lazy<(SqlDialect Dialect, WorkflowWriter Writer, SqlReader Reader)> sql;

    /// <summary>Creates the store (normally through <c>AddRuleFlowWorkflowStore</c>).</summary>
    /// <param name="factory">The EF Core context factory (gives the provider and connection string).</param>
    /// <param name="options">Group commit settings; defaults when null.</param>
    /// <param name="logger">Logger; none when null.</param>
    public SqlWorkflowStore(IDbContextFactory<RuleFlowDbContext> factory, WorkflowOptions? options = null, ILogger<SqlWorkflowStore>? logger = null)
    {
        this.factory = factory;
        this.options = options ?? new WorkflowOptions();
        this.logger = logger ?? NullLogger<SqlWorkflowStore>.Instance;
        sql = new Lazy<(SqlDialect, WorkflowWriter, SqlReader)>(Open, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    private (SqlDialect, WorkflowWriter, SqlReader) Open()
    {
        using var db = factory.CreateDbContext();
        var postgres = db.Database.ProviderName?.Contains("Npgsql", StringComparison.Ordinal) == true;
        var connectionString = db.Database.GetConnectionString()
            ?? throw new InvalidOperationException("the workflow store needs a connection string (RuleFlow:Store:ConnectionString)");
        var dialect = SqlDialect.For(postgres, connectionString);
        var writer = new WorkflowWriter(dialect, options.GroupCommit ? options.GroupCommitMaxBatch : 1, logger);
        return (dialect, writer, new SqlReader(postgres, connectionString));
    }

    private WorkflowWriter Writer => sql.Value.Writer;

    /// <inheritdoc />
    public StoreCounters Counters => sql.IsValueCreated ? new StoreCounters(Writer.Transactions, Writer.Jobs) : default;

    /// <inheritdoc />
    public async Task<(InstanceRecord Instance, bool Created)> CreateInstanceAsync(InstanceRecord instance, IReadOnlyList<JournalRecord> journal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentNullException.ThrowIfNull(journal);
        for (var attempt = 0; ; attempt++)
        {
            if (await Writer.WriteAsync(new CreateJob(instance, journal), cancellationToken).ConfigureAwait(false) is true)
            {
                return (instance, true);
            }

            // A duplicate idempotency key or an unfinished instance with the same correlation key: return that one.
            var existing = await FindDuplicateAsync(instance, cancellationToken).ConfigureAwait(false);
            if (existing is not null || attempt >= 3)
            {
                return existing is not null ? (existing, false)
                    : throw new InvalidOperationException($"instance {instance.Id} was neither created nor found as a duplicate");
            }

            // The duplicate finished between the INSERT and the lookup: try again.
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

        var byId = await set.FirstOrDefaultAsync(i => i.Id == instance.Id, cancellationToken).ConfigureAwait(false);
        if (byId is not null)
        {
            return WorkflowMapping.ToRecord(byId);
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
        var (dialect, _, reader) = sql.Value;
        await using var connection = await reader.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = WorkflowSql.SelectInstance;
        var parameter = command.CreateParameter();
        parameter.ParameterName = dialect.IsPostgres ? string.Empty : "$1";
        parameter.Value = dialect.Id(id);
        command.Parameters.Add(parameter);
        await using var rows = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await rows.ReadAsync(cancellationToken).ConfigureAwait(false) ? WorkflowSql.ReadInstance(rows) : null;
    }

    /// <inheritdoc />
    public async Task<int> CommitAsync(InstanceCommit commit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(commit);
        var result = await Writer.WriteAsync(new CommitJob(commit), cancellationToken).ConfigureAwait(false);
        return result is int revision
            ? revision
            : throw new WorkflowConcurrencyException($"instance {commit.Instance.Id} is no longer at revision {commit.Instance.Revision}");
    }

    /// <inheritdoc />
    public Task DeleteTimerAsync(Guid id, CancellationToken cancellationToken) =>
        Writer.WriteAsync(new StatementsJob(d => [WorkflowSql.TimerDeleted(d, id)]), cancellationToken);

    /// <inheritdoc />
    public Task EnqueueOutboxAsync(OutboxRecord message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        return Writer.WriteAsync(new StatementsJob(d => [WorkflowSql.Outbox(d, message)]), cancellationToken);
    }

    /// <inheritdoc />
    public Task MarkOutboxSentAsync(IReadOnlyList<string> ids, DateTimeOffset sentAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return ids.Count == 0 ? Task.CompletedTask : Writer.WriteAsync(new StatementsJob(_ => ids.Select(id => WorkflowSql.Sent(id, sentAt))), cancellationToken);
    }

    /// <inheritdoc />
    public Task MarkOutboxFailedAsync(string id, int attempts, DateTimeOffset nextAttemptAt, string error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(error);
        return Writer.WriteAsync(new StatementsJob(_ => [WorkflowSql.Failed(id, attempts, nextAttemptAt, error)]), cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (sql.IsValueCreated)
        {
            await sql.Value.Writer.DisposeAsync().ConfigureAwait(false);
            await sql.Value.Reader.DisposeAsync().ConfigureAwait(false);
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

