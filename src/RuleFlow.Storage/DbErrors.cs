using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace RuleFlow.Storage;

/// <summary>Provider-neutral classification of database errors.</summary>
public static class DbErrors
{
    /// <summary>
    /// True when <paramref name="exception"/> is a unique-constraint violation
    /// (SQLite error 19 / extended 2067 or 1555; PostgreSQL SQLSTATE 23505).
    /// </summary>
    public static bool IsUniqueViolation(DbUpdateException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception.InnerException switch
        {
            SqliteException sqlite => sqlite.SqliteErrorCode == 19 && sqlite.SqliteExtendedErrorCode is 2067 or 1555,
            PostgresException postgres => postgres.SqlState == PostgresErrorCodes.UniqueViolation,
            _ => false,
        };
    }

    /// <summary>
    /// True when the failure is the store being unavailable or busy (locked SQLite file, lost PostgreSQL connection,
    /// I/O error): the operation may succeed if retried later. False for errors retrying cannot fix.
    /// </summary>
    public static bool IsTransient(Exception exception) => exception switch
    {
        DbUpdateException { InnerException: { } inner } => IsTransient(inner),
        SqliteException sqlite => sqlite.SqliteErrorCode is 5 or 6 or 10 or 13 or 14, // BUSY, LOCKED, IOERR, FULL, CANTOPEN
        NpgsqlException npgsql => npgsql.IsTransient,
        TimeoutException => true,
        InvalidOperationException { InnerException: { } inner } => IsTransient(inner),
        _ => false,
    };
}
