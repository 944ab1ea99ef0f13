using RuleFlow.Storage;

namespace RuleFlow.Server.Hosting;

/// <summary>
/// Retries a store operation while the store is unavailable (<see cref="DbErrors.IsTransient"/>), with exponential
/// backoff from 100 ms to 30 s, until it succeeds or the token is cancelled. Ingest thereby pauses (messages stay
/// unacknowledged in the broker) instead of losing or dead-lettering events during a database outage.
/// </summary>
public static class StoreRetry
{
    /// <summary>Runs <paramref name="operation"/> until it succeeds, retrying transient store errors.</summary>
    /// <exception cref="OperationCanceledException">Cancelled while waiting.</exception>
    public static async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> operation, ILogger logger, string what, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(operation);
        var delay = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await operation(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (DbErrors.IsTransient(e) && !cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning(e, "Store unavailable while {Operation} (attempt {Attempt}); retrying in {DelayMs} ms", what, attempt, (int)delay.TotalMilliseconds);
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 30_000));
            }
        }
    }

    /// <summary>Runs <paramref name="operation"/> until it succeeds, retrying transient store errors.</summary>
    /// <exception cref="OperationCanceledException">Cancelled while waiting.</exception>
    public static Task RunAsync(Func<CancellationToken, Task> operation, ILogger logger, string what, CancellationToken cancellationToken) =>
        RunAsync<bool>(async ct => { await operation(ct).ConfigureAwait(false); return true; }, logger, what, cancellationToken);
}
