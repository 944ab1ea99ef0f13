using System.Globalization;
using System.Text.Json.Nodes;
using RuleFlow.Server.Auth;
using RuleFlow.Server.Hosting;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Server.Api;

/// <summary>
/// Workflow instances: <c>GET /api/instances?workflow=&amp;state=&amp;correlationKey=&amp;from=&amp;to=&amp;page=&amp;pageSize=</c>
/// (<c>from</c>/<c>to</c>: ISO-8601 times bounding the creation time, from inclusive, to exclusive) →
/// <c>{ items: [{ id, workflow, version, state, correlationKey, input, createdAt, updatedAt }], total }</c>;
/// <c>GET /api/instances/{id}</c> → the instance with its journal, approvals and lineage;
/// <c>POST /api/instances</c> with <c>{ workflow, input, correlationKey?, idempotencyKey? }</c> starts one by hand (a running
/// instance with the same correlation key, or an earlier request with the same idempotency key, is returned with
/// <c>created: false</c>); <c>POST /api/instances/{id}/cancel</c> <c>{ reason }</c> and <c>POST /api/instances/{id}/retry</c>
/// (operator or admin).
/// </summary>
public static class InstancesApi
{
    /// <summary>A manual start.</summary>
    /// <param name="Workflow">Workflow id.</param>
    /// <param name="Input">Input object.</param>
    /// <param name="CorrelationKey">Optional correlation key (deduplicates while an instance with it runs).</param>
    /// <param name="IdempotencyKey">Optional idempotency key: a repeated request returns the first one's instance.</param>
    public sealed record StartRequest(string? Workflow, JsonObject? Input, string? CorrelationKey, string? IdempotencyKey = null);

    /// <summary>A cancellation.</summary>
    /// <param name="Reason">Why; journaled.</param>
    public sealed record CancelRequest(string? Reason);

    /// <summary>Maps the endpoints.</summary>
    public static IEndpointRouteBuilder MapInstancesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/instances").WithTags("Instances");
        group.MapGet("/", ListAsync);
        group.MapGet("/{id:guid}", GetAsync);
        group.MapPost("/", StartAsync).RequireAuthorization(p => p.RequireRole("operator", "admin"));
        group.MapPost("/{id:guid}/cancel", async (Guid id, CancelRequest? body, IWorkflowRuntime runtime, ServerState state, HttpContext http, CancellationToken ct) =>
            ApiProblems.NotReady(state) ?? await ActAsync(() => runtime.CancelAsync(id, http.User.ToActor(), body?.Reason, ct), id, "cancelling").ConfigureAwait(false))
            .RequireAuthorization(p => p.RequireRole("operator", "admin"));
        group.MapPost("/{id:guid}/retry", async (Guid id, IWorkflowRuntime runtime, ServerState state, HttpContext http, CancellationToken ct) =>
            ApiProblems.NotReady(state) ?? await ActAsync(() => runtime.RetryAsync(id, http.User.ToActor(), ct), id, "retried").ConfigureAwait(false))
            .RequireAuthorization(p => p.RequireRole("operator", "admin"));
        return app;
    }

    private static async Task<IResult> ListAsync(IWorkflowQueries queries, string? workflow, string? state, string? correlationKey,
        DateTimeOffset? from = null, DateTimeOffset? to = null, int page = 1, int pageSize = 50, CancellationToken cancellationToken = default)
    {
        if (from is { } f && to is { } t && t < f)
        {
            return ApiProblems.Problem(400, "RF6012", $"to ({t:O}) is before from ({f:O})");
        }

        if (ApiProblems.CheckPage(page, pageSize) is { } problem)
        {
            return problem;
        }

        InstanceState? parsed = null;
        if (!string.IsNullOrEmpty(state))
        {
            if (!Enum.TryParse<InstanceState>(state, ignoreCase: true, out var s) || int.TryParse(state, out _))
            {
                return ApiProblems.Problem(400, "RF6003",
                    $"state '{state}' is unknown; use one of {string.Join(", ", Enum.GetNames<InstanceState>().Select(n => n.ToLowerInvariant()))}");
            }

            parsed = s;
        }

        var result = await queries.ListInstancesAsync(new InstanceQuery(workflow, parsed, correlationKey, page, pageSize) { From = from, To = to }, cancellationToken)
            .ConfigureAwait(false);
        return Results.Ok(new { items = result.Items, total = result.Total });
    }

    private static async Task<IResult> ActAsync(Func<Task> action, Guid id, string what)
    {
        try
        {
            await action().ConfigureAwait(false);
            return Results.Accepted($"/api/instances/{id}", new { id, status = what });
        }
        catch (WorkflowException e)
        {
            return ApiProblems.From(e);
        }
    }

    private static async Task<IResult> GetAsync(Guid id, IWorkflowQueries queries, CancellationToken cancellationToken)
    {
        var details = await queries.GetInstanceAsync(id, cancellationToken).ConfigureAwait(false);
        if (details is null)
        {
            return ApiProblems.Problem(404, "WF4040", $"no workflow instance {id}");
        }

        var s = details.Summary;
        return Results.Ok(new
        {
            s.Id, s.Workflow, s.Version, s.State, s.CorrelationKey, s.Input, s.CreatedAt, s.UpdatedAt,
            details.CurrentStep, details.WaitingFor, details.Variables, details.Error, details.Lineage, details.Journal, details.Approvals,
            details.Output, details.ParentInstanceId, details.Incidents,
            messages = details.Messages.Select(m => new { m.Id, m.StepId, m.Exchange, m.RoutingKey, m.CreatedAt, m.SentAt, m.Attempts }),
        });
    }

    private static async Task<IResult> StartAsync(StartRequest request, IWorkflowRuntime runtime, ServerState state, HttpContext http,
        Microsoft.Extensions.Options.IOptions<RuleFlowOptions> options, CancellationToken cancellationToken)
    {
        if (ApiProblems.NotReady(state) is { } starting)
        {
            return starting;
        }

        if (string.IsNullOrWhiteSpace(request.Workflow))
        {
            return ApiProblems.Problem(400, "RF6004", "body needs \"workflow\": the id of the workflow to start");
        }

        // An input is limited like an event body (RuleFlow:Ingest:MaxEventBytes): it is stored with the instance and handed
        // to every template and script of it.
        var limit = options.Value.Ingest.MaxEventBytes;
        if (request.Input is { } input && System.Text.Encoding.UTF8.GetByteCount(input.ToJsonString()) is var size && size > limit)
        {
            return ApiProblems.Problem(413, "RF6414",
                $"\"input\" is {size.ToString("N0", CultureInfo.InvariantCulture)} bytes of JSON; the limit is {limit.ToString("N0", CultureInfo.InvariantCulture)} bytes (RuleFlow:Ingest:MaxEventBytes)");
        }

        try
        {
            var result = await runtime.StartAsync(new StartWorkflowRequest(request.Workflow, request.Input ?? [], request.CorrelationKey, request.IdempotencyKey,
                Lineage.Manual, http.User.ToActor()), cancellationToken).ConfigureAwait(false);
            return Results.Created($"/api/instances/{result.InstanceId}", new { id = result.InstanceId, created = result.Created });
        }
        catch (WorkflowException e)
        {
            return ApiProblems.From(e);
        }
    }
}
