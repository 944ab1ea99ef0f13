using System.Globalization;
using System.Text;
using Jint;
using Jint.Native;
using Jint.Native.Object;
using Jint.Runtime;
using Jint.Runtime.Descriptors;

namespace RuleFlow.Scripting;

/// <summary>
/// <c>JSON.stringify</c> (ES5.1 §15.12.3) for the sandbox: the script's own <c>JSON.stringify</c>, and every value the sandbox turns
/// into JSON (the result, returned globals, logged values, host function arguments).
/// </summary>
/// <remarks>
/// <para>Jint 2.10.4's serializer is replaced because it recursed without a bound on data a getter or <c>toJSON</c> made while it ran
/// (90,000 levels took 44 s: its cycle check is quadratic, and no statement runs for the timeout to be checked), and because of its
/// bugs: an empty array met twice was reported as a cycle (<c>var e = []; JSON.stringify([e, e])</c> threw), the indentation broke after
/// an empty array, a replacer array (<c>JSON.stringify(o, ["a"])</c>) or a replacer object threw a TypeError.</para>
/// <para>Here the depth is counted as the value is walked, values made on the way included: past
/// <see cref="ScriptGuards.MaxValueDepth"/> levels of arrays and objects a <c>RangeError</c>, an array longer than
/// <see cref="ScriptRunLimits.MaxArrayLength"/> a <c>RangeError</c>, a value that contains itself a <c>TypeError</c> (a set, not a
/// scan); the deadline and the stack are checked at each array and object and every 1,024 elements. The text is written once, into
/// one buffer.</para>
/// </remarks>
internal sealed class ScriptJson
{
    private readonly ScriptRunLimits limits;
    private readonly Engine engine;
    private readonly string what;
    private readonly HashSet<ObjectInstance> open = new(ReferenceEqualityComparer.Instance);
    private readonly StringBuilder text = new();
    private ICallable? replacer;
    private List<string>? propertyList;
    private string gap = "";
    private string indent = "";

    private ScriptJson(ScriptRunLimits limits, string what)
    {
        this.limits = limits;
        engine = limits.Engine;
        this.what = what;
    }

    /// <summary>
    /// <c>JSON.stringify(value, replacer, space)</c>: the JSON text as a string value, or undefined when <paramref name="value"/> has no
    /// JSON form (undefined, a function).
    /// </summary>
    /// <param name="limits">The run's limits (engine, deadline, array length).</param>
    /// <param name="value">The value.</param>
    /// <param name="replacer">A function called on each key and value, an array of the keys to keep, or undefined.</param>
    /// <param name="space">Indentation: a number of spaces (at most 10), a string (its first 10 characters), or undefined.</param>
    /// <param name="what">The value's name in error messages (e.g. <c>the result</c>).</param>
    /// <exception cref="JavaScriptException">A <c>RangeError</c> past a bound, a <c>TypeError</c> for a cycle, or what a
    /// <c>toJSON</c>, getter or replacer threw.</exception>
    public static JsValue Stringify(ScriptRunLimits limits, JsValue value, JsValue replacer, JsValue space, string what)
    {
        var json = new ScriptJson(limits, what);
        json.SetReplacer(replacer);
        json.SetGap(space);
        var wrapper = json.engine.Object.Construct(Arguments.Empty);
        wrapper.DefineOwnProperty("", new PropertyDescriptor(value, true, true, true), false);
        return json.Str("", wrapper) ? new JsValue(json.text.ToString()) : JsValue.Undefined;
    }

    private void SetReplacer(JsValue value)
    {
        if (!value.IsObject())
        {
            return;
        }

        if (value.AsObject() is ICallable callable)
        {
            replacer = callable;
            return;
        }

        var list = value.AsObject();
        if (list.Class != "Array")
        {
            return; // ES5.1 §15.12.3 step 4: any other object is ignored
        }

        propertyList = [];
        var length = ArrayLength(list);
        for (var i = 0; i < length; i++)
        {
            var v = list.Get(i.ToString(CultureInfo.InvariantCulture));
            string? item = v.IsString() ? v.AsString()
                : v.IsNumber() ? TypeConverter.ToString(v)
                : v.IsObject() && v.AsObject().Class is "String" or "Number" ? TypeConverter.ToString(v)
                : null;
            if (item is not null && !propertyList.Contains(item))
            {
                propertyList.Add(item);
            }
        }
    }

    private void SetGap(JsValue space)
    {
        if (space.IsObject())
        {
            space = space.AsObject().Class switch
            {
                "Number" => new JsValue(TypeConverter.ToNumber(space)),
                "String" => new JsValue(TypeConverter.ToString(space)),
                _ => space,
            };
        }

        if (space.IsNumber())
        {
            var spaces = Math.Min(10, TypeConverter.ToInteger(space));
            gap = spaces >= 1 ? new string(' ', (int)spaces) : "";
        }
        else if (space.IsString())
        {
            var s = space.AsString();
            gap = s.Length <= 10 ? s : s[..10];
        }
    }

