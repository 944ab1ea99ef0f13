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

        return new WorkflowLoadResult(definitions, results);
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
