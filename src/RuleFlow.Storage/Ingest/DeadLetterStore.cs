using Microsoft.EntityFrameworkCore;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Storage.Ingest;

/// <summary>Records of refused messages (see <see cref="DeadLetter"/>).</summary>
public sealed class DeadLetterStore(IDbContextFactory<RuleFlowDbContext> factory)
{
    /// <summary>Appends a record.</summary>
    /// <exception cref="DbUpdateException">The store failed.</exception>
    public async Task AddAsync(DeadLetter deadLetter, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        db.Add(deadLetter);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Records, newest first.</summary>
    /// <param name="code">Reason code filter, or null.</param>
    /// <param name="page">1-based page.</param>
    /// <param name="pageSize">Items per page (1..500).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    public async Task<Page<DeadLetter>> ListAsync(string? code, int page, int pageSize, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var query = db.Set<DeadLetter>().AsNoTracking();
        if (!string.IsNullOrEmpty(code))
        {
            query = query.Where(d => d.Code == code);
        }

        var total = await query.CountAsync(cancellationToken).ConfigureAwait(false);
        var items = await query.OrderByDescending(d => d.Id).Skip((page - 1) * pageSize).Take(pageSize)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return new Page<DeadLetter>(items, total);
    }
}
