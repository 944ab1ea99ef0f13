using System.Text;
using RuleFlow.Rules.Compilation;
using RuleFlow.Rules.Language;

namespace RuleFlow.Rules;

/// <summary>What loading rule files gave: the rule set built from the files that loaded, and every file's diagnostics.</summary>
public sealed class RuleSetLoadResult
{
    private readonly IReadOnlyDictionary<string, string> _sources;

    internal RuleSetLoadResult(RuleSet ruleSet, IReadOnlyList<RuleFileResult> files, IReadOnlyDictionary<string, string> sources)
    {
        RuleSet = ruleSet;
        Files = files;
        _sources = sources;
        Diagnostics = [.. files.SelectMany(f => f.Diagnostics)];
    }

    /// <summary>The rule set built from the files that loaded (files with errors are left out); never null.</summary>
    public RuleSet RuleSet { get; }

    /// <summary>One result per file, sorted by path (load order).</summary>
    public IReadOnlyList<RuleFileResult> Files { get; }

    /// <summary>All diagnostics of all files, by file, then line and column.</summary>
    public IReadOnlyList<Diagnostic> Diagnostics { get; }

    /// <summary>True when any file has an error (that file's rules are not in <see cref="RuleSet"/>).</summary>
    public bool HasErrors => Diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error);

    /// <summary>The text that was loaded for a file (for <see cref="DiagnosticFormatter.Format"/>), or null when it could not be read.</summary>
    /// <param name="path">A path as in <see cref="RuleFileResult.Path"/>.</param>
    public string? GetSourceText(string path) => _sources.GetValueOrDefault(path);

    /// <summary>Every diagnostic formatted with its source line and caret (<see cref="DiagnosticFormatter.Format"/>), one block each.</summary>
    public IEnumerable<string> FormatDiagnostics() =>
        Diagnostics.Select(d => DiagnosticFormatter.Format(d, GetSourceText(d.Location.File)));
}

/// <summary>
/// Loads rule files (<c>*.rules</c>) into a <see cref="RuleSet"/>. Every file is lexed, parsed and bound in one pass that reports
/// all of its errors; event types declared in one file can be used in any other; a file with an error is left out (its rules;
/// its error-free event declarations still count) and the others load. Never throws for bad rule text or unreadable files.
/// </summary>
public static class RuleSetLoader
{
    /// <summary>Loads every <c>*.rules</c> file under <paramref name="directory"/> (recursively), sorted by path (ordinal).</summary>
    /// <param name="directory">A directory; when it does not exist the result has one RF1000 error.</param>
    /// <exception cref="ArgumentNullException"><paramref name="directory"/> is null.</exception>
    public static RuleSetLoadResult LoadDirectory(string directory) => LoadDirectory(directory, null);

    /// <summary>
    /// Loads every <c>*.rules</c> file under <paramref name="directory"/> like <see cref="LoadDirectory(string)"/>, checking the
    /// templates and scripts of rule actions with <paramref name="checkCode"/>: each error it returns is an error of the rule's file at
    /// the action, so that file is left out (at start) or the set refused (a reload), as for any other error.
    /// </summary>
    /// <param name="directory">A directory; when it does not exist the result has one RF1000 error.</param>
    /// <param name="checkCode">Compiles one template or script as the host would when the action runs; null checks none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="directory"/> is null.</exception>
    public static RuleSetLoadResult LoadDirectory(string directory, Func<EmbeddedCodeInfo, EmbeddedCodeError?>? checkCode)
    {
        ArgumentNullException.ThrowIfNull(directory);
        return LoadFiles([directory], null, checkCode);
    }

    /// <summary>Loads files and directories (directories: every <c>*.rules</c> under them, recursively). Sorted by path, duplicates removed.</summary>
    /// <param name="paths">Files or directories.</param>
    /// <exception cref="ArgumentNullException"><paramref name="paths"/> is null.</exception>
    public static RuleSetLoadResult LoadFiles(IEnumerable<string> paths) => LoadFiles(paths, null);

