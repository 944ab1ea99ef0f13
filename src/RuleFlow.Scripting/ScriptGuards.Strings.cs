using Jint;
using Jint.Native;
using Jint.Native.Function;
using Jint.Native.String;
using Jint.Runtime;
using Jint.Runtime.Interop;

namespace RuleFlow.Scripting;

/// <summary>
/// Built-ins that make one long string, or one long list, from a long string in one call (seventh review): <c>encodeURI</c> and
/// <c>encodeURIComponent</c> (up to 9 characters out for each in: 33.5 million characters of <c>'\uffff'</c> made 302 million,
/// 1.3 GB), <c>String.prototype.concat</c> (30 copies of a 33-million-character string: out of memory) and
/// <c>Object.getOwnPropertyNames</c> of a <c>String</c> object (one name per character: 33 million characters took 25 s and
/// 3.7 GB). Each now counts first: past <see cref="MaxBuiltStringChars"/> characters, or <see cref="ScriptRunLimits.MaxArrayLength"/>
/// names, a <c>RangeError</c> the script can catch.
/// </summary>
internal static partial class ScriptGuards
{
    private const string UriUnreserved = "-_.!~*'()";
    private const string UriReserved = ";/?:@&=+$,#";

    private static void ReplaceStringBuilders(Engine engine, ScriptRunLimits limits)
    {
        foreach (var (name, keep) in new[] { ("encodeURIComponent", UriUnreserved), ("encodeURI", UriUnreserved + UriReserved) })
        {
            var original = (FunctionInstance)engine.Global.Get(name).AsObject();
            Replace(engine.Global, name, new ClrFunctionInstance(engine, (self, args) =>
            {
                var text = TypeConverter.ToString(args.At(0)); // converted once, here
                CheckBuiltString(engine, (int)Math.Min(EncodedLength(text, keep), int.MaxValue), name);
                return original.Call(self, [new JsValue(text)]);
            }, 1));
        }

        Replace(engine.String.PrototypeObject, "concat", new ClrFunctionInstance(engine, (self, args) =>
        {
            // ES5.1 §15.5.4.6: this and each argument converted once, in order, then joined.
            TypeConverter.CheckObjectCoercible(engine, self);
            var parts = new string[args.Length + 1];
            parts[0] = TypeConverter.ToString(self);
            var total = (long)parts[0].Length;
            for (var i = 0; i < args.Length; i++)
            {
                parts[i + 1] = TypeConverter.ToString(args[i]);
                total += parts[i + 1].Length;
                CheckBuiltString(engine, (int)Math.Min(total, int.MaxValue), "String.prototype.concat");
            }

            return string.Concat(parts);
        }, 1));

        var names = (FunctionInstance)engine.Object.Get("getOwnPropertyNames").AsObject();
        Replace(engine.Object, "getOwnPropertyNames", new ClrFunctionInstance(engine, (self, args) =>
        {
            if (args.At(0).IsObject() && args.At(0).AsObject() is StringInstance { PrimitiveValue: var value } && value.IsString()
                && value.AsString().Length > limits.MaxArrayLength)
            {
                throw Error(engine.RangeError,
                    $"Object.getOwnPropertyNames: a String object of {value.AsString().Length:N0} characters has a name for each; RuleFlow scripts' built-ins make arrays of at most {limits.MaxArrayLength:N0} (MaxArrayLength)");
            }

            return names.Call(self, args);
        }, 1));
    }

    /// <summary>
    /// The length of <paramref name="text"/> encoded as <c>encodeURI</c> or <c>encodeURIComponent</c> encodes it (ES5.1 §15.1.3): a
    /// letter, digit or character of <paramref name="keep"/> as it is, any other as <c>%XX</c> per UTF-8 byte (a surrogate pair is 4
    /// bytes: 6 characters for each of its two).
    /// </summary>
    private static long EncodedLength(string text, string keep)
    {
        var length = 0L;
        foreach (var c in text)
        {
            length += c < 0x80 ? (char.IsAsciiLetterOrDigit(c) || keep.Contains(c) ? 1 : 3)
                : c < 0x800 ? 6
                : char.IsSurrogate(c) ? 6
                : 9;
        }

        return length;
    }
}
