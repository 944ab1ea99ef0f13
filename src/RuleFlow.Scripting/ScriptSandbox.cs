using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Jint;
using Jint.Native;
using Jint.Native.Json;
using Jint.Native.Object;
using Jint.Parser;
using Jint.Runtime;
using Jint.Runtime.Descriptors;
using Jint.Runtime.Interop;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace RuleFlow.Scripting;

/// <summary>One script execution.</summary>
/// <param name="Source">
/// The script: the body of a function (ES5.1). Its <c>return</c> value is the result; without <c>return</c> the result is null.
/// </param>
/// <param name="Globals">
/// Global variables the script sees, by name, each as JSON text (e.g. <c>input</c> → <c>{"ip":"1.2.3.4"}</c>).
/// They enter the engine only through Jint's own JSON parser.
/// </param>
/// <param name="Context">Instance, step and idempotency key, handed to host modules.</param>
/// <param name="Modules">Host modules to expose as global objects (e.g. <c>blocklist</c>), or null for none.</param>
/// <param name="ReturnGlobals">Names of globals to hand back after the run as JSON (e.g. <c>vars</c> the script may change).</param>
public sealed record ScriptRequest(
    string Source,
    IReadOnlyDictionary<string, string> Globals,
    ScriptCallContext Context,
    IReadOnlyList<IScriptHostModule>? Modules = null,
    IReadOnlyList<string>? ReturnGlobals = null);

/// <summary>What a script produced.</summary>
/// <param name="ResultJson">The return value as JSON text, or null when the script returned nothing (undefined).</param>
/// <param name="Globals">The globals named in <see cref="ScriptRequest.ReturnGlobals"/>, as JSON text after the run.</param>
/// <param name="Log">Lines written with <c>log(...)</c>, at most <see cref="ScriptingOptions.MaxLogLines"/>.</param>
/// <param name="DroppedLogLines">Lines written beyond the cap (counted, not kept).</param>
public sealed record ScriptResult(
    string? ResultJson,
    IReadOnlyDictionary<string, string> Globals,
    IReadOnlyList<string> Log,
    int DroppedLogLines);

/// <summary>
/// Runs untrusted JavaScript (Jint 2.10.4, ECMAScript 5.1) under limits of time, statements and recursion.
/// </summary>
/// <remarks>
/// <para>Sandbox rules (see docs/workflows.md): no CLR object ever enters the engine. Inputs are JSON text parsed by
/// Jint's own <see cref="JsonParser"/>; host functions and <c>log</c> are <see cref="ClrFunctionInstance"/> objects over
/// delegates that take and return only primitives (string, number, boolean, null) or JSON, so a script cannot reach
/// <c>GetType()</c> and, through reflection, the file system. CLR interop (<c>AllowClr</c>) stays off.</para>
/// <para>Engines are pooled (a new engine costs about 60–160 µs, a reused one 2–12 µs per call). Isolation between runs
/// on a reused engine: every built-in (the constructors, their prototypes, <c>Math</c>, <c>JSON</c>, every built-in
/// function) is frozen and the built-in globals are read-only, so no script can change them; the globals a run gets
/// (<c>input</c>, <c>vars</c>, <c>log</c>, host modules, …) are new objects per run and deleted afterwards; and an engine
/// goes back to the pool only when the run ended normally and left no global behind (an undeclared assignment, an
/// indirect <c>eval</c> declaration): otherwise it is dropped. Parsed scripts are cached per engine (at most
/// <see cref="MaxCachedPrograms"/>). The statement count, timeout ticks and call stack are reset before every call
/// into the engine.</para>
/// <para>One consequence of the frozen built-ins (ES5 "override mistake"): assigning to a property that a built-in
/// prototype already has, on an ordinary object (<c>o.constructor = …</c>, <c>o.hasOwnProperty = …</c>), is ignored;
/// <c>toString</c>, <c>valueOf</c> and <c>toJSON</c> of <c>Object.prototype</c> and <c>name</c>, <c>message</c> and
/// <c>toString</c> of <c>Error.prototype</c> are exempt (accessors that define the property on the object assigned to).
/// Object literals (<c>{ toString: function () { … } }</c>) are not affected.</para>
/// <para>Gap: Jint 2.10.4 has no memory limit. Inputs, the result, the returned globals, log lines and the arrays built-ins take are
/// size-capped; other allocations inside a run are bounded only by the statement and time limits, and a string doubled in a few
/// statements can reach tens of millions of characters, over which one built-in call runs past the timeout. An allocation .NET
/// refuses ends the run as <see cref="ScriptErrorKind.TooLarge"/>.</para>
/// <para>Stack: each pooled engine runs on a thread of its own with a large stack (<see cref="ScriptThread"/>), scripts are bounded in
/// size and nesting (<see cref="ScriptNesting"/>), every script function and built-in checks the run's limits on entry
/// (<see cref="ScriptRunLimits"/>), and the built-ins that could recurse without end on what a script builds are guarded
/// (<see cref="ScriptGuards"/>): Jint 2.10.4 recurses without bounds, and a stack overflow would end the process.</para>
/// <para>Thread-safe: each run has an engine of its own for its duration; the caller waits while it runs on the engine's thread.</para>
/// </remarks>
public sealed partial class ScriptSandbox
{
    /// <summary>Deepest nesting of arrays and objects in a script's inputs (as in <c>JSON.parse</c> and the result): 256.</summary>
    public const int MaxJsonDepth = 256;

    /// <summary>Parsed scripts kept per pooled engine; the cache is cleared when it is full.</summary>
    public const int MaxCachedPrograms = 512;

    private const string Prefix = "(function(){";
    private const string Suffix = "\n})";
    private static readonly HashSet<string> ReservedNames = new(StringComparer.Ordinal) { "log" };