    /// <summary>Writes the value of <paramref name="holder"/>'s <paramref name="key"/>; false (nothing written) when it has no JSON form.</summary>
    private bool Str(string key, ObjectInstance holder)
    {
        var value = holder.Get(key);
        if (value.IsObject() && value.AsObject().Get("toJSON") is { } toJson && toJson.IsObject() && toJson.AsObject() is ICallable callable)
        {
            value = callable.Call(value, [new JsValue(key)]);
        }

        if (replacer is not null)
        {
            value = replacer.Call(holder, [new JsValue(key), value]);
        }

        if (value.IsObject())
        {
            switch (value.AsObject().Class)
            {
                case "Number":
                    value = new JsValue(TypeConverter.ToNumber(value));
                    break;
                case "String":
                    value = new JsValue(TypeConverter.ToString(value));
                    break;
                case "Boolean" when value.AsObject() is Jint.Native.Boolean.BooleanInstance boolean:
                    value = boolean.PrimitiveValue; // its internal value, not what a valueOf of its own returns (ES5.1 §15.12.3)
                    break;
            }
        }

        if (value.IsNull())
        {
            text.Append("null");
        }
        else if (value.IsBoolean())
        {
            text.Append(value.AsBoolean() ? "true" : "false");
        }
        else if (value.IsString())
        {
            Quote(value.AsString());
            ScriptGuards.CheckBuiltString(engine, text.Length, what);
        }
        else if (value.IsNumber())
        {
            text.Append(double.IsFinite(value.AsNumber()) ? TypeConverter.ToString(value) : "null");
        }
        else if (value.IsObject() && value.AsObject() is not ICallable)
        {
            var obj = value.AsObject();
            Open(obj);
            if (obj.Class == "Array")
            {
                WriteArray(obj);
            }
            else
            {
                WriteObject(obj);
            }

            open.Remove(obj);
        }
        else
        {
            return false; // undefined, a function
        }

        return true;
    }

    /// <summary>Entering an array or object: the deadline, the stack, the depth and cycles.</summary>
    private void Open(ObjectInstance obj)
    {
        limits.CheckTimeAndStack();
        if (open.Count >= ScriptGuards.MaxValueDepth)
        {
            throw ScriptGuards.Error(engine.RangeError, $"{what} nests arrays or objects more than {ScriptGuards.MaxValueDepth} levels deep");
        }

        if (!open.Add(obj))
        {
            throw ScriptGuards.Error(engine.TypeError, $"{what} contains itself (a cyclic reference has no JSON form)");
        }
    }

    private void WriteObject(ObjectInstance obj)
    {
        var stepBack = indent;
        indent += gap;
        var keys = propertyList ?? [.. obj.GetOwnProperties().Where(p => p.Value.Enumerable == true).Select(p => p.Key)];
        var any = false;
        text.Append('{');
        foreach (var key in keys)
        {
            var mark = text.Length;
            if (any)
            {
                text.Append(',');
            }

            NewLine();
            Quote(key);
            text.Append(gap.Length > 0 ? ": " : ":");
            if (Str(key, obj))
            {
                any = true;
            }
            else
            {
                text.Length = mark; // no JSON form: the member is left out
            }
        }

        indent = stepBack;
        if (any)
        {
            NewLine();
        }

        text.Append('}');
    }

    private void WriteArray(ObjectInstance array)
    {
        var stepBack = indent;
        indent += gap;
        var length = ArrayLength(array);
        text.Append('[');
        for (var i = 0; i < length; i++)
        {
            if ((i & 1023) == 1023)
            {
                limits.CheckTimeAndStack();
            }

            if (i > 0)
            {
                text.Append(',');
            }

            NewLine();
            if (!Str(i.ToString(CultureInfo.InvariantCulture), array))
            {
                text.Append("null");
            }

            ScriptGuards.CheckBuiltString(engine, text.Length, what);
        }

        indent = stepBack;
        if (length > 0)
        {
            NewLine();
        }

        text.Append(']');
    }

    private long ArrayLength(ObjectInstance array)
    {
        var length = TypeConverter.ToUint32(array.Get("length"));
        if (length > limits.MaxArrayLength)
        {
            throw ScriptGuards.Error(engine.RangeError,
                $"{what} holds an array of {length:N0} elements; RuleFlow scripts' built-ins take at most {limits.MaxArrayLength:N0} (MaxArrayLength)");
        }

        return length;
    }

    private void NewLine()
    {
        if (gap.Length > 0)
        {
            text.Append('\n').Append(indent);
        }
    }

    /// <summary>
    /// ES5.1 §15.12.3 Quote, with a lone surrogate escaped as <c>\uXXXX</c> (as ES2019's well-formed <c>JSON.stringify</c> does): raw,
    /// it made a text no JSON parser reads (<c>return '\ud800'</c> gave a result the host could not parse; eighth review).
    /// </summary>
    private void Quote(string value)
    {
        text.Append('"');
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsSurrogate(c))
            {
                if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
                {
                    text.Append(c).Append(value[++i]);
                }
                else
                {
                    text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                }

                continue;
            }

            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\b': text.Append("\\b"); break;
                case '\f': text.Append("\\f"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                default:
                    if (c < ' ')
                    {
                        text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        text.Append(c);
                    }

                    break;
            }
        }

        text.Append('"');
    }
}
