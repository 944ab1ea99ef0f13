using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace RuleFlow.Storage.Tests;

/// <summary>
/// A fresh, real store for one test: a SQLite file in a temporary directory, or a new database on the PostgreSQL
/// server that tools/test.sh starts (RULEFLOW_TEST_POSTGRES). Dropped on dispose.
/// </summary>
public sealed class TestStore : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly Func<Task> _cleanup;

    private TestStore(ServiceProvider services, Func<Task> cleanup)
    {
        _services = services;
        _cleanup = cleanup;
    }

    public IServiceProvider Services => _services;

    public StoreProvider Provider => _services.GetRequiredService<StoreOptions>().Provider;

    public IDbContextFactory<RuleFlowDbContext> Factory => _services.GetRequiredService<IDbContextFactory<RuleFlowDbContext>>();

    public T Get<T>() where T : notnull => _services.GetRequiredService<T>();

    public static async Task<TestStore> CreateAsync(StoreProvider provider, bool initialize = true)
    {
        StoreOptions options;
        Func<Task> cleanup;
        if (provider == StoreProvider.Sqlite)
        {
            var directory = Directory.CreateTempSubdirectory("ruleflow-store-");
            options = new StoreOptions { Provider = StoreProvider.Sqlite, ConnectionString = $"Data Source={Path.Combine(directory.FullName, "ruleflow.db")}" };
            cleanup = () =>
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                directory.Delete(recursive: true);
                return Task.CompletedTask;
            };
        }
        else
        {
            var server = Environment.GetEnvironmentVariable("RULEFLOW_TEST_POSTGRES")
                ?? throw new InvalidOperationException(
                    "RULEFLOW_TEST_POSTGRES is not set: run the tests through tools/test.sh, which starts PostgreSQL on 127.0.0.1");
            var name = "ruleflow_test_" + Guid.NewGuid().ToString("N")[..12];
            await using (var connection = new NpgsqlConnection(server))
            {
                await connection.OpenAsync();
                await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
                await create.ExecuteNonQueryAsync();
            }

            options = new StoreOptions { Provider = StoreProvider.Postgres, ConnectionString = new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString };
            cleanup = async () =>
            {
                NpgsqlConnection.ClearAllPools();
                await using var connection = new NpgsqlConnection(server);
                await connection.OpenAsync();
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", connection);
                await drop.ExecuteNonQueryAsync();
            };
        }

        var services = new ServiceCollection();
        services.AddSingleton(TimeProvider.System);
        services.AddRuleFlowStorage(options, AppContext.BaseDirectory);
        var provider1 = services.BuildServiceProvider();
        if (initialize)
        {
            await provider1.GetRequiredService<StoreInitializer>().InitializeAsync(CancellationToken.None);
        }
        return new TestStore(provider1, cleanup);
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        await _cleanup();
    }
}
