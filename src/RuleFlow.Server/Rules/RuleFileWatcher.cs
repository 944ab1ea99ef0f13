using Microsoft.Extensions.Options;
using RuleFlow.Server.Hosting;
using RuleFlow.Server.Ingest;

namespace RuleFlow.Server.Rules;

/// <summary>
/// Reloads the rule set when a <c>*.rules</c> file under the rules directory is created, changed, renamed or deleted
/// (<c>RuleFlow:WatchRuleFiles</c>, default true). Changes are debounced (<see cref="Debounce"/>) so an editor's
/// save-as-several-writes is one reload. The new set is compiled first; on any error the old set keeps running and the
/// errors are logged and shown at <c>GET /api/rules</c> (<c>refusedReload</c>). On success working memory is carried
/// into the new set (<see cref="EventPipeline.ReloadAsync"/>), unless the new set has the same fingerprint as the one in
/// force (a comment changed, or the file was saved through the API, which reloads at once): then nothing is rebuilt.
/// </summary>
public sealed class RuleFileWatcher(
    RuleHost rules,
    EventPipeline pipeline,
    ServerState state,
    IOptions<RuleFlowOptions> options,
    ILogger<RuleFileWatcher> logger) : BackgroundService
{
    /// <summary>Quiet time after the last file change before reloading: 500 ms.</summary>
    public static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(500);

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.WatchRuleFiles)
        {
            return;
        }

        await state.Ready.WaitAsync(stoppingToken).ConfigureAwait(false);
        var directory = rules.RulesDirectory;
        if (!Directory.Exists(directory))
        {
            logger.LogInformation("Not watching {RulesDirectory}: it does not exist", directory);
            return;
        }

        var changed = new SemaphoreSlim(0);
        using var watcher = new FileSystemWatcher(directory, "*.rules")
        {
            IncludeSubdirectories = true,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
        };
        void OnChange(object sender, FileSystemEventArgs e)
        {
            if (changed.CurrentCount == 0)
            {
                changed.Release();
            }
        }

        watcher.Changed += OnChange;
        watcher.Created += OnChange;
        watcher.Deleted += OnChange;
        watcher.Renamed += (sender, e) => OnChange(sender, e);
        watcher.Error += (_, e) => logger.LogWarning(e.GetException(), "Watching {RulesDirectory} failed; use POST /api/rules/reload", directory);
        watcher.EnableRaisingEvents = true;
        logger.LogInformation("Watching {RulesDirectory} for rule file changes", directory);

        while (!stoppingToken.IsCancellationRequested)
        {
            await changed.WaitAsync(stoppingToken).ConfigureAwait(false);
            // Debounce: wait until no change arrived for Debounce.
            while (await changed.WaitAsync(Debounce, stoppingToken).ConfigureAwait(false))
            {
            }

            logger.LogInformation("Rule files changed: reloading");
            var before = rules.Current.Fingerprint;
            var (result, applied) = rules.LoadFromDisk(keepOnError: true);
            if (applied && result.RuleSet.Fingerprint == before)
            {
                // Same rules (a comment or formatting change, or a file the API saved and reloaded already): nothing to rebuild.
                logger.LogInformation("Rule files changed but the rule set is the same: working memory kept as it is");
            }
            else if (applied)
            {
                await pipeline.ReloadAsync(stoppingToken).ConfigureAwait(false);
            }
        }
    }
}
