using System.Diagnostics;
using System.Runtime.CompilerServices;
using Jint;
using Jint.Native;
using Jint.Native.Function;
using Jint.Native.Object;
using Jint.Parser;
using Jint.Parser.Ast;
using Jint.Runtime.Descriptors;
using Jint.Runtime.Interop;
using JintExecutionContext = Jint.Runtime.Environments.ExecutionContext;

namespace RuleFlow.Scripting;

/// <summary>
/// The limits of one engine's run that Jint 2.10.4 does not enforce itself, checked each time the run enters a script function or a
/// built-in: the call depth, the time, the stack left and how deeply built-ins nest into each other. Jint checks its timeout only
/// between statements, and counts only calls written as calls, per function, against its recursion limit (and never forgets a call
/// that ended in an exception: after 64 caught exceptions from one function, every later call of it failed). Getters, setters,
/// <c>toString</c>, <c>valueOf</c> and built-ins handed to each other (<c>{ get: Array.prototype.pop }</c> on <c>length</c>) recursed
/// without running a statement or a counted call, and overflowed the stack, which ends the process.
/// </summary>
/// <remarks>
/// <para>Script functions: every function of a parsed script — and of code given to <c>eval</c> or <c>Function</c>, which
/// <see cref="ScriptGuards"/> parse and run through here — gets a first statement that calls <see cref="EnterFunction"/>, a host
/// function held by the syntax tree itself (no name a script could shadow, reassign or reach). Jint's own recursion limit is off
/// (so its call stack is not even kept): the depth is the number of execution contexts Jint has entered above the run's start (one
/// per function call, however made, each left in a <c>finally</c>), read from Jint's private stack of them.</para>
/// <para>Built-ins: every built-in function that is not a constructor is replaced by a wrapper that calls
/// <see cref="EnterBuiltIn"/> before it and counts its nesting down after it; so do functions made by <c>bind</c>, <c>log</c>, host
/// module functions and <c>Function</c> (<see cref="BuiltIn"/>). The sandbox's own loops inside one built-in (serializing, joining,
/// sorting) call <see cref="CheckTimeAndStack"/>, and the arrays built-ins walk are at most <see cref="MaxArrayLength"/> long.</para>
/// <para>Prototype chains: <see cref="EnterFunction"/> also refuses a <c>this</c> whose chain is longer than
/// <see cref="MaxPrototypeChain"/> (what <c>new</c> made, before the constructor's first statement), as <c>Object.create</c>'s check
/// refuses to make one.</para>
/// <para>The stack check is the last line: within the other bounds a review measured a run of 132 MB (a <c>toJSON</c> bound to
/// <c>JSON.stringify</c> over data 250 deep). Not covered (docs/workflows.md, "Gap: a long string built in a few statements"): one
/// built-in call over a string of tens of millions of characters, which a few statements can build.</para>
/// </remarks>
internal sealed class ScriptRunLimits
{
    /// <summary>Deepest nesting of built-in calls into each other (two per level of nested arrays when they join).</summary>
    public const int MaxBuiltInNesting = 1024;

    /// <summary>
    /// Most objects on a prototype chain, the object itself included (an array's is 3: the array, <c>Array.prototype</c>,
    /// <c>Object.prototype</c>). Jint 2.10.4 looks a property up the chain by recursion, one stack frame per object, so reading a
    /// missing property of an object at the end of a chain of ~2.8 million (<c>big.reduce(Object.create, {})</c>, in one call)
    /// overflowed the script thread's stack, which ends the process; and each missing element an array method reads walks the whole
    /// chain. <c>Object.create</c> and <c>new</c> refuse to make a longer chain with a <c>RangeError</c>.
    /// </summary>
    public const int MaxPrototypeChain = 1024;

    private readonly Engine engine;
    private readonly int maxDepth;
    private int baseline;
    private long deadline = long.MaxValue;
    private int builtInNesting;

