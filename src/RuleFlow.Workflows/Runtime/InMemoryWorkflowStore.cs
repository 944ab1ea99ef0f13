using System.Text.Json.Nodes;
using RuleFlow.Workflows.Definitions;

namespace RuleFlow.Workflows.Runtime;

/// <summary>
/// A workflow store in process memory: the same contract as the SQL store (start deduplication by idempotency key and
/// active correlation key, revision checks, every commit all-or-nothing) without durability — everything is gone when
/// the process ends. For tests, demos (<c>AddRuleFlowInMemoryWorkflowStore</c>) and the "memory" rows of the benchmark.
/// It keeps copies of what it is given and hands out copies, like a database would. Thread-safe (one lock).
/// </summary>
public sealed class InMemoryWorkflowStore : IWorkflowStore, IWorkflowQueries
{
    private readonly object gate = new();
    private readonly Dictionary<Guid, InstanceRecord> instances = [];
    private readonly Dictionary<string, Guid> byIdempotencyKey = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Workflow, string Key), Guid> activeByCorrelation = [];
    private readonly Dictionary<Guid, List<StoredJournal>> journal = [];
    private readonly Dictionary<Guid, ApprovalInfo> approvals = [];
    private readonly Dictionary<Guid, TimerRecord> timers = [];
    private readonly Dictionary<string, OutboxRecord> outbox = new(StringComparer.Ordinal);
    private readonly Dictionary<Guid, IncidentRecord> incidents = [];
    private readonly Dictionary<Guid, BookmarkRecord> bookmarks = [];
    private readonly Dictionary<(string Id, string Hash), DefinitionRecord> definitions = [];
    private long transactions;
    private long writes;

    private sealed record StoredJournal(long Sequence, DateTimeOffset At, string? StepId, string Kind, int Attempt, string? Data);

    /// <inheritdoc />
    public StoreCounters Counters
    {
        get
        {
            lock (gate)
            {
                return new StoreCounters(transactions, writes);
            }
        }
    }

    /// <inheritdoc />
    public Task<(InstanceRecord Instance, bool Created)> CreateInstanceAsync(InstanceRecord instance, IReadOnlyList<JournalRecord> journal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentNullException.ThrowIfNull(journal);
        lock (gate)
        {
            Guid? existing = null;
            if (instance.IdempotencyKey is { } key && byIdempotencyKey.TryGetValue(key, out var byKey))
            {
                existing = byKey;
            }
            else if (instances.ContainsKey(instance.Id))
            {
                existing = instance.Id;
            }
            else if (instance.CorrelationKey is { } correlation && activeByCorrelation.TryGetValue((instance.WorkflowId, correlation), out var active))
            {
                existing = active;
            }

            if (existing is { } found)
            {
                return Task.FromResult((Copy(instances[found]), false));
            }

            Insert(instance, journal);
            Count();
            return Task.FromResult((instance, true));
        }
    }

    private void Insert(InstanceRecord instance, IReadOnlyList<JournalRecord> entries)
    {
        instances[instance.Id] = Copy(instance);
        if (instance.IdempotencyKey is { } key)
        {
            byIdempotencyKey[key] = instance.Id;
        }

        Index(instance);
        AppendJournal(entries);
    }

    private void Index(InstanceRecord instance)
    {
        if (instance.CorrelationKey is { } correlation)
        {
            if (instance.IsFinished)
            {
                if (activeByCorrelation.TryGetValue((instance.WorkflowId, correlation), out var active) && active == instance.Id)
                {
                    activeByCorrelation.Remove((instance.WorkflowId, correlation));
                }
            }
            else
            {
                activeByCorrelation[(instance.WorkflowId, correlation)] = instance.Id;
            }
        }
    }

    private void AppendJournal(IEnumerable<JournalRecord> entries)
    {
        foreach (var entry in entries)
        {
            if (!journal.TryGetValue(entry.InstanceId, out var list))
            {
                journal[entry.InstanceId] = list = [];
            }

            if (list.Exists(j => j.Sequence == entry.Sequence))
            {
                throw new InvalidOperationException($"journal entry {entry.Sequence} of instance {entry.InstanceId} exists already");
            }

            list.Add(new StoredJournal(entry.Sequence, entry.At, entry.StepId, entry.Kind, entry.Attempt, entry.Data?.ToJsonString()));
        }
    }

    private void Count(long count = 1)
    {
        transactions++;
        writes += count;
    }

    /// <inheritdoc />
    public Task<InstanceRecord?> GetInstanceAsync(Guid id, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            return Task.FromResult(instances.TryGetValue(id, out var instance) ? Copy(instance) : null);
        }
    }

    /// <inheritdoc />
    public Task<int> CommitAsync(InstanceCommit commit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(commit);
        var next = commit.Instance;
        lock (gate)
        {
            if (!instances.TryGetValue(next.Id, out var current) || current.Revision != next.Revision)
            {
                throw new WorkflowConcurrencyException($"instance {next.Id} is no longer at revision {next.Revision}");
            }

            // All checks first, so a commit is written completely or not at all.
            foreach (var (child, _) in commit.NewInstances)
            {
                if (instances.ContainsKey(child.Id))
                {
                    throw new InvalidOperationException($"instance {child.Id} exists already");
                }
            }

            var revision = next.Revision + 1;
            instances[next.Id] = Copy(next with { Revision = revision });
            Index(next);
            AppendJournal(commit.Journal);
            foreach (var (child, childJournal) in commit.NewInstances)
            {
                Insert(child, childJournal);
            }

            foreach (var message in commit.Outbox)
            {
                outbox.TryAdd(message.Id, message);
            }

            foreach (var approval in commit.NewApprovals.Concat(commit.UpdatedApprovals))
            {
                approvals[approval.Id] = approval;
            }

            foreach (var id in commit.CancelledApprovals)
            {
                if (approvals.TryGetValue(id, out var approval) && approval.State == "pending")
                {
                    approvals[id] = approval with { State = "cancelled" };
                }
            }

            foreach (var timer in commit.NewTimers)
            {
                timers.TryAdd(timer.Id, timer with { Payload = (JsonObject?)timer.Payload?.DeepClone() });
            }

            foreach (var id in commit.DeletedTimers)
            {
                timers.Remove(id);
            }

            foreach (var bookmark in commit.NewBookmarks)
            {
                bookmarks.TryAdd(bookmark.Id, bookmark);
            }

            foreach (var bookmark in commit.DeletedBookmarks)
            {
                bookmarks.Remove(bookmark.Id);
            }

            foreach (var incident in commit.Incidents)
            {
                incidents[incident.Id] = incident;
            }

            foreach (var resolved in commit.ResolvedIncidents)
            {
                if (incidents.TryGetValue(resolved.Id, out var incident))
                {
                    incidents[resolved.Id] = incident with { ResolvedAt = resolved.ResolvedAt, ResolvedBy = resolved.ResolvedBy, Resolution = resolved.Resolution };
                }
            }

            Count();
            return Task.FromResult(revision);
        }
    }

    /// <inheritdoc />
    public Task<InstanceRecord?> FindActiveInstanceAsync(string workflowId, string correlationKey, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            return Task.FromResult(activeByCorrelation.TryGetValue((workflowId, correlationKey), out var id) ? Copy(instances[id]) : null);
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<BookmarkRecord>> GetBookmarksAsync(string eventType, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            return Task.FromResult<IReadOnlyList<BookmarkRecord>>(bookmarks.Values.Where(b => b.EventType == eventType).OrderBy(b => b.CreatedAt).ToList());
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<string, int>> CountBookmarksAsync(CancellationToken cancellationToken)
    {
        lock (gate)
        {
            return Task.FromResult<IReadOnlyDictionary<string, int>>(bookmarks.Values.GroupBy(b => b.EventType, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal));
        }
    }

    /// <inheritdoc />
    public Task<IncidentRecord?> GetIncidentAsync(Guid id, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            return Task.FromResult(incidents.GetValueOrDefault(id));
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<DefinitionRecord>> ListDefinitionsAsync(string? workflowId, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            return Task.FromResult<IReadOnlyList<DefinitionRecord>>(definitions.Values.Where(d => workflowId is null || d.WorkflowId == workflowId)
                .OrderBy(d => d.WorkflowId, StringComparer.Ordinal).ThenByDescending(d => d.Version).ToList());
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<Guid>> ListInstancesToResumeAsync(CancellationToken cancellationToken)
    {
        lock (gate)
        {
            return Task.FromResult<IReadOnlyList<Guid>>(instances.Values.Where(i => i.State is InstanceState.Running or InstanceState.Compensating)
                .OrderBy(i => i.CreatedAt).Select(i => i.Id).ToList());
        }
    }

    /// <inheritdoc />
    public Task<ApprovalInfo?> GetApprovalAsync(Guid id, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            return Task.FromResult(approvals.GetValueOrDefault(id));
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<TimerRecord>> GetDueTimersAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            return Task.FromResult<IReadOnlyList<TimerRecord>>(timers.Values.Where(t => t.DueAt <= now).OrderBy(t => t.DueAt).Take(limit)
                .Select(t => t with { Payload = (JsonObject?)t.Payload?.DeepClone() }).ToList());
        }
    }

    /// <inheritdoc />
    public Task DeleteTimerAsync(Guid id, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            timers.Remove(id);
            Count();
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task EnqueueOutboxAsync(OutboxRecord message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        lock (gate)
        {
            outbox.TryAdd(message.Id, message);
            Count();
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<OutboxRecord>> GetPendingOutboxAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            return Task.FromResult<IReadOnlyList<OutboxRecord>>(outbox.Values.Where(m => m.SentAt is null && m.NextAttemptAt <= now)
                .OrderBy(m => m.CreatedAt).Take(limit).ToList());
        }
    }

    /// <inheritdoc />
    public Task MarkOutboxSentAsync(IReadOnlyList<string> ids, DateTimeOffset sentAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0)
        {
            return Task.CompletedTask;
        }

        lock (gate)
        {
            foreach (var id in ids)
            {
                if (outbox.TryGetValue(id, out var message))
                {
                    outbox[id] = message with { SentAt = sentAt, LastError = null };
                }
            }

            Count(ids.Count);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task MarkOutboxFailedAsync(string id, int attempts, DateTimeOffset nextAttemptAt, string error, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            if (outbox.TryGetValue(id, out var message))
            {
                outbox[id] = message with { Attempts = attempts, NextAttemptAt = nextAttemptAt, LastError = error };
            }

            Count();
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<DefinitionRecord> RegisterDefinitionAsync(WorkflowDefinition definition, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(definition);
        lock (gate)
        {
            if (definitions.TryGetValue((definition.Id, definition.ContentHash), out var existing))
            {
                return Task.FromResult(existing);
            }

            var highest = definitions.Values.Where(d => d.WorkflowId == definition.Id).Select(d => d.Version).DefaultIfEmpty(0).Max();
            var record = new DefinitionRecord(definition.Id, definition.DeclaredVersion ?? highest + 1, definition.ContentHash, definition.Format,
                definition.SourcePath, definition.SourceText, now);
            definitions[(definition.Id, definition.ContentHash)] = record;
            Count();
            return Task.FromResult(record);
        }
    }

    /// <inheritdoc />
    public Task<DefinitionRecord?> GetDefinitionAsync(string workflowId, string contentHash, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            return Task.FromResult(definitions.GetValueOrDefault((workflowId, contentHash)));
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<IncidentRecord>> ListIncidentsAsync(Guid? instanceId, int limit, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            return Task.FromResult<IReadOnlyList<IncidentRecord>>(incidents.Values.Where(i => i.ResolvedAt is null && (instanceId is null || i.InstanceId == instanceId))
                .OrderByDescending(i => i.CreatedAt).Take(limit).ToList());
        }
    }

    /// <inheritdoc />
    public Task<Page<InstanceSummary>> ListInstancesAsync(InstanceQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Page, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.PageSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(query.PageSize, 500);
        lock (gate)
        {
            var matches = instances.Values
                .Where(i => (query.Workflow is null || i.WorkflowId == query.Workflow) && (query.State is null || i.State == query.State)
                    && (query.CorrelationKey is null || i.CorrelationKey == query.CorrelationKey)
                    && (query.From is null || i.CreatedAt >= query.From) && (query.To is null || i.CreatedAt < query.To))
                .OrderByDescending(i => i.CreatedAt).ThenByDescending(i => i.Id)
                .ToList();
            var page = matches.Skip((query.Page - 1) * query.PageSize).Take(query.PageSize).Select(Summary).ToList();
            return Task.FromResult(new Page<InstanceSummary>(page, matches.Count));
        }
    }

    /// <summary>One instance with its journal, approvals, incidents and messages (<see cref="IWorkflowQueries.GetInstanceAsync"/>), or null.</summary>
    public Task<InstanceDetails?> GetInstanceDetailsAsync(Guid id, CancellationToken cancellationToken) => ((IWorkflowQueries)this).GetInstanceAsync(id, cancellationToken);

    /// <inheritdoc />
    Task<InstanceDetails?> IWorkflowQueries.GetInstanceAsync(Guid id, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            if (!instances.TryGetValue(id, out var i))
            {
                return Task.FromResult<InstanceDetails?>(null);
            }

            var entries = journal.TryGetValue(id, out var list)
                ? list.OrderBy(j => j.Sequence).Select(j => new JournalEntry(j.Sequence, j.At, j.StepId, j.Kind, j.Attempt, j.Data is null ? null : JsonNode.Parse(j.Data))).ToList()
                : [];
            return Task.FromResult<InstanceDetails?>(new InstanceDetails(Summary(i), i.CurrentStep, i.WaitingFor, (JsonObject)i.Variables.DeepClone(), i.Error, i.Lineage,
                entries, approvals.Values.Where(a => a.InstanceId == id).OrderBy(a => a.CreatedAt).ToList())
            {
                Output = i.Output?.DeepClone(),
                ParentInstanceId = i.ParentInstanceId,
                Incidents = incidents.Values.Where(x => x.InstanceId == id).OrderBy(x => x.CreatedAt).ToList(),
                Messages = outbox.Values.Where(m => m.InstanceId == id).OrderBy(m => m.CreatedAt).ToList(),
            });
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ApprovalInfo>> ListApprovalsAsync(string? state, int limit, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            return Task.FromResult<IReadOnlyList<ApprovalInfo>>(approvals.Values.Where(a => state is null || a.State == state)
                .OrderByDescending(a => a.CreatedAt).ThenByDescending(a => a.Id).Take(Math.Clamp(limit, 1, 10_000)).ToList());
        }
    }

    /// <inheritdoc />
    public Task<long> CountJournalEntriesAsync(string kindPrefix, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(kindPrefix);
        lock (gate)
        {
            return Task.FromResult(journal.Values.Sum(list => (long)list.Count(j => j.Kind.StartsWith(kindPrefix, StringComparison.Ordinal))));
        }
    }

    private static InstanceSummary Summary(InstanceRecord i) =>
        new(i.Id, i.WorkflowId, i.Version, i.State, i.CorrelationKey, (JsonObject)i.Input.DeepClone(), i.CreatedAt, i.UpdatedAt);

    /// <summary>A copy that shares nothing mutable with <paramref name="record"/>.</summary>
    private static InstanceRecord Copy(InstanceRecord record) => record with
    {
        Input = (JsonObject)record.Input.DeepClone(),
        Variables = (JsonObject)record.Variables.DeepClone(),
        StepOutputs = (JsonObject)record.StepOutputs.DeepClone(),
        Execution = record.Execution.Clone(),
        Output = record.Output?.DeepClone(),
    };
}
