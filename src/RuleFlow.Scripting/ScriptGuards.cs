using Jint;
using Jint.Native;
using Jint.Native.Function;
using Jint.Native.Object;
using Jint.Runtime;
using Jint.Runtime.Descriptors;
using Jint.Runtime.Environments;
using Jint.Runtime.Interop;

namespace RuleFlow.Scripting;

/// <summary>
/// Guards around the built-ins of Jint 2.10.4 that can recurse without end, or deeper than any stack, on what a script builds while it
/// runs — in a few statements, or in none, where the statement limit and the script thread's large stack (<see cref="ScriptThread"/>)
/// do not help: code handed to <c>eval</c> or <c>Function</c> must parse within the bounds of a script's own text
/// (<see cref="ScriptNesting"/>); a text handed to <c>JSON.parse</c> may nest its brackets at most <see cref="MaxValueDepth"/> deep;
/// a value handed to <c>JSON.stringify</c> or serialized by the sandbox may nest at most <see cref="MaxValueDepth"/> deep
/// (<see cref="ScriptJson"/>, which replaces Jint's serializer); <c>bind</c>, <c>apply</c>, <c>join</c>, <c>toLocaleString</c>,
/// <c>indexOf</c>, <c>lastIndexOf</c>, <c>sort</c>, <c>split</c> and <c>match</c> are replaced (ScriptGuards.BuiltIns.cs), the
/// <c>RegExp</c> constructor, <c>exec</c> and <c>search</c> bounded (ScriptGuards.RegExps.cs), the encoders, <c>concat</c> and
/// <c>Object.getOwnPropertyNames</c> bounded (ScriptGuards.Strings.cs), and the
/// <c>Date</c> built-ins' arithmetic (<see cref="ScriptDates"/>), so that one call is bounded by <see cref="ScriptRunLimits.MaxArrayLength"/> and checks the deadline;
/// every built-in function is wrapped by the engine's <see cref="ScriptRunLimits"/> (nesting, deadline, stack, for
/// <c>Array.prototype</c> the length of the array walked and the objects read along prototype chains, for <c>Object.create</c> the
/// length of the chain it makes: <see cref="ScriptRunLimits.MaxPrototypeChain"/>).
/// Past a bound, a <c>SyntaxError</c> or <c>RangeError</c> the script can catch. <c>eval</c> becomes indirect (it runs in the global
/// scope, as <c>(0, eval)(…)</c> does) and <c>Function</c> makes its function in the global scope; the code of both is parsed and
/// guarded here, then run.
/// </summary>
internal static partial class ScriptGuards
{
    /// <summary>Deepest nesting of arrays and objects a built-in may walk, and of brackets in a text for <c>JSON.parse</c>.</summary>
    public const int MaxValueDepth = 256;

