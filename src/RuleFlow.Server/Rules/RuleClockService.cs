using RuleFlow.Server.Hosting;
using RuleFlow.Server.Ingest;

namespace RuleFlow.Server.Rules;

/// <summary>
/// Drives the rule session when no event does: every second the idle clock (<see cref="EventPipeline.AdvanceIdleClockAsync"/>)
/// lets timers fire on a quiet stream; every hour journaled events covered by a snapshot and older than the retention are
/// pruned. At shutdown a last snapshot is taken, so the next start replays nothing.
/// </summary>
public sealed class RuleClockService(EventPipeline pipeline, ServerState state, TimeProvider time, ILogger<RuleClockService> logger) : BackgroundService
{
    /// <summary>How often the idle clock is checked: 1 s.</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);

    /// <summary>How often the journal is pruned: 1 h.</summary>
    public static readonly TimeSpan PruneEvery = TimeSpan.FromHours(1);

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await state.Ready.WaitAsync(stoppingToken).ConfigureAwait(false);
        var nextPrune = time.GetUtcNow() + TimeSpan.FromMinutes(1);
        using var timer = new PeriodicTimer(Tick, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await pipeline.AdvanceIdleClockAsync(stoppingToken).ConfigureAwait(false);
                if (time.GetUtcNow() >= nextPrune)
                {
                    nextPrune = time.GetUtcNow() + PruneEvery;
                    await pipeline.PruneAsync(stoppingToken).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "Advancing the rule clock or pruning the journal failed; trying again on the next tick");
            }
        }
    }

    /// <inheritdoc />
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (state.IsReady)
        {
            try
            {
                await pipeline.SnapshotNowAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "The shutdown snapshot failed; the next start replays the journal after the previous one");
            }
        }
    }
}
