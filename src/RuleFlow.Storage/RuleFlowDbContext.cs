using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace RuleFlow.Storage;

/// <summary>
/// The one EF Core context of RuleFlow (SQLite or PostgreSQL). Entity mappings live next to their entities as
/// <see cref="IEntityTypeConfiguration{TEntity}"/> classes and are picked up from this assembly, so each area
/// (ingest, rules, workflows) owns its own files.
/// </summary>
/// <remarks>
/// Every <see cref="DateTimeOffset"/> is stored as a 64-bit count of Unix milliseconds (UTC): it orders and compares
/// the same way on both providers (SQLite has no native timestamp type). Precision is therefore 1 ms.
/// <para>
/// The schema is created and upgraded by EF Core migrations, one set per provider (SQL differs): those of
/// <see cref="Migrations.SqliteMigrationContext"/> in <c>Migrations/Sqlite</c> and of
/// <see cref="Migrations.PostgresMigrationContext"/> in <c>Migrations/Postgres</c>. Both derived types add nothing to the
/// model; they only give each migration set its own context type. <see cref="StoreInitializer"/> applies them at start.
/// </para>
/// </remarks>
public class RuleFlowDbContext : DbContext
{
    /// <summary>Creates the context the application uses (through the pooled factory).</summary>
    /// <param name="options">Provider and connection, see <see cref="StorageServiceCollectionExtensions.Configure"/>.</param>
    public RuleFlowDbContext(DbContextOptions<RuleFlowDbContext> options)
        : base(options)
    {
    }

    /// <summary>Creates a provider-specific context for migrations.</summary>
    /// <param name="options">Options of the derived type.</param>
    protected RuleFlowDbContext(DbContextOptions options)
        : base(options)
    {
    }

    /// <inheritdoc />
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(RuleFlowDbContext).Assembly);
    }

    /// <inheritdoc />
    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        ArgumentNullException.ThrowIfNull(configurationBuilder);
        configurationBuilder.Properties<DateTimeOffset>().HaveConversion<UnixMillisecondsConverter>();
        configurationBuilder.Properties<DateTimeOffset?>().HaveConversion<UnixMillisecondsConverter>();
    }

    /// <summary>Stores a <see cref="DateTimeOffset"/> as Unix milliseconds (UTC); reads it back with offset zero.</summary>
    internal sealed class UnixMillisecondsConverter() : ValueConverter<DateTimeOffset, long>(
        v => v.ToUnixTimeMilliseconds(),
        v => DateTimeOffset.FromUnixTimeMilliseconds(v));
}
