namespace RuleFlow.Storage;

/// <summary>Which database engine backs the store.</summary>
public enum StoreProvider
{
    /// <summary>A SQLite file (the embedded default: <c>data/ruleflow.db</c> under the content root).</summary>
    Sqlite,

    /// <summary>PostgreSQL 15 or later, for scaled-out deployments.</summary>
    Postgres,
}

/// <summary>
/// Store settings, bound from the <c>RuleFlow:Store</c> configuration section
/// (environment: <c>RuleFlow__Store__Provider</c>, <c>RuleFlow__Store__ConnectionString</c>).
/// </summary>
public sealed class StoreOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "RuleFlow:Store";

    /// <summary>Database engine; default <see cref="StoreProvider.Sqlite"/>.</summary>
    public StoreProvider Provider { get; set; } = StoreProvider.Sqlite;

    /// <summary>
    /// ADO.NET connection string. For SQLite, empty means <c>Data Source=data/ruleflow.db</c> resolved against the
    /// content root; for PostgreSQL it is required (e.g. <c>Host=127.0.0.1;Port=5432;Database=ruleflow;Username=ruleflow</c>).
    /// </summary>
    public string? ConnectionString { get; set; }
}