    /// <summary>
    /// Loads files and directories like <see cref="LoadFiles(IEnumerable{string})"/>, with the text of some files given instead of
    /// read (an editor's unsaved text): <paramref name="texts"/> maps a file's full path to its text; such a file need not exist yet.
    /// Every other file is read from disk, and one that cannot be read is a diagnostic naming it.
    /// </summary>
    /// <param name="paths">Files or directories.</param>
    /// <param name="texts">Full path → text, or null.</param>
    /// <exception cref="ArgumentNullException"><paramref name="paths"/> is null.</exception>
    public static RuleSetLoadResult LoadFiles(IEnumerable<string> paths, IReadOnlyDictionary<string, string>? texts) => LoadFiles(paths, texts, null);

    /// <summary>
    /// <see cref="LoadFiles(IEnumerable{string}, IReadOnlyDictionary{string, string})"/> with the templates and scripts of rule actions
    /// checked by <paramref name="checkCode"/> (see <see cref="LoadDirectory(string, Func{EmbeddedCodeInfo, EmbeddedCodeError})"/>).
    /// </summary>
    /// <param name="paths">Files or directories.</param>
    /// <param name="texts">Full path → text, or null.</param>
    /// <param name="checkCode">Compiles one template or script as the host would; null checks none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="paths"/> is null.</exception>
    public static RuleSetLoadResult LoadFiles(IEnumerable<string> paths, IReadOnlyDictionary<string, string>? texts, Func<EmbeddedCodeInfo, EmbeddedCodeError?>? checkCode)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var files = new SortedSet<string>(StringComparer.Ordinal);
        var unreadable = new List<(string Path, string Error)>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                try
                {
                    foreach (var file in Directory.EnumerateFiles(path, "*.rules", SearchOption.AllDirectories))
                    {
                        files.Add(file.Replace('\\', '/'));
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    unreadable.Add((path, e.Message));
                }
            }
            else if (File.Exists(path) || (texts?.ContainsKey(Path.GetFullPath(path)) ?? false))
            {
                files.Add(path.Replace('\\', '/'));
            }
            else
            {
                unreadable.Add((path, "no such file or directory"));
            }
        }

        var sources = new List<(string Path, string? Text, string? Error)>();
        foreach (var file in files)
        {
            if (texts is not null && texts.TryGetValue(Path.GetFullPath(file), out var given))
            {
                sources.Add((file, given, null));
                continue;
            }

            try
            {
                sources.Add((file, ReadText(file), null));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                sources.Add((file, null, e.Message));
            }
        }

        sources.AddRange(unreadable.Select(u => (u.Path, (string?)null, (string?)u.Error)));
        return Load(sources, checkCode);
    }

    /// <summary>Loads rule texts given in memory, in the order given (paths are used in diagnostics).</summary>
    /// <param name="sources">(path, text) pairs.</param>
    /// <exception cref="ArgumentNullException"><paramref name="sources"/> is null.</exception>
    public static RuleSetLoadResult LoadSources(IEnumerable<(string Path, string Text)> sources) => LoadSources(sources, null);

    /// <summary>
    /// <see cref="LoadSources(IEnumerable{ValueTuple{string, string}})"/> with the templates and scripts of rule actions checked by
    /// <paramref name="checkCode"/> (see <see cref="LoadDirectory(string, Func{EmbeddedCodeInfo, EmbeddedCodeError})"/>).
    /// </summary>
    /// <param name="sources">(path, text) pairs.</param>
    /// <param name="checkCode">Compiles one template or script as the host would; null checks none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="sources"/> is null.</exception>
    public static RuleSetLoadResult LoadSources(IEnumerable<(string Path, string Text)> sources, Func<EmbeddedCodeInfo, EmbeddedCodeError?>? checkCode)
    {
        ArgumentNullException.ThrowIfNull(sources);
        return Load([.. sources.Select(s => (s.Path, (string?)s.Text, (string?)null))], checkCode);
    }

    private sealed class FileState(SourceText source)
    {
        public SourceText Source { get; } = source;

        public DiagnosticBag Diagnostics { get; } = new(source);

        public CompilationUnitSyntax? Syntax { get; set; }

        public FileScope Scope { get; set; } = FileScope.Global;

        public List<BoundRule> Rules { get; } = [];

        public bool Failed => Diagnostics.HasErrors;
    }

    private static string Normalize(string path) => path.Replace('\\', '/');

    private static RuleSetLoadResult Load(IReadOnlyList<(string Path, string? Text, string? Error)> inputs, Func<EmbeddedCodeInfo, EmbeddedCodeError?>? checkCode)
    {
        var states = new List<FileState>();
        var byPath = new Dictionary<string, FileState>(StringComparer.Ordinal);
        var texts = new Dictionary<string, string>(StringComparer.Ordinal);
        var provided = inputs.Where(i => i.Text is not null).ToDictionary(i => Normalize(i.Path ?? ""), i => i.Text!, StringComparer.Ordinal);

        FileState Parse(string path, string? text, string? error)
        {
            var state = new FileState(new SourceText(path, text ?? ""));
            states.Add(state);
            byPath.TryAdd(Normalize(path), state);
            if (text is null)
            {
                state.Diagnostics.Report(DiagnosticCodes.CannotReadFile, 0, $"cannot read {path}: {error}");
                return state;
            }

            texts.TryAdd(path, text);
            Guard(state, () => state.Syntax = Parser.Parse(state.Source, state.Diagnostics));
            return state;
        }

        foreach (var (path, text, error) in inputs)
        {
            Parse(path ?? "", text, error);
        }

        // Imports: 'import "file.rules"' loads that file too (relative to the importing file); 'import ns' makes ns's short names visible.
        for (var i = 0; i < states.Count; i++)
        {
            var state = states[i];
            if (state.Syntax is null)
            {
                continue;
            }

            string? ns = null;
            var imports = new List<string>();
            foreach (var member in state.Syntax.Members)
            {
                switch (member)
                {
                    case NamespaceDeclarationSyntax { Name.IsMissing: false } n:
                        ns ??= n.Name.Name;
                        break;
                    case ImportDeclarationSyntax { Namespace: { IsMissing: false } name }:
                        imports.Add(name.Name);
                        break;
                    case ImportDeclarationSyntax { File: { IsMissing: false, Value: string file } token }:
                    {
                        var directory = Path.GetDirectoryName(state.Source.Path) ?? "";
                        var target = Normalize(Path.IsPathRooted(file) ? file : Path.Combine(directory, file));
                        var full = Normalize(Path.GetFullPath(target));
                        if (byPath.ContainsKey(target) || byPath.ContainsKey(full)
                            || states.Any(s => Normalize(Path.GetFullPath(s.Source.Path)) == full))
                        {
                            break;
                        }

                        if (provided.TryGetValue(target, out var providedText))
                        {
                            Parse(target, providedText, null);
                            break;
                        }

                        try
                        {
                            Parse(target, ReadText(target), null);
                        }
                        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException or NotSupportedException)
                        {
                            state.Diagnostics.Report(DiagnosticCodes.ImportNotFound, token.Span, $"cannot import \"{file}\": {e.Message}",
                                "the path is relative to the importing file");
                        }

                        break;
                    }
                }
            }

            state.Scope = new FileScope(ns, imports);
        }

        // Event and fact types are global (qualified by their file's namespace): every error-free declaration of any file counts;
        // the first declaration of a name wins.
        var regexes = new RegexCache();
        var types = new List<BoundEventType>();
        var byName = new Dictionary<string, BoundEventType>(StringComparer.Ordinal);
        var declaredWithErrors = new Dictionary<string, SourceLocation>(StringComparer.Ordinal);
        foreach (var state in states)
        {
            if (state.Syntax is null)
            {
                continue;
            }

            var binder = new Binder(state.Diagnostics, byName, state.Scope, regexes);
            foreach (var declaration in state.Syntax.Members.OfType<EventDeclarationSyntax>())
            {
                BoundEventType? type = null;
                Guard(state, () => type = binder.BindEventDeclaration(declaration));
                if (type is null)
                {
                    // Uses of the type then say so, instead of calling it unknown and suggesting to declare it.
                    if (!declaration.Name.IsMissing)
                    {
                        declaredWithErrors.TryAdd(state.Scope.Qualify(declaration.Name.Name), state.Diagnostics.Source.GetLocation(declaration.Name.Span.Start));
                    }

                    continue;
                }

                if (byName.TryGetValue(type.Name, out var first))
                {
                    state.Diagnostics.Report(DiagnosticCodes.DuplicateEventType, declaration.Name.Span,
                        $"the type '{type.Name}' is already declared at {first.Location}", "declare each type once, in one file");
                    continue;
                }

                byName.Add(type.Name, type);
                types.Add(type);
            }
        }

        // Rules: bind per file; a rule name may be used once across the files that load.
        var ruleNames = new Dictionary<string, SourceLocation>(StringComparer.Ordinal);
        var rules = new List<BoundRule>();
        foreach (var state in states)
        {
            if (state.Syntax is null)
            {
                continue;
            }

            Guard(state, () =>
            {
                var binder = new Binder(state.Diagnostics, byName, state.Scope, regexes) { DeclaredWithErrors = declaredWithErrors };
                foreach (var rule in binder.BindRules(state.Syntax))
                {
                    if (ruleNames.TryGetValue(rule.Name, out var other))
                    {
                        state.Diagnostics.Report(DiagnosticCodes.DuplicateRule, rule.Location,
                            $"the rule name \"{rule.Name}\" is already used at {other}", "rule names must be unique in a rule set");
                        continue;
                    }

                    state.Rules.Add(rule);
                }

                if (checkCode is null)
                {
                    return;
                }

                // Of every rule, also those with other errors: one pass reports every error.
                foreach (var (rule, action) in binder.BoundActions)
                {
                    if (EmbeddedCodeOf(rule, action) is { } code && CheckCode(checkCode, code) is { } error)
                    {
                        state.Diagnostics.ReportError(error.Code, action.Location, error.Message, error.Hint);
                    }
                }
            });

            if (!state.Failed)
            {
                foreach (var rule in state.Rules)
                {
                    ruleNames.Add(rule.Name, rule.Location);
                    rules.Add(rule);
                }
            }
        }

        NetworkBuilder.Result? built = null;
        try
        {
            built = NetworkBuilder.Build(types, rules);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var state = states.FirstOrDefault(s => s.Rules.Count > 0) ?? states.FirstOrDefault();
            state?.Diagnostics.Report(DiagnosticCodes.InternalError, 0,
                $"internal error while building the network ({e.GetType().Name}: {e.Message}); please report it", null);
            built = NetworkBuilder.Build(types, []);
            rules.Clear();
        }

        foreach (var (rule, code, message, hint) in built.Warnings)
        {
            var state = states.First(s => s.Source.Path == rule.File);
            state.Diagnostics.Report(DiagnosticCodes.All.First(d => d.Code == code), rule.Location, message, hint);
        }

        var ruleSet = new RuleSet(types, [.. rules.Select(r => built.Network.Plans[r.Name].Compiled.Info)], built.Network)
        {
            WorkflowStarts = [.. rules.SelectMany(r => r.Actions.OfType<BoundStartWorkflow>().Select(a => WorkflowStartInfo.From(r.Name, a)))],
        };
        var results = states.Select(s => new RuleFileResult(
            s.Source.Path,
            !s.Failed,
            s.Failed ? 0 : s.Rules.Count,
            [.. s.Diagnostics.Items.OrderBy(d => d.Location.Line).ThenBy(d => d.Location.Column)])).ToList();
        return new RuleSetLoadResult(ruleSet, results, texts);
    }

    /// <summary>The template (<c>start workflow … with template</c>) or script of a rule's action, or null for another action.</summary>
    private static EmbeddedCodeInfo? EmbeddedCodeOf(string rule, BoundAction a) => a switch
    {
        BoundStartWorkflow { Template: { } template } => new EmbeddedCodeInfo(rule, "template", template, a.Location.File, a.Location.Line, a.Location.Column),
        BoundScript script => new EmbeddedCodeInfo(rule, "script", script.Code, a.Location.File, a.Location.Line, a.Location.Column),
        _ => null,
    };

    /// <summary>
    /// The host's check of one template or script; a check that fails (a thread it could not start, say) is an error at the action
    /// that says so (RF2999), not an internal error of the whole file at its first line.
    /// </summary>
    private static EmbeddedCodeError? CheckCode(Func<EmbeddedCodeInfo, EmbeddedCodeError?> checkCode, EmbeddedCodeInfo code)
    {
        try
        {
            return checkCode(code);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new EmbeddedCodeError(DiagnosticCodes.InternalError.Code,
                $"rule '{code.Rule}': the {code.Kind} could not be checked ({e.GetType().Name}: {e.Message})", "try the load again; if it persists, please report it");
        }
    }

    /// <summary>
    /// A rule file's (or a test fixture's) text, read once: UTF-8, with a byte-order mark of UTF-8, UTF-16 or UTF-32 followed. Bytes
    /// that are not UTF-8 are an error: read leniently, a Latin-1 <c>"café"</c> became <c>"caf\uFFFD"</c> and the rule loaded but
    /// never matched (and a formatter or editor would have written the replacement characters back).
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not UTF-8: the message names the line, the byte and its offset.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="UnauthorizedAccessException">The file cannot be read.</exception>
    public static string ReadText(string path) => DecodeText(File.ReadAllBytes(path));

    /// <summary>The text of a rule file's <paramref name="bytes"/>, decoded as <see cref="ReadText"/> does.</summary>
    /// <exception cref="InvalidDataException">The bytes are not UTF-8: the message names the line, the byte and its offset.</exception>
    public static string DecodeText(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var span = bytes.AsSpan();
        if (span.StartsWith(Encoding.Unicode.Preamble) || span.StartsWith(Encoding.BigEndianUnicode.Preamble) || span.StartsWith(Encoding.UTF32.Preamble)
            || span.StartsWith(new UTF32Encoding(bigEndian: true, byteOrderMark: true).Preamble))
        {
            using var reader = new StreamReader(new MemoryStream(bytes), detectEncodingFromByteOrderMarks: true);
            return reader.ReadToEnd();
        }

        var start = span.StartsWith(Encoding.UTF8.Preamble) ? 3 : 0;
        var text = new char[bytes.Length - start];
        if (System.Text.Unicode.Utf8.ToUtf16(span[start..], text, out var read, out var written, replaceInvalidSequences: false)
            == System.Buffers.OperationStatus.Done)
        {
            return new string(text, 0, written);
        }

        var at = start + read;
        var line = span[..at].Count((byte)'\n') + 1;
        throw new InvalidDataException(
            $"the file is not UTF-8 text: line {line} has the byte 0x{bytes[at]:X2} (byte offset {at:N0}), which is not UTF-8; save the file as UTF-8");
    }

    /// <summary>Turns an unexpected exception (a bug) into an RF2999 diagnostic of that file instead of failing the whole load.</summary>
    private static void Guard(FileState state, Action action)
    {
        try
        {
            action();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            state.Diagnostics.Report(DiagnosticCodes.InternalError, 0,
                $"internal error while loading this file ({e.GetType().Name}: {e.Message}); please report it", null);
        }
    }
}
