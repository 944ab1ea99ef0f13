using Microsoft.EntityFrameworkCore;

namespace RuleFlow.Storage;

/// <summary>
/// Creates the schema when the database is new and sets SQLite to write-ahead logging (readers do not block the
/// writer). The per-connection pragmas (<c>synchronous=NORMAL</c>, busy timeout) are set on every connection by
/// <see cref="SqlitePragmas"/>.
/// </summary>
public sealed class StoreInitializer(IDbContextFactory<RuleFlowDbContext> factory, StoreOptions options)
{
    /// <summary>Creates the schema if missing. Safe to call on every start.</summary>
    /// <exception cref="Microsoft.Data.Sqlite.SqliteException">The SQLite file cannot be opened or written.</exception>
    /// <exception cref="Npgsql.NpgsqlException">PostgreSQL is unreachable or refuses the connection.</exception>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        if (options.Provider == StoreProvider.Sqlite)
        {
            await db.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken).ConfigureAwait(false); // persistent in the file
        }

        await db.Database.EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
    }
}
