using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace RuleFlow.Storage;

/// <summary>
/// Sets the per-connection SQLite pragmas on every connection EF Core opens: <c>synchronous=NORMAL</c> (in WAL mode a
/// commit survives a process crash; only a power loss may lose the last commits), <c>busy_timeout</c> 30 s and
/// <c>foreign_keys</c>. <c>journal_mode=WAL</c> is persistent in the file and set once by <see cref="StoreInitializer"/>.
/// A pragma lasts as long as the native handle, which Microsoft.Data.Sqlite pools: it runs once per handle.
/// </summary>
internal sealed class SqlitePragmas : DbConnectionInterceptor
{
    private const string Pragmas = "PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;";
    private readonly ConditionalWeakTable<object, object> _configured = [];

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        if (NeedsPragmas(connection))
        {
            using var command = connection.CreateCommand();
            command.CommandText = Pragmas;
            command.ExecuteNonQuery();
        }
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        if (NeedsPragmas(connection))
        {
            await using var command = connection.CreateCommand();
            command.CommandText = Pragmas;
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private bool NeedsPragmas(DbConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (connection is not SqliteConnection { Handle: { } handle })
        {
            return true;
        }

        var marker = new object();
        return ReferenceEquals(_configured.GetValue(handle, _ => marker), marker);
    }
}
