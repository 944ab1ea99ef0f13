using System.Text;
using RuleFlow.Rules;
using RuleFlow.Rules.Testing;

namespace RuleFlow.Server.Rules;

/// <summary>A file under the rules directory as the Studio sees it.</summary>
/// <param name="Path">Virtual path: <c>rules/</c> + the path inside the rules directory (e.g. <c>rules/fixtures/a.jsonl</c>).</param>
/// <param name="Kind"><c>rules</c> (<c>*.rules</c>), <c>ruletest</c> (<c>*.ruletest</c>) or <c>fixture</c> (anything else).</param>
/// <param name="Size">Bytes.</param>
/// <param name="Modified">Last write (UTC).</param>
public sealed record RuleFileEntry(string Path, string Kind, long Size, DateTimeOffset Modified);

/// <summary>A rule diagnostic for the API: same codes and positions as <c>ruleflow check</c>, the file as a virtual path.</summary>
/// <param name="Severity"><c>error</c>, <c>warning</c> or <c>info</c>.</param>
/// <param name="Code">Stable code (<c>RFnnnn</c>).</param>
/// <param name="Message">What is wrong.</param>
/// <param name="File">The file (<c>rules/x.rules</c>).</param>
/// <param name="Line">1-based line.</param>
/// <param name="Column">1-based column.</param>
/// <param name="Hint">How to fix it, or null.</param>
public sealed record RuleFileDiagnostic(string Severity, string Code, string Message, string File, int Line, int Column, string? Hint);

/// <summary>What saving a file under the rules directory did.</summary>
/// <param name="Written">False when it was refused (errors; nothing written).</param>
/// <param name="Diagnostics">Diagnostics of the file (errors when refused, else warnings) and errors the edit causes in other files.</param>
/// <param name="Reloaded">True when the rule set in force was reloaded with the new file.</param>
/// <param name="ReloadError">Why the reload was refused (another file has errors), or null.</param>
public sealed record RuleFileSave(bool Written, IReadOnlyList<RuleFileDiagnostic> Diagnostics, bool Reloaded, string? ReloadError);

