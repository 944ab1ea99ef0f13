namespace RuleFlow.Rules;

/// <summary>An event type declared by an <c>event</c> declaration.</summary>
/// <param name="Name">Type name, e.g. <c>ssh.auth</c>.</param>
/// <param name="Exchange">AMQP exchange of <c>from exchange "x"</c>, or null (any exchange).</param>
/// <param name="RoutingPattern">
/// AMQP topic pattern of <c>routing "p"</c> (words separated by <c>.</c>, <c>*</c> = exactly one word, <c>#</c> = zero or more words),
/// or null (any routing key).
/// </param>
/// <param name="KeyField">Correlation key field path of <c>key f</c> (dotted, e.g. <c>src_ip</c>), or null.</param>
/// <param name="TimeField">Event-time field path of <c>time f</c>, or null (the caller's <see cref="RuleEvent.Time"/> is used).</param>
/// <param name="Location">Where it is declared.</param>
public sealed record EventTypeInfo(string Name, string? Exchange, string? RoutingPattern, string? KeyField, string? TimeField, SourceLocation Location)
{
    /// <summary>
    /// True for a fact type (<c>fact Name ...</c>): an event of this type inserts the fact, or replaces the fact with the same
    /// <see cref="KeyField"/> value; facts have no event time and stay in working memory until a rule retracts them.
    /// </summary>
    public bool IsFact { get; init; }

    /// <summary>Fields of <c>dedup by a, b within D</c> (dotted paths), or null without dedup.</summary>
    public IReadOnlyList<string>? DedupFields { get; init; }

    /// <summary>Window of <c>dedup by ... within D</c>, or null without dedup.</summary>
    public TimeSpan? DedupWindow { get; init; }
}

/// <summary>A rule of a loaded rule set.</summary>
/// <param name="Name">Rule name, unique in the rule set (prefixed with the file's namespace and a dot when the file declares one).</param>
/// <param name="Priority">Salience: higher fires first when several activations are pending (default 0).</param>
/// <param name="Description">Text of <c>description "..."</c>, or null.</param>
/// <param name="File">File the rule comes from.</param>
/// <param name="Location">Where the rule starts.</param>
public sealed record RuleInfo(string Name, int Priority, string? Description, string File, SourceLocation Location)
{
    /// <summary>False for a rule written with <c>enabled false</c> or <c>disabled</c>: it is checked but not in the network.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Tags of <c>tags "a", "b"</c> (empty without).</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>Text of <c>owner "..."</c>, or null.</summary>
    public string? Owner { get; init; }

    /// <summary>Absolute URL of <c>runbook "..."</c>, or null.</summary>
    public string? RunbookUrl { get; init; }
}

/// <summary>What loading one rule file gave.</summary>
/// <param name="Path">File path as given (or found under the directory).</param>
/// <param name="Loaded">False when the file has at least one error: its rules are left out of the rule set.</param>
/// <param name="RuleCount">Rules the file contributes (0 when not loaded).</param>
/// <param name="Diagnostics">Errors and warnings of this file, in source order.</param>
public sealed record RuleFileResult(string Path, bool Loaded, int RuleCount, IReadOnlyList<Diagnostic> Diagnostics);
