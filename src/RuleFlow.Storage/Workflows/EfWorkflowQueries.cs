using Microsoft.EntityFrameworkCore;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Storage.Workflows;

/// <summary><see cref="IWorkflowQueries"/> over EF Core: read-only, no tracking. Thread-safe.</summary>
public sealed class EfWorkflowQueries(IDbContextFactory<RuleFlowDbContext> factory) : IWorkflowQueries
{
    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException">Page below 1 or page size outside 1..500.</exception>
    public async Task<Page<InstanceSummary>> ListInstancesAsync(InstanceQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Page, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.PageSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(query.PageSize, 500);
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var rows = db.Set<WorkflowInstanceEntity>().AsNoTracking();
        if (query.Workflow is { } workflow)
        {
            rows = rows.Where(i => i.WorkflowId == workflow);
        }

        if (query.State is { } state)
        {
            var name = state.ToString();
            rows = rows.Where(i => i.State == name);
        }

        if (query.CorrelationKey is { } key)
        {
            rows = rows.Where(i => i.CorrelationKey == key);
        }

        if (query.From is { } from)
        {
            rows = rows.Where(i => i.CreatedAt >= from);
        }

        if (query.To is { } to)
        {
            rows = rows.Where(i => i.CreatedAt < to);
        }

        var total = await rows.CountAsync(cancellationToken).ConfigureAwait(false);
        var page = await rows.OrderByDescending(i => i.CreatedAt).ThenByDescending(i => i.Id)
            .Skip((query.Page - 1) * query.PageSize).Take(query.PageSize)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return new Page<InstanceSummary>(page.Select(ToSummary).ToList(), total);
    }

    /// <inheritdoc />
    public async Task<InstanceDetails?> GetInstanceAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var entity = await db.Set<WorkflowInstanceEntity>().AsNoTracking().FirstOrDefaultAsync(i => i.Id == id, cancellationToken).ConfigureAwait(false);
        if (entity is null)
        {
            return null;
        }

        var journal = await db.Set<WorkflowJournalEntity>().AsNoTracking().Where(j => j.InstanceId == id)
            .OrderBy(j => j.Sequence).ToListAsync(cancellationToken).ConfigureAwait(false);
        var approvals = await db.Set<WorkflowApprovalEntity>().AsNoTracking().Where(a => a.InstanceId == id)
            .OrderBy(a => a.CreatedAt).ToListAsync(cancellationToken).ConfigureAwait(false);
        return new InstanceDetails(
            ToSummary(entity),
            entity.CurrentStep,
            entity.WaitingFor,
            WorkflowMapping.ParseObject(entity.VariablesJson),
            entity.Error,
            WorkflowMapping.ParseLineage(entity.LineageJson),
            journal.Select(WorkflowMapping.ToEntry).ToList(),
            approvals.Select(WorkflowMapping.ToInfo).ToList())
        {
            Output = entity.OutputJson is null ? null : System.Text.Json.Nodes.JsonNode.Parse(entity.OutputJson),
            ParentInstanceId = entity.ParentInstanceId,
            Incidents = (await db.Set<WorkflowIncidentEntity>().AsNoTracking().Where(i => i.InstanceId == id).OrderBy(i => i.CreatedAt)
                .ToListAsync(cancellationToken).ConfigureAwait(false)).Select(WorkflowMapping.ToRecord).ToList(),
            Messages = (await db.Set<OutboxMessageEntity>().AsNoTracking().Where(m => m.InstanceId == id)
                .ToListAsync(cancellationToken).ConfigureAwait(false)).OrderBy(m => m.CreatedAt).Select(WorkflowMapping.ToRecord).ToList(),
        };
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ApprovalInfo>> ListApprovalsAsync(string? state, int limit, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var rows = db.Set<WorkflowApprovalEntity>().AsNoTracking();
        if (state is not null)
        {
            rows = rows.Where(a => a.State == state);
        }

        var list = await rows.OrderByDescending(a => a.CreatedAt).ThenByDescending(a => a.Id)
            .Take(Math.Clamp(limit, 1, 10_000)).ToListAsync(cancellationToken).ConfigureAwait(false);
        return list.Select(WorkflowMapping.ToInfo).ToList();
    }

    /// <inheritdoc />
    public async Task<long> CountJournalEntriesAsync(string kindPrefix, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(kindPrefix);
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Set<WorkflowJournalEntity>().LongCountAsync(j => j.Kind.StartsWith(kindPrefix), cancellationToken).ConfigureAwait(false);
    }

    private static InstanceSummary ToSummary(WorkflowInstanceEntity e) => new(
        e.Id, e.WorkflowId, e.Version, Enum.Parse<InstanceState>(e.State), e.CorrelationKey,
        WorkflowMapping.ParseObject(e.InputJson), e.CreatedAt, e.UpdatedAt);
}