/// <summary>
/// Reads, checks and writes files under the rules directory for the Studio. Paths are virtual (<c>rules/…</c>) and resolved
/// inside the rules directory only: anything that leaves it is refused. A rule file is checked together with the other
/// rule files (the edit must not add errors anywhere) before it is written (temporary file + rename).
/// </summary>
public sealed class RuleFileEditor(RuleHost rules, RuleFlow.Workflows.Definitions.IWorkflowDefinitionRegistry workflows)
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Prefix of every virtual path.</summary>
    public const string Prefix = "rules/";

    /// <summary>Every file under the rules directory (recursively), sorted by path; hidden files and temporary files left out.</summary>
    public IReadOnlyList<RuleFileEntry> List()
    {
        var directory = rules.RulesDirectory;
        if (!Directory.Exists(directory))
        {
            return [];
        }

        return [.. Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Where(f => !System.IO.Path.GetFileName(f).StartsWith('.'))
            .Where(f => Resolve(Virtual(f)) is not null) // no links
            .Select(f => new FileInfo(f))
            .Select(f => new RuleFileEntry(Virtual(f.FullName), KindOf(f.FullName), f.Length, f.LastWriteTimeUtc))
            .OrderBy(e => e.Path, StringComparer.Ordinal)];
    }

    /// <summary>
    /// The full path of a virtual path, or null when it does not start with <c>rules/</c> or leaves the rules directory
    /// (<c>..</c>, absolute paths, a hidden file, a symbolic link below the rules directory), or names a directory or a
    /// path through a file.
    /// </summary>
    public string? Resolve(string? path)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            return null;
        }

        var normalized = path.Replace('\\', '/');
        if (!normalized.StartsWith(Prefix, StringComparison.Ordinal) || normalized.Contains('\0', StringComparison.Ordinal))
        {
            return null;
        }

        var inner = normalized[Prefix.Length..];
        if (inner.Length == 0 || System.IO.Path.IsPathRooted(inner) || inner.Split('/').Any(s => s is ".." or "." || s.StartsWith('.')))
        {
            return null;
        }

        var root = rules.RulesDirectory;
        var full = System.IO.Path.GetFullPath(System.IO.Path.Combine(root, inner));
        if (!full.StartsWith(root.TrimEnd(System.IO.Path.DirectorySeparatorChar) + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            return null;
        }

        // A symbolic link below the rules directory (to a file or a directory) could lead outside it: refused. The rules
        // directory itself may be a link (a deployment's choice).
        // The path must name a file: not an existing directory, and not pass through an existing file.
        var current = root;
        var segments = inner.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < segments.Length; i++)
        {
            current = System.IO.Path.Combine(current, segments[i]);
            var last = i == segments.Length - 1;
            FileSystemInfo info = Directory.Exists(current) ? new DirectoryInfo(current) : new FileInfo(current);
            if (info.Exists && (info.LinkTarget is not null || (last ? info is DirectoryInfo : info is FileInfo)))
            {
                return null;
            }
        }

        return full;
    }

    /// <summary>The virtual path of a full path under the rules directory.</summary>
    public string Virtual(string fullPath)
    {
        ArgumentNullException.ThrowIfNull(fullPath);
        if (!System.IO.Path.IsPathRooted(fullPath))
        {
            return fullPath.Replace('\\', '/');
        }

        var relative = System.IO.Path.GetRelativePath(rules.RulesDirectory, fullPath).Replace('\\', '/');
        return relative.StartsWith("..", StringComparison.Ordinal) ? fullPath : Prefix + relative;
    }

    /// <summary>A message with the rules directory's full path written as <c>rules/</c> (no server paths in answers).</summary>
    public string Scrub(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.Replace(rules.RulesDirectory.TrimEnd('/') + "/", Prefix, StringComparison.Ordinal);
    }

    /// <summary><c>rules</c>, <c>ruletest</c> or <c>fixture</c>.</summary>
    public static string KindOf(string path) =>
        path.EndsWith(".rules", StringComparison.OrdinalIgnoreCase) ? "rules"
        : path.EndsWith(RuleTestRunner.Extension, StringComparison.OrdinalIgnoreCase) ? "ruletest"
        : "fixture";

    /// <summary>A rule diagnostic with its file as a virtual path.</summary>
    public RuleFileDiagnostic Map(Diagnostic d)
    {
        ArgumentNullException.ThrowIfNull(d);
        return new RuleFileDiagnostic(d.Severity switch { DiagnosticSeverity.Error => "error", DiagnosticSeverity.Warning => "warning", _ => "info" },
            d.Code, Scrub(d.Message), Virtual(d.Location.File), d.Location.Line, d.Location.Column, d.Hint);
    }

    /// <summary>
    /// Checks a new text for <paramref name="fullPath"/> without writing it: a rule file together with every other rule file
    /// (errors in the file, and errors in other files that the edit causes), a test file by parsing it; a fixture is not checked.
    /// </summary>
    /// <returns>The diagnostics to show, and whether the edit is refused.</returns>
    public (IReadOnlyList<RuleFileDiagnostic> Diagnostics, bool Refused) Check(string fullPath, string text)
    {
        ArgumentNullException.ThrowIfNull(fullPath);
        ArgumentNullException.ThrowIfNull(text);
        switch (KindOf(fullPath))
        {
            case "rules":
            {
                var onDisk = RuleFiles().ToDictionary(f => f, ReadOrNull, StringComparer.Ordinal);
                // Templates and scripts of actions are compiled as the server's load compiles them (WF1021, WF1020 at the action).
                var before = RuleSetLoader.LoadSources(onDisk.Where(f => f.Value is not null).Select(f => (f.Key, f.Value!)).OrderBy(f => f.Key, StringComparer.Ordinal),
                    RuleHost.CheckEmbeddedCode);
                var edited = new Dictionary<string, string?>(onDisk, StringComparer.Ordinal) { [fullPath] = text };
                var after = RuleSetLoader.LoadSources(edited.Where(f => f.Value is not null).Select(f => (f.Key, f.Value!)).OrderBy(f => f.Key, StringComparer.Ordinal),
                    RuleHost.CheckEmbeddedCode);
                var existing = before.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error && d.Location.File != fullPath)
                    .Select(Key).ToHashSet(StringComparer.Ordinal);
                var own = after.Diagnostics.Where(d => d.Location.File == fullPath).ToList();
                var caused = after.Diagnostics.Where(d => d.Location.File != fullPath && d.Severity == DiagnosticSeverity.Error && !existing.Contains(Key(d))).ToList();
                var refused = own.Any(d => d.Severity == DiagnosticSeverity.Error) || caused.Count > 0;
                return ([.. own.Concat(caused).Select(Map), .. StartWarnings(after.RuleSet, fullPath)], refused);
            }

            case "ruletest":
            {
                var parsed = RuleTestRunner.ParseOnly(fullPath, text);
                return ([.. parsed.Select(Map)], parsed.Any(d => d.Severity == DiagnosticSeverity.Error));
            }

            default:
                return ([], false);
        }
    }

    /// <summary>
    /// Checks and, when nothing is refused, writes the file atomically; a rule file then reloads the rule set in force
    /// (<paramref name="reload"/>: the pipeline's reload, which carries working memory over).
    /// </summary>
    public async Task<RuleFileSave> SaveAsync(string fullPath, string text, Func<CancellationToken, Task> reload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(fullPath);
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(reload);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var (diagnostics, refused) = Check(fullPath, text);
            if (refused)
            {
                return new RuleFileSave(false, diagnostics, false, null);
            }

            await Hosting.AtomicFile.WriteAllTextAsync(fullPath, text, cancellationToken).ConfigureAwait(false);

            if (KindOf(fullPath) != "rules")
            {
                return new RuleFileSave(true, diagnostics, false, null);
            }

            var (result, applied) = rules.LoadFromDisk(keepOnError: true);
            if (!applied)
            {
                return new RuleFileSave(true, diagnostics, false,
                    "the rule set in force was kept: " + string.Join("; ", result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(5).Select(d => Map(d) is var m ? $"{m.File}:{m.Line}:{m.Column} {m.Code} {m.Message}" : "")));
            }

            await reload(cancellationToken).ConfigureAwait(false);
            return new RuleFileSave(true, diagnostics, true, null);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Runs rule tests: one test file, or every test file under the rules directory that tests <paramref name="rulesFile"/>,
    /// optionally against an unsaved text of that rules file.
    /// </summary>
    public IReadOnlyList<RuleTestFileResult> RunTests(string? testFile, string? rulesFile, string? rulesText)
    {
        if (testFile is not null)
        {
            return [RuleTestRunner.RunFile(testFile, File.ReadAllText(testFile), null, RuleHost.CheckEmbeddedCode)];
        }

        ArgumentNullException.ThrowIfNull(rulesFile);
        var overrides = rulesText is null ? null : new Dictionary<string, string>(StringComparer.Ordinal) { [rulesFile] = rulesText };
        var results = new List<RuleTestFileResult>();
        foreach (var file in Directory.EnumerateFiles(rules.RulesDirectory, "*" + RuleTestRunner.Extension, SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var result = RuleTestRunner.RunFile(file, File.ReadAllText(file), overrides, RuleHost.CheckEmbeddedCode);
            if (result.RuleFiles.Any(r => System.IO.Path.GetFullPath(r) == rulesFile))
            {
                results.Add(result);
            }
        }

        return results;
    }

    /// <summary>
    /// The file's <c>start workflow</c> actions checked against the loaded workflows' input schemas (<c>WF1040</c>), as
    /// warnings: the workflow may be written next, and the runtime refuses a bad input when the rule fires anyway.
    /// </summary>
    private IEnumerable<RuleFileDiagnostic> StartWarnings(RuleSet set, string fullPath)
    {
        var targets = RuleHost.StartTargets(set.WorkflowStarts.Where(s => s.File == fullPath));
        return RuleFlow.Workflows.Definitions.StartWorkflowChecker.Check(targets, workflows.Current)
            .Select(d => new RuleFileDiagnostic("warning", d.Code, d.Message, Virtual(d.File), d.Line, d.Column, d.Hint));
    }

    private IEnumerable<string> RuleFiles() =>
        Directory.Exists(rules.RulesDirectory)
            ? Directory.EnumerateFiles(rules.RulesDirectory, "*.rules", SearchOption.AllDirectories).Select(f => f.Replace('\\', '/'))
            : [];

    private static string Key(Diagnostic d) => $"{d.Location.File}:{d.Location.Line}:{d.Location.Column}:{d.Code}:{d.Message}";

    private static string? ReadOrNull(string path)
    {
        try
        {
            return RuleSetLoader.ReadText(path); // as the load reads it: a file that is not UTF-8 is left out, as an unreadable one
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            return null;
        }
    }
}
