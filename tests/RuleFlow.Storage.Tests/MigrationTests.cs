using Microsoft.EntityFrameworkCore;
using RuleFlow.Storage.Blocklist;
using RuleFlow.Storage.Migrations;

namespace RuleFlow.Storage.Tests;

/// <summary>
/// The schema comes from EF Core migrations on both providers: a new database is migrated, a second start applies
/// nothing, the migrations match the model (a model change without a migration fails here), and a database created
/// before migrations (by EnsureCreated, with the schema the first migration makes) is taken over with its data and migrated on.
/// </summary>
public sealed class MigrationTests
{
    [Theory]
    [InlineData(StoreProvider.Sqlite)]
    [InlineData(StoreProvider.Postgres)]
    public async Task A_new_database_is_migrated_once(StoreProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider, initialize: false);
        var initializer = store.Get<StoreInitializer>();

        var first = await initializer.InitializeAsync(CancellationToken.None);
        var second = await initializer.InitializeAsync(CancellationToken.None);

        await using var db = await store.Factory.CreateDbContextAsync();
        var applied = (await db.Database.GetAppliedMigrationsAsync()).ToList();
        Assert.NotEmpty(first);
        Assert.Equal(first, applied);
        Assert.Contains(applied, id => id.EndsWith("_InitialCreate", StringComparison.Ordinal));
        Assert.Empty(second);

        // the migrated schema is usable by the application's context
        var blocklist = store.Get<BlocklistStore>();
        Assert.True(blocklist.Add("192.0.2.7", "migration test", "test"));
        Assert.Contains(await blocklist.ListAsync(CancellationToken.None), e => e.Ip == "192.0.2.7");
    }

    [Theory]
    [InlineData(StoreProvider.Sqlite)]
    [InlineData(StoreProvider.Postgres)]
    public void The_migrations_match_the_model(StoreProvider provider)
    {
        using var db = MigrationContextOptions.Create(provider,
            provider == StoreProvider.Postgres ? "Host=127.0.0.1;Database=unused" : "Data Source=:memory:");
        Assert.False(db.Database.HasPendingModelChanges(),
            $"The model changed without a migration for {provider}: run dotnet ef migrations add (see docs/operations.md, 'Schema migrations').");
    }

    [Theory]
    [InlineData(StoreProvider.Sqlite)]
    [InlineData(StoreProvider.Postgres)]
    public async Task A_database_created_before_migrations_is_taken_over_with_its_data(StoreProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider, initialize: false);
        string[] all;
        await using (var legacy = await store.Factory.CreateDbContextAsync())
        {
            // The schema of that time, which the first migration creates exactly, and no migrations history.
            var connection = legacy.Database.GetDbConnection().ConnectionString;
            await using var migrations = MigrationContextOptions.Create(provider, connection);
            all = [.. migrations.Database.GetMigrations()];
            await migrations.Database.MigrateAsync(all[0]);
            await migrations.Database.ExecuteSqlRawAsync("DROP TABLE \"__EFMigrationsHistory\"");
        }

        var blocklist = store.Get<BlocklistStore>();
        Assert.True(blocklist.Add("198.51.100.9", "before migrations", "test"));

        var applied = await store.Get<StoreInitializer>().InitializeAsync(CancellationToken.None);

        Assert.Equal(all[1..], applied); // baselined at the first migration, the later ones applied
        await using var db = await store.Factory.CreateDbContextAsync();
        Assert.Equal(all, await db.Database.GetAppliedMigrationsAsync());
        Assert.Empty(await db.Database.GetPendingMigrationsAsync());
        Assert.Contains(await blocklist.ListAsync(CancellationToken.None), e => e.Ip == "198.51.100.9");
    }
}
