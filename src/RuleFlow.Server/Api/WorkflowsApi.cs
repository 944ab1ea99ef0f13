using RuleFlow.Server.Hosting;
using RuleFlow.Server.Workflows;
using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Server.Api;

/// <summary>
/// Workflow definitions: <c>GET /api/workflows</c> → <c>{ items: [{ id, version, contentHash, description, source, steps }] }</c>
/// (the current version of each); <c>GET /api/workflows/{id}</c> → the current one with its input schema and output;
/// <c>GET /api/workflows/{id}/versions</c> → <c>{ items: [{ version, contentHash, format, source, registeredAt, current }] }</c>,
/// newest first (a changed file is a new version; running instances finish on theirs).
/// For the Studio's designer: <c>GET /api/workflows/{id}/definition?version=N</c> (the text and model of a version),
/// <c>POST /api/workflows/validate</c>, <c>PUT /api/workflows/{id}</c> (validate, write <c>workflows/{id}.yaml</c>, register a
/// version) and <c>GET /api/workflows/schema</c> (docs/workflow.schema.json).
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
        group.MapGet("/schema", Schema);
        group.MapGet("/{id}/definition", DefinitionAsync);
        group.MapPost("/validate", Validate);
        group.MapPut("/{id}", SaveAsync).RequireAuthorization(p => p.RequireRole("author", "admin"));
        return app;
    }

    /// <summary>A workflow text to check or save.</summary>
    /// <param name="Yaml">The YAML text.</param>
    /// <param name="ExpectedVersion">For a save: the version the edit started from; 409 when it is no longer the latest.</param>
    public sealed record WorkflowText(string? Yaml, int? ExpectedVersion = null);

    private static readonly Lazy<string> SchemaText = new(() =>
    {
        using var stream = typeof(WorkflowsApi).Assembly.GetManifestResourceStream("RuleFlow.Server.workflow.schema.json")
            ?? throw new InvalidOperationException("workflow.schema.json is not embedded in the server");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    /// <summary>The JSON Schema of workflow definitions (docs/workflow.schema.json, embedded in the server).</summary>
    private static IResult Schema() => Results.Text(SchemaText.Value, "application/schema+json");

    /// <summary>
    /// <c>{ id, version, file, yaml, definition, current }</c>: the stored text of one version (default: the current one, else
    /// the newest) and its model as JSON (the same field names as the YAML).
    /// </summary>
    private static async Task<IResult> DefinitionAsync(string id, int? version, IWorkflowStore store, IWorkflowDefinitionRegistry registry,
        WorkflowEditor editor, CancellationToken cancellationToken)
    {
        var versions = await store.ListDefinitionsAsync(id, cancellationToken).ConfigureAwait(false);
        if (versions.Count == 0)
        {
            return ApiProblems.Problem(404, "WF4040", $"no workflow '{id}' was ever registered");
        }

        var currentHash = registry.Find(id)?.ContentHash;
        var record = version is { } wanted
            ? versions.FirstOrDefault(v => v.Version == wanted)
            : versions.FirstOrDefault(v => v.ContentHash == currentHash) ?? versions.MaxBy(v => v.Version);
        if (record is null)
        {
            return ApiProblems.Problem(404, "WF4044", $"workflow '{id}' has no version {version}; versions: {string.Join(", ", versions.Select(v => v.Version))}");
        }

        System.Text.Json.Nodes.JsonNode? model = null;
        try
        {
            model = WorkflowDefinitionLoader.ReadDocument(record.SourceText, record.Format);
        }
        catch (Exception e) when (e is YamlDotNet.Core.YamlException or System.Text.Json.JsonException)
        {
            // A stored version always loaded once; leave the model out if it no longer reads.
        }

        return Results.Ok(new
        {
            id = record.WorkflowId, version = record.Version, file = editor.Relative(record.SourcePath),
            format = record.Format.ToString().ToLowerInvariant(), yaml = record.SourceText, definition = model,
            current = record.ContentHash == currentHash, contentHash = record.ContentHash, registeredAt = record.RegisteredAt,
        });
    }

    /// <summary><c>{ ok, id, diagnostics: [{ severity, code, message, line, column, path, stepId, hint, file }] }</c>; writes nothing.</summary>
    private static IResult Validate(WorkflowText body, WorkflowEditor editor)
    {
        if (body.Yaml is null)
        {
            return ApiProblems.Problem(400, "RF6008", "body needs \"yaml\": the workflow definition as YAML text");
        }

        if (ApiProblems.TooLong("yaml", body.Yaml) is { } tooLong)
        {
            return tooLong;
        }

        var result = editor.Validate(body.Yaml, null);
        return Results.Ok(new { ok = result.Ok, id = result.Id, diagnostics = result.Diagnostics });
    }

    /// <summary>
    /// Saves a workflow: 422 <c>RF6423</c> with <c>diagnostics</c> when it has errors (nothing written), 409 <c>RF6409</c>
    /// when <c>expectedVersion</c> is not the latest, else 201 (new file) or 200 <c>{ id, version, file, created, diagnostics }</c>.
    /// </summary>
    private static async Task<IResult> SaveAsync(string id, WorkflowText body, WorkflowEditor editor, ServerState state, CancellationToken cancellationToken)
    {
        if (ApiProblems.NotReady(state) is { } starting)
        {
            return starting;
        }

        if (body.Yaml is null)
        {
            return ApiProblems.Problem(400, "RF6008", "body needs \"yaml\": the workflow definition as YAML text");
        }

        if (ApiProblems.TooLong("yaml", body.Yaml) is { } tooLong)
        {
            return tooLong;
        }

        if (!System.Text.RegularExpressions.Regex.IsMatch(id, "^[A-Za-z][A-Za-z0-9_-]*$"))
        {
            return ApiProblems.Problem(400, "RF6009", $"'{id}' is not a workflow id ([A-Za-z][A-Za-z0-9_-]*)");
        }

        try
        {
            var (saved, validation) = await editor.SaveAsync(id, body.Yaml, body.ExpectedVersion, cancellationToken).ConfigureAwait(false);
            if (saved is null)
            {
                var errors = validation.Diagnostics.Where(d => d.Severity == "error").ToList();
                var first = errors.FirstOrDefault();
                return Results.Problem(
                    detail: $"workflow '{id}' has {errors.Count} error(s); nothing was saved"
                        + (first is null ? "" : $" (first: line {first.Line}{(first.StepId is null ? "" : $", step '{first.StepId}'")}: {first.Message})"),
                    statusCode: 422, title: "Workflow refused",
                    extensions: new Dictionary<string, object?>(StringComparer.Ordinal) { ["code"] = "RF6423", ["diagnostics"] = validation.Diagnostics });
            }

            var answer = new
            {
                id, version = saved.Definition.Version, file = saved.File, created = saved.Created, contentHash = saved.Definition.ContentHash,
                diagnostics = validation.Diagnostics,
            };
            return saved.Created ? Results.Created($"/api/workflows/{id}", answer) : Results.Ok(answer);
        }
        catch (WorkflowException e) when (e.Code == "RF6409")
        {
            return ApiProblems.Problem(409, e.Code, e.Message);
        }
    }
}
