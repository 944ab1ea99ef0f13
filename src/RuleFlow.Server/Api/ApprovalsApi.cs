using RuleFlow.Server.Auth;
using RuleFlow.Server.Hosting;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Server.Api;

/// <summary>
/// Approvals: <c>GET /api/approvals?state=pending&amp;limit=</c> lists them; <c>GET /api/approvals/mine</c> lists the pending
/// ones the caller may decide and has not yet; <c>POST /api/approvals/{id}/approve</c> and
/// <c>/reject</c> with <c>{ "comment": "…" }</c> decide one as the calling user, who must be an assignee
/// (403 <c>WF4030</c> otherwise; 409 <c>WF4090</c> when already decided).
/// </summary>
public static class ApprovalsApi
{
    /// <summary>A decision's body.</summary>
    /// <param name="Comment">Free text kept with the decision.</param>
    public sealed record DecisionRequest(string? Comment);

    /// <summary>Maps the endpoints.</summary>
    public static IEndpointRouteBuilder MapApprovalsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/approvals").WithTags("Approvals");
        group.MapGet("/", ListAsync);
        group.MapGet("/mine", async (IWorkflowQueries queries, HttpContext http, CancellationToken ct) =>
        {
            var actor = http.User.ToActor();
            var pending = await queries.ListApprovalsAsync("pending", 10_000, ct).ConfigureAwait(false);
            var items = pending.Where(a => WorkflowRuntime.MayDecide(actor, a.Assignees)
                && !a.AllDecisions.Any(d => string.Equals(d.By, actor.Name, StringComparison.OrdinalIgnoreCase))).ToList();
            return Results.Ok(new { user = actor.Name, items, total = items.Count });
        });
        group.MapPost("/{id:guid}/approve", async (Guid id, DecisionRequest? body, IWorkflowRuntime runtime, ServerState state, HttpContext http, CancellationToken ct) =>
            ApiProblems.NotReady(state) ?? await DecideAsync(id, ApprovalOutcome.Approved, body, runtime, http, ct).ConfigureAwait(false));
        group.MapPost("/{id:guid}/reject", async (Guid id, DecisionRequest? body, IWorkflowRuntime runtime, ServerState state, HttpContext http, CancellationToken ct) =>
            ApiProblems.NotReady(state) ?? await DecideAsync(id, ApprovalOutcome.Rejected, body, runtime, http, ct).ConfigureAwait(false));
        return app;
    }

    private static async Task<IResult> ListAsync(IWorkflowQueries queries, string? state, int limit = 100, CancellationToken cancellationToken = default)
    {
        if (limit is < 1 or > 1000)
        {
            return ApiProblems.Problem(400, "RF6005", $"limit is {limit}; it must be between 1 and 1000");
        }

        var items = await queries.ListApprovalsAsync(string.IsNullOrEmpty(state) ? null : state.ToLowerInvariant(), limit, cancellationToken)
            .ConfigureAwait(false);
        return Results.Ok(new { items, total = items.Count });
    }

    private static async Task<IResult> DecideAsync(Guid id, ApprovalOutcome outcome, DecisionRequest? body, IWorkflowRuntime runtime,
        HttpContext http, CancellationToken cancellationToken)
    {
        try
        {
            var approval = await runtime.DecideAsync(id, outcome, http.User.ToActor(), body?.Comment, "http", cancellationToken).ConfigureAwait(false);
            return Results.Ok(new
            {
                id, outcome = outcome.ToString().ToLowerInvariant(), decidedBy = http.User.Identity?.Name, comment = body?.Comment,
                state = approval.State, approvals = approval.AllDecisions.Count(d => d.Outcome == "approved"), required = approval.Required,
            });
        }
        catch (WorkflowException e)
        {
            return ApiProblems.From(e);
        }
    }
}
