using Microsoft.Extensions.Options;
using RuleFlow.Rules;
using RuleFlow.Server.Hosting;
using RuleFlow.Workflows.Definitions;

namespace RuleFlow.Server.Rules;

/// <summary>
/// Loads <c>rules/*.rules</c> (relative to the content root) and holds the rule set in force. A file with errors is
/// left out and reported; the others load. Thread-safe: <see cref="Current"/> is swapped atomically.
/// </summary>
public sealed class RuleHost(IHostEnvironment environment, IOptions<RuleFlowOptions> options, IWorkflowDefinitionRegistry workflows, ILogger<RuleHost> logger)
{
    private readonly Lock _loadLock = new();
    private volatile RuleSetLoadResult? _loaded;
    private volatile IReadOnlyList<WorkflowDiagnostic> _startWarnings = [];

    /// <summary>The rule set in force (empty until <see cref="LoadFromDisk"/> ran).</summary>
    public RuleSet Current => _loaded?.RuleSet ?? RuleSet.Empty;

    /// <summary>The load in force: its per-file results and diagnostics, or null before the first load.</summary>
    public RuleSetLoadResult? LastLoad => _loaded;

    /// <summary>The last reload that was refused (errors; the previous set stayed in force) and when, or null.</summary>
    public (RuleSetLoadResult Result, DateTimeOffset At)? LastRefused { get; private set; }

    /// <summary>
    /// Raised after a rule set was put in force (the first load and every applied reload), on the loading thread, inside the
    /// load lock: handlers must be quick and must not load. The AMQP ingest consumer binds the queue to the new set's exchanges.
    /// </summary>
    public event Action<RuleSet>? RuleSetChanged;

    /// <summary>
    /// The <c>start workflow</c> actions of the rules in force that name a workflow that is not loaded, or give an input its schema
    /// refuses (<c>WF1040</c> warnings at the action's file, line and column). Warnings, not errors: the rules stay in force (the
    /// workflow may be written next, in the Studio), and such an action fails when its rule fires. Computed after every load of the
    /// rules and every registration of workflows (<see cref="CheckWorkflowStarts"/>); empty until the workflows are registered at start.
    /// </summary>
    public IReadOnlyList<WorkflowDiagnostic> StartWarnings => _startWarnings;

    /// <summary>Absolute rules directory.</summary>
    public string RulesDirectory => Path.GetFullPath(Path.Combine(environment.ContentRootPath, options.Value.RulesPath));

    /// <summary>
    /// Loads the rule files unless they were loaded already (start-up: whichever of the bus configuration, which needs the
    /// event declarations for its bindings, and the start-up service comes first).
    /// </summary>
    public void EnsureLoaded()
    {
        lock (_loadLock)
        {
            if (_loaded is null)
            {
                Load(keepOnError: false);
            }
        }
    }

    /// <summary>
    /// Reads and compiles every rule file. With <paramref name="keepOnError"/> the current set stays in force when any
    /// file has an error (used by reload); otherwise the files that compiled are put in force and the others reported.
    /// </summary>
    /// <returns>The load result and whether it was put in force.</returns>
    public (RuleSetLoadResult Result, bool Applied) LoadFromDisk(bool keepOnError)
    {
        lock (_loadLock)
        {
            return Load(keepOnError);
        }
    }

    /// <summary>
    /// Compiles a rule action's Handlebars template or script as the workflow runtime does when the action runs: a file whose
    /// template does not compile (<c>WF1021</c>) or whose script does not parse (<c>WF1020</c>) fails to load, so a reload with one is
    /// refused instead of putting in force a rule whose action can only fail.
    /// </summary>
    internal static EmbeddedCodeError? CheckEmbeddedCode(EmbeddedCodeInfo code) =>
        RuleFlow.Workflows.Definitions.EmbeddedCodeChecker.Check(code.Kind, code.Text, code.Rule) is { } error
            ? new EmbeddedCodeError(error.Code, error.Message, error.Hint)
            : null;

    /// <summary>
    /// Checks the rules in force against the workflows registered now (<see cref="StartWarnings"/>) and logs each problem not
    /// already reported as a warning. Called after the workflows are registered at start and after a workflow is saved; a rule load
    /// calls it itself once the workflows are registered.
    /// </summary>
    /// <returns>The warnings, as <see cref="StartWarnings"/> now has them.</returns>
    public IReadOnlyList<WorkflowDiagnostic> CheckWorkflowStarts()
    {
        lock (_loadLock)
        {
            CheckStartsLocked();
            return _startWarnings;
        }
    }

    /// <summary>A rule set's <c>start workflow</c> actions as the workflow side checks them (template inputs: existence only).</summary>
    internal static IEnumerable<StartWorkflowTarget> StartTargets(IEnumerable<WorkflowStartInfo> starts) =>
        starts.Select(s => new StartWorkflowTarget(s.WorkflowId, s.File, s.Line, s.Column, s.Rule, s.InputFields, s.FieldsKnown));

    private void CheckStartsLocked()
    {
        var before = _startWarnings.Select(d => d.ToString()).ToHashSet(StringComparer.Ordinal);
        var found = StartWorkflowChecker.Check(StartTargets(Current.WorkflowStarts), workflows.Current)
            .Select(d => d with { Severity = WorkflowDiagnosticSeverity.Warning })
            .ToList();
        foreach (var warning in found.Where(d => !before.Contains(d.ToString())))
        {
            logger.LogWarning("{Diagnostic}; the rule stays in force, and this action fails when it fires", warning.ToString());
        }

        _startWarnings = found;
    }

    private (RuleSetLoadResult Result, bool Applied) Load(bool keepOnError)
    {
        var directory = RulesDirectory;
        RuleSetLoadResult result;
        if (Directory.Exists(directory))
        {
            result = RuleSetLoader.LoadDirectory(directory, CheckEmbeddedCode);
        }
        else
        {
            logger.LogWarning("Rules directory {RulesDirectory} does not exist: no rules are loaded", directory);
            result = RuleSetLoader.LoadSources([]);
        }

        foreach (var file in result.Files)
        {
            if (file.Loaded)
            {
                logger.LogInformation("Loaded rule file {RuleFile}: {RuleCount} rule(s)", file.Path, file.RuleCount);
            }
            else
            {
                logger.LogError("Rule file {RuleFile} failed to load ({ErrorCount} error(s)); its rules are not in force",
                    file.Path, file.Diagnostics.Count(d => d.Severity == DiagnosticSeverity.Error));
            }

            foreach (var diagnostic in file.Diagnostics)
            {
                var level = diagnostic.Severity == DiagnosticSeverity.Error ? LogLevel.Error : LogLevel.Warning;
                logger.Log(level, "{Diagnostic}", diagnostic.ToString());
            }
        }

        if (keepOnError && result.HasErrors && _loaded is not null)
        {
            logger.LogError("Rule reload refused: {ErrorCount} error(s); the previous rule set stays in force",
                result.Diagnostics.Count(d => d.Severity == DiagnosticSeverity.Error));
            LastRefused = (result, DateTimeOffset.UtcNow);
            return (result, false);
        }

        _loaded = result;
        LastRefused = null;
        logger.LogInformation("Rule set in force: {RuleCount} rule(s), {EventTypeCount} event type(s) from {FileCount} file(s)",
            result.RuleSet.Rules.Count, result.RuleSet.EventTypes.Count, result.Files.Count(f => f.Loaded));
        RuleSetChanged?.Invoke(result.RuleSet);
        if (workflows.IsReady)
        {
            CheckStartsLocked();
        }

        return (result, true);
    }
}
