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
/// </remarks>
public sealed class RuleFlowDbContext(DbContextOptions<RuleFlowDbContext> options) : DbContext(options)
{
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