    /// <summary>Makes the limits of <paramref name="engine"/>'s runs.</summary>
    /// <param name="engine">The engine, made without Jint's own recursion limit.</param>
    /// <param name="maxDepth">Deepest nesting of script function calls (<see cref="ScriptingOptions.LimitRecursion"/>), at least 1.</param>
    /// <param name="maxArrayLength">Longest array a built-in takes (<see cref="ScriptingOptions.MaxArrayLength"/>), at least 1.</param>
    public ScriptRunLimits(Engine engine, int maxDepth, int maxArrayLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDepth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxArrayLength, 1);
        this.engine = engine;
        this.maxDepth = maxDepth;
        MaxArrayLength = maxArrayLength;
        baseline = ExecutionContexts(engine).Count;
    }

    /// <summary>The engine these limits are of.</summary>
    public Engine Engine => engine;

    /// <summary>
    /// Longest array, array-like or argument list a built-in walks (<see cref="ScriptingOptions.MaxArrayLength"/>): Jint 2.10.4 walks
    /// every index up to an array's length, holes too, without checking the deadline (<c>a.length = 4294967295; a.indexOf(1)</c> ran
    /// for minutes; <c>fn.apply(null, { length: 1e9 })</c> took gigabytes).
    /// </summary>
    public int MaxArrayLength { get; }

    /// <summary>Starts a run: the depth counts from here, and the run must end within <paramref name="timeout"/>.</summary>
    public void Start(TimeSpan timeout)
    {
        baseline = ExecutionContexts(engine).Count;
        builtInNesting = 0;
        deadline = timeout > TimeSpan.Zero ? Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency) : long.MaxValue;
    }

    /// <summary>Gives every function in <paramref name="program"/> its first statement (see the remarks); the tree is changed in place.</summary>
    /// <returns>The program's regular expression literals: Jint keeps the object a non-global one makes on the literal itself, so a
    /// parsed program kept for the next run must have them reset (<see cref="ResetRegexLiterals"/>) or that run sees this run's object,
    /// with whatever properties the script gave it.</returns>
    public Literal[] Guard(SyntaxNode program)
    {
        var bodies = new List<(BlockStatement Body, Location? At)>();
        var regexes = new List<Literal>();
        foreach (var (node, _) in ScriptNesting.Walk(program))
        {
            switch (node)
            {
                case Literal { Type: SyntaxNodes.RegularExpressionLiteral } regex:
                    regex.Raw = MultilineDollarsMadeSafe(regex.Raw);
                    regexes.Add(regex);
                    break;
                case CallExpression call when call.Arguments.Any(a => a is Literal { Type: SyntaxNodes.RegularExpressionLiteral }):
                    // Jint keeps the evaluated arguments of a call whose arguments are all literals on the call itself, a regex
                    // literal's object among them, where resetting the literal does not reach (`id(/x/).leak` carried into the next run).
                    call.CanBeCached = false;
                    break;
                case FunctionExpression { Body: BlockStatement body } function:
                    bodies.Add((body, function.Location));
                    break;
                case FunctionDeclaration { Body: BlockStatement body } function:
                    bodies.Add((body, function.Location));
                    break;
            }
        }

        foreach (var (body, at) in bodies)
        {
            body.Body = [Enter(at ?? body.Location), .. body.Body]; // errors name the function's place
        }

        return [.. regexes];
    }

    /// <summary>
    /// The text of a regular expression literal (<c>/body/flags</c>) that Jint 2.10.4 can build. For a multiline literal Jint puts
    /// <c>\r?</c> before each <c>$</c> (so that it matches before "\r\n"), but its loop never moves past a <c>$</c> at the start of
    /// the body or after a backslash (<c>/$/m</c>, <c>/\$/m</c>: the run never ended, past any timeout), and it put <c>\r?</c> inside
    /// character classes too (<c>/a[$]/m</c> matched "a?"). So in a multiline literal an escaped <c>$</c> and a <c>$</c> in a class
    /// become <c>\x24</c>, and an anchor <c>$</c> becomes <c>(?:$)</c>, which Jint's loop handles. Other literals are returned as
    /// they are; a changed literal's <c>source</c> shows the changed body.
    /// </summary>
    internal static string MultilineDollarsMadeSafe(string raw)
    {
        var end = raw.LastIndexOf('/');
        if (end <= 0 || !raw.AsSpan(end + 1).Contains('m') || !raw.AsSpan(1, end - 1).Contains('$'))
        {
            return raw;
        }

        var body = new System.Text.StringBuilder("/");
        var inClass = false;
        for (var i = 1; i < end; i++)
        {
            var c = raw[i];
            if (c == '\\' && i + 1 < end)
            {
                if (raw[i + 1] == '$')
                {
                    body.Append("\\x24");
                }
                else
                {
                    body.Append(raw.AsSpan(i, 2));
                }

                i++;
            }
            else if (c == '$')
            {
                body.Append(inClass ? "\\x24" : "(?:$)");
            }
            else if (c == '[' && !inClass)
            {
                // A class, read as .NET reads it (which builds the pattern): a ']' first in it is a member, not its end.
                inClass = true;
                body.Append(c);
                if (i + 1 < end && raw[i + 1] == '^')
                {
                    body.Append(raw[++i]);
                }

                if (i + 1 < end && raw[i + 1] == ']')
                {
                    body.Append(raw[++i]);
                }
            }
            else
            {
                inClass = inClass && c != ']';
                body.Append(c);
            }
        }

        return body.Append(raw.AsSpan(end)).ToString();
    }

    /// <summary>Makes each regular expression literal build a new object when next evaluated (once per run, before it starts).</summary>
    public static void ResetRegexLiterals(Literal[] regexes)
    {
        foreach (var regex in regexes)
        {
            regex.Cached = false;
            regex.CachedValue = null;
        }
    }

    /// <summary>Replaces <paramref name="owner"/>'s property <paramref name="name"/>, a built-in function, by one that checks the limits around it.</summary>
    /// <param name="owner">The object holding the built-in.</param>
    /// <param name="name">The property.</param>
    /// <param name="original">The built-in.</param>
    /// <param name="check">Checked after the limits and before the built-in runs, with its <c>this</c> and arguments (e.g. the length of
    /// the array an <c>Array.prototype</c> method walks), or null.</param>
    public void WrapBuiltIn(ObjectInstance owner, string name, FunctionInstance original, Action<JsValue, JsValue[]>? check = null)
    {
        var length = original.GetOwnProperty("length")?.Value is { } l && l.IsNumber() ? (int)l.AsNumber() : 0;
        ScriptGuards.Replace(owner, name, BuiltIn(name, check is null
            ? original.Call
            : (self, args) =>
            {
                check(self, args);
                return original.Call(self, args);
            }, length));
    }

    /// <summary>
    /// A host function that checks the limits on entry as a built-in does (<see cref="EnterBuiltIn"/>) and counts its nesting: the
    /// sandbox's <c>log</c>, host modules' functions and its own replacements of built-ins, which call back into the script (through
    /// <c>toJSON</c>, getters, <c>toString</c>) and could otherwise recur through a bound function without entering a guard.
    /// </summary>
    /// <param name="name">Named in the nesting error.</param>
    /// <param name="body">The function, given <c>this</c> and the arguments.</param>
    /// <param name="length">Its <c>length</c> property.</param>
    public ClrFunctionInstance BuiltIn(string name, Func<JsValue, JsValue[], JsValue> body, int length) =>
        new(engine, (self, args) =>
        {
            EnterBuiltIn(name);
            try
            {
                return body(self, args);
            }
            finally
            {
                builtInNesting--;
            }
        }, length);

    /// <summary>
    /// Entering a built-in: past the deadline a timeout, with the stack nearly gone a recursion error (neither catchable by the
    /// script), nested more than <see cref="MaxBuiltInNesting"/> deep a <c>RangeError</c> the script can catch. Every call must be
    /// paired with <see cref="LeaveBuiltIn"/> (in a <c>finally</c>).
    /// </summary>
    /// <param name="name">Named in the nesting error.</param>
    public void EnterBuiltIn(string name)
    {
        CheckTimeAndStack();
        if (builtInNesting >= MaxBuiltInNesting)
        {
            throw ScriptGuards.Error(engine.RangeError,
                $"{name}: built-in methods nest into each other more than {MaxBuiltInNesting:N0} deep (a value that contains itself, or built-ins handed to each other)");
        }

        builtInNesting++;
    }

    /// <summary>Leaving a built-in entered with <see cref="EnterBuiltIn"/>.</summary>
    public void LeaveBuiltIn() => builtInNesting--;

    /// <summary>Entering the script function at <paramref name="at"/>: the checks of a built-in, and the call depth (not catchable by the script).</summary>
    private JsValue EnterFunction(Location? at)
    {
        StatementsCount(engine)--; // the guard's statement is not the script's: MaxStatements counts what the script wrote
        CheckTimeAndStack();
        var contexts = ExecutionContexts(engine);
        if (contexts.Count - baseline > maxDepth)
        {
            throw new ScriptLimitException(ScriptErrorKind.Recursion,
                $"script functions nest more than {maxDepth} calls deep (LimitRecursion; calls made implicitly, by getters, setters, toString, valueOf and built-ins, count too)",
                at);
        }

        // `new F()` made `this` with F.prototype as its prototype before this first statement of F runs: the one place besides
        // Object.create where a chain grows (a prototype cannot be changed once made in ES5), so no longer chain exists to be called on.
        if (contexts.Count > 0 && contexts.Peek().ThisBinding is { } self && self.IsObject() && ChainLength(self.AsObject()) > MaxPrototypeChain)
        {
            throw ScriptGuards.Error(engine.RangeError,
                $"new: the object would have a prototype chain of more than {MaxPrototypeChain:N0} objects, the most RuleFlow scripts make");
        }

        return JsValue.Undefined;
    }

    /// <summary>
    /// How many objects are on <paramref name="obj"/>'s prototype chain, itself included, counted up to one past
    /// <see cref="MaxPrototypeChain"/> (the walk stops there).
    /// </summary>
    public static int ChainLength(ObjectInstance? obj)
    {
        var n = 0;
        for (; obj is not null && n <= MaxPrototypeChain; obj = obj.Prototype)
        {
            n++;
        }

        return n;
    }

    /// <summary>
    /// Past the deadline a <see cref="TimeoutException"/>, with the stack nearly gone a <see cref="ScriptLimitException"/>; for loops
    /// inside the sandbox's own built-ins (serializing, joining), which run no statement.
    /// </summary>
    public void CheckTimeAndStack()
    {
        if (Stopwatch.GetTimestamp() > deadline)
        {
            throw new TimeoutException("the script ran past its timeout inside calls that run no statement");
        }

        if (ScriptThread.StackNearlyExhausted)
        {
            throw new ScriptLimitException(ScriptErrorKind.Recursion,
                $"the script nests too deeply for its stack ({ScriptThread.CurrentStackBytes / (1024 * 1024)} MB, of which {ScriptThread.StackHeadroomBytes / (1024 * 1024)} MB are kept free)");
        }
    }

    /// <summary>
    /// A statement that calls <see cref="EnterFunction"/> for the function at <paramref name="at"/>, held as an evaluated literal:
    /// evaluating it resolves no name and converts nothing through Jint's static, unsynchronized type table (which engines made on
    /// several threads would race on).
    /// </summary>
    private ExpressionStatement Enter(Location? at)
    {
        var enter = new ClrFunctionInstance(engine, (_, _) => EnterFunction(at), 0);
        return new()
        {
            Type = SyntaxNodes.ExpressionStatement,
            Location = at,
            Expression = new CallExpression
            {
                Type = SyntaxNodes.CallExpression,
                Location = at,
                Callee = new Literal { Type = SyntaxNodes.Literal, Location = at, Cached = true, CachedValue = new JsValue(enter) },
                Arguments = new List<Expression>(),
            },
        };
    }

    // Jint 2.10.4's private state (a change of Jint shows as a MissingFieldException in every run, which the tests catch).
    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_executionContexts")]
    private static extern ref Stack<JintExecutionContext> ExecutionContexts(Engine engine);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_statementsCount")]
    private static extern ref int StatementsCount(Engine engine);
}

/// <summary>A limit of <see cref="ScriptRunLimits"/> that ends the run: the script cannot catch it.</summary>
/// <param name="kind">Which limit.</param>
/// <param name="message">Why.</param>
/// <param name="at">Where in the parsed text (the function entered), if known.</param>
internal sealed class ScriptLimitException(ScriptErrorKind kind, string message, Location? at = null) : Exception(message)
{
    public ScriptErrorKind Kind { get; } = kind;

    public Location? At { get; } = at;
}
