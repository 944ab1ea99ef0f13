using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace RuleFlow.Storage.Workflows;

/// <summary>
/// One SQL statement with its arguments. The text uses <c>$1 … $n</c> placeholders and double-quoted identifiers, which
/// both SQLite (named parameters <c>$1</c>…) and PostgreSQL (positional parameters) accept. Arguments are already in
/// their column representation (see <see cref="SqlDialect.Id(Guid)"/>; times as Unix milliseconds).
/// </summary>
internal readonly record struct SqlStatement(string Text, object?[] Args);

/// <summary>
/// The provider-specific part of the workflow writer: one long-lived connection, transactions, and the execution of a
/// list of statements returning each one's affected-row count. SQLite executes prepared, cached commands one by one
/// (in process, no round trips); PostgreSQL sends the whole list as one <see cref="NpgsqlBatch"/> (one round trip).
/// Not thread-safe: only the writer task uses it.
/// </summary>
internal abstract class SqlDialect : IAsyncDisposable
{
    /// <summary>A dialect for the provider named by EF Core.</summary>
    public static SqlDialect For(bool postgres, string connectionString) =>
        postgres ? new PostgresDialect(connectionString) : new SqliteDialect(connectionString);

    /// <summary>True for PostgreSQL.</summary>
    public abstract bool IsPostgres { get; }

    /// <summary>How a GUID is stored: upper-case text on SQLite (as EF Core writes it), <c>uuid</c> on PostgreSQL.</summary>
    public abstract object Id(Guid id);

    /// <summary>A nullable GUID as stored, or <see cref="DBNull"/>.</summary>
    public object Id(Guid? id) => id is { } value ? Id(value) : DBNull.Value;

    /// <summary>Opens the connection when it is not open.</summary>
    public abstract Task EnsureOpenAsync(CancellationToken cancellationToken);

    /// <summary>Begins a write transaction (SQLite: <c>BEGIN IMMEDIATE</c>, taking the write lock at once).</summary>
    public abstract Task BeginAsync(CancellationToken cancellationToken);

    /// <summary>Commits the transaction: once this returns, the writes are durable (SQLite WAL with synchronous=NORMAL: against a process crash).</summary>
    public abstract Task CommitAsync(CancellationToken cancellationToken);

    /// <summary>Rolls back and closes the connection (the next batch opens a fresh one).</summary>
    public abstract Task AbandonAsync();

    /// <summary>Executes the statements in order inside the transaction; returns each one's affected rows.</summary>
    public abstract Task<int[]> ExecuteAsync(IReadOnlyList<SqlStatement> statements, CancellationToken cancellationToken);

    /// <inheritdoc />
    public abstract ValueTask DisposeAsync();

    private sealed class SqliteDialect(string connectionString) : SqlDialect
    {
        private readonly Dictionary<string, SqliteCommand> commands = new(StringComparer.Ordinal);
        private SqliteConnection? connection;
        private SqliteTransaction? transaction;

        public override bool IsPostgres => false;

        public override object Id(Guid id) => id.ToString("D").ToUpperInvariant();

        public override async Task EnsureOpenAsync(CancellationToken cancellationToken)
        {
            if (connection is not null)
            {
                return;
            }

            var open = new SqliteConnection(connectionString);
            await open.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using (var pragmas = open.CreateCommand())
            {
                pragmas.CommandText = "PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;";
                await pragmas.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            connection = open;
        }

        public override Task BeginAsync(CancellationToken cancellationToken)
        {
            transaction = connection!.BeginTransaction(deferred: false);
            return Task.CompletedTask;
        }

        public override Task CommitAsync(CancellationToken cancellationToken)
        {
            transaction!.Commit();
            transaction.Dispose();
            transaction = null;
            return Task.CompletedTask;
        }

        public override async Task AbandonAsync()
        {
            try
            {
                transaction?.Rollback();
            }
            catch (SqliteException)
            {
                // The connection is dropped below anyway.
            }
            catch (InvalidOperationException)
            {
            }

            transaction?.Dispose();
            transaction = null;
            await DisposeAsync().ConfigureAwait(false);
        }

        public override Task<int[]> ExecuteAsync(IReadOnlyList<SqlStatement> statements, CancellationToken cancellationToken)
        {
            var rows = new int[statements.Count];
            for (var i = 0; i < statements.Count; i++)
            {
                var statement = statements[i];
                if (!commands.TryGetValue(statement.Text, out var command))
                {
                    command = connection!.CreateCommand();
                    command.CommandText = statement.Text;
                    for (var p = 1; p <= statement.Args.Length; p++)
                    {
                        command.Parameters.Add(new SqliteParameter("$" + p.ToString(System.Globalization.CultureInfo.InvariantCulture), null));
                    }

                    commands[statement.Text] = command;
                }

                command.Transaction = transaction;
                for (var p = 0; p < statement.Args.Length; p++)
                {
                    command.Parameters[p].Value = statement.Args[p] ?? DBNull.Value;
                }

                rows[i] = command.ExecuteNonQuery();
            }

            return Task.FromResult(rows);
        }

        public override ValueTask DisposeAsync()
        {
            foreach (var command in commands.Values)
            {
                command.Dispose();
            }

            commands.Clear();
            transaction?.Dispose();
            transaction = null;
            connection?.Dispose();
            connection = null;
            return ValueTask.CompletedTask;
        }
    }

