using System.Net;
using Microsoft.EntityFrameworkCore;

namespace RuleFlow.Storage.Blocklist;

/// <summary>
/// The blocklist table. <see cref="Add"/> and <see cref="Remove"/> are idempotent (set semantics), so a script step
/// re-run after a crash changes nothing the first run already did. They are synchronous because script host
/// functions (Jint 2.10.4) are.
/// </summary>
public sealed class BlocklistStore(IDbContextFactory<RuleFlowDbContext> factory, TimeProvider timeProvider)
{
    /// <summary>Adds an address. Returns true when it was added, false when it was already there.</summary>
    /// <param name="ip">An IPv4 or IPv6 address (stored canonical).</param>
    /// <param name="reason">Why, or null.</param>
    /// <param name="addedBy">Who (a step's idempotency key or a user), or null.</param>
    /// <exception cref="ArgumentException"><paramref name="ip"/> is not an IP address.</exception>
    public bool Add(string ip, string? reason, string? addedBy)
    {
        var canonical = Canonical(ip);
        using var db = factory.CreateDbContext();
        if (db.Set<BlocklistEntry>().Any(e => e.Ip == canonical))
        {
            return false;
        }

        db.Add(new BlocklistEntry { Ip = canonical, Reason = reason, AddedBy = addedBy, AddedAt = timeProvider.GetUtcNow() });
        try
        {
            db.SaveChanges();
            return true;
        }
        catch (DbUpdateException e) when (DbErrors.IsUniqueViolation(e))
        {
            return false;
        }
    }

    /// <summary>Removes an address. Returns true when it was there.</summary>
    /// <exception cref="ArgumentException"><paramref name="ip"/> is not an IP address.</exception>
    public bool Remove(string ip)
    {
        var canonical = Canonical(ip);
        using var db = factory.CreateDbContext();
        return db.Set<BlocklistEntry>().Where(e => e.Ip == canonical).ExecuteDelete() > 0;
    }

    /// <summary>True when the address is on the list.</summary>
    /// <exception cref="ArgumentException"><paramref name="ip"/> is not an IP address.</exception>
    public bool Contains(string ip)
    {
        var canonical = Canonical(ip);
        using var db = factory.CreateDbContext();
        return db.Set<BlocklistEntry>().Any(e => e.Ip == canonical);
    }

    /// <summary>The whole list, ordered by address.</summary>
    public async Task<IReadOnlyList<BlocklistEntry>> ListAsync(CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        return await db.Set<BlocklistEntry>().AsNoTracking().OrderBy(e => e.Ip).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The canonical text of an IP address.</summary>
    /// <exception cref="ArgumentException">Not an IP address.</exception>
    public static string Canonical(string ip) =>
        IPAddress.TryParse(ip?.Trim(), out var address) && (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || ip!.Trim().Count(c => c == '.') == 3)
            ? address.ToString()
            : throw new ArgumentException($"'{ip}' is not an IPv4 or IPv6 address.", nameof(ip));
}
