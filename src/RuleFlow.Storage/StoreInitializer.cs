using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RuleFlow.Storage.Migrations;

namespace RuleFlow.Storage;

/// <summary>
/// Brings the database schema up to date with EF Core migrations (one set per provider, see
/// <see cref="RuleFlowDbContext"/>) and sets SQLite to write-ahead logging (readers do not block the writer). The
/// per-connection pragmas (<c>synchronous=NORMAL</c>, busy timeout) are set on every connection by
/// <see cref="SqlitePragmas"/>.
/// </summary>
/// <remarks>
/// A database created before migrations existed (by <c>EnsureCreated</c>: RuleFlow's tables but no
/// <c>__EFMigrationsHistory</c>) is taken as being at the first migration, which creates exactly that schema; the later
/// migrations are then applied to it. Several processes starting at once on one PostgreSQL database are serialized by
/// EF Core's migration lock.
/// </remarks>
public sealed class StoreInitializer(
    IDbContextFactory<RuleFlowDbContext> factory,
    StoreOptions options,
    ILogger<StoreInitializer>? logger = null)
{
    /// <summary>The table whose presence, without a migrations history, marks a database created before migrations.</summary>
    private const string MarkerTable = "wf_instances";

    private readonly ILogger log = logger ?? NullLogger<StoreInitializer>.Instance;

    /// <summary>Applies every pending migration. Safe to call on every start.</summary>
    /// <param name="cancellationToken">Cancels the migration (a migration in progress is rolled back).</param>
    /// <returns>The ids of the migrations applied now (empty when the schema was up to date).</returns>
    /// <exception cref="Microsoft.Data.Sqlite.SqliteException">The SQLite file cannot be opened or written.</exception>
    /// <exception cref="Npgsql.NpgsqlException">PostgreSQL is unreachable or refuses the connection.</exception>
    public async Task<IReadOnlyList<string>> InitializeAsync(CancellationToken cancellationToken)
    {
        string connectionString;
        await using (var app = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false))
        {
            connectionString = app.Database.GetConnectionString()
                ?? throw new InvalidOperationException("The RuleFlow store has no connection string.");
        }

        await using var db = MigrationContextOptions.Create(options.Provider, connectionString);
        if (options.Provider == StoreProvider.Sqlite)
        {
            await db.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken).ConfigureAwait(false); // persistent in the file
        }

        await BaselineIfCreatedWithoutMigrationsAsync(db, cancellationToken).ConfigureAwait(false);
        var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken).ConfigureAwait(false)).ToList();
        if (pending.Count > 0)
        {
            log.LogInformation("Applying {Count} schema migration(s) to the {Provider} store: {Migrations}",
                pending.Count, options.Provider, string.Join(", ", pending));
            await db.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
        }

        return pending;
    }

    private async Task BaselineIfCreatedWithoutMigrationsAsync(RuleFlowDbContext db, CancellationToken cancellationToken)
    {
        var history = db.GetService<IHistoryRepository>();
        // not IHistoryRepository.ExistsAsync: Npgsql's answers true when the database exists without the history table
        if (await TableExistsAsync(db, HistoryRepository.DefaultTableName, cancellationToken).ConfigureAwait(false)
            || !await TableExistsAsync(db, MarkerTable, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        var first = db.Database.GetMigrations().First();
        log.LogWarning(
            "The {Provider} store has RuleFlow's tables but no migrations history (created before migrations); " +
            "recording it as at migration {Migration} and applying the later ones", options.Provider, first);
        var productVersion = typeof(DbContext).Assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion.Split('+')[0] ?? "10.0.0";
        var sql = history.GetCreateIfNotExistsScript() + ";\n" + history.GetInsertScript(new HistoryRow(first, productVersion));
#pragma warning disable EF1002 // the SQL is EF Core's own history script, no user input
        await db.Database.ExecuteSqlRawAsync(sql, cancellationToken).ConfigureAwait(false);
#pragma warning restore EF1002
    }

    private async Task<bool> TableExistsAsync(RuleFlowDbContext db, string table, CancellationToken cancellationToken)
    {
        var connection = db.Database.GetDbConnection();
        var opened = connection.State != System.Data.ConnectionState.Open;
        if (opened)
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await using var command = connection.CreateCommand();
            command.CommandText = options.Provider == StoreProvider.Postgres
                ? "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = @name"
                : "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = @name";
            var parameter = command.CreateParameter();
            parameter.ParameterName = "@name";
            parameter.Value = table;
            command.Parameters.Add(parameter);
            return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture) > 0;
        }
        finally
        {
            if (opened)
            {
                await connection.CloseAsync().ConfigureAwait(false);
            }
        }
    }
}
