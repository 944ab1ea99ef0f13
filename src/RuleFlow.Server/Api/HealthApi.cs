using RuleFlow.Scripting;
using RuleFlow.Server.Hosting;
using RuleFlow.Server.Ingest;

namespace RuleFlow.Server.Api;

/// <summary>
/// <c>GET /health</c> (anonymous): 200 once the store answers, ingest is bound, and rules and workflows are loaded; 503
/// before, with each part's state: <c>{ status, transport, checks: { store, ingest, rules, workflows }, warnings, error }</c>;
/// status <c>starting</c>, <c>ready</c>, or <c>degraded</c> (200, with <c>warnings</c>: what runs, but not as written).
/// <c>GET /api/stats</c>: ingest counters since start, the rule session's statistics, and the script sandbox's
/// (<c>scripts: { abandonedRunning, abandonedTotal, enginesCreated }</c>: runs given up on whose threads still run, runs given up on
/// since start, engines made since start).
/// </summary>
public static class HealthApi
{
    /// <summary>Maps the endpoints.</summary>
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/health", (ServerState state, Rules.RuleHost rules, Rules.RuleFileEditor files, ScriptSandbox sandbox) =>
        {
            var ready = state.IsReady && state.StoreReady && state.IngestBound && state.RulesLoaded && state.WorkflowsLoaded;
            var warnings = ready ? Warnings(state, rules, files, sandbox) : [];
            var body = new
            {
                status = !ready ? "starting" : warnings.Count > 0 ? "degraded" : "ready",
                transport = state.Transport,
                checks = new { store = state.StoreReady, ingest = state.IngestBound, rules = state.RulesLoaded, workflows = state.WorkflowsLoaded },
                warnings,
                error = state.StartupError,
            };
            return ready ? Results.Ok(body) : Results.Json(body, statusCode: 503);
        }).AllowAnonymous().WithTags("Health");
        app.MapGet("/api/stats", async (IngestMetrics metrics, EventPipeline pipeline, ScriptSandbox sandbox, CancellationToken cancellationToken) =>
            Results.Ok(new
            {
                ingest = metrics.Snapshot(),
                session = await pipeline.GetSessionStatisticsAsync(cancellationToken).ConfigureAwait(false),
                scripts = new { abandonedRunning = sandbox.AbandonedRunning, abandonedTotal = sandbox.AbandonedTotal, enginesCreated = sandbox.EnginesCreated },
            }))
            .WithTags("Health");
        return app;
    }

    /// <summary>
    /// What runs, but not as written (the server is up and <c>/health</c> stays 200, with status <c>degraded</c>): rule files
    /// left out at start, a refused rule reload, <c>start workflow</c> actions naming no loaded workflow or giving an input
    /// its schema refuses, workflow files that failed to load at start, script runs given up on whose threads still run.
    /// Each entry says what and where to look; none names a server path.
    /// </summary>
    internal static List<string> Warnings(ServerState state, Rules.RuleHost rules, Rules.RuleFileEditor files, ScriptSandbox sandbox)
    {
        var warnings = new List<string>();
        foreach (var file in rules.LastLoad?.Files.Where(f => !f.Loaded) ?? [])
        {
            warnings.Add($"rule file {files.Virtual(file.Path)} is not loaded ({file.Diagnostics.Count(d => d.Severity == RuleFlow.Rules.DiagnosticSeverity.Error)} " +
                         "error(s)); its rules are not in force (GET /api/rules: files[].diagnostics)");
        }

        if (rules.LastRefused is { } refused)
        {
            warnings.Add($"the rule reload at {refused.At:O} was refused ({refused.Result.Diagnostics.Count(d => d.Severity == RuleFlow.Rules.DiagnosticSeverity.Error)} " +
                         "error(s)); the previous rule set stays in force (GET /api/rules: refusedReload)");
        }

        if (rules.StartWarnings.Count > 0)
        {
            warnings.Add($"{rules.StartWarnings.Count} start workflow action(s) name no loaded workflow or give an input its schema refuses " +
                         "(WF1040); they fail when their rule fires (GET /api/rules: files[].diagnostics)");
        }

        foreach (var file in state.WorkflowFilesFailed)
        {
            warnings.Add($"workflow file {file} failed to load at start; its workflow is not available (see the log)");
        }

        if (sandbox.AbandonedRunning > 0)
        {
            warnings.Add($"{sandbox.AbandonedRunning} script run(s) given up on still run on their threads (GET /api/stats: scripts)");
        }

        return warnings;
    }
}
