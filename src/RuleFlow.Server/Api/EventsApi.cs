using System.Globalization;
using RuleFlow.Server.Hosting;
using RuleFlow.Server.Ingest;
using RuleFlow.Storage.Ingest;
using Microsoft.Extensions.Options;

namespace RuleFlow.Server.Api;

/// <summary>
/// <c>POST /api/events/{type}</c>: the webhook ingest path (same checks, journal and rules as AMQP);
/// <c>GET /api/events</c>: journaled events; <c>GET /api/events/dead-letters</c>: refused messages with their reasons.
/// </summary>
public static class EventsApi
{
    /// <summary>Maps the endpoints.</summary>
    public static IEndpointRouteBuilder MapEventsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/events").WithTags("Events");
        group.MapPost("/{type}", IngestAsync);
        group.MapGet("/", ListAsync);
        group.MapGet("/dead-letters", DeadLettersAsync);
        group.MapGet("/types", TypesAsync);
        return app;
    }

    /// <summary>
    /// Accepts one event (a JSON object body, e.g. an Alertmanager v4 webhook) of the type in the path. The
    /// <c>Idempotency-Key</c> header, when present, is the event id (else a hash of the body). Answers 202 with
    /// <c>{ id, type, time, duplicate, sequence, status, problem, firings: [{ rule, activationId }] }</c> (<c>status</c>: what the rule
    /// session did with it — <c>applied</c>, <c>late</c>, <c>invalid</c>, <c>deduplicated</c>, <c>unknown-type</c>; <c>problem</c>: why a
    /// late or invalid one matched nothing, naming the field) once the event is journaled and
    /// applied; 400/413 with a ProblemDetails naming the reason (RF5001…) when refused; 503 before the server is ready.
    /// </summary>
    private static async Task<IResult> IngestAsync(string type, HttpRequest request, EventIntake intake, EventPipeline pipeline,
        ServerState state, DeadLetters deadLetters, IngestMetrics metrics, IOptions<RuleFlowOptions> options, TimeProvider time,
        CancellationToken cancellationToken)
    {
        if (!state.IsReady)
        {
            return ApiProblems.Problem(503, "RF6503", "the server is starting (store, rules or workflows not ready yet); retry shortly");
        }

        var limit = options.Value.Ingest.MaxEventBytes;
        var receivedAt = time.GetUtcNow();
        var messageId = request.Headers["Idempotency-Key"].FirstOrDefault();
        byte[] body = [];
        AcceptedEvent accepted;
        try
        {
            if (request.ContentLength is { } declared && declared > limit)
            {
                throw TooLarge($"{declared.ToString("N0", CultureInfo.InvariantCulture)} bytes", limit);
            }

            body = await ReadBodyAsync(request, limit, cancellationToken).ConfigureAwait(false);
            if (body.Length > limit)
            {
                throw TooLarge($"more than {limit.ToString("N0", CultureInfo.InvariantCulture)} bytes", limit);
            }

            accepted = intake.Accept(new IncomingMessage(body, "http", null, null, messageId, type, receivedAt));
        }
        catch (IngestRejectedException e)
        {
            await deadLetters.RecordAsync(new IncomingMessage(body, "http", null, null, messageId, type, receivedAt), e.Code, e.Message, cancellationToken)
                .ConfigureAwait(false);
            return ApiProblems.Problem(e.Code == IngestErrors.TooLarge ? 413 : 400, e.Code, e.Message);
        }

        try
        {
            var outcome = await pipeline.ProcessAsync(accepted, cancellationToken).ConfigureAwait(false);
            return Results.Accepted($"/api/events?type={Uri.EscapeDataString(accepted.Event.Type)}", new
            {
                id = outcome.EventId,
                type = accepted.Event.Type,
                time = accepted.Event.Time,
                duplicate = outcome.Duplicate,
                sequence = outcome.Sequence,
                status = outcome.Status,
                problem = outcome.Problem,
                firings = outcome.Firings.Select(f => new { rule = f.Rule, activationId = f.ActivationId }),
            });
        }
        catch (IngestRejectedException e)
        {
            metrics.DeadLettered(e.Code);
            return ApiProblems.Problem(500, e.Code, e.Message);
        }
    }

    private static IngestRejectedException TooLarge(string size, int limit) =>
        new(IngestErrors.TooLarge, $"event body is {size}; the limit is {limit.ToString("N0", CultureInfo.InvariantCulture)} bytes (RuleFlow:Ingest:MaxEventBytes)");

    /// <summary>Reads at most <paramref name="limit"/> + 1 bytes, so an oversized body is detected without reading it all.</summary>
    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > limit)
            {
                break;
            }
        }

        return buffer.ToArray();
    }

    private static async Task<IResult> ListAsync(EventJournal journal, string? type, int page = 1, int pageSize = 50,
        CancellationToken cancellationToken = default)
    {
        if (ApiProblems.CheckPage(page, pageSize) is { } problem)
        {
            return problem;
        }

        var result = await journal.ListEventsAsync(type, page, pageSize, cancellationToken, excludeType: EventPipeline.ClockEventType).ConfigureAwait(false);
        return Results.Ok(new
        {
            items = result.Items.Select(e => new
            {
                sequence = e.Sequence, id = e.EventId, type = e.Type, time = e.Time, receivedAt = e.ReceivedAt, source = e.Source,
                data = System.Text.Json.JsonDocument.Parse(e.Payload).RootElement,
            }),
            total = result.Total,
        });
    }

    /// <summary>
    /// <c>[{ type, count, lastAt, lastEventTime, declared }]</c>: every event type journaled so far and every type the rules
    /// declare (count 0 when none arrived), by name.
    /// </summary>
    private static async Task<IResult> TypesAsync(EventJournal journal, RuleFlow.Server.Rules.RuleHost rules, CancellationToken cancellationToken)
    {
        var counts = await journal.CountByTypeAsync(EventPipeline.ClockEventType, cancellationToken).ConfigureAwait(false);
        var declared = rules.Current.EventTypes.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var seen = counts.Select(c => c.Type).ToHashSet(StringComparer.Ordinal);
        return Results.Ok(counts.Select(c => new { type = c.Type, count = c.Count, lastAt = c.LastAt, lastEventTime = c.LastEventTime, declared = declared.Contains(c.Type) })
            .Concat(declared.Where(d => !seen.Contains(d)).Select(d => new { type = d, count = 0L, lastAt = (DateTimeOffset?)null, lastEventTime = (DateTimeOffset?)null, declared = true }))
            .OrderBy(t => t.type, StringComparer.Ordinal));
    }

    private static async Task<IResult> DeadLettersAsync(DeadLetterStore store, string? code, int page = 1, int pageSize = 50,
        CancellationToken cancellationToken = default)
    {
        if (ApiProblems.CheckPage(page, pageSize) is { } problem)
        {
            return problem;
        }

        var result = await store.ListAsync(code, page, pageSize, cancellationToken).ConfigureAwait(false);
        return Results.Ok(new { items = result.Items, total = result.Total });
    }
}