    private readonly ScriptingOptions options;
    private readonly ILogger<ScriptSandbox> logger;
    private readonly System.Collections.Concurrent.ConcurrentBag<PooledEngine> pool = [];
    private readonly int maxPooled = Math.Max(4, Environment.ProcessorCount * 4);
    private long enginesCreated;
    private int abandonedRunning;
    private long abandonedTotal;

    /// <summary>Creates a sandbox with the given limits.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="ScriptingOptions.LimitRecursion"/>, <see cref="ScriptingOptions.MaxArrayLength"/>
    /// or <see cref="ScriptingOptions.MaxAbandonedRuns"/> is under 1, <see cref="ScriptingOptions.AbandonRunAfter"/> is not more than 0, or
    /// <see cref="ScriptingOptions.TimeoutInterval"/> or <see cref="ScriptingOptions.AbandonRunAfter"/> is longer than <see cref="ScriptingOptions.MaxWait"/>.</exception>
    public ScriptSandbox(ScriptingOptions options, ILogger<ScriptSandbox>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.LimitRecursion, 1, "options.LimitRecursion"); // checked here, not at each engine's start
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxArrayLength, 1, "options.MaxArrayLength");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxAbandonedRuns, 1, "options.MaxAbandonedRuns");
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.AbandonRunAfter, TimeSpan.Zero, "options.AbandonRunAfter");
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.AbandonRunAfter, ScriptingOptions.MaxWait, "options.AbandonRunAfter");
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.TimeoutInterval, ScriptingOptions.MaxWait, "options.TimeoutInterval");
        this.options = options;
        this.logger = logger ?? NullLogger<ScriptSandbox>.Instance;
    }

    /// <summary>The limits in force.</summary>
    public ScriptingOptions Options => options;

    /// <summary>Engines created so far (a run that leaves state behind costs its engine; tests read this).</summary>
    public long EnginesCreated => Interlocked.Read(ref enginesCreated);

    /// <summary>
    /// The match timeout a host should make the process default (<c>AppContext.SetData("REGEX_DEFAULT_MATCH_TIMEOUT", RegexTimeout)</c>
    /// before any <see cref="System.Text.RegularExpressions.Regex"/> is made): Jint builds a script's regexes without a timeout and its
    /// <see cref="ScriptingOptions.TimeoutInterval"/> cannot interrupt one match, so only this stops a backtracking pattern. 2 s; a
    /// match that runs longer ends the script with <see cref="ScriptErrorKind.Timeout"/>.
    /// </summary>
    public static TimeSpan RegexTimeout { get; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Checks that <paramref name="source"/> parses as an ES5.1 function body.
    /// Returns null when it does, else the first error with its 1-based line and column in <paramref name="source"/>.
    /// </summary>
    public static ScriptSyntaxError? CheckSyntax(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return Parse(source, out _);
    }

    /// <summary>
    /// Parses a script (an ES5.1 function body) within the bounds of <see cref="ScriptNesting"/>: at most 16,384 characters, parsed on
    /// a thread with 64 MB of stack when longer than 256 (so no nesting the text can hold overflows the parse), and a syntax tree at
    /// most 256 deep (so evaluating it does not either). Past a bound, a syntax error that names it, at the place it is passed.
    /// </summary>
    private static ScriptSyntaxError? Parse(string source, out Jint.Parser.Ast.Program? program) =>
        ParseWithinBounds(source, wrapped: true, out program);

    /// <summary>
    /// Parses <paramref name="code"/>, given to <c>eval</c> or <c>Function</c> while a script runs, as a program within the bounds of
    /// <see cref="ScriptNesting"/>: null and the program when it does, else why not (a syntax error too) and no program.
    /// </summary>
    internal static string? ParseCode(string code, out Jint.Parser.Ast.Program? program) => ParseWithinBounds(code, wrapped: false, out program)?.Message;

    /// <param name="source">The script as written (for positions and messages).</param>
    /// <param name="wrapped">Parse it as a function body (a script), or as it is (code given to eval).</param>
    /// <param name="program">The parsed program, or null on an error.</param>
    private static ScriptSyntaxError? ParseWithinBounds(string source, bool wrapped, out Jint.Parser.Ast.Program? program)
    {
        program = null;
        if (source.Length > ScriptNesting.MaxSourceChars)
        {
            return new ScriptSyntaxError(1, 1, string.Create(CultureInfo.InvariantCulture,
                $"the script is {source.Length:N0} characters long; at most {ScriptNesting.MaxSourceChars:N0} are allowed"));
        }

        if (source.Length <= ScriptNesting.InlineParseChars || ScriptThread.IsCurrent)
        {
            return ParseBounded(source, wrapped, out program); // short, or already on a script thread's large stack
        }

        var (error, parsed) = ScriptThread.RunOnce(ScriptNesting.ParseStackBytes, () =>
        {
            var found = ParseBounded(source, wrapped, out var tree);
            return (found, tree);
        });
        program = parsed;
        return error;
    }

    private static ScriptSyntaxError? ParseBounded(string source, bool wrapped, out Jint.Parser.Ast.Program? program)
    {
        try
        {
            program = new JavaScriptParser().Parse(wrapped ? Prefix + source + Suffix : source, new ParserOptions { Source = "script" });
        }
        catch (ParserException ex)
        {
            program = null;
            var (line, column) = wrapped ? MapParserPosition(ex) : (Math.Max(1, ex.LineNumber), Math.Max(1, ex.Column));
            return new ScriptSyntaxError(line, column, DescribeSyntaxError(source, line, ex.Description ?? ex.Message));
        }
        catch (OverflowException)
        {
            // Jint's parser converts a hex literal to a 64-bit and an octal one to a 32-bit integer without a check: a wider one threw
            // OverflowException out of Run (it ended a probe's process) and out of the definition check.
            program = null;
            var at = WideIntegerLiteral().Match(source);
            var line = at.Success ? source.AsSpan(0, at.Index).Count('\n') + 1 : 1;
            var column = at.Success ? at.Index - source.LastIndexOf('\n', Math.Max(0, at.Index - 1)) : 1;
            return new ScriptSyntaxError(line, Math.Max(1, column),
                "a number literal is too large for Jint 2.10.4's parser (a hex literal takes at most 16 digits, an octal one at most 2,147,483,647): write it in decimal");
        }

        foreach (var (node, _) in ScriptNesting.Walk(program))
        {
            if (node is Jint.Parser.Ast.Literal { Type: Jint.Parser.Ast.SyntaxNodes.RegularExpressionLiteral } regex
                && ScriptGuards.LiteralRunTooLong(regex.Raw[1..regex.Raw.LastIndexOf('/')]) is { } why)
            {
                program = null;
                var (line, column) = wrapped
                    ? MapRuntimePosition(regex.Location?.Start.Line ?? 1, regex.Location?.Start.Column ?? 0)
                    : (regex.Location?.Start.Line ?? 1, (regex.Location?.Start.Column ?? 0) + 1);
                return new ScriptSyntaxError(line, column, "a regular expression literal: " + why);
            }
        }

        if (ScriptNesting.TooDeepNode(program) is { } deep)
        {
            program = null;
            var (line, column) = wrapped
                ? MapRuntimePosition(deep.Location?.Start.Line ?? 1, deep.Location?.Start.Column ?? 0)
                : (deep.Location?.Start.Line ?? 1, (deep.Location?.Start.Column ?? 0) + 1);
            return new ScriptSyntaxError(line, column,
                $"expressions or statements nest more than {ScriptNesting.MaxTreeDepth} levels deep here (nesting is bounded so that running the script cannot exhaust the stack)");
        }

        return null;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\b0[xX]0*[0-9a-fA-F]{17,}|\b0[0-7]{11,}")]
    private static partial System.Text.RegularExpressions.Regex WideIntegerLiteral();

    /// <summary>Runs one script.</summary>
    /// <returns>The result and log.</returns>
    /// <exception cref="ScriptException">
    /// Syntax error, runtime error (with the script's line and column), timeout, statement limit, recursion limit,
    /// result or input over the size cap or an allocation refused, or a failed host function that the script did not catch; a run that did
    /// not stop within <see cref="ScriptingOptions.AbandonRunAfter"/> after its timeout (<see cref="ScriptErrorKind.Timeout"/>, given up
    /// on), or not started because <see cref="ScriptingOptions.MaxAbandonedRuns"/> such runs still go on (<see cref="ScriptErrorKind.Unavailable"/>).
    /// </exception>
    /// <exception cref="ArgumentException">A global or module name is not an identifier or collides with <c>log</c> or another global.</exception>
    /// <exception cref="InvalidOperationException">A host function has a parameter or return type the sandbox does not support.</exception>
    public ScriptResult Run(ScriptRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var inputChars = 0L;
        foreach (var value in request.Globals.Values)
        {
            inputChars += value.Length;
        }

        if (inputChars > options.MaxInputChars)
        {
            throw new ScriptException(ScriptErrorKind.TooLarge,
                $"script inputs are {inputChars} characters of JSON, over the cap of {options.MaxInputChars}", 0, 0);
        }

        foreach (var (name, json) in request.Globals)
        {
            // Jint's JSON parser is quadratic in depth (an input 2 million deep took 199 s and 2.2 GB, before the run's deadline
            // started; seventh review): inputs nest at most as deep as JSON.parse and the result may.
            if (ScriptNesting.TooDeepJsonAt(json, MaxJsonDepth) >= 0)
            {
                throw new ScriptException(ScriptErrorKind.TooLarge,
                    $"script input '{name}' nests arrays and objects more than {MaxJsonDepth} levels deep, the most scripts take", 0, 0);
            }
        }

        if (Volatile.Read(ref abandonedRunning) >= options.MaxAbandonedRuns)
        {
            throw new ScriptException(ScriptErrorKind.Unavailable, string.Create(CultureInfo.InvariantCulture,
                $"script not run: {Volatile.Read(ref abandonedRunning)} runs given up on are still running (MaxAbandonedRuns {options.MaxAbandonedRuns}); each may keep a core busy until it ends"), 0, 0);
        }

        var pooled = Rent();
        var injected = new List<string>(request.Globals.Count + 1 + (request.Modules?.Count ?? 0));
        var reusable = false;
        var abandoned = false;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            // On the engine's large stack (ScriptThread), waited for until AbandonRunAfter past the run's timeout.
            var result = pooled.Thread.Invoke(() => Execute(pooled, request, injected), options.TimeoutInterval + options.AbandonRunAfter,
                () => EndedLate(request, started));

            // A long run may have gone deep and left much of its thread's stack committed: such an engine is not kept (a new one
            // costs ~0.2 ms), so pooled engines hold only what quick runs touched.
            reusable = System.Diagnostics.Stopwatch.GetElapsedTime(started) < KeepEngineAfter;
            return result;
        }
        catch (ScriptThread.AbandonedException)
        {
            abandoned = true; // its thread still runs on the engine: nothing here may touch it again
            var running = Interlocked.Increment(ref abandonedRunning);
            Interlocked.Increment(ref abandonedTotal);
            logger.LogError("Script run in {InstanceId} {StepId} given up on: it did not stop {Grace} after its {Timeout} timeout ({Running} such runs still running); its thread runs on until it returns to a deadline check",
                request.Context.InstanceId, request.Context.StepId, options.AbandonRunAfter, options.TimeoutInterval, running);
            throw new ScriptException(ScriptErrorKind.Timeout, string.Create(CultureInfo.InvariantCulture,
                $"script timed out after {options.TimeoutInterval.TotalMilliseconds:0} ms (TimeoutInterval) and did not stop within {options.AbandonRunAfter.TotalMilliseconds:0} ms more (AbandonRunAfter): it is inside a call the sandbox cannot interrupt (a host function that waits, or a built-in), and was given up on"), 0, 0);
        }
        finally
        {
            if (!abandoned)
            {
                Return(pooled, injected, reusable);
            }
        }
    }

    /// <summary>Runs given up on (<see cref="ScriptingOptions.AbandonRunAfter"/>) whose threads have not ended yet.</summary>
    public int AbandonedRunning => Math.Max(0, Volatile.Read(ref abandonedRunning));

    /// <summary>Runs given up on since the sandbox was made.</summary>
    public long AbandonedTotal => Interlocked.Read(ref abandonedTotal);

    /// <summary>On the thread of a run given up on, as it ends after all: counted out, and logged.</summary>
    private void EndedLate(ScriptRequest request, long started)
    {
        Interlocked.Decrement(ref abandonedRunning);
        logger.LogWarning("Script run in {InstanceId} {StepId}, given up on, ended after {Elapsed}",
            request.Context.InstanceId, request.Context.StepId, System.Diagnostics.Stopwatch.GetElapsedTime(started));
    }

    private ScriptResult Execute(PooledEngine pooled, ScriptRequest request, List<string> injected)
    {
        if (!pooled.Programs.TryGetValue(request.Source, out var parsed))
        {
            var syntax = Parse(request.Source, out var tree);
            if (syntax is not null)
            {
                throw new ScriptException(ScriptErrorKind.Syntax, syntax.Message, syntax.Line, syntax.Column);
            }

            if (pooled.Programs.Count >= MaxCachedPrograms)
            {
                pooled.Programs.Clear();
            }

            var regexes = pooled.Limits.Guard(tree!); // every function's entry checked (depth, time, stack), implicit calls too
            parsed = (tree!, regexes);
            pooled.Programs[request.Source] = parsed;
        }

        var program = parsed.Program;
        ScriptRunLimits.ResetRegexLiterals(parsed.Regexes); // no regex object, nor what a script set on it, reaches the next run

        var engine = pooled.Engine;
        var log = new List<string>();
        var dropped = 0;
        string? hostFailure = null;
        var names = new HashSet<string>(StringComparer.Ordinal);

        foreach (var (name, json) in request.Globals)
        {
            CheckName(name, names);
            var value = ParseJson(engine, json, name);
            injected.Add(name);
            engine.SetValue(name, value);
        }

        injected.Add("log");
        var limits = pooled.Limits;
        engine.SetValue("log", (JsValue)limits.BuiltIn("log", (_, args) =>
        {
            var line = string.Join(" ", args.Select(a => Describe(limits, a)));
            if (line.Length > options.MaxLogLineChars)
            {
                line = line[..options.MaxLogLineChars] + "…";
            }

            if (log.Count < options.MaxLogLines)
            {
                log.Add(line);
            }
            else
            {
                dropped++;
            }

            return JsValue.Undefined;
        }, 1));

        foreach (var module in request.Modules ?? [])
        {
            CheckName(module.Name, names);
            var target = engine.Object.Construct(Arguments.Empty);
            foreach (var (member, function) in module.CreateFunctions(request.Context))
            {
                var qualified = module.Name + "." + member;
                target.FastAddProperty(member, WrapHostFunction(limits, qualified, function, m => hostFailure = m), false, true, false);
            }

            injected.Add(module.Name);
            engine.SetValue(module.Name, new JsValue(target));
        }

        try
        {
            engine.ResetStatementsCount();
            engine.ResetTimeoutTicks();
            engine.ResetCallStack();
            pooled.Limits.Start(options.TimeoutInterval);
            var function = engine.Execute(program!).GetCompletionValue();
            engine.ResetStatementsCount();
            engine.ResetTimeoutTicks();
            engine.ResetCallStack();
            var value = function.Invoke(JsValue.Undefined, []);
            var resultJson = Serialize(limits, value, "the result");
            var globals = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var name in request.ReturnGlobals ?? [])
            {
                globals[name] = Serialize(limits, engine.GetValue(name), "global '" + name + "'") ?? "null";
            }

            return new ScriptResult(resultJson, globals, log, dropped);
        }
        catch (JavaScriptException ex)
        {
            var (line, column) = MapRuntimePosition(ex.LineNumber, ex.Column);
            var message = DescribeJsError(ex);
            var kind = hostFailure is not null && message.Contains(hostFailure, StringComparison.Ordinal)
                ? ScriptErrorKind.HostFunction
                : ScriptErrorKind.Runtime;
            var sourceLines = request.Source.Split('\n');
            throw new ScriptException(kind, $"{message} (script line {line}, column {column}: {Excerpt(sourceLines, line)})", line, column, ex);
        }
        catch (System.Text.RegularExpressions.RegexMatchTimeoutException ex)
        {
            throw new ScriptException(ScriptErrorKind.Timeout,
                $"a regular expression of the script ran longer than {ex.MatchTimeout.TotalMilliseconds:0} ms (/{ex.Pattern}/, a pattern that backtracks; the host sets REGEX_DEFAULT_MATCH_TIMEOUT)",
                0, 0, ex);
        }
        catch (TimeoutException ex)
        {
            throw new ScriptException(ScriptErrorKind.Timeout,
                $"script timed out after {options.TimeoutInterval.TotalMilliseconds:0} ms (TimeoutInterval)", 0, 0, ex);
        }
        catch (StatementsCountOverflowException ex)
        {
            throw new ScriptException(ScriptErrorKind.StatementLimit,
                $"script exceeded {options.MaxStatements} statements (MaxStatements); is there an endless loop?", 0, 0, ex);
        }
        catch (ScriptLimitException ex)
        {
            var (line, column) = ex.At is { } at ? MapRuntimePosition(at.Start.Line, at.Start.Column) : (0, 0);
            throw new ScriptException(ex.Kind, line > 0 ? $"{ex.Message} (script line {line}, column {column})" : ex.Message, line, column, ex);
        }
        catch (ScriptException)
        {
            throw;
        }
        catch (OutOfMemoryException ex)
        {
            // One allocation the script asked for could not be made (a string or array past what .NET allows, or more than the
            // machine has): the run fails, its engine is dropped and what it allocated is collected; the host goes on.
            throw new ScriptException(ScriptErrorKind.TooLarge,
                "the script asked for more memory than the process could give (" + ex.Message + "); Jint 2.10.4 has no memory limit of its own", 0, 0, ex);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Script engine failed in {InstanceId} {StepId}", request.Context.InstanceId, request.Context.StepId);
            var why = KnownJintFailure(ex) ?? "script engine error: " + ex.Message;
            var (line, column) = engine.GetLastSyntaxNode()?.Location is { } at ? MapRuntimePosition(at.Start.Line, at.Start.Column) : (0, 0);
            throw new ScriptException(ScriptErrorKind.Runtime,
                line > 0 ? $"{why} (script line {line}, column {column}: {Excerpt(request.Source.Split('\n'), line)})" : why, line, column, ex);
        }
    }

    /// <summary>
    /// What a failure inside Jint 2.10.4 that the script cannot catch means, for the failures scripts can reach (found by review), or
    /// null: the host exception's message is then all there is.
    /// </summary>
    private static string? KnownJintFailure(Exception ex)
    {
        var at = ex.StackTrace ?? string.Empty;
        if (ex is ArgumentException && at.Contains("JavaScriptException.GetErrorMessage", StringComparison.Ordinal))
        {
            return "the script threw an object whose message is not a string (throw {} or throw { code: 1 }): Jint 2.10.4 cannot carry it out of a function, so no catch sees it; throw an Error (throw new Error('...')) or give the object a string message";
        }

        if (ex is IndexOutOfRangeException && at.Contains("ArrayInstance.ParseArrayIndex", StringComparison.Ordinal))
        {
            return "an array's property named '' (the empty string) was used ([][''], '' in array): Jint 2.10.4 fails on it";
        }

        return null;
    }

    /// <summary>A run longer than this drops its engine instead of pooling it (see <see cref="Run"/>).</summary>
    private static readonly TimeSpan KeepEngineAfter = TimeSpan.FromMilliseconds(50);

    private PooledEngine Rent()
    {
        if (pool.TryTake(out var pooled))
        {
            return pooled;
        }

        Interlocked.Increment(ref enginesCreated);
        try
        {
            return PooledEngine.Create(options);
        }
        catch (OutOfMemoryException ex)
        {
            // The script thread's stack could not be reserved (strict overcommit, a small address-space limit): the run fails, the
            // host goes on.
            throw new ScriptException(ScriptErrorKind.Runtime, "script engine could not start its thread: " + ex.Message, 0, 0, ex);
        }
    }

    /// <summary>
    /// Deletes the run's globals and returns the engine to the pool when it is clean: the run ended normally (a script
    /// error, a limit or a host failure may leave the engine mid-call) and no global other than the built-ins remains.
    /// </summary>
    private void Return(PooledEngine pooled, List<string> injected, bool ranToEnd)
    {
        var clean = ranToEnd;
        foreach (var name in injected)
        {
            clean &= pooled.Engine.Global.Delete(name, false);
        }

        clean = clean && pooled.IsClean();
        if (clean && pool.Count < maxPooled)
        {
            pool.Add(pooled);
        }
        else
        {
            pooled.Thread.Dispose(); // dropped: its thread ends, and the stack that run touched is released
        }
    }

    /// <summary>A reusable engine with its built-ins frozen and its own cache of parsed scripts.</summary>
    private sealed class PooledEngine
    {
        private static readonly string[] ObjectOverridable = ["toString", "valueOf", "toJSON", "toLocaleString"];
        private static readonly string[] ErrorOverridable = ["name", "message", "toString"];
        private static readonly string[] NativeErrorOverridable = ["name", "message"];
        private int baselineGlobals;

        private PooledEngine(Engine engine, ScriptRunLimits limits, int stackBytes)
        {
            Engine = engine;
            Limits = limits;
            Thread = new ScriptThread(stackBytes);
        }

        public Engine Engine { get; }

        /// <summary>The limits Jint does not enforce itself (see <see cref="ScriptRunLimits"/>).</summary>
        public ScriptRunLimits Limits { get; }

        /// <summary>Parsed and guarded scripts by source, with their regular expression literals (reset before each run).</summary>
        public Dictionary<string, (Jint.Parser.Ast.Program Program, Jint.Parser.Ast.Literal[] Regexes)> Programs { get; } = new(StringComparer.Ordinal);

        /// <summary>The thread this engine's runs execute on.</summary>
        public ScriptThread Thread { get; }

        public static PooledEngine Create(ScriptingOptions options)
        {
            // No LimitRecursion for Jint: it counts per function and never forgets a call that threw (64 caught exceptions from one
            // function and every later call of it failed); ScriptRunLimits counts every call's depth instead.
            var engine = new Engine(o => o
                .TimeoutInterval(options.TimeoutInterval)
                .MaxStatements(options.MaxStatements)
                .Culture(CultureInfo.InvariantCulture)
                .LocalTimeZone(TimeZoneInfo.Utc));
            var limits = new ScriptRunLimits(engine, options.LimitRecursion, options.MaxArrayLength);
            ScriptGuards.Install(engine, limits);
            var pooled = new PooledEngine(engine, limits, options.ThreadStackBytes);
            try
            {
                pooled.Harden();
            }
            catch
            {
                pooled.Thread.Dispose();
                throw;
            }

            return pooled;
        }

        /// <summary>Own properties of the global object now equal the built-ins (nothing was left behind).</summary>
        public bool IsClean()
        {
            if (!Engine.Global.Extensible)
            {
                return false; // Object.preventExtensions, seal or freeze of the global object: the next run's globals could not be set
            }

            var count = 0;
            foreach (var _ in Engine.Global.GetOwnProperties())
            {
                count++;
            }

            return count == baselineGlobals;
        }

        /// <summary>
        /// Freezes every built-in reachable from the global object (constructors, prototypes, Math, JSON and every
        /// function they hold) and makes the built-in globals read-only. A few names that objects commonly override get
        /// accessors instead, which define the property on the object assigned to (so <c>e.message = …</c> works).
        /// </summary>
        private void Harden()
        {
            var global = Engine.Global;
            var builtIns = new List<ObjectInstance>();
            foreach (var (_, descriptor) in global.GetOwnProperties().ToList())
            {
                if (descriptor.Value is { } value && value.IsObject())
                {
                    var obj = value.AsObject();
                    builtIns.Add(obj);
                    if (obj.Get("prototype") is { } prototype && prototype.IsObject())
                    {
                        builtIns.Add(prototype.AsObject());
                    }
                }
            }

            builtIns.Add(Engine.Function.PrototypeObject);
            builtIns.Add(Engine.Object.PrototypeObject);
            Tame(Engine.Object.PrototypeObject, ObjectOverridable);
            Tame(Engine.Error.PrototypeObject, ErrorOverridable);

            // Each native error's prototype has its own `name` and `message` (ES5 15.11.7.9-10): frozen as data properties they would
            // make `new RangeError("x").message` silently empty, and the messages of the sandbox's own TypeErrors and SyntaxErrors.
            foreach (var native in new[] { Engine.EvalError, Engine.RangeError, Engine.ReferenceError, Engine.SyntaxError, Engine.TypeError, Engine.UriError })
            {
                Tame(native.PrototypeObject, NativeErrorOverridable);
            }

            var seen = new HashSet<ObjectInstance>(ReferenceEqualityComparer.Instance);
            foreach (var obj in builtIns)
            {
                Freeze(obj, seen, depth: 0);
            }

            foreach (var (name, descriptor) in global.GetOwnProperties().ToList())
            {
                if (descriptor.Value is not null)
                {
                    global.DefineOwnProperty(name, new PropertyDescriptor(descriptor.Value, false, descriptor.Enumerable ?? false, false), false);
                }
            }

            baselineGlobals = global.GetOwnProperties().Count();
        }

        private void Tame(ObjectInstance prototype, string[] names)
        {
            foreach (var name in names)
            {
                var own = prototype.GetOwnProperty(name);
                if (own?.Value is not { } original)
                {
                    continue;
                }

                var getter = new ClrFunctionInstance(Engine, (_, _) => original, 0);
                HardenedAccessors.AddOrUpdate(getter, name);
                var setter = new ClrFunctionInstance(Engine, (self, args) =>
                {
                    if (!self.IsObject() || ReferenceEquals(self.AsObject(), prototype))
                    {
                        throw new JavaScriptException(Engine.TypeError, $"built-in '{name}' is read-only in RuleFlow scripts");
                    }

                    self.AsObject().DefineOwnProperty(name, new PropertyDescriptor(args.Length > 0 ? args[0] : JsValue.Undefined, true, true, true), true);
                    return JsValue.Undefined;
                }, 1);
                prototype.DefineOwnProperty(name, new PropertyDescriptor(getter, setter, own.Enumerable ?? false, false), true);
                Freeze(getter, [], 0);
                Freeze(setter, [], 0);
                if (original.IsObject())
                {
                    // Reachable only through the getter now, where the walk over the built-ins does not look: unfrozen, a run could
                    // give Object.prototype.toString a 'call' of its own that every later run on this engine used (seventh review).
                    Freeze(original.AsObject(), [], 0);
                }
            }
        }

        private void Freeze(ObjectInstance obj, HashSet<ObjectInstance> seen, int depth)
        {
            if (!seen.Add(obj) || depth > 3)
            {
                return;
            }

            foreach (var (_, descriptor) in obj.GetOwnProperties().ToList())
            {
                foreach (var value in new[] { descriptor.Value, descriptor.Get, descriptor.Set })
                {
                    if (value is not null && value.IsObject())
                    {
                        Freeze(value.AsObject(), seen, depth + 1);
                    }
                }
            }

            // Called directly with a JsValue: Engine.Invoke would convert the argument through JsValue.FromObject, whose
            // type cache in Jint 2.10.4 is a static, unsynchronized dictionary (engines are created on several threads).
            Engine.Object.Freeze(JsValue.Undefined, [new JsValue(obj)]);
        }
    }

    private static void CheckName(string name, HashSet<string> names)
    {
        if (!IdentifierRegex().IsMatch(name) || ReservedNames.Contains(name) || !names.Add(name))
        {
            throw new ArgumentException($"'{name}' cannot be a script global: it must be a unique identifier other than 'log'", nameof(name));
        }
    }

    private static JsValue ParseJson(Engine engine, string json, string what)
    {
        try
        {
            return new JsonParser(engine).Parse(json);
        }
        catch (Exception ex) when (ex is JavaScriptException or ParserException)
        {
            throw new ArgumentException($"global '{what}' is not valid JSON: {ex.Message}", nameof(json), ex);
        }
    }

    private string? Serialize(ScriptRunLimits limits, JsValue value, string what)
    {
        if (value.IsUndefined())
        {
            return null;
        }

        var json = ScriptGuards.Serialize(limits, value, what);
        if (json.IsUndefined())
        {
            return null;
        }

        var text = json.AsString();
        if (text.Length > options.MaxResultChars)
        {
            throw new ScriptException(ScriptErrorKind.TooLarge,
                $"{what} is {text.Length} characters of JSON, over the cap of {options.MaxResultChars} (MaxResultChars)", 0, 0);
        }

        return text;
    }

    private static string Describe(ScriptRunLimits limits, JsValue value)
    {
        if (value.IsString())
        {
            return value.AsString();
        }

        if (value.IsUndefined())
        {
            return "undefined";
        }

        if (value.IsObject() && value.AsObject() is Jint.Native.Function.FunctionInstance)
        {
            return "[function]";
        }

        try
        {
            var json = ScriptGuards.Serialize(limits, value, "a logged value");
            return json.IsUndefined() ? "undefined" : json.AsString();
        }
        catch (JavaScriptException)
        {
            return "[unserializable]";
        }
    }

    private static readonly Type[] SupportedReturnTypes =
    [
        typeof(void), typeof(string), typeof(bool), typeof(double), typeof(int), typeof(long), typeof(float), typeof(decimal),
        typeof(bool?), typeof(double?), typeof(int?), typeof(long?), typeof(JsonNode), typeof(JsonObject), typeof(JsonArray),
        typeof(JsonValue), typeof(object), typeof(Task),
    ];

    private static bool IsSupportedReturn(Type type) =>
        SupportedReturnTypes.Contains(type)
        || (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Task<>) && IsSupportedReturn(type.GetGenericArguments()[0]));

    private static bool IsSupportedParameter(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return t == typeof(string) || t == typeof(bool) || t == typeof(double) || t == typeof(int) || t == typeof(long)
            || t == typeof(float) || t == typeof(decimal) || t == typeof(object);
    }

    private static ClrFunctionInstance WrapHostFunction(ScriptRunLimits limits, string name, Delegate function, Action<string> onFailure)
    {
        var engine = limits.Engine;
        var parameters = function.Method.GetParameters();
        foreach (var p in parameters)
        {
            if (!IsSupportedParameter(p.ParameterType))
            {
                throw new InvalidOperationException(
                    $"host function {name}: parameter '{p.Name}' of type {p.ParameterType.Name} is not supported (use string, number, bool or object)");
            }
        }

        if (!IsSupportedReturn(function.Method.ReturnType))
        {
            throw new InvalidOperationException(
                $"host function {name}: return type {function.Method.ReturnType.Name} is not supported (use void, string, number, bool, JsonNode or a Task of those)");
        }

        return limits.BuiltIn(name, (_, args) =>
        {
            var clrArgs = new object?[parameters.Length];
            for (var i = 0; i < parameters.Length; i++)
            {
                var arg = i < args.Length ? args[i] : JsValue.Undefined;
                clrArgs[i] = ToClr(limits, arg, parameters[i].ParameterType, name, parameters[i].Name ?? ("#" + i));
            }

            object? result;
            try
            {
                result = function.DynamicInvoke(clrArgs);
                if (result is Task task)
                {
                    task.GetAwaiter().GetResult();
                    var resultProperty = task.GetType().GetProperty("Result", BindingFlags.Public | BindingFlags.Instance);
                    result = task.GetType().IsGenericType && resultProperty is not null ? resultProperty.GetValue(task) : null;
                }
            }
            catch (Exception ex) when (ex is not JavaScriptException)
            {
                var inner = ex is TargetInvocationException { InnerException: { } innerException } ? innerException : ex;
                var message = $"{name} failed: {inner.Message}";
                onFailure(message);
                throw new JavaScriptException(engine.Error, message);
            }

            return ToJs(engine, result, name);
        }, parameters.Length);
    }

    private static object? ToClr(ScriptRunLimits limits, JsValue value, Type type, string function, string parameter)
    {
        var engine = limits.Engine;
        var nullable = Nullable.GetUnderlyingType(type);
        var t = nullable ?? type;
        if (value.IsUndefined() || value.IsNull())
        {
            return t.IsValueType && nullable is null
                ? throw new JavaScriptException(engine.TypeError, $"{function}: argument '{parameter}' is required")
                : null;
        }

        if (t == typeof(string))
        {
            return value.IsString() ? value.AsString()
                : value.IsObject() ? ScriptGuards.Serialize(limits, value, $"{function}: argument '{parameter}'").AsString()
                : value.IsBoolean() ? (value.AsBoolean() ? "true" : "false")
                : value.AsNumber().ToString("R", CultureInfo.InvariantCulture);
        }

        if (t == typeof(bool))
        {
            return value.IsBoolean() ? value.AsBoolean()
                : throw new JavaScriptException(engine.TypeError, $"{function}: argument '{parameter}' must be a boolean");
        }

        if (t == typeof(object))
        {
            return value.IsString() ? value.AsString()
                : value.IsBoolean() ? value.AsBoolean()
                : value.IsNumber() ? value.AsNumber()
                : ScriptGuards.Serialize(limits, value, $"{function}: argument '{parameter}'").AsString();
        }

        if (!value.IsNumber())
        {
            throw new JavaScriptException(engine.TypeError, $"{function}: argument '{parameter}' must be a number");
        }

        var number = value.AsNumber();
        try
        {
            return Convert.ChangeType(number, t, CultureInfo.InvariantCulture);
        }
        catch (OverflowException)
        {
            throw new JavaScriptException(engine.RangeError, $"{function}: argument '{parameter}' is out of range");
        }
    }

    private static JsValue ToJs(Engine engine, object? value, string function) => value switch
    {
        null => JsValue.Null,
        string s => new JsValue(s),
        bool b => new JsValue(b),
        double d => new JsValue(d),
        int i => new JsValue(i),
        long l => new JsValue(l),
        float f => new JsValue(f),
        decimal m => new JsValue((double)m),
        JsonNode node => new JsonParser(engine).Parse(node.ToJsonString()),
        _ => throw new JavaScriptException(engine.TypeError, $"{function} returned a value the sandbox does not pass to scripts"),
    };

    private static (int Line, int Column) MapParserPosition(ParserException ex)
    {
        // ParserException columns are 1-based; line 1 carries the wrapper prefix.
        var line = Math.Max(1, ex.LineNumber);
        var column = ex.Column;
        if (line == 1)
        {
            column -= Prefix.Length;
        }

        return (line, Math.Max(1, column));
    }

    private static (int Line, int Column) MapRuntimePosition(int line, int zeroBasedColumn)
    {
        var column = zeroBasedColumn + 1;
        if (line == 1)
        {
            column -= Prefix.Length;
        }

        return (Math.Max(1, line), Math.Max(1, column));
    }

    private static string DescribeJsError(JavaScriptException ex)
    {
        if (ex.Error.IsObject())
        {
            // Read without running the script's code: the run is over, and a getter on the thrown object could throw, loop or recur
            // (a getter that threw made Run throw Jint's own exception, which no caller catches).
            var error = ex.Error.AsObject();
            var name = DataValue(error, "name");
            var message = DataValue(error, "message");
            var nameText = name.IsString() ? name.AsString() : "Error";
            var messageText = message.IsString() ? message.AsString() : string.Empty;
            if (messageText.Length == 0 && nameText == "TypeError")
            {
                messageText = "a value is not what the operation needs (e.g. a property of null or undefined was read)";
            }

            return messageText.Length == 0 ? nameText : nameText + ": " + messageText;
        }

        return "uncaught " + (ex.Error.IsString() ? "'" + ex.Error.AsString() + "'" : ex.Error.ToString());
    }

    /// <summary>The getters of the built-in properties <see cref="PooledEngine"/> makes accessors (host code, safe to call).</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ClrFunctionInstance, object> HardenedAccessors = new();

    /// <summary>
    /// <paramref name="obj"/>'s property <paramref name="name"/>, own or inherited, where it is a data property or one of the
    /// sandbox's own accessors (host functions: <c>name</c> and <c>message</c> of the error prototypes); undefined where a script's
    /// getter would have to run.
    /// </summary>
    private static JsValue DataValue(ObjectInstance obj, string name)
    {
        for (var o = obj; o is not null; o = o.Prototype)
        {
            var descriptor = o.GetOwnProperty(name);
            if (descriptor == PropertyDescriptor.Undefined)
            {
                continue;
            }

            if (descriptor.Get is { } getter && getter.IsObject())
            {
                return getter.AsObject() is ClrFunctionInstance host && HardenedAccessors.TryGetValue(host, out _) ? host.Call(obj, []) : JsValue.Undefined;
            }

            return descriptor.Value ?? JsValue.Undefined;
        }

        return JsValue.Undefined;
    }

    private static string Excerpt(string[] lines, int line)
    {
        if (line < 1 || line > lines.Length)
        {
            return string.Empty;
        }

        var text = lines[line - 1].Trim();
        return text.Length > 80 ? text[..80] + "…" : text;
    }

    /// <summary>Turns a parser message into a clear one, naming an ES2015+ construct when the line uses one.</summary>
    private static string DescribeSyntaxError(string source, int line, string description)
    {
        var lines = source.Split('\n');
        var text = line >= 1 && line <= lines.Length ? lines[line - 1] : source;
        var hint = Es6Hint(text) ?? (line == lines.Length + 1 ? Es6Hint(source) : null);
        var builder = new StringBuilder();
        builder.Append(CultureInfo.InvariantCulture, $"syntax error: {description}");
        if (hint is not null)
        {
            builder.Append(". Scripts run in Jint 2.10.4, which parses ECMAScript 5.1 only: ")
                .Append(hint)
                .Append(" (arrow functions, template literals, classes, destructuring, spread and for-of are not supported)");
        }

        return builder.ToString();
    }

    private static string? Es6Hint(string text)
    {
        if (text.Contains("=>", StringComparison.Ordinal))
        {
            return "an arrow function (=>) was used; write function (x) { return ...; }";
        }

        if (text.Contains('`', StringComparison.Ordinal))
        {
            return "a template literal (`...`) was used; concatenate strings with +";
        }

        if (ClassRegex().IsMatch(text))
        {
            return "a class was used; use a constructor function and its prototype";
        }

        if (text.Contains("...", StringComparison.Ordinal))
        {
            return "spread or rest (...) was used; use Array.prototype.concat or fn.apply";
        }

        if (DestructuringRegex().IsMatch(text))
        {
            return "destructuring was used; read the properties one by one";
        }

        if (ForOfRegex().IsMatch(text))
        {
            return "for-of was used; use for (var i = 0; i < a.length; i++)";
        }

        return null;
    }

    [GeneratedRegex(@"^[A-Za-z_$][A-Za-z0-9_$]*$")]
    private static partial Regex IdentifierRegex();

    [GeneratedRegex(@"\bclass\s+[A-Za-z_$]")]
    private static partial Regex ClassRegex();

    [GeneratedRegex(@"\b(var|let|const)\s*[\[{]")]
    private static partial Regex DestructuringRegex();

    [GeneratedRegex(@"\bfor\s*\(\s*(var|let|const)?\s*[A-Za-z_$][A-Za-z0-9_$]*\s+of\b")]
    private static partial Regex ForOfRegex();
}
