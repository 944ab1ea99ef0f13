using System.Text.Json;
using System.Text.Json.Nodes;
using RuleFlow.Rules;
using RuleFlow.Rules.Testing;
using RuleFlow.Workflows.Definitions;

namespace RuleFlow.Cli;

/// <summary>
/// <c>ruleflow check [paths] [--format json]</c>: loads every rule file (<c>*.rules</c>), rule test file (<c>*.ruletest</c>) and
/// workflow definition (<c>*.yaml</c>, <c>*.yml</c>, <c>*.json</c>) under the given files or directories (default: <c>rules</c> and
/// <c>workflows</c> when they exist) and prints every diagnostic of every file in one pass, as <c>file:line:col: error RFnnnn message</c>
/// with the source line and a caret — including the warnings (unused bindings, conditions that can never hold, fields the type does
/// not declare). Test fixtures (files under a <c>fixtures</c> directory, and files a rule test reads) are not taken for workflows.
/// With <c>--format json</c> it prints one JSON document for editors instead. Exit code 1 when any error was found, 2 when a path
/// does not exist, else 0.
/// </summary>
public static class CheckCommand
{
    /// <summary>Runs the check with text output.</summary>
    /// <param name="paths">Files or directories.</param>
    /// <param name="output">Where diagnostics go.</param>
    /// <param name="errors">Where usage errors go.</param>
    public static int Run(IReadOnlyList<string> paths, TextWriter output, TextWriter errors) => Run(paths, output, errors, json: false);

    /// <summary>Runs the check.</summary>
    /// <param name="paths">Files or directories.</param>
    /// <param name="output">Where diagnostics go.</param>
    /// <param name="errors">Where usage errors go.</param>
    /// <param name="json">Print one JSON document: <c>{ files: [{ path, kind, loaded, diagnostics: [{ code, severity, message, file, line, column, hint }] }], errors, warnings }</c>; when a path does not exist (exit code 2), <c>{ files: [], errors, warnings, usageErrors: ["…"] }</c>.</param>
    public static int Run(IReadOnlyList<string> paths, TextWriter output, TextWriter errors, bool json)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(errors);
        if (CommandPaths.OrDefaults(paths, "check", errors, "rules", "workflows") is not { } given)
        {
            return 2;
        }

        paths = given;

        var missing = paths.Where(p => !File.Exists(p) && !Directory.Exists(p)).ToList();
        foreach (var path in missing)
        {
            errors.WriteLine($"ruleflow check: '{path}' does not exist");
        }

        if (missing.Count > 0)
        {
            if (json)
            {
                // An editor reading stdout gets a document it can parse, with the reason, not an empty answer.
                output.WriteLine(new JsonObject
                {
                    ["files"] = new JsonArray(),
                    ["errors"] = missing.Count,
                    ["warnings"] = 0,
                    ["usageErrors"] = new JsonArray([.. missing.Select(p => (JsonNode)JsonValue.Create($"'{p}' does not exist")!)]),
                }.ToJsonString());
            }

            return 2;
        }

