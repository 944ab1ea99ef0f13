namespace RuleFlow.Workflows.Definitions;

/// <summary>How bad a diagnostic is.</summary>
public enum WorkflowDiagnosticSeverity
{
    /// <summary>The definition is not loaded.</summary>
    Error,

    /// <summary>The definition loads; something deserves a look.</summary>
    Warning,
}

/// <summary>
/// A problem found while loading a workflow definition: a stable code, a message, where it is (file, 1-based line and
/// column — 0 when unknown, e.g. for JSON input — and a JSON path such as <c>$.steps[2].script</c>) and a hint.
/// </summary>
/// <param name="Code">Stable code <c>WF1nnn</c> (see <see cref="DiagnosticCodes"/>).</param>
/// <param name="Severity">Error or warning.</param>
/// <param name="Message">What is wrong.</param>
/// <param name="File">File path as given to the loader.</param>
/// <param name="Line">1-based line in the file, 0 when unknown.</param>
/// <param name="Column">1-based column in the file, 0 when unknown.</param>
/// <param name="JsonPath">Where in the definition, e.g. <c>$.steps[2].script</c>.</param>
/// <param name="Hint">How to fix it, or null.</param>
public sealed record WorkflowDiagnostic(
    string Code,
    WorkflowDiagnosticSeverity Severity,
    string Message,
    string File,
    int Line,
    int Column,
    string JsonPath,
    string? Hint = null)
{
    /// <summary>True for an error (the definition is not loaded).</summary>
    public bool IsError => Severity == WorkflowDiagnosticSeverity.Error;

    /// <summary>Formats as <c>file:line:column: error WF1010: message ($.steps[1].kind) hint</c>.</summary>
    public override string ToString() =>
        $"{File}:{Line}:{Column}: {(Severity == WorkflowDiagnosticSeverity.Error ? "error" : "warning")} {Code}: {Message} ({JsonPath})"
        + (Hint is null ? string.Empty : " hint: " + Hint);
}

/// <summary>The diagnostic codes of workflow definitions.</summary>
public static class DiagnosticCodes
{
    /// <summary>The file cannot be read, or is not valid YAML / JSON.</summary>
    public const string Syntax = "WF1001";

    /// <summary>The document is not a mapping / object.</summary>
    public const string NotAMapping = "WF1002";

    /// <summary>A required field is missing.</summary>
    public const string MissingField = "WF1003";

    /// <summary>A field has the wrong type or an invalid value.</summary>
    public const string InvalidValue = "WF1004";

    /// <summary>A field is not part of the format (often a typo).</summary>
    public const string UnknownField = "WF1005";

    /// <summary>A step kind is unknown.</summary>
    public const string UnknownKind = "WF1010";

    /// <summary>Two steps share an id.</summary>
    public const string DuplicateStepId = "WF1011";

    /// <summary>An id is not of the form <c>[A-Za-z][A-Za-z0-9_-]*</c>.</summary>
    public const string InvalidId = "WF1012";

    /// <summary>Two files define the same workflow id.</summary>
    public const string DuplicateWorkflowId = "WF1013";

    /// <summary>A definition has no steps.</summary>
    public const string NoSteps = "WF1015";

    /// <summary>A script does not parse (ES5.1).</summary>
    public const string ScriptSyntax = "WF1020";

    /// <summary>A template does not compile.</summary>
    public const string TemplateSyntax = "WF1021";

    /// <summary>A JSON Schema is invalid.</summary>
    public const string InvalidSchema = "WF1022";

    /// <summary>A duration is not of the form <c>24h</c>, <c>30m</c>, <c>1h30m</c>, <c>500ms</c>.</summary>
    public const string InvalidDuration = "WF1023";

    /// <summary>An assignee is not <c>role:NAME</c> or <c>user:NAME</c>.</summary>
    public const string InvalidAssignee = "WF1024";

    /// <summary>A compensation uses a kind that cannot compensate.</summary>
    public const string InvalidCompensation = "WF1027";

    /// <summary>A reference to a step or workflow that does not exist.</summary>
    public const string DanglingReference = "WF1030";

    /// <summary>A cycle where none is allowed (a backward goto, workflows calling each other).</summary>
    public const string Cycle = "WF1031";

    /// <summary>A rule's <c>start workflow</c> input does not fit the workflow's input schema (or names an unknown workflow).</summary>
    public const string StartInputMismatch = "WF1040";
}
