namespace RuleFlow.Scripting;

/// <summary>Why a script did not produce a result.</summary>
public enum ScriptErrorKind
{
    /// <summary>The source does not parse (ES5.1 syntax only).</summary>
    Syntax,

    /// <summary>The script threw (a JavaScript error or <c>throw</c> statement).</summary>
    Runtime,

    /// <summary>The script ran longer than <see cref="ScriptingOptions.TimeoutInterval"/> (or did not stop within
    /// <see cref="ScriptingOptions.AbandonRunAfter"/> after it, and was given up on).</summary>
    Timeout,

    /// <summary>The script executed more than <see cref="ScriptingOptions.MaxStatements"/> statements.</summary>
    StatementLimit,

    /// <summary>The script nested calls deeper than <see cref="ScriptingOptions.LimitRecursion"/>.</summary>
    Recursion,

    /// <summary>The result (or the inputs) exceeded the size cap, or the script asked for an allocation .NET refused (out of memory).</summary>
    TooLarge,

    /// <summary>A host function failed (its message is passed on; the script may catch it).</summary>
    HostFunction,

    /// <summary>
    /// The run was not started: <see cref="ScriptingOptions.MaxAbandonedRuns"/> runs given up on are still running. Try again later.
    /// </summary>
    Unavailable,
}

/// <summary>
/// A script failed. <see cref="Line"/> and <see cref="Column"/> are 1-based positions in the script's own text
/// (not in the wrapper the sandbox adds), or 0 when unknown (limits).
/// </summary>
public sealed class ScriptException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ScriptException(ScriptErrorKind kind, string message, int line, int column, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
        Line = line;
        Column = column;
    }

    /// <summary>Creates the exception (kind <see cref="ScriptErrorKind.Runtime"/>).</summary>
    public ScriptException() : this(ScriptErrorKind.Runtime, "script error", 0, 0) { }

    /// <summary>Creates the exception (kind <see cref="ScriptErrorKind.Runtime"/>).</summary>
    public ScriptException(string message) : this(ScriptErrorKind.Runtime, message, 0, 0) { }

    /// <summary>Creates the exception (kind <see cref="ScriptErrorKind.Runtime"/>).</summary>
    public ScriptException(string message, Exception innerException) : this(ScriptErrorKind.Runtime, message, 0, 0, innerException) { }

    /// <summary>The kind of failure.</summary>
    public ScriptErrorKind Kind { get; }

    /// <summary>1-based line in the script text, 0 when unknown.</summary>
    public int Line { get; }

    /// <summary>1-based column in the script text, 0 when unknown.</summary>
    public int Column { get; }
}

/// <summary>A syntax problem found by <see cref="ScriptSandbox.CheckSyntax"/>.</summary>
/// <param name="Line">1-based line in the script text.</param>
/// <param name="Column">1-based column in the script text.</param>
/// <param name="Message">What is wrong, with a hint when an ES2015+ construct was used.</param>
public sealed record ScriptSyntaxError(int Line, int Column, string Message);
