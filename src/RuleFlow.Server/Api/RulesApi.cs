using System.Text.Json;
using System.Text.Json.Nodes;
using RuleFlow.Rules;
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
        group.MapGet("/", DescribeAsync);
        group.MapGet("/firings", FiringsAsync);
        group.MapPost("/reload", ReloadAsync).RequireAuthorization(p => p.RequireRole("author", "admin"));
        group.MapGet("/{name}/matches", MatchesAsync);
        group.MapPost("/explain", Explain);
        group.MapPost("/check", Check);
        return app;
    }

    private static async Task<IResult> DescribeAsync(RuleHost rules, EventPipeline pipeline, RuleFileEditor files,
        Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, CancellationToken cancellationToken)
    {
        var session = await pipeline.GetSessionStatisticsAsync(cancellationToken).ConfigureAwait(false);
        var load = rules.LastLoad;
        var set = rules.Current;
        var answer = new
        {
            directory = RuleFileEditor.Prefix,
            rules = set.Rules,
            eventTypes = set.EventTypes,
            files = load?.Files.Select(f => new
            {
                path = f.Path, loaded = f.Loaded, ruleCount = f.RuleCount,
                diagnostics = f.Diagnostics.Select(Diagnostic).Concat(StartWarnings(rules, f.Path)),
            }) ?? [],
            refusedReload = rules.LastRefused is { } refused
                ? new { at = refused.At, diagnostics = refused.Result.Diagnostics.Select(Diagnostic) }
                : null,
            session,
        };

        // Paths as the rules-files API names them (rules/x.rules): no server paths in answers.
        var text = JsonSerializer.Serialize(answer, json.Value.SerializerOptions);
        return Results.Content(files.Scrub(text), "application/json; charset=utf-8");
    }

    /// <summary>An answer as JSON with the rules directory's server path written as <c>rules/</c> (no server paths in answers).</summary>
    private static IResult Scrubbed(object answer, int status, RuleFileEditor files, JsonSerializerOptions json) =>
        Results.Content(files.Scrub(JsonSerializer.Serialize(answer, json)), "application/json; charset=utf-8", statusCode: status);

    private static async Task<IResult> FiringsAsync(EventJournal journal, RuleFileEditor files,
        Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, string? rule, int page = 1, int pageSize = 50,
        CancellationToken cancellationToken = default)
    {
        if (ApiProblems.CheckPage(page, pageSize) is { } problem)
        {
            return problem;
        }

        var result = await journal.ListFiringsAsync(rule, page, pageSize, cancellationToken).ConfigureAwait(false);
        return Scrubbed(new
        {
            items = result.Items.Select(f => new
            {
                id = f.Id, activationId = f.ActivationId, rule = f.Rule, time = f.Time, firedAt = f.FiredAt, eventSequence = f.EventSequence,
                eventIds = JsonDocument.Parse(f.EventIds).RootElement, actions = JsonDocument.Parse(f.Actions).RootElement,
                status = f.Status.ToString().ToLowerInvariant(),
                results = f.Results is null ? (JsonElement?)null : JsonDocument.Parse(f.Results).RootElement, error = f.Error,
            }),
            total = result.Total,
        }, 200, files, json.Value.SerializerOptions);
    }

    /// <summary>Reloads the rule files; on success working memory is rebuilt from the journal under the new set.</summary>
    private static async Task<IResult> ReloadAsync(RuleHost rules, EventPipeline pipeline, RuleFileEditor files,
        Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, CancellationToken cancellationToken)
    {
        var (result, applied) = rules.LoadFromDisk(keepOnError: true);
        if (!applied)
        {
            return Scrubbed(new
            {
                title = "Rule reload refused; the previous rule set stays in force",
                code = "RF6422",
                diagnostics = result.Diagnostics.Select(Diagnostic),
            }, 422, files, json.Value.SerializerOptions);
        }

        await pipeline.ReloadAsync(cancellationToken).ConfigureAwait(false);
        return Scrubbed(new { reloaded = true, rules = result.RuleSet.Rules.Count, diagnostics = result.Diagnostics.Select(Diagnostic).Concat(StartWarnings(rules, null)) },
            200, files, json.Value.SerializerOptions);
    }

    /// <summary>
    /// The live state of one rule in the running session: partial matches, window contents and when they expire,
    /// pending timers, throttle/dedup entries, recent activations and why it did or did not fire.
    /// </summary>
    /// <remarks>
    /// A rule whose name has a <c>/</c> is asked for as <c>%2F</c> (<c>encodeURIComponent</c>), which routing leaves encoded in the
    /// value, as it cannot tell it from a separator: a name not in force is looked up again with each <c>%2F</c> read as <c>/</c>.
    /// </remarks>
    private static async Task<IResult> MatchesAsync(string name, RuleHost rules, EventPipeline pipeline, RuleFileEditor files,
        Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, CancellationToken cancellationToken)
    {
        if (rules.Current.Rules.All(r => r.Name != name) && name.Contains("%2F", StringComparison.OrdinalIgnoreCase))
        {
            name = name.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);
        }

        try
        {
            // Files named as the rest of the API names them (rules/…), never by the server's own path.
            return Scrubbed(await pipeline.ExplainAsync(name, cancellationToken).ConfigureAwait(false), 200, files, json.Value.SerializerOptions);
        }
        catch (ArgumentException)
        {
            return ApiProblems.Problem(404, "RF6404", $"no rule named '{name}' is in force (GET /api/rules lists them)");
        }
    }

    /// <summary>A "try an event" request: the event's type, time and JSON data, and optionally one rule to explain.</summary>
    /// <param name="Type">Event type, e.g. <c>ssh.auth</c>.</param>
    /// <param name="Data">The event's JSON object.</param>
    /// <param name="Time">Event time; default now.</param>
    /// <param name="Rule">One rule's name, or null for every rule.</param>
    /// <param name="Event">Another name for <paramref name="Data"/> (the Studio's "try an event").</param>
    public sealed record ExplainRequest(string? Type, JsonObject? Data, DateTimeOffset? Time, string? Rule, JsonObject? Event = null);

    /// <summary>
    /// Which conditions of which rules an event meets (stateless: against the rule set in force, not the live windows).
    /// Answers <c>{ rules: [{ rule, eventId, eventType, patterns: [{ text, typeMatches, conditions: [{ text, met, note }], passes }] }] }</c>.
    /// </summary>
    private static IResult Explain(ExplainRequest request, RuleHost rules, TimeProvider time)
    {
        var data = request.Data ?? request.Event;
        if (string.IsNullOrWhiteSpace(request.Type) || data is null)
        {
            return ApiProblems.Problem(400, "RF6006", "body needs \"type\" (the event type) and \"data\" (the event as a JSON object)");
        }

        var set = rules.Current;
        var names = request.Rule is null ? set.Rules.Select(r => r.Name).ToList() : [request.Rule];
        if (request.Rule is not null && set.Rules.All(r => r.Name != request.Rule))
        {
            return ApiProblems.Problem(404, "RF6404", $"no rule named '{request.Rule}' is in force");
        }

        var evt = new RuleEvent("explain", request.Type, request.Time ?? time.GetUtcNow(), JsonSerializer.SerializeToElement(data));
        return Results.Ok(new { rules = names.Select(n => set.ExplainEvent(n, evt)) });
    }

    /// <summary>
    /// Files to check: path (for positions and imports) and text; or one file of the rules directory (<paramref name="File"/>,
    /// e.g. <c>rules/x.rules</c>) with its unsaved <paramref name="Text"/>, checked together with the other rule files there.
    /// </summary>
    /// <param name="Files">The files.</param>
    /// <param name="Text">The unsaved text of <paramref name="File"/>.</param>
    /// <param name="File">A file of the rules directory (<c>rules/…</c>); default <c>rules/untitled.rules</c>.</param>
    public sealed record CheckRequest(IReadOnlyList<CheckFile>? Files, string? Text = null, string? File = null);

    /// <summary>One file to check.</summary>
    /// <param name="Path">Its path, as it should appear in diagnostics.</param>
    /// <param name="Text">Its text.</param>
    public sealed record CheckFile(string Path, string Text);

    /// <summary>
    /// Checks rule files without putting them in force (the same codes and positions as <c>ruleflow check</c>):
    /// <c>{ files: [{ path, loaded, ruleCount, diagnostics }] }</c>; with <c>{ text, file }</c> instead (the Studio's live
    /// diagnostics) <c>{ path, ok, diagnostics: [{ severity, code, message, file, line, column, hint }] }</c>: what
    /// <c>PUT /api/rules/files/{file}</c> would answer.
    /// </summary>
    private static IResult Check(CheckRequest request, RuleFileEditor editor)
    {
        if (request.Text is not null && request.Files is not { Count: > 0 })
        {
            // The Studio's live diagnostics: what a save of this text would answer, without saving.
            var path = request.File ?? RuleFileEditor.Prefix + "untitled.rules";
            if (editor.Resolve(path) is not { } full)
            {
                return ApiProblems.Problem(400, "RF6020", $"'{path}' is not a file of the rules directory: paths start with 'rules/' and may not leave it");
            }

            if (ApiProblems.TooLong("text", request.Text) is { } textTooLong)
            {
                return textTooLong;
            }

            var (diagnostics, refused) = editor.Check(full, request.Text);
            return Results.Ok(new { path = editor.Virtual(full), ok = !refused, diagnostics });
        }

        if (request.Files is not { Count: > 0 })
        {
            return ApiProblems.Problem(400, "RF6007", "body needs \"files\": [{ \"path\": \"rules/x.rules\", \"text\": \"…\" }]");
        }

        if (request.Files.Select(f => ApiProblems.TooLong($"files[{f.Path}].text", f.Text)).FirstOrDefault(p => p is not null) is { } tooLong)
        {
            return tooLong;
        }

        // Templates and scripts of actions are compiled as the server's load compiles them (WF1021, WF1020 at the action).
        var result = RuleSetLoader.LoadSources(request.Files.Select(f => (f.Path, f.Text)), Rules.RuleHost.CheckEmbeddedCode);
        return Results.Ok(new
        {
            files = result.Files.Select(f => new { path = f.Path, loaded = f.Loaded, ruleCount = f.RuleCount, diagnostics = f.Diagnostics.Select(Diagnostic) }),
        });
    }

    /// <summary>The rules' <c>start workflow</c> warnings (<c>WF1040</c>: no such workflow, or an input its schema refuses) of one file, or of all.</summary>
    private static IEnumerable<object> StartWarnings(RuleHost rules, string? file) =>
        rules.StartWarnings.Where(d => file is null || d.File == file).Select(d => (object)new
        {
            code = d.Code, severity = "warning", message = d.Message, file = d.File, line = d.Line, column = d.Column, hint = d.Hint, text = d.ToString(),
        });

    private static object Diagnostic(RuleFlow.Rules.Diagnostic d) => new
    {
        code = d.Code, severity = d.Severity.ToString().ToLowerInvariant(), message = d.Message,
        file = d.Location.File, line = d.Location.Line, column = d.Location.Column, hint = d.Hint, text = d.ToString(),
    };
}
