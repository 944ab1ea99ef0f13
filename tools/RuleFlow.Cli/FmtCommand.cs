using RuleFlow.Rules;
using RuleFlow.Rules.Formatting;

namespace RuleFlow.Cli;

/// <summary>
/// <c>ruleflow fmt [paths] [--check]</c>: rewrites rule files (<c>*.rules</c>; default: <c>rules</c>) in the canonical layout, keeping
/// comments. With <c>--check</c> nothing is written: the files that are not formatted are listed and the exit code is 1. A file with
/// syntax errors is left alone and reported (exit code 1). Exit code 2 when a path does not exist.
/// </summary>
public static class FmtCommand
{
    /// <summary>Formats (or checks) the files.</summary>
    /// <param name="paths">Rule files or directories.</param>
    /// <param name="check">Only check, write nothing.</param>
    /// <param name="output">Where results go.</param>
    /// <param name="errors">Where usage errors go.</param>
    public static int Run(IReadOnlyList<string> paths, bool check, TextWriter output, TextWriter errors)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(errors);
        if (CommandPaths.OrDefaults(paths, "fmt", errors, "rules") is not { } given)
        {
            return 2;
        }

        paths = given;

        var files = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                foreach (var f in Directory.EnumerateFiles(path, "*.rules", SearchOption.AllDirectories))
                {
                    files.Add(f);
                }
            }
            else if (File.Exists(path))
            {
                files.Add(path);
            }
            else
            {
                errors.WriteLine($"ruleflow fmt: '{path}' does not exist");
                return 2;
            }
        }

        int changed = 0, broken = 0;
        foreach (var file in files)
        {
            string text;
            try
            {
                // Strictly: read leniently, a Latin-1 "café" would be written back as "caf\uFFFD", and the original lost.
                text = RuleSetLoader.ReadText(file);
            }
            catch (InvalidDataException e)
            {
                broken++;
                output.WriteLine($"{file}: not formatted, {e.Message}");
                continue;
            }

            var result = RuleFormatter.Format(text, file);
            if (result.Diagnostics.Count > 0)
            {
                broken++;
                output.WriteLine($"{file}: not formatted, it has syntax errors:");
                foreach (var d in result.Diagnostics)
                {
                    output.WriteLine(DiagnosticFormatter.Format(d, text));
                }

                continue;
            }

            if (!result.Changed)
            {
                continue;
            }

            changed++;
            if (check)
            {
                output.WriteLine($"{file}: not formatted");
            }
            else
            {
                File.WriteAllText(file, result.Text);
                output.WriteLine($"{file}: formatted");
            }
        }

        output.WriteLine(check
            ? $"{files.Count} file(s) checked: {changed} not formatted" + (broken > 0 ? $", {broken} with syntax errors" : "")
            : $"{files.Count} file(s): {changed} formatted" + (broken > 0 ? $", {broken} left alone (syntax errors)" : ""));
        return broken > 0 || (check && changed > 0) ? 1 : 0;
    }
}
