namespace RuleFlow.Scripting;

/// <summary>
/// Limits of the JavaScript sandbox (Jint 2.10.4), bound from <c>RuleFlow:Scripting</c>.
/// Jint 2.10.4 has no memory limit: the sandbox caps what goes in (inputs) and what comes out (result, log),
/// but a script can still allocate large strings or arrays between those points until the statement or time limit stops it.
/// </summary>
public sealed class ScriptingOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "RuleFlow:Scripting";

    /// <summary>Longest <see cref="TimeoutInterval"/> and <see cref="AbandonRunAfter"/>: one day each (the caller's wait is their sum,
    /// and longer waits overflowed: a TimeoutInterval near <see cref="TimeSpan.MaxValue"/> made every run fail with an OverflowException).</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromDays(1);

    /// <summary>Wall-clock limit of one script execution; default 2 s, at most <see cref="MaxWait"/>. Exceeding it ends the script with
    /// <see cref="ScriptErrorKind.Timeout"/>.</summary>
    public TimeSpan TimeoutInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long past <see cref="TimeoutInterval"/> a caller waits for a run that has not stopped before it gives the run up; default
    /// 5 s, more than 0 and at most <see cref="MaxWait"/>. A run checks its deadline between statements and at every function and built-in it enters, but not inside a
    /// host function (a database call that waits on a lock) or inside a Jint built-in the sandbox has not bounded: such a run would hold
    /// its caller (a workflow step, a rule action) for as long as it lasts. Given up, the run fails with
    /// <see cref="ScriptErrorKind.Timeout"/>; its thread runs on until it returns to code that checks the deadline (which then stops
    /// it: no host function is called after the deadline) and its engine is dropped. .NET cannot stop a thread from outside.
    /// </summary>
    public TimeSpan AbandonRunAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Runs given up on (<see cref="AbandonRunAfter"/>) whose threads are still running, at most; default 4, at least 1. Each may keep
    /// a core busy; while this many are, a new run fails at once with <see cref="ScriptErrorKind.Unavailable"/> instead of starting
    /// another, and the server's <c>GET /api/stats</c> shows them (<c>scripts.abandonedRunning</c>).
    /// </summary>
    public int MaxAbandonedRuns { get; set; } = 4;

    /// <summary>Maximum JavaScript statements executed per execution; default 100,000.</summary>
    public int MaxStatements { get; set; } = 100_000;

    /// <summary>
    /// Deepest nesting of script function calls, however made (written as calls, or getters, setters, <c>toString</c>,
    /// <c>valueOf</c> and callbacks called by Jint), the script's own body included; default 64, at least 1. Past it the run ends with
    /// <see cref="ScriptErrorKind.Recursion"/>.
    /// </summary>
    public int LimitRecursion { get; set; } = 64;

    /// <summary>
    /// Longest array (or array-like, or argument list of <c>apply</c>) a built-in method takes, in elements; default 1,048,576, at
    /// least 1. Jint 2.10.4 walks every index up to an array's length, holes included, without checking the timeout: a script could
    /// set <c>a.length = 4294967295</c> and hold its engine for minutes in one <c>a.indexOf(1)</c>. Past it the method throws a
    /// <c>RangeError</c> the script can catch. Measured here, one call over 1,048,576 elements takes 0.2–0.8 s.
    /// </summary>
    public int MaxArrayLength { get; set; } = 1024 * 1024;

    /// <summary>Maximum size of the result and of the variables handed back, as UTF-16 characters of JSON text; default 1 MiB (1,048,576).</summary>
    public int MaxResultChars { get; set; } = 1024 * 1024;

    /// <summary>Maximum size of all inputs handed in, as characters of JSON text; default 4 MiB.</summary>
    public int MaxInputChars { get; set; } = 4 * 1024 * 1024;

    /// <summary>Maximum <c>log()</c> lines kept per execution (later ones are counted, not kept); default 200.</summary>
    public int MaxLogLines { get; set; } = 200;

    /// <summary>Maximum characters of one log line (longer lines are cut); default 4,096.</summary>
    public int MaxLogLineChars { get; set; } = 4096;

    /// <summary>
    /// Stack of each engine's script thread, in bytes; <see cref="ScriptThread.StackBytes"/> (256 MB), of which
    /// <see cref="ScriptThread.StackHeadroomBytes"/> (64 MB) are kept free. Not configuration: tests set a smaller one to reach the
    /// stack check.
    /// </summary>
    internal int ThreadStackBytes { get; set; } = ScriptThread.StackBytes;
}
