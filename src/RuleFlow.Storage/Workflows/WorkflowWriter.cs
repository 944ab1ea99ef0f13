using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace RuleFlow.Storage.Workflows;

/// <summary>
/// A write the <see cref="WorkflowWriter"/> performs inside a transaction, in two phases: the statements of
/// <see cref="Phase1"/> (an instance UPDATE checked against its revision, or an INSERT that may find a duplicate) run
/// first; their affected-row counts decide what <see cref="Phase2"/> writes (nothing, when the revision changed) and what
/// the caller gets back (<see cref="Result"/>).
/// </summary>
internal abstract class WriteJob
{
    /// <summary>Completed with <see cref="Result"/> once the transaction holding this job is durable, or failed with the error.</summary>
    public TaskCompletionSource<object?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Statements whose affected-row counts decide the rest.</summary>
    public virtual void Phase1(SqlDialect dialect, List<SqlStatement> statements)
    {
    }

    /// <summary>The remaining statements, given this job's phase-1 counts.</summary>
    public abstract void Phase2(SqlDialect dialect, ReadOnlySpan<int> phase1, List<SqlStatement> statements);

    /// <summary>What the caller gets once durable.</summary>
    public abstract object? Result(ReadOnlySpan<int> phase1);
}

/// <summary>
/// The single writer of the workflow tables (group commit). Callers (instance steps, starts, outbox marks …) hand it a
/// <see cref="WriteJob"/> and wait; one task takes every job that is waiting, up to the batch limit, and writes them in
/// ONE transaction on one long-lived connection, then completes each caller. While a transaction is being written new
/// jobs queue up, so the batch grows with the load and a lone caller pays for a transaction of its own, never a timer.
/// On SQLite this also means the workflow writes never wait for each other on the file's single write lock.
/// </summary>
/// <remarks>
/// A failure (an error other than a revision conflict, which only affects its own job) rolls the batch back and writes
/// its jobs again one transaction each, so the job at fault gets the error and the others are written.
/// With <c>maxBatch = 1</c> every job is its own transaction (the "one commit per step" mode of the benchmark).
/// </remarks>
internal sealed partial class WorkflowWriter : IAsyncDisposable
{
    private readonly Channel<WriteJob> queue = Channel.CreateUnbounded<WriteJob>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SqlDialect dialect;
    private readonly int maxBatch;
    private readonly ILogger logger;
    private readonly Task loop;
    private long transactions;
    private long jobs;

    public WorkflowWriter(SqlDialect dialect, int maxBatch, ILogger logger)
    {
        this.dialect = dialect;
        this.maxBatch = Math.Max(1, maxBatch);
        this.logger = logger;
        loop = Task.Run(RunAsync);
    }

    /// <summary>Transactions committed so far.</summary>
    public long Transactions => Interlocked.Read(ref transactions);

    /// <summary>Jobs written so far.</summary>
    public long Jobs => Interlocked.Read(ref jobs);

    /// <summary>Queues <paramref name="job"/> and waits until it is durable; returns its result.</summary>
    /// <exception cref="ObjectDisposedException">The writer was disposed.</exception>
    public async Task<object?> WriteAsync(WriteJob job, CancellationToken cancellationToken)
    {
        if (!queue.Writer.TryWrite(job))
        {
            throw new ObjectDisposedException(nameof(WorkflowWriter), "the workflow store is closed");
        }

        return await job.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        var batch = new List<WriteJob>(maxBatch);
        while (await queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < maxBatch && queue.Reader.TryRead(out var job))
            {
                batch.Add(job);
            }

            if (batch.Count == 0)
            {
                continue;
            }

            try
            {
                var results = await WriteInTransactionAsync(batch).ConfigureAwait(false);
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Done.TrySetResult(results[i]);
                }
            }
            catch (Exception batchError)
            {
                await dialect.AbandonAsync().ConfigureAwait(false);
                if (batch.Count == 1)
                {
                    LogWriteFailed(batchError, 1);
                    batch[0].Done.TrySetException(batchError);
                    continue;
                }

                LogBatchRetried(batchError, batch.Count);
                foreach (var job in batch)
                {
                    try
                    {
                        var result = await WriteInTransactionAsync([job]).ConfigureAwait(false);
                        job.Done.TrySetResult(result[0]);
                    }
                    catch (Exception error)
                    {
                        await dialect.AbandonAsync().ConfigureAwait(false);
                        LogWriteFailed(error, 1);
                        job.Done.TrySetException(error);
                    }
                }
            }
        }
    }

    private async Task<object?[]> WriteInTransactionAsync(IReadOnlyList<WriteJob> batch)
    {
        await dialect.EnsureOpenAsync(CancellationToken.None).ConfigureAwait(false);
        await dialect.BeginAsync(CancellationToken.None).ConfigureAwait(false);
        var phase1 = new List<SqlStatement>();
        var starts = new int[batch.Count + 1];
        for (var i = 0; i < batch.Count; i++)
        {
            starts[i] = phase1.Count;
            batch[i].Phase1(dialect, phase1);
        }

        starts[batch.Count] = phase1.Count;
        var rows = await dialect.ExecuteAsync(phase1, CancellationToken.None).ConfigureAwait(false);
        var phase2 = new List<SqlStatement>();
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Phase2(dialect, rows.AsSpan(starts[i], starts[i + 1] - starts[i]), phase2);
        }

        await dialect.ExecuteAsync(phase2, CancellationToken.None).ConfigureAwait(false);
        await dialect.CommitAsync(CancellationToken.None).ConfigureAwait(false);
        Interlocked.Increment(ref transactions);
        Interlocked.Add(ref jobs, batch.Count);
        var results = new object?[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            results[i] = batch[i].Result(rows.AsSpan(starts[i], starts[i + 1] - starts[i]));
        }

        return results;
    }

    /// <summary>Stops taking jobs, writes what is queued and closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        queue.Writer.TryComplete();
        await loop.ConfigureAwait(false);
        await dialect.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Workflow store: a group commit of {Jobs} writes failed; writing them one by one")]
    private partial void LogBatchRetried(Exception exception, int jobs);

    [LoggerMessage(Level = LogLevel.Error, Message = "Workflow store: a write failed ({Jobs} job)")]
    private partial void LogWriteFailed(Exception exception, int jobs);
}
