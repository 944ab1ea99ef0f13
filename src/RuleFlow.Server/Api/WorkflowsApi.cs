using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Server.Api;

/// <summary>
/// Workflow definitions: <c>GET /api/workflows</c> → <c>{ items: [{ id, version, contentHash, description, source, steps }] }</c>
/// (the current version of each); <c>GET /api/workflows/{id}</c> → the current one with its input schema and output;
/// <c>GET /api/workflows/{id}/versions</c> → <c>{ items: [{ version, contentHash, format, source, registeredAt, current }] }</c>,
/// newest first (a changed file is a new version; running instances finish on theirs).
/// </summary>
public static class WorkflowsApi
{
    /// <summary>Maps the endpoints.</summary>
    public static IEndpointRouteBuilder MapWorkflowsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/workflows").WithTags("Workflows");
        group.MapGet("/", (IWorkflowDefinitionRegistry registry) => Results.Ok(new
        {
            items = registry.Current.Select(d => new
            {
                d.Id, d.Version, d.ContentHash, d.Description, source = d.SourcePath, steps = d.AllSteps().Count(),
            }),
        }));
        group.MapGet("/{id}", (string id, IWorkflowDefinitionRegistry registry) => registry.Find(id) is { } d
            ? Results.Ok(new
            {
                d.Id, d.Version, d.ContentHash, d.Description, source = d.SourcePath, inputSchema = d.InputSchema?.Raw, output = d.Output,
                steps = d.AllSteps().Select(s => new { s.Id, s.Kind }),
            })
            : ApiProblems.Problem(404, "WF4040", $"no workflow '{id}' is loaded"));
        group.MapGet("/{id}/versions", async (string id, IWorkflowStore store, IWorkflowDefinitionRegistry registry, CancellationToken ct) =>
        {
            var versions = await store.ListDefinitionsAsync(id, ct).ConfigureAwait(false);
            if (versions.Count == 0)
            {
                return ApiProblems.Problem(404, "WF4040", $"no workflow '{id}' was ever registered");
            }

            var current = registry.Find(id)?.ContentHash;
            return Results.Ok(new
            {
                items = versions.Select(v => new
                {
                    v.Version, v.ContentHash, format = v.Format.ToString().ToLowerInvariant(), source = v.SourcePath, v.RegisteredAt, current = v.ContentHash == current,
                }),
            });
        });
        return app;
    }
}
