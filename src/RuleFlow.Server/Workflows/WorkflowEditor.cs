using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using RuleFlow.Server.Hosting;
using RuleFlow.Server.Rules;
using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Server.Workflows;

/// <summary>
/// A diagnostic of a workflow edited in the Studio: the loader's diagnostic plus the id of the step it is in (found by
/// following its JSON path through the document) and, for the rule cross-check, the rule file it points at.
/// </summary>
/// <param name="Severity"><c>error</c> or <c>warning</c>.</param>
/// <param name="Code">Stable code (<c>WF1nnn</c>).</param>
/// <param name="Message">What is wrong.</param>
/// <param name="Line">1-based line (0 when unknown).</param>
/// <param name="Column">1-based column (0 when unknown).</param>
/// <param name="Path">JSON path, e.g. <c>$.steps[2].script</c>.</param>
/// <param name="StepId">The step the path is in, or null.</param>
/// <param name="Hint">How to fix it, or null.</param>
/// <param name="File">
/// Null when the position is in the workflow text; a content-root-relative rule file (e.g. <c>rules/ssh.rules</c>) when the
/// problem is a rule's <c>start workflow</c> input that no longer fits (then line and column are in that file).
/// </param>
public sealed record EditorDiagnostic(string Severity, string Code, string Message, int Line, int Column, string Path, string? StepId, string? Hint,
    string? File = null);

/// <summary>The outcome of validating a workflow text.</summary>
/// <param name="Definition">The definition when it has no error, else null.</param>
/// <param name="Id">The workflow id read from the text, when it has one.</param>
/// <param name="Diagnostics">Errors and warnings.</param>
public sealed record EditorValidation(WorkflowDefinition? Definition, string? Id, IReadOnlyList<EditorDiagnostic> Diagnostics)
{
    /// <summary>True when nothing is an error.</summary>
    public bool Ok => Definition is not null && Diagnostics.All(d => d.Severity != "error");
}

/// <summary>What a save did.</summary>
/// <param name="Definition">The registered definition (with its version).</param>
/// <param name="File">Content-root-relative path of the file written.</param>
/// <param name="Created">True when the file did not exist before.</param>
public sealed record EditorSave(WorkflowDefinition Definition, string File, bool Created);