    private sealed class PostgresDialect(string connectionString) : SqlDialect
    {
        // The writer runs the same few statements all the time: let Npgsql prepare them on the server (parsed and planned once).
        private readonly string writerConnectionString = new NpgsqlConnectionStringBuilder(connectionString)
        {
            MaxAutoPrepare = Math.Max(32, new NpgsqlConnectionStringBuilder(connectionString).MaxAutoPrepare),
            AutoPrepareMinUsages = 2,
        }.ConnectionString;

        private NpgsqlConnection? connection;
        private NpgsqlTransaction? transaction;

        public override bool IsPostgres => true;

        public override object Id(Guid id) => id;

        public override async Task EnsureOpenAsync(CancellationToken cancellationToken)
        {
            if (connection is not null)
            {
                return;
            }

            var open = new NpgsqlConnection(writerConnectionString);
            await open.OpenAsync(cancellationToken).ConfigureAwait(false);
            connection = open;
        }

        public override async Task BeginAsync(CancellationToken cancellationToken) =>
            transaction = await connection!.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        public override async Task CommitAsync(CancellationToken cancellationToken)
        {
            await transaction!.CommitAsync(cancellationToken).ConfigureAwait(false);
            await transaction.DisposeAsync().ConfigureAwait(false);
            transaction = null;
        }

        public override async Task AbandonAsync()
        {
            try
            {
                if (transaction is not null)
                {
                    await transaction.RollbackAsync().ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
            {
                // The connection is dropped below anyway.
            }

            await DisposeAsync().ConfigureAwait(false);
        }

        public override async Task<int[]> ExecuteAsync(IReadOnlyList<SqlStatement> statements, CancellationToken cancellationToken)
        {
            if (statements.Count == 0)
            {
                return [];
            }

            await using var batch = new NpgsqlBatch(connection, transaction);
            foreach (var statement in statements)
            {
                var command = new NpgsqlBatchCommand(statement.Text);
                foreach (var arg in statement.Args)
                {
                    command.Parameters.Add(new NpgsqlParameter { Value = arg ?? DBNull.Value });
                }

                batch.BatchCommands.Add(command);
            }

            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            var rows = new int[statements.Count];
            for (var i = 0; i < rows.Length; i++)
            {
                rows[i] = batch.BatchCommands[i].RecordsAffected;
            }

            return rows;
        }

        public override async ValueTask DisposeAsync()
        {
            if (transaction is not null)
            {
                await transaction.DisposeAsync().ConfigureAwait(false);
                transaction = null;
            }

            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                connection = null;
            }
        }
    }
}

/// <summary>Opens short-lived read connections for the hot reads the writer does not serve.</summary>
internal sealed class SqlReader(bool postgres, string connectionString) : IAsyncDisposable
{
    private readonly NpgsqlDataSource? dataSource = postgres ? NpgsqlDataSource.Create(connectionString) : null;

    /// <summary>An open connection (pooled); dispose it after use.</summary>
    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        if (dataSource is not null)
        {
            return await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }

        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => dataSource?.DisposeAsync() ?? ValueTask.CompletedTask;
}
