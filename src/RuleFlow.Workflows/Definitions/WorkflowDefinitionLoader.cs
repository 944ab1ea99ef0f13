using System.Text.Json.Nodes;
using System.Text.Json;
using RuleFlow.Scripting;
using YamlDotNet.Core;

namespace RuleFlow.Workflows.Definitions;

/// <summary>The outcome of loading one file.</summary>
/// <param name="Path">The file.</param>
/// <param name="Definition">The definition, or null when the file has errors.</param>
/// <param name="Diagnostics">Errors and warnings of this file.</param>
public sealed record WorkflowFileResult(string Path, WorkflowDefinition? Definition, IReadOnlyList<WorkflowDiagnostic> Diagnostics)
{
    /// <summary>True when the definition loaded (warnings allowed).</summary>
    public bool Succeeded => Definition is not null;
}

/// <summary>The outcome of loading a directory: the good definitions, and a result per file.</summary>
/// <param name="Definitions">Definitions that loaded, in file-name order.</param>
/// <param name="Files">One result per file, loaded or not.</param>
public sealed record WorkflowLoadResult(IReadOnlyList<WorkflowDefinition> Definitions, IReadOnlyList<WorkflowFileResult> Files)
{
    /// <summary>Every diagnostic of every file.</summary>
    public IReadOnlyList<WorkflowDiagnostic> Diagnostics => Files.SelectMany(f => f.Diagnostics).ToList();

    /// <summary>True when any file has an error.</summary>
    public bool HasErrors => Files.Any(f => f.Diagnostics.Any(d => d.Severity == WorkflowDiagnosticSeverity.Error));
}

