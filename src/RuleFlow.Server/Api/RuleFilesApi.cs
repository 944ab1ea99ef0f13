using RuleFlow.Rules;
using RuleFlow.Rules.Testing;
using RuleFlow.Server.Hosting;
using RuleFlow.Server.Ingest;
using RuleFlow.Server.Rules;

namespace RuleFlow.Server.Api;

/// <summary>
/// The rules directory for the Studio's editor. Paths are virtual: <c>rules/</c> + the path inside the rules directory.
/// <c>GET /api/rules/files</c> → <c>[{ path, kind, size, modified }]</c>; <c>GET /api/rules/files/{**path}</c> →
/// <c>{ path, kind, text, modified }</c>; <c>PUT /api/rules/files/{**path}</c> <c>{ text }</c> (author/admin) checks, writes and
/// reloads; <c>POST /api/rules/tests/run</c> runs rule tests.
/// </summary>
public static class RuleFilesApi
{
    /// <summary>A file's new text.</summary>
    /// <param name="Text">The text.</param>
    public sealed record FileText(string? Text);

    /// <summary>Which tests to run: one test file (<paramref name="Path"/>), or the tests of a rules file, optionally against its unsaved text.</summary>
    /// <param name="Path">A test file, <c>rules/x.ruletest</c>.</param>
    /// <param name="RulesPath">A rules file, <c>rules/x.rules</c>: every test file that loads it runs.</param>
    /// <param name="RulesText">Unsaved text of <paramref name="RulesPath"/> to test instead of the file.</param>
    public sealed record TestRunRequest(string? Path, string? RulesPath, string? RulesText);