/// <summary>
/// Validates and saves workflow definitions for the Studio: the same checks as at load time (the loader's, the
/// <c>call</c> checks against the loaded workflows, and the rules' <c>start workflow</c> inputs against the input schema),
/// then an atomic write of <c>workflows/{id}.yaml</c> (temporary file + rename; the file stays the source of truth) and
/// a new version in the registry. One save at a time.
/// </summary>
public sealed class WorkflowEditor(
    IHostEnvironment environment,
    IOptions<RuleFlowOptions> options,
    IWorkflowDefinitionRegistry registry,
    IWorkflowStore store,
    RuleHost rules,
    ServerState state)
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Code of a workflow text whose id differs from the id in the URL.</summary>
    public const string IdMismatch = "WF1042";

    /// <summary>Code of a declared <c>version</c> that is already registered with other content.</summary>
    public const string VersionTaken = "WF1041";

    /// <summary>Absolute workflows directory.</summary>
    public string Directory => System.IO.Path.GetFullPath(System.IO.Path.Combine(environment.ContentRootPath, options.Value.WorkflowsPath));

    /// <summary>The path of a stored source relative to the content root (e.g. <c>workflows/x.yaml</c>), or the path as stored when it is elsewhere.</summary>
    public string Relative(string path) => RelativeTo(environment.ContentRootPath, path);

    /// <summary>
    /// <paramref name="path"/> relative to <paramref name="contentRoot"/> with '/' separators, or as given when it is outside it: how
    /// workflow files are named in the Studio, in <c>/health</c> and in <see cref="ServerState.WorkflowFilesFailed"/>.
    /// </summary>
    public static string RelativeTo(string contentRoot, string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!System.IO.Path.IsPathRooted(path))
        {
            return path.Replace('\\', '/');
        }

        var relative = System.IO.Path.GetRelativePath(contentRoot, path);
        return relative.StartsWith("..", StringComparison.Ordinal) ? path : relative.Replace('\\', '/');
    }

    /// <summary>The file a workflow id is saved to: <c>{workflows}/{id}.yaml</c>, or the YAML file it was loaded from.</summary>
    /// <remarks>
    /// When the loaded definition of <paramref name="id"/> came from another YAML file of the workflows directory (a file
    /// not named after its id), that file: writing <c>{id}.yaml</c> next to it would make two files define one id.
    /// </remarks>
    public string FileOf(string id)
    {
        var source = registry.Find(id)?.SourcePath;
        if (source is not null && System.IO.Path.IsPathRooted(source)
            && string.Equals(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(source)), Directory.TrimEnd(System.IO.Path.DirectorySeparatorChar), StringComparison.Ordinal)
            && (source.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || source.EndsWith(".yml", StringComparison.OrdinalIgnoreCase))
            && File.Exists(source))
        {
            return System.IO.Path.GetFullPath(source);
        }

        return System.IO.Path.Combine(Directory, id + ".yaml");
    }

    /// <summary>Validates YAML as the server would load it, without writing anything.</summary>
    /// <param name="yaml">The text.</param>
    /// <param name="expectedId">The id it must have (PUT), or null.</param>
    public EditorValidation Validate(string yaml, string? expectedId)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        var path = expectedId is null ? "validate.yaml" : FileOf(expectedId);
        var result = WorkflowDefinitionLoader.LoadText(yaml, path, DefinitionFormat.Yaml);
        JsonNode? document = null;
        try
        {
            document = WorkflowDefinitionLoader.ReadDocument(yaml, DefinitionFormat.Yaml);
        }
        catch (Exception e) when (e is YamlDotNet.Core.YamlException or System.Text.Json.JsonException or InvalidOperationException)
        {
            // The loader reported the syntax error.
        }

        var id = (document as JsonObject)?["id"] is JsonValue idValue && idValue.TryGetValue<string>(out var text) ? text : result.Definition?.Id;
        var diagnostics = result.Diagnostics.ToList();
        var definition = result.Definition;
        var foreign = new List<EditorDiagnostic>();
        if (definition is not null)
        {
            // The same cross-checks as a directory load: calls name loaded workflows and make no cycle.
            var set = registry.Current.Where(d => d.Id != definition.Id).Append(definition).ToList();
            var files = new List<WorkflowFileResult> { new(path, definition, []) };
            var checkedCalls = WorkflowDefinitionLoader.CheckCalls(set, files);
            diagnostics.AddRange(checkedCalls.Files[0].Diagnostics);

            // Rules that start this workflow must still give what its input schema requires.
            var targets = RuleHost.StartTargets(rules.Current.WorkflowStarts.Where(s => s.WorkflowId == definition.Id));
            foreach (var d in StartWorkflowChecker.Check(targets, [definition]))
            {
                foreign.Add(new EditorDiagnostic(Severity(d), d.Code, d.Message, d.Line, d.Column, d.JsonPath, null, d.Hint, Relative(d.File)));
            }
        }

        if (expectedId is not null && id is not null && id != expectedId)
        {
            diagnostics.Add(new WorkflowDiagnostic(IdMismatch, WorkflowDiagnosticSeverity.Error,
                $"the workflow id is '{id}' but it is saved as '{expectedId}'", path, LineOf(yaml, "id"), 1, "$.id",
                $"write id: {expectedId}, or save it under /api/workflows/{id}"));
        }

        var all = diagnostics.Select(d => new EditorDiagnostic(Severity(d), d.Code, d.Message, d.Line, d.Column, d.JsonPath, StepAt(document, d.JsonPath), d.Hint))
            .Concat(foreign).ToList();
        return new EditorValidation(all.Any(d => d.Severity == "error") ? null : definition, id, all);
    }

    /// <summary>
    /// Validates and saves: on success <c>workflows/{id}.yaml</c> is written atomically and the definition registered as
    /// the current version (the same content again gives the same version and rewrites nothing).
    /// </summary>
    /// <returns>The save, or the validation that refused it.</returns>
    /// <exception cref="WorkflowException"><c>RF6409</c> when <paramref name="expectedVersion"/> is not the version in force.</exception>
    public async Task<(EditorSave? Saved, EditorValidation Validation)> SaveAsync(string id, string yaml, int? expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(yaml);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var versions = await store.ListDefinitionsAsync(id, cancellationToken).ConfigureAwait(false);
            var latest = versions.Count == 0 ? 0 : versions.Max(v => v.Version);

            // Compared with the version in force, which is what an editor reads: saving earlier content again makes its
            // (lower) version current, so the highest number registered is not necessarily the one in force.
            var current = registry.Find(id)?.Version ?? 0;
            if (expectedVersion is { } expected && expected != current)
            {
                throw new WorkflowException("RF6409",
                    $"workflow '{id}' is at version {current}, not {expected}: it was changed since it was read; reload it and apply the edit again");
            }

            var validation = Validate(yaml, id);
            if (!validation.Ok || validation.Definition is not { } definition)
            {
                return (null, validation);
            }

            if (definition.DeclaredVersion is { } declared && versions.FirstOrDefault(v => v.Version == declared) is { } taken && taken.ContentHash != definition.ContentHash)
            {
                var diagnostic = new EditorDiagnostic("error", VersionTaken,
                    $"version {declared} of '{id}' is already registered with other content; running instances may use it", LineOf(yaml, "version"), 1,
                    "$.version", null, $"write version: {latest + 1}, or remove the version line to number versions automatically");
                return (null, validation with { Definition = null, Diagnostics = [.. validation.Diagnostics, diagnostic] });
            }

            var file = FileOf(id);
            var created = !File.Exists(file);
            var unchanged = !created && string.Equals(await File.ReadAllTextAsync(file, cancellationToken).ConfigureAwait(false), yaml, StringComparison.Ordinal);
            if (!unchanged)
            {
                await Hosting.AtomicFile.WriteAllTextAsync(file, yaml, cancellationToken).ConfigureAwait(false);
            }

            var registered = await registry.RegisterOneAsync(definition, cancellationToken).ConfigureAwait(false);
            rules.CheckWorkflowStarts(); // a rule that named this workflow before it existed is fine now
            state.WorkflowFilesFailed = [.. state.WorkflowFilesFailed.Where(f => f != Relative(file))]; // a file that failed at start, fixed
            return (new EditorSave(registered, Relative(file), created), validation);
        }
        finally
        {
            _gate.Release();
        }
    }

    private static string Severity(WorkflowDiagnostic d) => d.IsError ? "error" : "warning";

    /// <summary>The 1-based line of the first top-level <c>key:</c> in <paramref name="yaml"/>, else 1.</summary>
    private static int LineOf(string yaml, string key)
    {
        var lines = yaml.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith(key + ":", StringComparison.Ordinal))
            {
                return i + 1;
            }
        }

        return 1;
    }

    /// <summary>
    /// Follows a JSON path (<c>$.steps[2].branches[0].steps[1].script</c>) through the document and returns the id of the
    /// innermost step on the way (an object with <c>id</c> and <c>kind</c>), or null.
    /// </summary>
    public static string? StepAt(JsonNode? document, string? path)
    {
        if (document is null || string.IsNullOrEmpty(path) || path[0] != '$')
        {
            return null;
        }

        string? step = null;
        var node = document;
        var i = 1;
        while (i < path.Length && node is not null)
        {
            if (path[i] == '.')
            {
                var end = i + 1;
                while (end < path.Length && path[end] != '.' && path[end] != '[')
                {
                    end++;
                }

                node = node is JsonObject o ? o[path[(i + 1)..end]] : null;
                i = end;
            }
            else if (path[i] == '[')
            {
                var end = path.IndexOf(']', i);
                if (end < 0 || !int.TryParse(path.AsSpan(i + 1, end - i - 1), out var index))
                {
                    break;
                }

                node = node is JsonArray a && index >= 0 && index < a.Count ? a[index] : null;
                i = end + 1;
            }
            else
            {
                break;
            }

            if (node is JsonObject candidate && candidate["kind"] is JsonValue && candidate["id"] is JsonValue idNode && idNode.TryGetValue<string>(out var stepId))
            {
                step = stepId;
            }
        }

        return step;
    }
}
