using RuleFlow.Rules;
using RuleFlow.Workflows.Definitions;

namespace RuleFlow.Cli;

/// <summary>
/// <c>ruleflow check [paths]</c>: loads every rule file (<c>*.rules</c>) and workflow definition (<c>*.yaml</c>, <c>*.yml</c>,
/// <c>*.json</c>) under the given files or directories (default: <c>rules</c> and <c>workflows</c> when they exist) and prints
/// every diagnostic of every file in one pass, as <c>file:line:col: error RFnnnn message</c> with the source line and a caret.
/// Exit code 1 when any error was found, 2 when a path does not exist, else 0.
/// </summary>
public static class CheckCommand
{
    /// <summary>Runs the check.</summary>
    public static int Run(IReadOnlyList<string> paths, TextWriter output, TextWriter errors)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(errors);
        if (paths.Count == 0)
        {
            paths = new[] { "rules", "workflows" }.Where(Directory.Exists).ToArray();
            if (paths.Count == 0)
            {
                errors.WriteLine("ruleflow check: no paths given and no rules/ or workflows/ directory here");
                return 2;
            }
        }

        var missing = paths.Where(p => !File.Exists(p) && !Directory.Exists(p)).ToList();
        foreach (var path in missing)
        {
            errors.WriteLine($"ruleflow check: '{path}' does not exist");
        }

        if (missing.Count > 0)
        {
            return 2;
        }

        var ruleFiles = new List<string>();
        var workflowFiles = new List<string>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                ruleFiles.AddRange(Directory.EnumerateFiles(path, "*.rules", SearchOption.AllDirectories));
                workflowFiles.AddRange(new[] { "*.yaml", "*.yml", "*.json" }.SelectMany(p => Directory.EnumerateFiles(path, p, SearchOption.AllDirectories)));
            }
            else if (path.EndsWith(".rules", StringComparison.OrdinalIgnoreCase))
            {
                ruleFiles.Add(path);
            }
            else
            {
                workflowFiles.Add(path);
            }
        }

        int errorCount = 0, warningCount = 0, fileCount = 0;
        if (ruleFiles.Count > 0)
        {
            var result = RuleSetLoader.LoadFiles(ruleFiles.Distinct().Order(StringComparer.Ordinal));
            foreach (var file in result.Files)
            {
                fileCount++;
                string? text = null;
                foreach (var diagnostic in file.Diagnostics)
                {
                    text ??= TryRead(file.Path);
                    output.WriteLine(DiagnosticFormatter.Format(diagnostic, text));
                    Count(diagnostic.Severity == DiagnosticSeverity.Error, diagnostic.Severity == DiagnosticSeverity.Warning);
                }
            }
        }

        foreach (var path in workflowFiles.Distinct().Order(StringComparer.Ordinal))
        {
            fileCount++;
            var file = WorkflowDefinitionLoader.LoadFile(path);
            string[]? lines = null;
            foreach (var diagnostic in file.Diagnostics)
            {
                output.WriteLine(diagnostic.ToString());
                lines ??= TryRead(path)?.Split('\n') ?? [];
                if (diagnostic.Line >= 1 && diagnostic.Line <= lines.Length)
                {
                    var source = lines[diagnostic.Line - 1].TrimEnd('\r');
                    output.WriteLine("    " + source);
                    output.WriteLine("    " + new string(' ', Math.Clamp(diagnostic.Column - 1, 0, source.Length)) + "^");
                }

                Count(diagnostic.IsError, diagnostic.Severity == WorkflowDiagnosticSeverity.Warning);
            }
        }

        output.WriteLine($"{fileCount} file(s) checked: {errorCount} error(s), {warningCount} warning(s)");
        return errorCount > 0 ? 1 : 0;

        void Count(bool isError, bool isWarning)
        {
            if (isError) errorCount++;
            if (isWarning) warningCount++;
        }
    }

    private static string? TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return null;
        }
    }
}