    /// <summary>Maps the endpoints.</summary>
    public static IEndpointRouteBuilder MapRuleFilesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/rules").WithTags("Rules");
        group.MapGet("/files", (RuleFileEditor files) => Results.Ok(files.List()));
        group.MapGet("/files/{**path}", ReadAsync);
        group.MapPut("/files/{**path}", SaveAsync).RequireAuthorization(p => p.RequireRole("author", "admin"));
        group.MapPost("/tests/run", RunTests);
        return app;
    }

    private static IResult Outside(string? path) =>
        ApiProblems.Problem(400, "RF6020", $"'{path}' is not a file of the rules directory: paths start with 'rules/', name a file (not a directory) and may not leave it");

    private static async Task<IResult> ReadAsync(string path, RuleFileEditor files, CancellationToken cancellationToken)
    {
        if (files.Resolve(path) is not { } full)
        {
            return Outside(path);
        }

        if (!File.Exists(full))
        {
            return ApiProblems.Problem(404, "RF6405", $"no file '{path}' in the rules directory");
        }

        if (new FileInfo(full).Length > 4L * ApiProblems.MaxSourceTextChars)
        {
            return ApiProblems.Problem(413, "RF6413", $"'{path}' is {new FileInfo(full).Length:N0} bytes; the editor opens files of at most {ApiProblems.MaxSourceTextChars:N0} characters");
        }

        string text;
        try
        {
            // Strict, as the load reads it: a file that is not UTF-8 is refused rather than shown with replacement characters that a
            // save would write back.
            text = RuleFlow.Rules.RuleSetLoader.DecodeText(await File.ReadAllBytesAsync(full, cancellationToken).ConfigureAwait(false));
        }
        catch (InvalidDataException e)
        {
            return ApiProblems.Problem(422, "RF6424", $"'{path}': {e.Message}; the editor only opens UTF-8 files");
        }

        if (ApiProblems.TooLong("text", text) is { } tooLong)
        {
            return tooLong;
        }

        return Results.Ok(new { path = files.Virtual(full), kind = RuleFileEditor.KindOf(full), text, modified = (DateTimeOffset)File.GetLastWriteTimeUtc(full) });
    }

    /// <summary>
    /// 422 <c>RF6422</c> with <c>diagnostics</c> (nothing written) when the text has errors or causes errors in another rule
    /// file; else 200 <c>{ path, kind, created, diagnostics, reloaded, reloadError }</c>.
    /// </summary>
    private static async Task<IResult> SaveAsync(string path, FileText body, RuleFileEditor files, EventPipeline pipeline, ServerState state,
        CancellationToken cancellationToken)
    {
        if (ApiProblems.NotReady(state) is { } starting)
        {
            return starting;
        }

        if (files.Resolve(path) is not { } full)
        {
            return Outside(path);
        }

        if (body.Text is null)
        {
            return ApiProblems.Problem(400, "RF6021", "body needs \"text\": the file's new content");
        }

        if (ApiProblems.TooLong("text", body.Text) is { } tooLong)
        {
            return tooLong;
        }

        var created = !File.Exists(full);
        var save = await files.SaveAsync(full, body.Text, pipeline.ReloadAsync, cancellationToken).ConfigureAwait(false);
        if (!save.Written)
        {
            var errors = save.Diagnostics.Where(d => d.Severity == "error").ToList();
            return Results.Problem(
                detail: $"'{files.Virtual(full)}' was not saved: {errors.Count} error(s)"
                    + (errors.FirstOrDefault() is { } first ? $" (first: {first.File}:{first.Line}:{first.Column} {first.Code} {first.Message})" : ""),
                statusCode: 422, title: "Rule file refused",
                extensions: new Dictionary<string, object?>(StringComparer.Ordinal) { ["code"] = "RF6422", ["diagnostics"] = save.Diagnostics });
        }

        return Results.Ok(new
        {
            path = files.Virtual(full), kind = RuleFileEditor.KindOf(full), created, diagnostics = save.Diagnostics, reloaded = save.Reloaded,
            reloadError = save.ReloadError,
        });
    }

    /// <summary>
    /// <c>{ passed, failed, results: [{ name, file, passed, message, line }], files: [{ path, ruleFiles, diagnostics }] }</c>:
    /// the same runner as <c>ruleflow test</c> (virtual clock); a file with errors runs no test and shows its diagnostics.
    /// </summary>
    private static IResult RunTests(TestRunRequest request, RuleFileEditor files)
    {
        IReadOnlyList<RuleTestFileResult> results;
        if (request.Path is not null)
        {
            if (files.Resolve(request.Path) is not { } test || RuleFileEditor.KindOf(test) != "ruletest")
            {
                return ApiProblems.Problem(400, "RF6022", $"'{request.Path}' is not a rule test file of the rules directory (rules/….ruletest)");
            }

            if (!File.Exists(test))
            {
                return ApiProblems.Problem(404, "RF6405", $"no file '{request.Path}' in the rules directory");
            }

            results = files.RunTests(test, null, null);
        }
        else if (request.RulesPath is not null)
        {
            if (files.Resolve(request.RulesPath) is not { } rulesFile || RuleFileEditor.KindOf(rulesFile) != "rules")
            {
                return ApiProblems.Problem(400, "RF6022", $"'{request.RulesPath}' is not a rules file of the rules directory (rules/….rules)");
            }

            if (ApiProblems.TooLong("rulesText", request.RulesText) is { } tooLong)
            {
                return tooLong;
            }

            results = files.RunTests(null, rulesFile, request.RulesText);
        }
        else
        {
            return ApiProblems.Problem(400, "RF6023", "body needs \"path\" (rules/x.ruletest) or \"rulesPath\" (rules/x.rules, with \"rulesText\" to test unsaved text)");
        }

        var tests = results.SelectMany(r => r.Tests.Select(t => new
        {
            name = t.Name, file = files.Virtual(r.Path), passed = t.Passed,
            message = t.Passed ? null : files.Scrub(string.Join("\n", t.Failures)), line = t.Location.Line, firings = t.Firings,
        })).ToList();
        return Results.Ok(new
        {
            passed = tests.Count(t => t.passed),
            failed = tests.Count(t => !t.passed),
            results = tests,
            files = results.Select(r => new
            {
                path = files.Virtual(r.Path), ruleFiles = r.RuleFiles.Select(f => files.Virtual(System.IO.Path.GetFullPath(f))),
                passed = r.Passed, diagnostics = r.Diagnostics.Select(files.Map),
            }),
        });
    }
}