    /// <summary>Installs the guards on a new engine, before its built-ins are frozen.</summary>
    /// <param name="engine">The engine.</param>
    /// <param name="limits">The engine's run limits: code given to <c>eval</c> and <c>Function</c> is guarded by them too, and every
    /// built-in function but the constructors is wrapped by them.</param>
    public static void Install(Engine engine, ScriptRunLimits limits)
    {
        var json = engine.Json;
        var parse = (FunctionInstance)json.Get("parse").AsObject();
        Replace(json, "parse", new ClrFunctionInstance(engine, (self, args) =>
        {
            // Converted once, here: a String object or an object with toString cannot show the check one text and the parse another.
            var text = TypeConverter.ToString(args.Length > 0 ? args[0] : JsValue.Undefined);
            if (ScriptNesting.TooDeepJsonAt(text, MaxValueDepth) >= 0)
            {
                throw Error(engine.SyntaxError, $"JSON.parse: the text nests more than {MaxValueDepth} levels deep");
            }

            // Jint's parser accepts what JSON does not (trailing commas: '[1,]', '{"a":1,}') and words some errors badly ('01' gave
            // "Unexpected token {0}"): the text is checked against the JSON grammar first, by System.Text.Json.
            try
            {
                using var _ = System.Text.Json.JsonDocument.Parse(System.Text.Encoding.UTF8.GetBytes(text), new System.Text.Json.JsonDocumentOptions { MaxDepth = MaxValueDepth + 1 });
            }
            catch (System.Text.Json.JsonException e)
            {
                throw Error(engine.SyntaxError, $"JSON.parse: the text is not JSON at line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1} of that line");
            }

            JsValue value;
            try
            {
                // Jint's parser refuses a raw U+2028 or U+2029, which JSON allows in strings (the only place they can be once the text
                // is JSON): escaped, they mean the same.
                value = parse.Call(self, [new JsValue(text.Replace("\u2028", "\\u2028", StringComparison.Ordinal).Replace("\u2029", "\\u2029", StringComparison.Ordinal))]);
            }
            catch (Exception e) when (e is Jint.Parser.ParserException || e.GetType() == typeof(Exception))
            {
                // Jint's JSON parser reports a malformed text as a host exception the script could not catch (`JSON.parse('{')` in a
                // try ended the run as an engine error): a ParserException, or a plain Exception for some texts ('01', '1e').
                throw Error(engine.SyntaxError, "JSON.parse: " + e.Message);
            }

            return args.At(1).IsObject() && args.At(1).AsObject() is ICallable reviver ? Revive(limits, reviver, value) : value;
        }, 2));

        Replace(json, "stringify", new ClrFunctionInstance(engine, (_, args) =>
            ScriptJson.Stringify(limits, args.At(0), args.At(1), args.At(2), "JSON.stringify: the value"), 3));

        Replace(engine.Global, "eval", new ClrFunctionInstance(engine, (_, args) =>
        {
            var code = args.Length > 0 ? args[0] : JsValue.Undefined;
            if (!code.IsString())
            {
                return code; // ES5.1 §15.1.2.1: what is not a string is returned as it is
            }

            if (ScriptSandbox.ParseCode(code.AsString(), out var program) is { } error)
            {
                throw Error(engine.SyntaxError, "eval: " + error);
            }

            limits.Guard(program!);
            return RunAsGlobalCode(engine, program!);
        }, 1));

        var function = new GuardedFunctionConstructor(engine, limits);
        Replace(engine.Global, "Function", function);
        Replace(engine.Function.PrototypeObject, "constructor", function);

        ReplaceFunctionBuiltIns(engine, limits);
        ReplaceArrayBuiltIns(engine, limits);
        ReplaceSplit(engine, limits);
        ReplaceRegExpBuiltIns(engine);
        ReplaceStringBuilders(engine, limits);
        ReplaceMatch(engine, limits);
        ReplaceNumberToString(engine);
        ScriptDates.Install(engine);
        ScriptNumbers.Install(engine);
        ReplaceReplace(engine, limits);
        ReplaceRegExpPrototype(engine);
        ReplaceStringSearch(engine, limits);

        // Built-ins handed to each other, or to an object as its getter or valueOf (`{ get: Array.prototype.pop }` on `length`, an
        // array that contains itself, `{ join: Array.prototype.toString }`), recurse without running a statement or a script
        // function; a toJSON that makes a new array each time nests the serializer without end. Every built-in function but the
        // constructors is wrapped: its nesting counted, the deadline and the stack checked.
        WrapBuiltIns(engine, limits);
    }

    /// <summary>
    /// Wraps (<see cref="ScriptRunLimits.WrapBuiltIn"/>) every function-valued data property of the global object, of each object it
    /// holds (the constructors, <c>Math</c>, <c>JSON</c>), of their prototypes and of <c>Function.prototype</c> and
    /// <c>Object.prototype</c>, except the constructors themselves.
    /// </summary>
    private static void WrapBuiltIns(Engine engine, ScriptRunLimits limits)
    {
        var owners = new List<ObjectInstance> { engine.Global, engine.Function.PrototypeObject, engine.Object.PrototypeObject };
        foreach (var (_, descriptor) in engine.Global.GetOwnProperties().ToList())
        {
            if (descriptor.Value is { } value && value.IsObject())
            {
                owners.Add(value.AsObject());
                if (value.AsObject().GetOwnProperty("prototype")?.Value is { } prototype && prototype.IsObject())
                {
                    owners.Add(prototype.AsObject());
                }
            }
        }

        var done = new HashSet<ObjectInstance>(ReferenceEqualityComparer.Instance);
        foreach (var owner in owners)
        {
            if (!done.Add(owner))
            {
                continue;
            }

            foreach (var (name, descriptor) in owner.GetOwnProperties().ToList())
            {
                if (name != "prototype" && descriptor.Value is { } value && value.IsObject() && value.AsObject() is FunctionInstance function and not IConstructor)
                {
                    limits.WrapBuiltIn(owner, name, function,
                        owner == engine.Array.PrototypeObject ? ArrayMethodCheck(limits, name)
                        : owner == engine.Object && name == "create" ? ObjectCreateCheck(engine)
                        : null);
                }
            }
        }
    }

