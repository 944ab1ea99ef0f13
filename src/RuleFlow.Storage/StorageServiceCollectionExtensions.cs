using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace RuleFlow.Storage;

/// <summary>Registers the RuleFlow store (an <see cref="IDbContextFactory{TContext}"/> of <see cref="RuleFlowDbContext"/>).</summary>
public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// Adds a pooled <see cref="RuleFlowDbContext"/> factory for the configured provider and the
    /// <see cref="StoreInitializer"/> that creates the schema.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="options">Provider and connection string.</param>
    /// <param name="contentRoot">Directory a relative SQLite file path resolves against.</param>
    /// <returns>The same service collection.</returns>
    /// <exception cref="InvalidOperationException">PostgreSQL is selected without a connection string.</exception>
    public static IServiceCollection AddRuleFlowStorage(this IServiceCollection services, StoreOptions options, string contentRoot)
    {
        ArgumentNullException.ThrowIfNull(options);
        var connectionString = ResolveConnectionString(options, contentRoot);
        services.AddSingleton(options);
        services.AddPooledDbContextFactory<RuleFlowDbContext>(builder => Configure(builder, options.Provider, connectionString));
        services.AddSingleton<StoreInitializer>();
        services.AddSingleton<Ingest.EventJournal>();
        services.AddSingleton<Ingest.DeadLetterStore>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<Ingest.IngestBindingStore>();
        services.AddSingleton<Blocklist.BlocklistStore>();
        return services;
    }

    /// <summary>
    /// Returns the effective connection string: for SQLite, a relative <c>Data Source</c> is made absolute against
    /// <paramref name="contentRoot"/> and its directory is created.
    /// </summary>
    /// <exception cref="InvalidOperationException">PostgreSQL is selected without a connection string.</exception>
    public static string ResolveConnectionString(StoreOptions options, string contentRoot)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Provider == StoreProvider.Postgres)
        {
            return string.IsNullOrWhiteSpace(options.ConnectionString)
                ? throw new InvalidOperationException(
                    "RuleFlow:Store:Provider is Postgres but RuleFlow:Store:ConnectionString is empty; " +
                    "set it, e.g. RuleFlow__Store__ConnectionString='Host=127.0.0.1;Database=ruleflow;Username=ruleflow'.")
                : options.ConnectionString;
        }

        var builder = new SqliteConnectionStringBuilder(
            string.IsNullOrWhiteSpace(options.ConnectionString) ? "Data Source=data/ruleflow.db" : options.ConnectionString);
        if (!string.Equals(builder.DataSource, ":memory:", StringComparison.Ordinal) && !Path.IsPathRooted(builder.DataSource))
        {
            builder.DataSource = Path.GetFullPath(Path.Combine(contentRoot, builder.DataSource));
        }

        var directory = Path.GetDirectoryName(builder.DataSource);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        builder.Pooling = true;
        builder.DefaultTimeout = 30;
        return builder.ToString();
    }

    /// <summary>Applies the provider to a context options builder.</summary>
    public static void Configure(DbContextOptionsBuilder builder, StoreProvider provider, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(builder);
        _ = provider switch
        {
            StoreProvider.Postgres => builder.UseNpgsql(connectionString),
            _ => builder.UseSqlite(connectionString).AddInterceptors(new SqlitePragmas()),
        };
    }
}
