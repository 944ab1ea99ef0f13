using System.Text.Json;
using RuleFlow.Server.Ingest;
using RuleFlow.Server.Rules;
using RuleFlow.Storage.Ingest;

namespace RuleFlow.Server.Api;

/// <summary>
/// <c>GET /api/rules</c>: the rule set in force and each file's diagnostics; <c>GET /api/rules/firings</c>: rule firings
/// with what their actions did; <c>POST /api/rules/reload</c>: reload the files (refused, old set kept, on any error).
/// </summary>
public static class RulesApi
{
    /// <summary>Maps the endpoints.</summary>
    public static IEndpointRouteBuilder MapRulesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/rules").WithTags("Rules");
        group.MapGet("/", Describe);
        group.MapGet("/firings", FiringsAsync);
        group.MapPost("/reload", ReloadAsync).RequireAuthorization(p => p.RequireRole("author", "admin"));
        return app;
    }

    private static IResult Describe(RuleHost rules, EventPipeline pipeline)
    {
        var load = rules.LastLoad;
        var set = rules.Current;
        return Results.Ok(new
        {
            directory = rules.RulesDirectory,
            rules = set.Rules,
            eventTypes = set.EventTypes,
            files = load?.Files.Select(f => new { path = f.Path, loaded = f.Loaded, ruleCount = f.RuleCount, diagnostics = f.Diagnostics.Select(Diagnostic) }) ?? [],
            refusedReload = rules.LastRefused is { } refused
                ? new { at = refused.At, diagnostics = refused.Result.Diagnostics.Select(Diagnostic) }
                : null,
            session = pipeline.SessionStatistics,
        });
    }

    private static async Task<IResult> FiringsAsync(EventJournal journal, string? rule, int page = 1, int pageSize = 50,
        CancellationToken cancellationToken = default)
    {
        if (ApiProblems.CheckPage(page, pageSize) is { } problem)
        {
            return problem;
        }

        var result = await journal.ListFiringsAsync(rule, page, pageSize, cancellationToken).ConfigureAwait(false);
        return Results.Ok(new
        {
            items = result.Items.Select(f => new
            {
                id = f.Id, activationId = f.ActivationId, rule = f.Rule, time = f.Time, firedAt = f.FiredAt, eventSequence = f.EventSequence,
                eventIds = JsonDocument.Parse(f.EventIds).RootElement, actions = JsonDocument.Parse(f.Actions).RootElement,
                status = f.Status.ToString().ToLowerInvariant(),
                results = f.Results is null ? (JsonElement?)null : JsonDocument.Parse(f.Results).RootElement, error = f.Error,
            }),
            total = result.Total,
        });
    }

    /// <summary>Reloads the rule files; on success working memory is rebuilt from the journal under the new set.</summary>
    private static async Task<IResult> ReloadAsync(RuleHost rules, EventPipeline pipeline, CancellationToken cancellationToken)
    {
        var (result, applied) = rules.LoadFromDisk(keepOnError: true);
        if (!applied)
        {
            return Results.UnprocessableEntity(new
            {
                title = "Rule reload refused; the previous rule set stays in force",
                code = "RF6422",
                diagnostics = result.Diagnostics.Select(Diagnostic),
            });
        }

        await pipeline.RecoverAsync(cancellationToken).ConfigureAwait(false);
        return Results.Ok(new { reloaded = true, rules = result.RuleSet.Rules.Count, diagnostics = result.Diagnostics.Select(Diagnostic) });
    }

    private static object Diagnostic(RuleFlow.Rules.Diagnostic d) => new
    {
        code = d.Code, severity = d.Severity.ToString().ToLowerInvariant(), message = d.Message,
        file = d.Location.File, line = d.Location.Line, column = d.Location.Column, hint = d.Hint, text = d.ToString(),
    };
}