/// <summary>
/// Loads workflow definitions from YAML (<c>workflows/*.yaml</c>, <c>*.yml</c>) or JSON (<c>*.json</c>, and API bodies).
/// Never throws for a bad definition: every problem becomes a <see cref="WorkflowDiagnostic"/> with file, line, column and
/// JSON path, and one bad file does not stop the others.
/// </summary>
public static class WorkflowDefinitionLoader
{
    /// <summary>Loads every <c>*.yaml</c>, <c>*.yml</c> and <c>*.json</c> file of <paramref name="directory"/> (not recursive), in name order.</summary>
    /// <remarks>Two files with the same workflow id: the first (by name) wins, the second gets <c>WF1013</c>.</remarks>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    public static WorkflowLoadResult LoadDirectory(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"workflow directory '{directory}' does not exist");
        }

        var files = Directory.EnumerateFiles(directory)
            .Where(f => f.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".yml", StringComparison.OrdinalIgnoreCase)
                || f.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)
            .ToList();
        var templates = new TemplateRenderer();
        var results = new List<WorkflowFileResult>();
        var definitions = new List<WorkflowDefinition>();
        var byId = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            var result = LoadFile(file, templates);
            if (result.Definition is { } definition)
            {
                if (byId.TryGetValue(definition.Id, out var first))
                {
                    result = result with
                    {
                        Definition = null,
                        Diagnostics = [.. result.Diagnostics, new WorkflowDiagnostic(DiagnosticCodes.DuplicateWorkflowId, WorkflowDiagnosticSeverity.Error,
                            $"workflow id '{definition.Id}' is already defined in {first}", file, 1, 1, "$.id", "give each workflow file its own id")],
                    };
                }
                else
                {
                    byId[definition.Id] = file;
                    definitions.Add(definition);
                }
            }

            results.Add(result);
        }

        return CheckCalls(definitions, results);
    }

    /// <summary>
    /// Cross-file checks of a loaded set: every <c>call</c> names a loaded workflow (<c>WF1030</c>) and no workflow calls
    /// itself directly or through others (<c>WF1031</c>). A definition with such an error is dropped from the set.
    /// </summary>
    public static WorkflowLoadResult CheckCalls(IReadOnlyList<WorkflowDefinition> definitions, IReadOnlyList<WorkflowFileResult> files)
    {
        ArgumentNullException.ThrowIfNull(definitions);
        ArgumentNullException.ThrowIfNull(files);
        var byId = definitions.ToDictionary(d => d.Id, StringComparer.Ordinal);
        var extra = new Dictionary<string, List<WorkflowDiagnostic>>(StringComparer.Ordinal);
        void Add(WorkflowDefinition d, WorkflowDiagnostic diagnostic)
        {
            if (!extra.TryGetValue(d.Id, out var list))
            {
                extra[d.Id] = list = [];
            }

            list.Add(diagnostic);
        }

        foreach (var definition in definitions)
        {
            foreach (var call in definition.AllSteps().OfType<CallStep>())
            {
                var where = call.Location;
                if (!byId.ContainsKey(call.Workflow))
                {
                    Add(definition, new WorkflowDiagnostic(DiagnosticCodes.DanglingReference, WorkflowDiagnosticSeverity.Error,
                        $"call: no workflow '{call.Workflow}' is loaded", where.File, where.Line, where.Column, where.JsonPath + ".workflow",
                        "known workflows: " + string.Join(", ", byId.Keys.Order(StringComparer.Ordinal))));
                }
                else if (Reaches(byId, call.Workflow, definition.Id, []))
                {
                    Add(definition, new WorkflowDiagnostic(DiagnosticCodes.Cycle, WorkflowDiagnosticSeverity.Error,
                        $"call '{call.Workflow}' leads back to '{definition.Id}': workflows may not call each other in a cycle", where.File, where.Line, where.Column,
                        where.JsonPath + ".workflow", "break the cycle; a sub-workflow must not (indirectly) call its caller"));
                }
            }
        }

        if (extra.Count == 0)
        {
            return new WorkflowLoadResult(definitions, files);
        }

        var kept = definitions.Where(d => !extra.ContainsKey(d.Id)).ToList();
        var newFiles = files.Select(f => f.Definition is { } d && extra.TryGetValue(d.Id, out var list)
            ? f with { Definition = null, Diagnostics = [.. f.Diagnostics, .. list] }
            : f).ToList();
        return new WorkflowLoadResult(kept, newFiles);
    }

    private static bool Reaches(Dictionary<string, WorkflowDefinition> byId, string from, string target, HashSet<string> visited)
    {
        if (from == target)
        {
            return true;
        }

        if (!visited.Add(from) || !byId.TryGetValue(from, out var definition))
        {
            return false;
        }

        return definition.AllSteps().OfType<CallStep>().Any(c => Reaches(byId, c.Workflow, target, visited));
    }

    /// <summary>
    /// The definition document as JSON, with YAML scalars typed the way the loader types them (for checking it against
    /// docs/workflow.schema.json, or showing it in a UI). Nothing is checked beyond the syntax.
    /// </summary>
    /// <returns>The document, or null for an empty one.</returns>
    /// <exception cref="YamlDotNet.Core.YamlException">Not valid YAML (with its position).</exception>
    /// <exception cref="System.Text.Json.JsonException">Not valid JSON (with its position).</exception>
    public static JsonNode? ReadDocument(string text, DefinitionFormat format)
    {
        ArgumentNullException.ThrowIfNull(text);
        return (format == DefinitionFormat.Json ? DocumentReader.ReadJson(text) : DocumentReader.ReadYaml(text))?.ToJson();
    }

    /// <summary>Loads one file (YAML unless it ends in <c>.json</c>).</summary>
    public static WorkflowFileResult LoadFile(string path) => LoadFile(path, new TemplateRenderer());

    /// <summary>Loads a definition from text.</summary>
    /// <param name="text">YAML or JSON text.</param>
    /// <param name="path">Name used in diagnostics (a file path, or e.g. <c>api</c>).</param>
    /// <param name="format">How to read <paramref name="text"/>.</param>
    public static WorkflowFileResult LoadText(string text, string path, DefinitionFormat format) => LoadText(text, path, format, new TemplateRenderer());

    private static WorkflowFileResult LoadFile(string path, TemplateRenderer templates)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new WorkflowFileResult(path, null,
                [new WorkflowDiagnostic(DiagnosticCodes.Syntax, WorkflowDiagnosticSeverity.Error, "cannot read the file: " + ex.Message, path, 0, 0, "$")]);
        }

        var format = path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? DefinitionFormat.Json : DefinitionFormat.Yaml;
        return LoadText(text, path, format, templates);
    }

    private static WorkflowFileResult LoadText(string text, string path, DefinitionFormat format, TemplateRenderer templates)
    {
        ArgumentNullException.ThrowIfNull(text);
        var binder = new DefinitionBinder(path, templates);
        DocNode? root;
        try
        {
            root = format == DefinitionFormat.Json ? DocumentReader.ReadJson(text) : DocumentReader.ReadYaml(text);
        }
        catch (YamlException ex)
        {
            var message = ex.InnerException is { } inner && inner.Message != ex.Message ? ex.Message + ": " + inner.Message : ex.Message;
            binder.Report(DiagnosticCodes.Syntax, "not valid YAML: " + message, (int)ex.Start.Line, (int)ex.Start.Column, "$",
                "check the indentation and quote strings that contain ': ' or start with '{', '[', '*', '&'");
            return new WorkflowFileResult(path, null, binder.Diagnostics);
        }
        catch (JsonException ex)
        {
            binder.Report(DiagnosticCodes.Syntax, "not valid JSON: " + ex.Message, (int)(ex.LineNumber ?? -1) + 1, (int)(ex.BytePositionInLine ?? -1) + 1, "$");
            return new WorkflowFileResult(path, null, binder.Diagnostics);
        }

        var definition = binder.Bind(root, text, format);
        return new WorkflowFileResult(path, definition, binder.Diagnostics);
    }
}
