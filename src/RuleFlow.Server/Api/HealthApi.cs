using RuleFlow.Scripting;
using RuleFlow.Server.Hosting;
using RuleFlow.Server.Ingest;

namespace RuleFlow.Server.Api;

/// <summary>
/// <c>GET /health</c> (anonymous): 200 once the store answers, ingest is bound, and rules and workflows are loaded; 503
/// before, with each part's state: <c>{ status, transport, checks: { store, ingest, rules, workflows }, error }</c>.
/// <c>GET /api/stats</c>: ingest counters since start, the rule session's statistics, and the script sandbox's
/// (<c>scripts: { abandonedRunning, abandonedTotal, enginesCreated }</c>: runs given up on whose threads still run, runs given up on
/// since start, engines made since start).
/// </summary>
public static class HealthApi
{
    /// <summary>Maps the endpoints.</summary>
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/health", (ServerState state) =>
        {
            var ready = state.IsReady && state.StoreReady && state.IngestBound && state.RulesLoaded && state.WorkflowsLoaded;
            var body = new
            {
                status = ready ? "ready" : "starting",
                transport = state.Transport,
                checks = new { store = state.StoreReady, ingest = state.IngestBound, rules = state.RulesLoaded, workflows = state.WorkflowsLoaded },
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
}
