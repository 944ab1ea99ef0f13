using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace RuleFlow.Storage.Migrations;

/// <summary>
/// The SQLite migration set's context: the model of <see cref="RuleFlowDbContext"/>, nothing added. Migrations in
/// <c>Migrations/Sqlite</c> are generated against it:
/// <c>dotnet ef migrations add NAME --project src/RuleFlow.Storage --context SqliteMigrationContext --output-dir Migrations/Sqlite</c>.
/// </summary>
public sealed class SqliteMigrationContext(DbContextOptions<SqliteMigrationContext> options) : RuleFlowDbContext(options);

/// <summary>
/// The PostgreSQL migration set's context: the model of <see cref="RuleFlowDbContext"/>, nothing added. Migrations in
/// <c>Migrations/Postgres</c> are generated against it:
/// <c>dotnet ef migrations add NAME --project src/RuleFlow.Storage --context PostgresMigrationContext --output-dir Migrations/Postgres</c>.
/// </summary>
public sealed class PostgresMigrationContext(DbContextOptions<PostgresMigrationContext> options) : RuleFlowDbContext(options);

/// <summary>Lets <c>dotnet ef</c> create <see cref="SqliteMigrationContext"/> at design time (no database is opened).</summary>
public sealed class SqliteMigrationContextFactory : IDesignTimeDbContextFactory<SqliteMigrationContext>
{
    /// <inheritdoc />
    public SqliteMigrationContext CreateDbContext(string[] args) =>
        new(MigrationContextOptions.For<SqliteMigrationContext>(StoreProvider.Sqlite, "Data Source=design-time.db"));
}

/// <summary>Lets <c>dotnet ef</c> create <see cref="PostgresMigrationContext"/> at design time (no database is opened).</summary>
public sealed class PostgresMigrationContextFactory : IDesignTimeDbContextFactory<PostgresMigrationContext>
{
    /// <inheritdoc />
    public PostgresMigrationContext CreateDbContext(string[] args) =>
        new(MigrationContextOptions.For<PostgresMigrationContext>(StoreProvider.Postgres, "Host=127.0.0.1;Database=design_time"));
}

/// <summary>Builds the options of a migration context with the same provider set-up as the application's.</summary>
public static class MigrationContextOptions
{
    /// <summary>Options for <typeparamref name="TContext"/> on <paramref name="provider"/>.</summary>
    public static DbContextOptions<TContext> For<TContext>(StoreProvider provider, string connectionString)
        where TContext : DbContext
    {
        var builder = new DbContextOptionsBuilder<TContext>();
        StorageServiceCollectionExtensions.Configure(builder, provider, connectionString);
        return builder.Options;
    }

    /// <summary>A migration context for <paramref name="provider"/> on <paramref name="connectionString"/>.</summary>
    public static RuleFlowDbContext Create(StoreProvider provider, string connectionString) => provider switch
    {
        StoreProvider.Postgres => new PostgresMigrationContext(For<PostgresMigrationContext>(provider, connectionString)),
        _ => new SqliteMigrationContext(For<SqliteMigrationContext>(provider, connectionString)),
    };
}
