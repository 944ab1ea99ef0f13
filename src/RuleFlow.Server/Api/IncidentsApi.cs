using RuleFlow.Server.Auth;
using RuleFlow.Server.Hosting;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Server.Api;

/// <summary>
/// Incidents (what needs a person): <c>GET /api/incidents?instance=&amp;limit=</c> lists open ones;
/// <c>POST /api/incidents/{id}/resolve</c> with <c>{ "action": "retry" | "skip" | "compensate" | "acknowledge", "comment": "…" }</c>
/// (roles operator or admin) resolves one: 404 <c>WF4043</c>, 409 <c>WF4090</c> already resolved, 409 <c>WF4091</c> action does not apply.
/// </summary>
public static class IncidentsApi
{
    /// <summary>A resolution.</summary>
    /// <param name="Action">retry, skip, compensate or acknowledge.</param>
    /// <param name="Comment">Free text.</param>
    public sealed record ResolveRequest(string? Action, string? Comment);

    /// <summary>Maps the endpoints.</summary>
    public static IEndpointRouteBuilder MapIncidentsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/incidents").WithTags("Incidents");
        group.MapGet("/", async (IWorkflowStore store, Guid? instance, int limit = 100, CancellationToken ct = default) =>
        {
            if (limit is < 1 or > 1000)
            {
                return ApiProblems.Problem(400, "RF6005", $"limit is {limit}; it must be between 1 and 1000");
            }

            var items = await store.ListIncidentsAsync(instance, limit, ct).ConfigureAwait(false);
            return Results.Ok(new { items, total = items.Count });
        });
        group.MapPost("/{id:guid}/resolve", async (Guid id, ResolveRequest? body, IWorkflowRuntime runtime, ServerState state, HttpContext http, CancellationToken ct) =>
        {
            if (ApiProblems.NotReady(state) is { } starting)
            {
                return starting;
            }

            if (string.IsNullOrWhiteSpace(body?.Action))
            {
                return ApiProblems.Problem(400, "WF4001", "body needs \"action\": retry, skip, compensate or acknowledge");
            }

            try
            {
                await runtime.ResolveIncidentAsync(id, body.Action, http.User.ToActor(), body.Comment, ct).ConfigureAwait(false);
                return Results.Ok(new { id, resolved = true, action = body.Action });
            }
            catch (WorkflowException e)
            {
                return ApiProblems.From(e);
            }
        }).RequireAuthorization(p => p.RequireRole("operator", "admin"));
        return app;
    }
}
