using System.Threading.Channels;

namespace RuleFlow.Workflows.Runtime;

/// <summary>
/// Group commit: step commits of many instances that arrive while a transaction is being written are written together in
/// the next one (<see cref="IWorkflowStore.CommitBatchAsync"/>). Each caller still waits until ITS commit is durable before
/// it runs anything else, so no side effect of an instance starts before the state before it is committed.
/// With <c>enabled = false</c> every commit is its own transaction.
/// </summary>
internal sealed class GroupCommitter(IWorkflowStore store, int maxBatch, bool enabled)
{
    private readonly Channel<(InstanceCommit Commit, TaskCompletionSource<int> Done)> pending =
        Channel.CreateUnbounded<(InstanceCommit, TaskCompletionSource<int>)>(new UnboundedChannelOptions { SingleReader = true });
    private int writing;
    private long transactions;

    /// <summary>Database transactions written so far.</summary>
    public long Transactions => Interlocked.Read(ref transactions);

    /// <summary>Commits <paramref name="commit"/> (alone or with others) and returns the instance's new revision.</summary>
    /// <exception cref="WorkflowConcurrencyException">The instance's revision changed.</exception>
    public async Task<int> CommitAsync(InstanceCommit commit, CancellationToken cancellationToken)
    {
        if (!enabled || commit.NewInstances.Count > 0)
        {
            Interlocked.Increment(ref transactions);
            return await store.CommitAsync(commit, cancellationToken).ConfigureAwait(false);
        }

        var done = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        pending.Writer.TryWrite((commit, done));
        if (Interlocked.CompareExchange(ref writing, 1, 0) == 0)
        {
            _ = Task.Run(DrainAsync, CancellationToken.None);
        }

        return await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task DrainAsync()
    {
        while (true)
        {
            var batch = new List<(InstanceCommit Commit, TaskCompletionSource<int> Done)>();
            while (batch.Count < maxBatch && pending.Reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            if (batch.Count == 0)
            {
                Volatile.Write(ref writing, 0);
                if (pending.Reader.TryPeek(out _) && Interlocked.CompareExchange(ref writing, 1, 0) == 0)
                {
                    continue;
                }

                return;
            }

            try
            {
                Interlocked.Increment(ref transactions);
                var results = await store.CommitBatchAsync(batch.Select(b => b.Commit).ToList(), CancellationToken.None).ConfigureAwait(false);
                for (var i = 0; i < batch.Count; i++)
                {
                    if (results[i] is { } revision)
                    {
                        batch[i].Done.TrySetResult(revision);
                    }
                    else
                    {
                        batch[i].Done.TrySetException(new WorkflowConcurrencyException($"instance {batch[i].Commit.Instance.Id} is no longer at revision {batch[i].Commit.Instance.Revision}"));
                    }
                }
            }
            catch (Exception ex)
            {
                foreach (var item in batch)
                {
                    item.Done.TrySetException(ex);
                }
            }
        }
    }
}