        var ruleFiles = new List<string>();
        var testFiles = new List<string>();
        var workflowFiles = new List<string>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                ruleFiles.AddRange(Directory.EnumerateFiles(path, "*.rules", SearchOption.AllDirectories));
                testFiles.AddRange(Directory.EnumerateFiles(path, "*" + RuleTestRunner.Extension, SearchOption.AllDirectories));
                workflowFiles.AddRange(new[] { "*.yaml", "*.yml", "*.json" }.SelectMany(p => Directory.EnumerateFiles(path, p, SearchOption.AllDirectories))
                    .Where(f => !IsFixture(f)));
            }
            else if (path.EndsWith(".rules", StringComparison.OrdinalIgnoreCase))
            {
                ruleFiles.Add(path);
            }
            else if (path.EndsWith(RuleTestRunner.Extension, StringComparison.OrdinalIgnoreCase))
            {
                testFiles.Add(path);
            }
            else
            {
                workflowFiles.Add(path);
            }
        }

        var referenced = testFiles.SelectMany(ReferencedFiles).Select(Path.GetFullPath).ToHashSet(StringComparer.Ordinal);
        workflowFiles = [.. workflowFiles.Where(f => !referenced.Contains(Path.GetFullPath(f)))];

        var report = new List<(string Path, string Kind, bool Loaded, List<(string Code, string Severity, string Message, string File, int Line, int Column, string? Hint, string Text)> Items)>();
        RuleSetLoadResult? rules = null;
        var workflows = new List<WorkflowDefinition>();
        if (ruleFiles.Count > 0)
        {
            // Templates and scripts of actions are compiled as the server's load compiles them (WF1021, WF1020 at the action).
            var result = rules = RuleSetLoader.LoadFiles(ruleFiles.Distinct().Order(StringComparer.Ordinal), null, HostChecks.EmbeddedCode);
            foreach (var file in result.Files)
            {
                var text = result.GetSourceText(file.Path) ?? TryRead(file.Path);
                report.Add((file.Path, "rules", file.Loaded, [.. file.Diagnostics.Select(d => FromRule(d, text))]));
            }
        }

        foreach (var path in testFiles.Distinct().Order(StringComparer.Ordinal))
        {
            var text = TryRead(path) ?? "";
            var parsed = RuleTestRunner.Check(path, text);
            report.Add((path, "ruletest", parsed.All(d => d.Severity != DiagnosticSeverity.Error), [.. parsed.Select(d => FromRule(d, text))]));
        }

        foreach (var path in workflowFiles.Distinct().Order(StringComparer.Ordinal))
        {
            var file = WorkflowDefinitionLoader.LoadFile(path);
            string? source = null;
            var items = new List<(string, string, string, string, int, int, string?, string)>();
            foreach (var diagnostic in file.Diagnostics)
            {
                source ??= TryRead(path) ?? "";
                var text = WithSourceLine(diagnostic.ToString(), source, diagnostic.Line, diagnostic.Column);
                var severity = diagnostic.IsError ? "error" : diagnostic.Severity == WorkflowDiagnosticSeverity.Warning ? "warning" : "info";
                items.Add((diagnostic.Code, severity, diagnostic.Message, path, diagnostic.Line, diagnostic.Column, null, text));
            }

            report.Add((path, "workflow", !file.Diagnostics.Any(d => d.IsError), items));
            if (file.Definition is not null)
            {
                workflows.Add(file.Definition);
            }
        }

        // Errors found in rule files by the workflow side, added to the rule file's entry.
        void AddToRuleFile(WorkflowDiagnostic found)
        {
            var index = report.FindIndex(r => r.Kind == "rules" && string.Equals(Path.GetFullPath(r.Path), Path.GetFullPath(found.File), StringComparison.Ordinal));
            var text = WithSourceLine(found.ToString(), rules!.GetSourceText(found.File) ?? TryRead(found.File), found.Line, found.Column);
            var item = (found.Code, "error", found.Message, found.File, found.Line, found.Column, found.Hint, text);
            if (index >= 0)
            {
                report[index].Items.Add(item);
            }
            else
            {
                report.Add((found.File, "rules", true, [item]));
            }
        }

        // Rules and workflows checked together: every rule's start workflow action must fit the workflow's input schema
        // (WF1040 at the rule's line), as the server checks when it loads both.
        if (rules is not null && workflowFiles.Count > 0)
        {
            var starts = rules.RuleSet.WorkflowStarts
                .Select(s => new StartWorkflowTarget(s.WorkflowId, s.File, s.Line, s.Column, s.Rule, s.InputFields, s.FieldsKnown));
            foreach (var mismatch in StartWorkflowChecker.Check(starts, workflows))
            {
                AddToRuleFile(mismatch);
            }
        }

        var errorCount = report.Sum(r => r.Items.Count(i => i.Severity == "error"));
        var warningCount = report.Sum(r => r.Items.Count(i => i.Severity == "warning"));
        if (json)
        {
            var document = new JsonObject
            {
                ["files"] = new JsonArray([.. report.Select(r => (JsonNode)new JsonObject
                {
                    ["path"] = r.Path,
                    ["kind"] = r.Kind,
                    ["loaded"] = r.Loaded,
                    ["diagnostics"] = new JsonArray([.. r.Items.Select(i => (JsonNode)new JsonObject
                    {
                        ["code"] = i.Code, ["severity"] = i.Severity, ["message"] = i.Message, ["file"] = i.File, ["line"] = i.Line, ["column"] = i.Column,
                        ["hint"] = i.Hint,
                    })]),
                })]),
                ["errors"] = errorCount,
                ["warnings"] = warningCount,
            };
            output.WriteLine(document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }
        else
        {
            foreach (var item in report.SelectMany(r => r.Items))
            {
                output.WriteLine(item.Text);
            }

            output.WriteLine($"{report.Count} file(s) checked: {errorCount} error(s), {warningCount} warning(s)");
        }

        return errorCount > 0 ? 1 : 0;
    }

    private static (string, string, string, string, int, int, string?, string) FromRule(Diagnostic d, string? text) =>
        (d.Code, d.Severity switch { DiagnosticSeverity.Error => "error", DiagnosticSeverity.Warning => "warning", _ => "info" }, d.Message,
            d.Location.File, d.Location.Line, d.Location.Column, d.Hint, DiagnosticFormatter.Format(d, text));

    /// <summary>A workflow diagnostic followed by its source line and a caret under its column (when the line exists).</summary>
    private static string WithSourceLine(string diagnostic, string? source, int line, int column)
    {
        var lines = source?.Split('\n') ?? [];
        if (line < 1 || line > lines.Length)
        {
            return diagnostic;
        }

        var text = lines[line - 1].TrimEnd('\r');
        return diagnostic + "\n    " + text + "\n    " + new string(' ', Math.Clamp(column - 1, 0, text.Length)) + "^";
    }

    private static bool IsFixture(string path) =>
        path.Replace('\\', '/').Split('/').Any(segment => string.Equals(segment, "fixtures", StringComparison.OrdinalIgnoreCase));

    private static IEnumerable<string> ReferencedFiles(string testFile)
    {
        var text = TryRead(testFile);
        if (text is null)
        {
            yield break;
        }

        var directory = Path.GetDirectoryName(testFile) ?? ".";
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(text, "^\\s*events\\s+\"([^\"]+)\"", System.Text.RegularExpressions.RegexOptions.Multiline))
        {
            yield return Path.Combine(directory, m.Groups[1].Value);
        }
    }

    private static string? TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