    /// <summary>
    /// ES5.1 §15.12.2's walk with a reviver (Jint's <c>JSON.parse</c> ignored its second argument): each value of the parsed
    /// <paramref name="value"/>, children first, is replaced by what <paramref name="reviver"/> returns for its holder, key and value,
    /// or deleted when that is undefined. The reviver may change values not yet walked: the walk checks the deadline and the stack at
    /// each array and object and stops past <see cref="MaxValueDepth"/> levels with a <c>RangeError</c>.
    /// </summary>
    private static JsValue Revive(ScriptRunLimits limits, ICallable reviver, JsValue value)
    {
        var engine = limits.Engine;
        var root = engine.Object.Construct(Arguments.Empty);
        root.DefineOwnProperty(string.Empty, new PropertyDescriptor(value, true, true, true), false);
        return Walk(root, string.Empty, 0);

        JsValue Walk(ObjectInstance holder, string key, int depth)
        {
            var current = holder.Get(key);
            if (current.IsObject())
            {
                if (depth >= MaxValueDepth)
                {
                    throw Error(engine.RangeError, $"JSON.parse: the reviver walks values nested more than {MaxValueDepth} levels deep");
                }

                limits.CheckTimeAndStack();
                var obj = current.AsObject();
                IEnumerable<string> keys = obj.Class == "Array"
                    ? Indexes(TypeConverter.ToUint32(obj.Get("length")))
                    : obj.GetOwnProperties().Where(p => p.Value.Enumerable == true).Select(p => p.Key).ToList();
                var n = 0;
                foreach (var child in keys)
                {
                    if ((++n & 1023) == 0)
                    {
                        limits.CheckTimeAndStack();
                    }

                    var revived = Walk(obj, child, depth + 1);
                    if (revived.IsUndefined())
                    {
                        obj.Delete(child, false);
                    }
                    else
                    {
                        obj.DefineOwnProperty(child, new PropertyDescriptor(revived, true, true, true), false);
                    }
                }
            }

            return reviver.Call(holder, [new JsValue(key), current]);
        }

        static IEnumerable<string> Indexes(uint length)
        {
            for (var i = 0u; i < length; i++)
            {
                yield return i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }
    }

    /// <summary>Serializes a value as <c>JSON.stringify</c> does (<see cref="ScriptJson"/>): the sandbox's own conversions.</summary>
    /// <param name="limits">The run's limits.</param>
    /// <param name="value">The value.</param>
    /// <param name="what">Its name in error messages.</param>
    /// <returns>The JSON text as a string value, or undefined.</returns>
    public static JsValue Serialize(ScriptRunLimits limits, JsValue value, string what) =>
        ScriptJson.Stringify(limits, value, JsValue.Undefined, JsValue.Undefined, what);

    /// <summary>A script error with its message on the error object (<c>e.message</c>), which Jint's message constructor leaves empty.</summary>
    internal static JavaScriptException Error(Jint.Native.Error.ErrorConstructor constructor, string message) =>
        new(constructor.Construct([new JsValue(message)]));

    /// <summary>
    /// Runs <paramref name="program"/> as an indirect <c>eval</c> does (ES5.1 §10.4.2 without a calling context): in the global scope,
    /// its declarations made deletable on the global object, or, for strict code, in a scope of its own. Its completion value, or its
    /// uncaught exception thrown on.
    /// </summary>
    private static JsValue RunAsGlobalCode(Engine engine, Jint.Parser.Ast.Program program)
    {
        using var strict = new StrictModeScope(program.Strict, force: true);
        using var evalCode = new EvalCodeScope(true, force: true);
        var scope = program.Strict ? LexicalEnvironment.NewDeclarativeEnvironment(engine, engine.GlobalEnvironment) : engine.GlobalEnvironment;
        engine.EnterExecutionContext(scope, scope, engine.Global);
        try
        {
            engine.DeclarationBindingInstantiation(DeclarationBindingType.EvalCode, program.FunctionDeclarations, program.VariableDeclarations, null, null);
            var completion = engine.ExecuteStatement(program);
            if (completion.Type == Completion.Throw)
            {
                throw new JavaScriptException(completion.GetValueOrDefault()); // located at the script's statement that called eval
            }

            return completion.Value ?? JsValue.Undefined;
        }
        finally
        {
            engine.LeaveExecutionContext();
        }
    }

    /// <summary>Puts <paramref name="replacement"/> in place of <paramref name="owner"/>'s property <paramref name="name"/>, keeping its attributes.</summary>
    internal static void Replace(ObjectInstance owner, string name, FunctionInstance replacement)
    {
        var current = owner.GetOwnProperty(name);
        owner.DefineOwnProperty(name, new PropertyDescriptor(replacement, current.Writable ?? true, current.Enumerable ?? false, current.Configurable ?? true), true);
    }

    /// <summary>
    /// <c>Function(p1, …, body)</c> and <c>new Function(…)</c>: the function is parsed within the bounds of a script, its calls are
    /// counted like a script's own (<see cref="ScriptRunLimits"/>), and it is made in the global scope.
    /// </summary>
    private sealed class GuardedFunctionConstructor : FunctionInstance, IConstructor
    {
        private readonly ScriptRunLimits _limits;

        public GuardedFunctionConstructor(Engine engine, ScriptRunLimits limits)
            : base(engine, [], LexicalEnvironment.NewObjectEnvironment(engine, engine.Global, null, false), false)
        {
            _limits = limits;
            Prototype = engine.Function.PrototypeObject;
            Extensible = true;
            FastAddProperty("prototype", engine.Function.PrototypeObject, false, false, false);
            FastAddProperty("length", 1, false, false, false);
        }

        public override JsValue Call(JsValue thisObject, JsValue[] arguments) => Construct(arguments);

        /// <summary>
        /// The arguments are converted to text once (so that an object's <c>toString</c> cannot show the check one text and the parse
        /// another); <c>(function (params) { body })</c> must parse within the bounds as exactly that one function expression.
        /// </summary>
        public ObjectInstance Construct(JsValue[] arguments)
        {
            _limits.EnterBuiltIn("Function"); // converting the arguments calls their toString, which a bound Function could be
            try
            {
                return Make(arguments);
            }
            finally
            {
                _limits.LeaveBuiltIn();
            }
        }

        private ObjectInstance Make(JsValue[] arguments)
        {
            var texts = arguments.Select(a => TypeConverter.ToString(a)).ToArray();
            var parameters = texts.Length > 1 ? string.Join(",", texts[..^1]) : "";
            var body = texts.Length > 0 ? texts[^1] : "";
            if (ScriptSandbox.ParseCode("(function (" + parameters + ") { " + body + "\n})", out var program) is { } error)
            {
                throw Error(Engine.SyntaxError, "Function: " + error);
            }

            // Parameters or a body that close the function early (`) { }, other(), function (`) make a program of something else.
            if (program!.Body.Count != 1 || program.Body.First() is not Jint.Parser.Ast.ExpressionStatement { Expression: Jint.Parser.Ast.FunctionExpression function })
            {
                throw Error(Engine.SyntaxError, "Function: the parameters and body do not make one function");
            }

            _limits.Guard(program);
            Engine.EnterExecutionContext(Engine.GlobalEnvironment, Engine.GlobalEnvironment, Engine.Global);
            try
            {
                return Engine.GetValue(Engine.EvaluateExpression(function)).AsObject();
            }
            finally
            {
                Engine.LeaveExecutionContext();
            }
        }
    }

}
