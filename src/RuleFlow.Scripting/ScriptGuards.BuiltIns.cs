using Jint;
using Jint.Native;
using Jint.Native.Function;
using Jint.Native.Object;
using Jint.Runtime;
using Jint.Runtime.Descriptors;
using Jint.Runtime.Interop;

namespace RuleFlow.Scripting;

/// <summary>
/// The built-ins of Jint 2.10.4 that the sandbox replaces because one call of them could run past any timeout, take gigabytes, recur
/// without entering a guard or get ES5.1 wrong: <c>bind</c> and <c>apply</c>, <c>join</c>, <c>toLocaleString</c>, <c>indexOf</c>,
/// <c>lastIndexOf</c> and <c>sort</c>, <c>split</c> and <c>match</c> (see each method; docs/workflows.md, "Scripts"); and the checks
/// of <c>Array.prototype</c> methods and <c>Object.create</c>. <c>Date</c>'s are replaced by <see cref="ScriptDates"/>.
/// Installed by <see cref="Install"/> before every built-in is wrapped.
/// </summary>
internal static partial class ScriptGuards
{
    /// <summary>
    /// <c>bind</c> and <c>apply</c> of <c>Function.prototype</c>. A function made by Jint's <c>bind</c> called its target directly, so a
    /// bound constructor or <c>log</c> as an object's <c>valueOf</c>, <c>toString</c> or <c>toJSON</c> (<c>o.valueOf =
    /// Number.bind(null, o); +o</c>) recurred without entering a guard until the stack overflowed, which ends the process; it also
    /// dropped bound arguments equal to a later one (<c>f.bind(null, 1)(1)</c> passed one argument). Jint's <c>apply</c> copied an
    /// array-like of any length (<c>{ length: 1e9 }</c> took gigabytes) and failed with a host error on a length that is not a number.
    /// </summary>
    private static void ReplaceFunctionBuiltIns(Engine engine, ScriptRunLimits limits)
    {
        var prototype = engine.Function.PrototypeObject;
        Replace(prototype, "bind", new ClrFunctionInstance(engine, (self, args) =>
        {
            if (!self.IsObject() || self.AsObject() is not FunctionInstance target)
            {
                throw Error(engine.TypeError, "Function.prototype.bind: this is not a function");
            }

            return new GuardedBoundFunction(engine, limits, target, args.At(0), args.Length > 1 ? args[1..] : []);
        }, 1));

        Replace(prototype, "apply", new ClrFunctionInstance(engine, (self, args) =>
        {
            if (!self.IsObject() || self.AsObject() is not ICallable function)
            {
                throw Error(engine.TypeError, "Function.prototype.apply: this is not a function");
            }

            var list = args.At(1);
            if (list.IsNull() || list.IsUndefined())
            {
                return function.Call(args.At(0), []);
            }

            if (!list.IsObject())
            {
                throw Error(engine.TypeError, "Function.prototype.apply: the arguments are not an array or array-like object");
            }

            var length = ToUint32(PlainLength(engine, list, "Function.prototype.apply")); // modulo 2^32, as ES5 says
            if (length > MaxApplyArguments)
            {
                throw Error(engine.RangeError,
                    $"Function.prototype.apply: {length:N0} arguments; RuleFlow scripts pass at most {MaxApplyArguments:N0} (as JavaScriptCore does)");
            }

            var values = new JsValue[length];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = list.AsObject().Get(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            return function.Call(args.At(0), values);
        }, 2));
    }

    /// <summary>Most arguments <c>Function.prototype.apply</c> passes (each becomes a property of the callee's <c>arguments</c>).</summary>
    public const int MaxApplyArguments = 65_536;

    /// <summary>
    /// <c>join</c>, <c>toLocaleString</c>, <c>indexOf</c>, <c>lastIndexOf</c> and <c>sort</c> of <c>Array.prototype</c>. Jint's
    /// <c>join</c> and <c>toLocaleString</c> concatenated one string per element, in time quadratic in the length (400,001 holes took
    /// 39 s, past any timeout, in one call); these write one buffer and check the deadline every 1,024 elements. Jint's <c>indexOf</c>
    /// and <c>lastIndexOf</c> compared every element in one call, and comparing two long strings costs their length (see
    /// <see cref="IndexOf"/>); these check the deadline every 16 elements. Jint's <c>sort</c> without a comparison function compared in
    /// .NET without a check of the deadline; it gets one that checks it.
    /// </summary>
    private static void ReplaceArrayBuiltIns(Engine engine, ScriptRunLimits limits)
    {
        var prototype = engine.Array.PrototypeObject;
        Replace(prototype, "join", new ClrFunctionInstance(engine, (self, args) =>
        {
            var separator = args.At(0);
            return Join(limits, self, separator.IsUndefined() ? "," : TypeConverter.ToString(separator), element => TypeConverter.ToString(element));
        }, 1));

        Replace(prototype, "toLocaleString", new ClrFunctionInstance(engine, (self, _) =>
            Join(limits, self, ",", element =>
            {
                var obj = TypeConverter.ToObject(engine, element);
                return obj.Get("toLocaleString") is { } method && method.IsObject() && method.AsObject() is ICallable callable
                    ? TypeConverter.ToString(callable.Call(obj, []))
                    : throw Error(engine.TypeError, "Array.prototype.toLocaleString: an element's toLocaleString is not a function");
            }), 0));

        Replace(prototype, "indexOf", new ClrFunctionInstance(engine, (self, args) => IndexOf(limits, self, args, last: false), 1));
        Replace(prototype, "lastIndexOf", new ClrFunctionInstance(engine, (self, args) => IndexOf(limits, self, args, last: true), 1));

        var sort = (FunctionInstance)prototype.Get("sort").AsObject();
        var compared = 0;
        var byText = new ClrFunctionInstance(engine, (_, args) =>
        {
            if ((++compared & 1023) == 0)
            {
                limits.CheckTimeAndStack();
            }

            return Math.Sign(string.CompareOrdinal(TypeConverter.ToString(args.At(0)), TypeConverter.ToString(args.At(1))));
        }, 2);
        Replace(prototype, "sort", new ClrFunctionInstance(engine, (self, args) =>
        {
            // Jint's sort reads every index and writes them all back, holes as undefined; ES5.1 §15.4.4.11 sorts holes after
            // undefined and keeps them holes ([3,,1].sort() is [1, 3, <hole>]): as many indices as there were holes are deleted
            // from the end afterwards.
            var length = self.IsObject() ? TypeConverter.ToInt32(self.AsObject().Get("length")) : 0; // Jint's sort reads it so
            var holes = length <= 1 ? 0 : Holes(limits, self.AsObject(), length);
            var sorted = sort.Call(self, args.At(0).IsUndefined() ? [byText] : args);
            for (var i = length - holes; i < length; i++)
            {
                if ((i & 1023) == 1023)
                {
                    limits.CheckTimeAndStack();
                }

                self.AsObject().Delete(i.ToString(System.Globalization.CultureInfo.InvariantCulture), true);
            }

            return sorted;
        }, 1));
    }

    /// <summary>
    /// How many of the indices 0 to <paramref name="length"/> - 1 <paramref name="obj"/> does not have (ES5.1 [[HasProperty]]). An
    /// array's own index properties are counted (its prototypes are frozen built-ins, which hold none), so a long sparse array costs
    /// what it holds; an array-like is asked index by index, checking the deadline every 1,024.
    /// </summary>
    private static long Holes(ScriptRunLimits limits, ObjectInstance obj, int length)
    {
        if (obj is Jint.Native.Array.ArrayInstance)
        {
            var present = 0L;
            foreach (var (key, _) in obj.GetOwnProperties())
            {
                if (uint.TryParse(key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index)
                    && index < (uint)length && (key.Length == 1 || key[0] != '0'))
                {
                    present++;
                }
            }

            return length - present;
        }

        var holes = 0L;
        for (var i = 0; i < length; i++)
        {
            if ((i & 1023) == 1023)
            {
                limits.CheckTimeAndStack();
            }

            if (!obj.HasProperty(i.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            {
                holes++;
            }
        }

        return holes;
    }

    /// <summary>
    /// <c>Array.prototype.indexOf</c> (ES5.1 §15.4.4.14) or, with <paramref name="last"/>, <c>lastIndexOf</c> (§15.4.4.15): the first
    /// (last) index from the start position whose element is strictly equal to the one searched for, or -1. The deadline is checked
    /// every 16 elements: Jint's compared them all in one call the timeout does not interrupt, and each comparison of two strings of
    /// equal length costs that length (<c>indexOf</c> over 1,048,576 references to a string of 1,048,576 characters, searching for
    /// another string of that length, took 53 s).
    /// </summary>
    private static JsValue IndexOf(ScriptRunLimits limits, JsValue self, JsValue[] args, bool last)
    {
        var obj = TypeConverter.ToObject(limits.Engine, self);
        double length = TypeConverter.ToUint32(obj.Get("length"));
        if (length == 0)
        {
            return -1;
        }

        double k;
        if (last)
        {
            var n = args.Length > 1 ? TypeConverter.ToInteger(args[1]) : length - 1;
            k = n >= 0 ? Math.Min(n, length - 1) : length + n;
        }
        else
        {
            var n = args.Length > 1 ? TypeConverter.ToInteger(args[1]) : 0;
            if (n >= length)
            {
                return -1;
            }

            k = n >= 0 ? n : Math.Max(length + n, 0);
        }

        var search = args.At(0);
        for (var i = 0; last ? k >= 0 : k < length; k += last ? -1 : 1, i++)
        {
            if ((i & 15) == 15)
            {
                limits.CheckTimeAndStack();
            }

            var key = TypeConverter.ToString(k);
            if (obj.HasProperty(key) && ExpressionInterpreter.StrictlyEqual(obj.Get(key), search))
            {
                return k;
            }
        }

        return -1;
    }

    /// <summary>
    /// <c>String.prototype.split</c> makes at most <see cref="ScriptRunLimits.MaxArrayLength"/> parts (unless given a smaller limit):
    /// Jint's made one array element per part in one call the timeout does not interrupt, ~1.3 µs each (<c>s.split('')</c> of a
    /// 33-million-character string took 45 s and 6 GB). A string separator's parts are counted before the split, which stays Jint's;
    /// a regular expression is split here (<see cref="SplitByRegex"/>). <c>this</c> and the separator are converted once, here.
    /// </summary>
    private static void ReplaceSplit(Engine engine, ScriptRunLimits limits)
    {
        var prototype = engine.String.PrototypeObject;
        var split = (FunctionInstance)prototype.Get("split").AsObject();
        Replace(prototype, "split", new ClrFunctionInstance(engine, (self, args) =>
        {
            TypeConverter.CheckObjectCoercible(engine, self);
            var text = TypeConverter.ToString(self);
            var separator = args.At(0);
            var limit = args.At(1).IsUndefined() ? uint.MaxValue : ToUint32(args.At(1)); // Jint's saturates: a limit of -1 made []
            if (separator.IsRegExp())
            {
                return SplitByRegex(limits, text, (Jint.Native.RegExp.RegExpInstance)separator.AsObject(), limit);
            }

            var max = (uint)limits.MaxArrayLength;
            long parts;
            if (separator.IsUndefined())
            {
                parts = 1;
            }
            else
            {
                separator = new JsValue(separator.IsNull() ? "null" : TypeConverter.ToString(separator));
                if (separator.AsString().Length > 256)
                {
                    return SplitByLongText(limits, text, separator.AsString(), limit);
                }

                parts = separator.AsString().Length == 0 ? text.Length : Occurrences(text, separator.AsString()) + 1;
            }

            if (Math.Min(parts, limit) > max)
            {
                throw SplitError(engine, Math.Min(parts, limit), max);
            }

            return split.Call(new JsValue(text), [separator, new JsValue(limit)]);
        }, 2));
    }

    /// <summary>
    /// <paramref name="text"/> split at each place <paramref name="separator"/>, a text of more than 256 characters, lies, left to right
    /// (ES5.1 §15.5.4.14): found by Knuth–Morris–Pratt (<see cref="Kmp"/>), as .NET's search and split compare at every place a long
    /// text could match (two splits of 2,097,152 characters by 524,289 took 66 s). At most <see cref="ScriptRunLimits.MaxArrayLength"/>
    /// parts.
    /// </summary>
    private static ObjectInstance SplitByLongText(ScriptRunLimits limits, string text, string separator, uint limit)
    {
        var result = limits.Engine.Array.Construct(Arguments.Empty);
        var count = 0u;
        for (var from = 0; count < limit;)
        {
            var at = Kmp(limits, text, separator, from, text.Length, last: false);
            if (count >= (uint)limits.MaxArrayLength)
            {
                throw SplitError(limits.Engine, null, (uint)limits.MaxArrayLength);
            }

            result.DefineOwnProperty(count++.ToString(System.Globalization.CultureInfo.InvariantCulture),
                new PropertyDescriptor(at < 0 ? text[from..] : text[from..at], true, true, true), false);
            if (at < 0)
            {
                break;
            }

            from = at + separator.Length;
        }

        return result;
    }

    /// <summary>
    /// <paramref name="text"/> split by a regular expression as ES5.1 §15.5.4.14 says: the parts between matches, each followed by the
    /// match's captures (undefined for a group that took no part), at most <paramref name="limit"/> of them. An empty match splits
    /// between characters but never at the start or the end. The deadline is checked before each match: Jint's split matched in one
    /// call the timeout does not interrupt, and a pattern that looks ahead to the end is tried at every position for the whole rest of
    /// the text (<c>s.split(/(?=a*$)/)</c> of 131,072 characters took 6.9 s; of 262,144, 19.5 s). At most
    /// <see cref="ScriptRunLimits.MaxArrayLength"/> parts. Also fixes Jint's dropping of the last part after an empty match
    /// (<c>'ab'.split(/x*/)</c> was <c>["a"]</c>; it is <c>["a", "b"]</c>).
    /// </summary>
    private static ObjectInstance SplitByRegex(ScriptRunLimits limits, string text, Jint.Native.RegExp.RegExpInstance separator, uint limit)
    {
        var engine = limits.Engine;
        var result = engine.Array.Construct(Arguments.Empty);
        var count = 0u;
        var chars = 0L;
        bool Full(JsValue part) // adds a part; true when the limit is reached
        {
            if (count >= (uint)limits.MaxArrayLength)
            {
                throw SplitError(engine, null, (uint)limits.MaxArrayLength);
            }

            // Captures inside a lookahead overlap: the parts of a 32,768-character text can add up to 537 million characters.
            chars += part.IsString() ? part.AsString().Length : 0;
            CheckBuiltString(engine, (int)Math.Min(chars, int.MaxValue), "String.prototype.split");

            result.DefineOwnProperty(count.ToString(System.Globalization.CultureInfo.InvariantCulture), new PropertyDescriptor(part, true, true, true), false);
            return ++count == limit;
        }

        var regex = separator.Value;
        if (limit == 0)
        {
            return result;
        }

        if (text.Length == 0)
        {
            if (!regex.Match(text).Success)
            {
                Full(new JsValue(text));
            }

            return result;
        }

        int p = 0, q = 0;
        while (q < text.Length)
        {
            limits.CheckTimeAndStack();
            var match = regex.Match(text, q); // the first place at or after q where a match starts: the ES5 loop's next success
            if (!match.Success || match.Index >= text.Length)
            {
                break;
            }

            q = match.Index;
            var end = match.Index + match.Length;
            if (end == p)
            {
                q++; // an empty match where the last part ended
                continue;
            }

            if (Full(new JsValue(text[p..q])))
            {
                return result;
            }

            p = end;
            for (var g = 1; g < match.Groups.Count; g++)
            {
                if (Full(match.Groups[g].Success ? new JsValue(match.Groups[g].Value) : JsValue.Undefined))
                {
                    return result;
                }
            }

            q = p;
        }

        Full(new JsValue(text[p..]));
        return result;
    }

    /// <summary>
    /// <c>Number.prototype.toString(radix)</c> for a radix other than 10 and a number of 2^53 or more (an integer): its exact digits.
    /// Jint's cast the number to a 64-bit integer, which saturates at 2^63, and then indexed its digit table out of bounds: a host
    /// error no <c>catch</c> saw (<c>Math.pow(2, 64).toString(16)</c>). Any other number is Jint's.
    /// </summary>
    private static void ReplaceNumberToString(Engine engine)
    {
        var prototype = engine.Number.PrototypeObject;
        var original = (FunctionInstance)prototype.Get("toString").AsObject();
        Replace(prototype, "toString", new ClrFunctionInstance(engine, (self, args) =>
        {
            if ((self.IsNumber() || self.IsObject() && self.AsObject() is Jint.Native.Number.NumberInstance) && !args.At(0).IsUndefined())
            {
                var x = TypeConverter.ToNumber(self);
                var radix = TypeConverter.ToInteger(args.At(0)); // once (ES5.1 §15.7.4.2): a valueOf could give another radix next time
                if (radix is >= 2 and <= 36 and not 10 && double.IsFinite(x) && Math.Abs(x) >= 9007199254740992.0)
                {
                    return IntegerDigits(x, (int)radix);
                }

                return original.Call(self, [new JsValue(radix)]);
            }

            return original.Call(self, args);
        }, 1));
    }

    /// <summary>The integer <paramref name="x"/> in base <paramref name="radix"/> (2–36), digits 0-9 then a-z.</summary>
    private static string IntegerDigits(double x, int radix)
    {
        var n = System.Numerics.BigInteger.Abs(new System.Numerics.BigInteger(x)); // exact: a double this large is an integer
        var digits = new System.Text.StringBuilder();
        while (!n.IsZero)
        {
            n = System.Numerics.BigInteger.DivRem(n, radix, out var remainder);
            digits.Insert(0, "0123456789abcdefghijklmnopqrstuvwxyz"[(int)remainder]);
        }

        return (x < 0 ? "-" : string.Empty) + digits;
    }

    /// <summary>
    /// <c>String.prototype.replace</c> counts what it inserts: the replacements of one call add up to at most
    /// <see cref="MaxBuiltStringChars"/> characters, and the deadline is checked at each. Jint's inserted without a bound inside one
    /// call: <c>a.replace(/(?:)/g, '$`')</c> of 32,768 characters built 537 million (2.2 GB). The replacement is Jint's, as a function
    /// Jint calls per match: a given function, or the text with <c>$$ $&amp; $` $' $n $nn</c> expanded as Jint's did (the text is
    /// converted once, as ES5.1 says; Jint converted it at every match).
    /// </summary>
    private static void ReplaceReplace(Engine engine, ScriptRunLimits limits)
    {
        var prototype = engine.String.PrototypeObject;
        var replace = (FunctionInstance)prototype.Get("replace").AsObject();
        Replace(prototype, "replace", new ClrFunctionInstance(engine, (self, args) =>
        {
            TypeConverter.CheckObjectCoercible(engine, self);
            var text = TypeConverter.ToString(self);
            var regex = args.At(0).IsObject() ? args.At(0).AsObject() as Jint.Native.RegExp.RegExpInstance : null;
            var pattern = regex is null ? TypeConverter.ToString(args.At(0)) : null; // the search value first (ES2015 §21.1.3.14)
            var given = args.At(1);
            var function = given.IsObject() ? given.AsObject() as FunctionInstance : null;
            var template = function is null ? TypeConverter.ToString(given) : null;
            var inserted = 0L;
            var counted = new ClrFunctionInstance(engine, (_, match) =>
            {
                limits.CheckTimeAndStack();
                var part = function is not null ? TypeConverter.ToString(function.Call(JsValue.Undefined, match)) : Expand(template!, text, match);
                inserted += part.Length;
                CheckBuiltString(engine, (int)Math.Min(inserted, int.MaxValue), "String.prototype.replace");
                return part;
            }, 1);
            if (regex is not null)
            {
                CheckReplaceCaptures(limits, regex, text); // Jint makes each match's captures before `counted` sees them
                return replace.Call(new JsValue(text), [regex, counted]);
            }

            // A text pattern replaces its first place (ES5.1 §15.5.4.11), found as indexOf finds it: Jint's search compared at every
            // place a long pattern could start (524,290 characters in 4 million took 37 s in one call; eighth review).
            var at = pattern!.Length <= 256 ? text.IndexOf(pattern, StringComparison.Ordinal) : Kmp(limits, text, pattern, 0, text.Length, last: false);
            if (at < 0)
            {
                return text;
            }

            var part = TypeConverter.ToString(counted.Call(JsValue.Undefined, [new JsValue(pattern!), new JsValue(at), new JsValue(text)]));
            CheckBuiltString(engine, (int)Math.Min((long)text.Length - pattern!.Length + part.Length, int.MaxValue), "String.prototype.replace");
            return string.Concat(text.AsSpan(0, at), part, text.AsSpan(at + pattern.Length));
        }, 2));
    }

    /// <summary>A replacement text with its <c>$</c> patterns expanded for one match (<paramref name="match"/>: the matched text, the
    /// captures, the offset, the whole text), as Jint 2.10.4 expands them.</summary>
    private static string Expand(string template, string text, JsValue[] match)
    {
        if (!template.Contains('$'))
        {
            return template;
        }

        var matched = TypeConverter.ToString(match.At(0));
        var offset = (int)TypeConverter.ToInteger(match.At(match.Length - 2));
        var captures = match.Length - 3;
        var result = new System.Text.StringBuilder();
        for (var i = 0; i < template.Length; i++)
        {
            var c = template[i];
            if (c != '$' || i == template.Length - 1)
            {
                result.Append(c);
                continue;
            }

            c = template[++i];
            switch (c)
            {
                case '$':
                    result.Append('$');
                    break;
                case '&':
                    result.Append(matched);
                    break;
                case '`':
                    result.Append(text, 0, offset);
                    break;
                case '\'':
                    result.Append(text, Math.Min(text.Length, offset + matched.Length), Math.Max(0, text.Length - offset - matched.Length));
                    break;
                case >= '0' and <= '9':
                    var one = c - '0';
                    var two = i < template.Length - 1 && char.IsAsciiDigit(template[i + 1]) ? one * 10 + (template[i + 1] - '0') : 0;
                    if (two > 0 && two <= captures)
                    {
                        result.Append(TypeConverter.ToString(match[two]));
                        i++;
                    }
                    else if (one > 0 && one <= captures)
                    {
                        result.Append(TypeConverter.ToString(match[one]));
                    }
                    else
                    {
                        result.Append('$');
                        i--;
                    }

                    break;
                default:
                    result.Append('$').Append(c);
                    break;
            }
        }

        return result.ToString();
    }

    /// <summary>
    /// <c>String.prototype.indexOf</c> and <c>lastIndexOf</c> (ES5.1 §15.5.4.7–8). Jint's <c>lastIndexOf</c> compared at every place
    /// (262,144 characters against a text of 131,073 took 14.3 s in one call), and .NET's own search, which its <c>indexOf</c> uses,
    /// also compares at every place a long text could match. A text of at most 256 characters is searched by .NET (vectorized; at most
    /// 256 comparisons per place); a longer one by Knuth–Morris–Pratt, linear in both lengths, checking the deadline every 65,536
    /// characters.
    /// </summary>
    private static void ReplaceStringSearch(Engine engine, ScriptRunLimits limits)
    {
        var prototype = engine.String.PrototypeObject;
        Replace(prototype, "indexOf", new ClrFunctionInstance(engine, (self, args) =>
        {
            TypeConverter.CheckObjectCoercible(engine, self);
            var text = TypeConverter.ToString(self);
            var search = TypeConverter.ToString(args.At(0));
            var start = (int)Math.Min(Math.Max(TypeConverter.ToInteger(args.At(1)), 0), text.Length);
            return search.Length <= 256 ? text.IndexOf(search, start, StringComparison.Ordinal) : Kmp(limits, text, search, start, text.Length, last: false);
        }, 1));
        Replace(prototype, "lastIndexOf", new ClrFunctionInstance(engine, (self, args) =>
        {
            TypeConverter.CheckObjectCoercible(engine, self);
            var text = TypeConverter.ToString(self);
            var search = TypeConverter.ToString(args.At(0));
            var position = TypeConverter.ToNumber(args.At(1));
            var start = double.IsNaN(position) ? text.Length : (int)Math.Min(Math.Max(TypeConverter.ToInteger(position), 0), text.Length);
            if (search.Length == 0)
            {
                return start;
            }

            if (search.Length > text.Length)
            {
                return -1;
            }

            var end = (int)Math.Min((long)start + search.Length, text.Length); // a match lies within [0, end)
            return search.Length <= 256 ? text.LastIndexOf(search, end - 1, end, StringComparison.Ordinal) : Kmp(limits, text, search, 0, end, last: true);
        }, 1));
    }

    /// <summary>
    /// The first (or, with <paramref name="last"/>, the last) place in <paramref name="text"/>[<paramref name="from"/>,
    /// <paramref name="to"/>) where <paramref name="search"/> lies whole, or -1: Knuth–Morris–Pratt (backwards for the last).
    /// </summary>
    private static int Kmp(ScriptRunLimits limits, string text, string search, int from, int to, bool last)
    {
        var m = search.Length;
        char At(int k) => last ? search[m - 1 - k] : search[k];
        var fail = new int[m];
        for (int k = 1, j = 0; k < m; k++)
        {
            while (j > 0 && At(k) != At(j))
            {
                j = fail[j - 1];
            }

            if (At(k) == At(j))
            {
                j++;
            }

            fail[k] = j;
        }

        for (int n = 0, j = 0; n < to - from; n++)
        {
            if ((n & 0xFFFF) == 0xFFFF)
            {
                limits.CheckTimeAndStack();
            }

            var c = last ? text[to - 1 - n] : text[from + n];
            while (j > 0 && c != At(j))
            {
                j = fail[j - 1];
            }

            if (c == At(j) && ++j == m)
            {
                return last ? to - 1 - n : from + n - m + 1;
            }
        }

        return -1;
    }

    /// <summary>
    /// <c>RegExp.prototype</c> as a regular expression: Jint 2.10.4 made it a RegExp object with no pattern, so using it as one
    /// (<c>RegExp.prototype.exec('x')</c>, <c>'abc'.split(RegExp.prototype)</c>, <c>String(RegExp.prototype)</c>) failed with a host
    /// error no <c>catch</c> saw. It gets the empty pattern ES5.1 §15.10.6 gives it; <c>toString</c> of something that is not a RegExp
    /// is a <c>TypeError</c>.
    /// </summary>
    private static void ReplaceRegExpPrototype(Engine engine)
    {
        var prototype = (Jint.Native.RegExp.RegExpInstance)engine.RegExp.PrototypeObject;
        prototype.Value ??= new System.Text.RegularExpressions.Regex("(?:)");
        prototype.Source ??= "(?:)";
        prototype.Flags ??= string.Empty;
        var toString = (FunctionInstance)prototype.Get("toString").AsObject();
        Replace(prototype, "toString", new ClrFunctionInstance(engine, (self, args) =>
            self.IsObject() && self.AsObject() is Jint.Native.RegExp.RegExpInstance
                ? toString.Call(self, args)
                : throw Error(engine.TypeError, "RegExp.prototype.toString: this is not a RegExp"), 0));
    }

    /// <summary>The <c>RangeError</c> of a split into more than <paramref name="max"/> parts: how many (<paramref name="parts"/>), or
    /// null where only "more than the bound" is known.</summary>
    private static JavaScriptException SplitError(Engine engine, long? parts, uint max) =>
        Error(engine.RangeError, $"String.prototype.split: {(parts is { } n ? $"{n:N0}" : $"more than {max:N0}")} parts; RuleFlow scripts' built-ins make arrays of at most {max:N0} (MaxArrayLength)");

    /// <summary>
    /// <c>String.prototype.match</c> with a global regular expression, as ES5.1 §15.5.4.10 says: after an empty match at the place the
    /// last one ended, <c>lastIndex</c> moves on by one. Jint's moved it on only after the first such match, so <c>'ab'.match(/x*/g)</c>
    /// matched at the same place for ever, adding an element each time (2 GB in 30 s, in one call). Each match checks the deadline, and
    /// the result holds at most <see cref="ScriptRunLimits.MaxArrayLength"/> matches.
    /// </summary>
    private static void ReplaceMatch(Engine engine, ScriptRunLimits limits)
    {
        var prototype = engine.String.PrototypeObject;
        var exec = (FunctionInstance)engine.RegExp.PrototypeObject.Get("exec").AsObject(); // the sandbox's (ReplaceRegExpBuiltIns)
        Replace(prototype, "match", new ClrFunctionInstance(engine, (self, args) =>
        {
            TypeConverter.CheckObjectCoercible(engine, self);
            var text = new JsValue(TypeConverter.ToString(self));
            var regex = AsRegExp(engine, args.At(0));
            if (!TypeConverter.ToBoolean(regex.Get("global")))
            {
                return exec.Call(regex, [text]); // ES5.1 §15.5.4.10: the result of exec
            }

            regex.Put("lastIndex", 0, false);
            var matches = engine.Array.Construct(Arguments.Empty);
            var empty = regex.Source == "(?:)"; // Jint's exec matches the empty pattern wherever lastIndex is, past the end too
            var previousLastIndex = 0.0;
            var n = 0;
            while (true)
            {
                limits.CheckTimeAndStack();
                var result = empty && n > text.AsString().Length ? JsValue.Null : exec.Call(regex, [text]);
                if (!result.IsObject())
                {
                    return n == 0 ? JsValue.Null : matches;
                }

                var thisIndex = TypeConverter.ToInteger(regex.Get("lastIndex"));
                if (thisIndex == previousLastIndex)
                {
                    regex.Put("lastIndex", thisIndex + 1, false);
                    previousLastIndex = thisIndex + 1;
                }
                else
                {
                    previousLastIndex = thisIndex;
                }

                if (n >= limits.MaxArrayLength)
                {
                    throw Error(engine.RangeError,
                        $"String.prototype.match: more than {limits.MaxArrayLength:N0} matches; RuleFlow scripts' built-ins make arrays of at most {limits.MaxArrayLength:N0} (MaxArrayLength)");
                }

                matches.DefineOwnProperty(n.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    new PropertyDescriptor(result.AsObject().Get("0"), true, true, true), false);
                n++;
            }
        }, 1));
    }

    /// <summary>
    /// Longest string the sandbox's own built-ins build (<c>join</c>, <c>toLocaleString</c>, <c>JSON.stringify</c>), in UTF-16
    /// characters: 33,554,432 (64 MB). Past it a <c>RangeError</c>: 800 copies of a 2-million-character string joined took 3.3 GB.
    /// </summary>
    public const int MaxBuiltStringChars = 1 << 25;

    /// <summary>Throws a <c>RangeError</c> when <paramref name="length"/> passes <see cref="MaxBuiltStringChars"/>.</summary>
    internal static void CheckBuiltString(Engine engine, int length, string what)
    {
        if (length > MaxBuiltStringChars)
        {
            throw Error(engine.RangeError, $"{what} makes a string of more than {MaxBuiltStringChars:N0} characters, the most RuleFlow scripts' built-ins make");
        }
    }

    /// <summary>ES5.1 §9.6 ToUint32: the number modulo 2^32 (Jint 2.10.4 casts, which .NET saturates: -1 became 0, not 4294967295).</summary>
    private static uint ToUint32(JsValue value)
    {
        var number = TypeConverter.ToNumber(value);
        if (!double.IsFinite(number))
        {
            return 0;
        }

        var modulo = Math.Truncate(number) % 4294967296.0;
        return (uint)(modulo < 0 ? modulo + 4294967296.0 : modulo);
    }

    private static long Occurrences(string text, string separator)
    {
        var count = 0L;
        for (var at = text.IndexOf(separator, StringComparison.Ordinal); at >= 0; at = text.IndexOf(separator, at + separator.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    /// <summary>ES5.1 §15.4.4.5 (and §15.4.4.3 with <paramref name="convert"/>): the elements of <paramref name="self"/> as text, holes, undefined and null as "".</summary>
    private static JsValue Join(ScriptRunLimits limits, JsValue self, string separator, Func<JsValue, string> convert)
    {
        var obj = TypeConverter.ToObject(limits.Engine, self);
        var length = TypeConverter.ToUint32(obj.Get("length"));
        var text = new System.Text.StringBuilder();
        for (var i = 0L; i < length; i++)
        {
            if ((i & 1023) == 1023)
            {
                limits.CheckTimeAndStack();
            }

            if (i > 0)
            {
                text.Append(separator);
            }

            var element = obj.Get(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (!element.IsUndefined() && !element.IsNull())
            {
                text.Append(convert(element));
            }

            CheckBuiltString(limits.Engine, text.Length, "Array.prototype.join");
        }

        return new JsValue(text.ToString());
    }

    /// <summary>
    /// The check of an <c>Array.prototype</c> method's wrapper: the array (or array-like, or string) it walks is at most
    /// <see cref="ScriptRunLimits.MaxArrayLength"/> long, and for <c>concat</c> the arrays it is given too, added up; and the walk reads
    /// at most <see cref="MaxArrayLookupsPerElement"/> × <see cref="ScriptRunLimits.MaxArrayLength"/> objects: each element missing
    /// from the array is looked up along its whole prototype chain (an array-like of 1,048,576 elements at the end of a chain of 10,000
    /// objects made one <c>indexOf</c> take 62 s).
    /// </summary>
    private static Action<JsValue, JsValue[]> ArrayMethodCheck(ScriptRunLimits limits, string name)
    {
        var what = "Array.prototype." + name;
        return (self, args) =>
        {
            var total = ArrayLikeLength(limits.Engine, self, what);
            var lookups = total * ArrayLikeChainLength(self);
            if (name == "concat")
            {
                foreach (var arg in args)
                {
                    if (arg.IsObject() && arg.AsObject().Class == "Array")
                    {
                        var length = ArrayLikeLength(limits.Engine, arg, what);
                        total += length;
                        lookups += length * ArrayLikeChainLength(arg);
                    }
                }
            }

            if (total > limits.MaxArrayLength)
            {
                throw Error(limits.Engine.RangeError,
                    $"{what}: an array of {total:N0} elements; RuleFlow scripts' built-ins take at most {limits.MaxArrayLength:N0} (MaxArrayLength)");
            }

            var maxLookups = (long)MaxArrayLookupsPerElement * limits.MaxArrayLength;
            if (lookups > maxLookups)
            {
                throw Error(limits.Engine.RangeError,
                    $"{what}: {total:N0} elements read through prototype chains of up to {ScriptRunLimits.MaxPrototypeChain:N0} objects make {lookups:N0} lookups; RuleFlow scripts' built-ins make at most {maxLookups:N0} ({MaxArrayLookupsPerElement} × MaxArrayLength)");
            }
        };
    }

    /// <summary>
    /// Most objects an <c>Array.prototype</c> method may read per element of the longest array it takes, on average: the element's
    /// array and the objects of its prototype chain (3 for an array). An array-like of <see cref="ScriptRunLimits.MaxArrayLength"/>
    /// elements may have a chain of at most this many objects; a shorter one a longer chain.
    /// </summary>
    public const int MaxArrayLookupsPerElement = 16;

    /// <summary>The objects a method reads for a missing element of <paramref name="value"/>: its prototype chain, itself included
    /// (a string's is that of a <c>String</c> object, 3).</summary>
    private static long ArrayLikeChainLength(JsValue value) =>
        value.IsObject() ? ScriptRunLimits.ChainLength(value.AsObject()) : 3;

    /// <summary>
    /// The check of <c>Object.create</c>'s wrapper: the new object's prototype chain, itself included, is at most
    /// <see cref="ScriptRunLimits.MaxPrototypeChain"/> objects long.
    /// </summary>
    private static Action<JsValue, JsValue[]> ObjectCreateCheck(Engine engine) => (_, args) =>
    {
        if (args.At(0).IsObject() && ScriptRunLimits.ChainLength(args.At(0).AsObject()) >= ScriptRunLimits.MaxPrototypeChain)
        {
            throw Error(engine.RangeError,
                $"Object.create: the object would have a prototype chain of more than {ScriptRunLimits.MaxPrototypeChain:N0} objects, the most RuleFlow scripts make");
        }
    };

    /// <summary>
    /// The length an <c>Array.prototype</c> method reads from <paramref name="value"/>, converted as Jint's methods convert it (a
    /// string's length; 0 for other primitives).
    /// </summary>
    /// <remarks>A length that is a number but not a whole number from 0 to 4,294,967,295 is refused with a <c>TypeError</c>: ES5 takes
    /// it modulo 2^32, but Jint's methods saturate it (<c>{ length: -1 }</c> was 0 for them, 4,294,967,295 for ES5), so the method
    /// would walk another length than the one checked.</remarks>
    private static long ArrayLikeLength(Engine engine, JsValue value, string what)
    {
        if (value.IsString())
        {
            return value.AsString().Length;
        }

        var length = TypeConverter.ToNumber(PlainLength(engine, value, what));
        if (double.IsNaN(length))
        {
            return 0;
        }

        return length >= 0 && length <= uint.MaxValue && length == Math.Floor(length)
            ? (long)length
            : throw Error(engine.TypeError, $"{what}: an array-like whose length is not a whole number from 0 to 4,294,967,295 ({TypeConverter.ToString(length)}) is not supported in RuleFlow scripts");
    }

    /// <summary>
    /// <paramref name="value"/>'s <c>length</c> (undefined for a primitive or where there is none), read without calling anything: a
    /// length given by a getter or as an object (whose <c>valueOf</c> runs) is refused with a <c>TypeError</c>, since the built-in
    /// would read it again and could get another number than the one checked.
    /// </summary>
    private static JsValue PlainLength(Engine engine, JsValue value, string what)
    {
        var descriptor = value.IsObject() ? value.AsObject().GetProperty("length") : PropertyDescriptor.Undefined;
        if (descriptor.IsAccessorDescriptor() || descriptor.Value is { } v && v.IsObject())
        {
            throw Error(engine.TypeError, $"{what}: an array-like whose length is a getter or an object is not supported in RuleFlow scripts");
        }

        return descriptor.Value ?? JsValue.Undefined;
    }

    /// <summary>
    /// A function made by <c>Function.prototype.bind</c> (ES5.1 §15.3.4.5): calling or constructing it enters the run's limits as a
    /// built-in does (<see cref="ScriptRunLimits.EnterBuiltIn"/>), then calls its target with the bound <c>this</c> and the bound
    /// arguments followed by the given ones.
    /// </summary>
    private sealed class GuardedBoundFunction : FunctionInstance, IConstructor
    {
        private readonly ScriptRunLimits _limits;
        private readonly FunctionInstance _target;
        private readonly JsValue _boundThis;
        private readonly JsValue[] _boundArgs;

        public GuardedBoundFunction(Engine engine, ScriptRunLimits limits, FunctionInstance target, JsValue boundThis, JsValue[] boundArgs)
            : base(engine, [], null, false)
        {
            _limits = limits;
            _target = target;
            _boundThis = boundThis;
            _boundArgs = boundArgs;
            Prototype = engine.Function.PrototypeObject;
            Extensible = true;
            var length = target.GetOwnProperty("length")?.Value is { } l && l.IsNumber() ? l.AsNumber() : 0;
            FastAddProperty("length", Math.Max(0, length - boundArgs.Length), false, false, false);
            var thrower = engine.Function.ThrowTypeError;
            DefineOwnProperty("caller", new PropertyDescriptor(thrower, thrower, false, false), false);
            DefineOwnProperty("arguments", new PropertyDescriptor(thrower, thrower, false, false), false);
        }

        public override JsValue Call(JsValue thisObject, JsValue[] arguments)
        {
            _limits.EnterBuiltIn("a bound function");
            try
            {
                return _target.Call(_boundThis, [.. _boundArgs, .. arguments]);
            }
            finally
            {
                _limits.LeaveBuiltIn();
            }
        }

        public ObjectInstance Construct(JsValue[] arguments)
        {
            if (_target is not IConstructor constructor)
            {
                throw Error(Engine.TypeError, "a bound function whose target is not a constructor cannot be used with new");
            }

            _limits.EnterBuiltIn("a bound function");
            try
            {
                return constructor.Construct([.. _boundArgs, .. arguments]);
            }
            finally
            {
                _limits.LeaveBuiltIn();
            }
        }

        public override bool HasInstance(JsValue v)
        {
            // instanceof asks the target, which may be bound too: a chain of bound functions (one reduce over a long array with
            // Function.prototype.call.bind(Function.prototype.bind) makes millions) must not recur without a bound.
            _limits.EnterBuiltIn("instanceof a bound function");
            try
            {
                return _target.HasInstance(v);
            }
            finally
            {
                _limits.LeaveBuiltIn();
            }
        }
    }
}
