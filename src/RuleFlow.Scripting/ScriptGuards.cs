using Jint;
using Jint.Native;
using Jint.Native.Function;
using Jint.Native.Json;
using Jint.Native.Object;
using Jint.Runtime;
using Jint.Runtime.Descriptors;
using Jint.Runtime.Environments;
using Jint.Runtime.Interop;

namespace RuleFlow.Scripting;

/// <summary>
/// Guards around the built-ins of Jint 2.10.4 that recurse once per level of what a script builds while it runs, without a bound of
/// their own (a stack overflow ends the process): code handed to <c>eval</c> or <c>Function</c> meets the bounds of a script's own text
/// (<see cref="ScriptNesting"/>); a text handed to <c>JSON.parse</c> may nest its brackets at most <see cref="MaxValueDepth"/> deep; a
/// value handed to <c>JSON.stringify</c>, <c>Array.prototype.join</c>, <c>toString</c> or <c>toLocaleString</c>, and what the sandbox
/// itself turns into JSON (the result, the returned globals, <c>log</c> arguments, host-function arguments), may nest at most
/// <see cref="MaxValueDepth"/> arrays or objects deep. Past a bound, a <c>SyntaxError</c> or <c>RangeError</c> the script can catch.
/// <c>eval</c> becomes indirect (it runs in the global scope, as <c>(0, eval)(…)</c> does).
/// </summary>
internal static class ScriptGuards
{
    /// <summary>Deepest nesting of arrays and objects a built-in may walk, and of brackets in a text for <c>JSON.parse</c>.</summary>
    public const int MaxValueDepth = 256;

    /// <summary>Installs the guards on a new engine, before its built-ins are frozen.</summary>
    public static void Install(Engine engine)
    {
        var json = engine.Json;
        var parse = (FunctionInstance)json.Get("parse").AsObject();
        Replace(json, "parse", new ClrFunctionInstance(engine, (self, args) =>
        {
            if (args.Length > 0 && args[0].IsString() && ScriptNesting.TooDeepBracketAt(args[0].AsString(), MaxValueDepth) >= 0)
            {
                throw Error(engine.SyntaxError, $"JSON.parse: the text nests more than {MaxValueDepth} levels deep");
            }

            return parse.Call(self, args);
        }, 2));

        var stringify = (FunctionInstance)json.Get("stringify").AsObject();
        Replace(json, "stringify", new ClrFunctionInstance(engine, (self, args) =>
        {
            CheckDepth(engine, args.Length > 0 ? args[0] : JsValue.Undefined, "JSON.stringify: the value");
            return stringify.Call(self, args);
        }, 3));

        var arrayPrototype = engine.Array.PrototypeObject;
        foreach (var name in new[] { "join", "toString", "toLocaleString" })
        {
            var original = (FunctionInstance)arrayPrototype.Get(name).AsObject();
            Replace(arrayPrototype, name, new ClrFunctionInstance(engine, (self, args) =>
            {
                CheckDepth(engine, self, "Array.prototype." + name + ": the array");
                return original.Call(self, args);
            }, name == "join" ? 1 : 0));
        }

        var eval = (FunctionInstance)engine.Global.Get("eval").AsObject();
        Replace(engine.Global, "eval", new ClrFunctionInstance(engine, (_, args) =>
        {
            if (args.Length > 0 && args[0].IsString() && ScriptSandbox.BoundsError(args[0].AsString()) is { } error)
            {
                throw Error(engine.SyntaxError, "eval: " + error);
            }

            return eval.Call(JsValue.Undefined, args);
        }, 1));

        var function = new GuardedFunctionConstructor(engine);
        Replace(engine.Global, "Function", function);
        Replace(engine.Function.PrototypeObject, "constructor", function);
    }

    /// <summary>Serializes a value as <c>JSON.stringify</c> does, after checking its depth (the sandbox's own conversions).</summary>
    public static JsValue Serialize(Engine engine, JsValue value, string what)
    {
        CheckDepth(engine, value, what);
        return new JsonSerializer(engine).Serialize(value, JsValue.Undefined, JsValue.Undefined);
    }

    /// <summary>
    /// Throws a <c>RangeError</c> when arrays and objects nest more than <see cref="MaxValueDepth"/> deep in <paramref name="value"/>.
    /// Walks own data properties with a stack of its own; an object met twice is walked once (a cycle is left to the caller's error).
    /// </summary>
    public static void CheckDepth(Engine engine, JsValue value, string what)
    {
        if (!value.IsObject())
        {
            return;
        }

        var seen = new HashSet<ObjectInstance>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<(ObjectInstance Obj, int Depth)>();
        pending.Push((value.AsObject(), 1));
        while (pending.Count > 0)
        {
            var (obj, depth) = pending.Pop();
            if (depth > MaxValueDepth)
            {
                throw Error(engine.RangeError, $"{what} nests arrays or objects more than {MaxValueDepth} levels deep");
            }

            if (obj is FunctionInstance || !seen.Add(obj))
            {
                continue;
            }

            foreach (var (_, descriptor) in obj.GetOwnProperties())
            {
                if (descriptor.Value is { } child && child.IsObject())
                {
                    pending.Push((child.AsObject(), depth + 1));
                }
            }
        }
    }

    /// <summary>A script error with its message on the error object (<c>e.message</c>), which Jint's message constructor leaves empty.</summary>
    private static JavaScriptException Error(Jint.Native.Error.ErrorConstructor constructor, string message) =>
        new(constructor.Construct([new JsValue(message)]));

    private static void Replace(ObjectInstance owner, string name, FunctionInstance replacement)
    {
        var current = owner.GetOwnProperty(name);
        owner.DefineOwnProperty(name, new PropertyDescriptor(replacement, current.Writable ?? true, current.Enumerable ?? false, current.Configurable ?? true), true);
    }

    /// <summary><c>Function(p1, …, body)</c> and <c>new Function(…)</c>: the code meets the bounds of a script first.</summary>
    private sealed class GuardedFunctionConstructor : FunctionInstance, IConstructor
    {
        private readonly FunctionConstructor _original;

        public GuardedFunctionConstructor(Engine engine)
            : base(engine, [], LexicalEnvironment.NewObjectEnvironment(engine, engine.Global, null, false), false)
        {
            _original = engine.Function;
            Prototype = engine.Function.PrototypeObject;
            Extensible = true;
            FastAddProperty("prototype", engine.Function.PrototypeObject, false, false, false);
            FastAddProperty("length", 1, false, false, false);
        }

        public override JsValue Call(JsValue thisObject, JsValue[] arguments)
        {
            Check(arguments);
            return _original.Call(thisObject, arguments);
        }

        public ObjectInstance Construct(JsValue[] arguments)
        {
            Check(arguments);
            return _original.Construct(arguments);
        }

        private void Check(JsValue[] arguments)
        {
            var code = string.Join(",", arguments.Select(a => a.IsString() ? a.AsString() : TypeConverter.ToString(a)));
            if (ScriptSandbox.BoundsError(code) is { } error)
            {
                throw Error(Engine.SyntaxError, "Function: " + error);
            }
        }
    }
}
