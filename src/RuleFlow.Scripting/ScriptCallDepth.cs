using System.Reflection;
using Jint;
using Jint.Native;
using Jint.Parser;
using Jint.Parser.Ast;
using Jint.Runtime;
using Jint.Runtime.Interop;

namespace RuleFlow.Scripting;

/// <summary>
/// Bounds how deeply the script functions of one engine's run nest, counting every call: those written as calls and those Jint makes
/// itself — getters and setters, <c>toString</c> and <c>valueOf</c> when a value is converted, callbacks of built-ins. Jint 2.10.4
/// counts only calls written as calls against <see cref="ScriptingOptions.LimitRecursion"/>, and counts them per function: a getter
/// that reads itself, or a ring of functions calling each other, went as deep as the statement limit let them, and with a deeply
/// nested expression at each level that exhausted even the script thread's large stack (the process ended).
/// </summary>
/// <remarks>
/// Every function of a parsed script — and of code given to <c>eval</c> or <c>Function</c>, which <see cref="ScriptGuards"/> parse and
/// run through here — gets a first statement that calls a host function held by the syntax tree itself (no name a script could
/// shadow, reassign or reach). It reads how many execution contexts Jint has entered (one per function call, however made: Jint's
/// private stack of them, found once per engine) and, past <see cref="MaxDepth"/> above the run's start, throws a <c>RangeError</c>
/// at the function's body, which the script can catch. Measured on Jint 2.10.4: a level whose expression nests as deep as
/// <see cref="ScriptNesting.MaxTreeDepth"/> allows takes ~0.2 MB of stack, so <see cref="MaxDepth"/> such levels fit in 48 MB (they
/// overflow 32 MB) of the script thread's 256 MB. Cost: one host call per script function call, which counts as a statement against
/// <see cref="ScriptingOptions.MaxStatements"/>.
/// </remarks>
internal sealed class ScriptCallDepth
{
    /// <summary>Deepest nesting of script function calls in one run, the script's own body included.</summary>
    public const int MaxDepth = 256;

    private readonly ClrFunctionInstance enter;
    private readonly Stack<Jint.Runtime.Environments.ExecutionContext> contexts;
    private int baseline;

    /// <summary>Makes the counter and its host function for <paramref name="engine"/>.</summary>
    /// <exception cref="InvalidOperationException">The engine does not keep its execution contexts where Jint 2.10.4 does.</exception>
    public ScriptCallDepth(Engine engine)
    {
        contexts = typeof(Engine).GetField("_executionContexts", BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(engine) as Stack<Jint.Runtime.Environments.ExecutionContext>
            ?? throw new InvalidOperationException("Jint's stack of execution contexts is not where Jint 2.10.4 keeps it: the sandbox cannot bound call depth");
        baseline = contexts.Count;
        enter = new ClrFunctionInstance(engine, (_, _) =>
        {
            if (contexts.Count - baseline > MaxDepth)
            {
                throw ScriptGuards.Error(engine.RangeError,
                    $"script functions nest more than {MaxDepth} calls deep (calls made implicitly, by getters, setters, toString and valueOf, count too)");
            }

            return JsValue.Undefined;
        }, 0);
    }

    /// <summary>Takes the engine's depth now as the run's start (the global context; a run that ended early may have left more).</summary>
    public void Reset() => baseline = contexts.Count;

    /// <summary>Gives every function in <paramref name="program"/> its first statement (see the remarks); the tree is changed in place.</summary>
    public void Guard(SyntaxNode program)
    {
        var bodies = new List<BlockStatement>();
        foreach (var (node, _) in ScriptNesting.Walk(program))
        {
            switch (node)
            {
                case FunctionExpression { Body: BlockStatement body }:
                    bodies.Add(body);
                    break;
                case FunctionDeclaration { Body: BlockStatement body }:
                    bodies.Add(body);
                    break;
            }
        }

        foreach (var body in bodies)
        {
            body.Body = [Call(enter, body.Location), .. body.Body];
        }
    }

    /// <summary>A statement that calls <paramref name="function"/> held in a literal: evaluating it resolves no name.</summary>
    private static ExpressionStatement Call(ClrFunctionInstance function, Location at) => new()
    {
        Type = SyntaxNodes.ExpressionStatement,
        Location = at,
        Expression = new CallExpression
        {
            Type = SyntaxNodes.CallExpression,
            Location = at,
            Callee = new Literal { Type = SyntaxNodes.Literal, Location = at, Value = function },
            Arguments = new List<Expression>(),
        },
    };
}
