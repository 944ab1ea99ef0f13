using Jint;
using Jint.Native;
using Jint.Native.Function;
using Jint.Native.Object;
using Jint.Native.RegExp;
using Jint.Runtime;
using Jint.Runtime.Interop;

namespace RuleFlow.Scripting;

/// <summary>
/// Regular expressions a script builds at run time: a pattern is at most <see cref="MaxPatternChars"/> characters, and one match's
/// captures add up to at most <see cref="MaxBuiltStringChars"/> characters. .NET builds a regex in time quadratic in its alternatives,
/// in one call no deadline interrupts (a pattern of 1.57 million characters, <c>'ab|cd|…'</c>, took 21 s; 7.9 million took 116 s),
/// and Jint's <c>exec</c> made a string of every capture (16 lookaheads over 33 million characters: 1.18 GB in one call; seventh
/// review).
/// </summary>
internal static partial class ScriptGuards
{
    /// <summary>Longest pattern a script may build at run time (<c>RegExp</c>, <c>match</c>, <c>search</c>): 32,768 characters,
    /// twice the longest script. Building one takes milliseconds.</summary>
    public const int MaxPatternChars = 32 * 1024;

    /// <summary>
    /// Installs the guarded <c>RegExp</c> constructor (as the global and as <c>RegExp.prototype.constructor</c>), <c>exec</c>,
    /// <c>test</c> and <c>search</c>. <c>match</c> builds its regex through <see cref="NewRegExp"/> and matches through the guarded <c>exec</c>.
    /// </summary>
    private static void ReplaceRegExpBuiltIns(Engine engine)
    {
        var constructor = new GuardedRegExpConstructor(engine);
        Replace(engine.Global, "RegExp", constructor);
        Replace(engine.RegExp.PrototypeObject, "constructor", constructor);

        // exec, and test, which Jint runs through its own exec: each makes every capture of the match (16 lookaheads over 33 million
        // characters: 1.18 GB in one exec; 40 nested groups over 16 million, 1.35 GB in one test), so they are counted first.
        var prototype = engine.RegExp.PrototypeObject;
        foreach (var name in (string[])["exec", "test"])
        {
            var original = (FunctionInstance)prototype.Get(name).AsObject();
            Replace(prototype, name, new ClrFunctionInstance(engine, (self, args) =>
            {
                if (!self.IsObject() || self.AsObject() is not RegExpInstance regex)
                {
                    return original.Call(self, args); // Jint's TypeError
                }

                var text = TypeConverter.ToString(args.At(0)); // converted once, here
                CheckCaptures(engine, regex, text);
                return original.Call(self, [new JsValue(text)]);
            }, 1));
        }

        var search = (FunctionInstance)engine.String.PrototypeObject.Get("search").AsObject();
        Replace(engine.String.PrototypeObject, "search", new ClrFunctionInstance(engine, (self, args) =>
        {
            TypeConverter.CheckObjectCoercible(engine, self);
            var text = new JsValue(TypeConverter.ToString(self));
            return search.Call(text, [AsRegExp(engine, args.At(0))]); // Jint's search built a regex from any text
        }, 1));
    }

    /// <summary><paramref name="value"/> itself when it is a RegExp, else a new RegExp of its text (ES5.1 §15.5.4.10, 12).</summary>
    internal static RegExpInstance AsRegExp(Engine engine, JsValue value) =>
        value.IsObject() && value.AsObject() is RegExpInstance given ? given : (RegExpInstance)NewRegExp(engine, [value]);

    /// <summary><c>new RegExp(pattern, flags)</c> with the pattern converted once and at most <see cref="MaxPatternChars"/> long.</summary>
    /// <exception cref="JavaScriptException">A <c>SyntaxError</c> for a longer pattern.</exception>
    internal static ObjectInstance NewRegExp(Engine engine, JsValue[] args) => engine.RegExp.Construct(CheckedPattern(engine, args));

    /// <summary>The arguments of <c>RegExp</c> with a pattern that is not a RegExp converted to text, checked against
    /// <see cref="MaxPatternChars"/>.</summary>
    private static JsValue[] CheckedPattern(Engine engine, JsValue[] args)
    {
        var pattern = args.At(0);
        if (pattern.IsUndefined() || (pattern.IsObject() && pattern.AsObject() is RegExpInstance))
        {
            return args;
        }

        var text = TypeConverter.ToString(pattern);
        if (text.Length > MaxPatternChars)
        {
            throw Error(engine.SyntaxError,
                $"RegExp: the pattern is {text.Length:N0} characters long; RuleFlow scripts build patterns of at most {MaxPatternChars:N0} (building one takes time that grows with the square of its length, in one call)");
        }

        if (LiteralRunTooLong(text) is { } message)
        {
            throw Error(engine.SyntaxError, "RegExp: " + message);
        }

        return [new JsValue(text), .. args.Skip(1)];
    }

    private static readonly System.Buffers.SearchValues<char> HexDigits = System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");

    /// <summary>Longest run of literal characters a pattern may have: 256, as long as <c>indexOf</c> searches with .NET's search.</summary>
    public const int MaxLiteralRun = 256;

    /// <summary>
    /// Why <paramref name="pattern"/> (a regular expression's body) may not be built, or null: a run of more than
    /// <see cref="MaxLiteralRun"/> literal characters. .NET finds a pattern's literal run with one search that never checks the match
    /// timeout, comparing at every place the run could start (a run of 32,766 over 33 million characters took 10.5 s, 4 minutes with
    /// the flag <c>i</c>; eighth review).
    /// </summary>
    internal static string? LiteralRunTooLong(string pattern)
    {
        int run = 0, longest = 0;
        for (var i = 0; i < pattern.Length; i++)
        {
            switch (pattern[i])
            {
                case '\\':
                    // \d \D \s \S \w \W \b \B and back-references break a run; every other escape is one literal character to .NET,
                    // which joins it with its neighbours (\u0061 \x61 \n \t \cJ \0 \. …): its digits are skipped, not counted.
                    var escaped = i + 1 < pattern.Length ? pattern[i + 1] : '\0';
                    i++;
                    if ("dDsSwWbB".Contains(escaped) || escaped is >= '1' and <= '9')
                    {
                        run = 0;
                        break;
                    }

                    run++;
                    i += escaped switch
                    {
                        'u' when i + 4 < pattern.Length && pattern.AsSpan(i + 1, 4).ContainsAnyExcept(HexDigits) is false => 4,
                        'x' when i + 2 < pattern.Length && pattern.AsSpan(i + 1, 2).ContainsAnyExcept(HexDigits) is false => 2,
                        'c' when i + 1 < pattern.Length => 1,
                        _ => 0,
                    };
                    break;
                case '[':
                    for (i++; i < pattern.Length && pattern[i] != ']'; i++)
                    {
                        if (pattern[i] == '\\')
                        {
                            i++;
                        }
                    }

                    run = 0;
                    break;
                case '.' or '^' or '$' or '|' or '(' or ')' or '?' or '*' or '+' or '{' or '}':
                    run = 0;
                    break;
                default:
                    run++;
                    break;
            }

            longest = Math.Max(longest, run);
        }

        return longest > MaxLiteralRun
            ? $"the pattern has a run of {longest:N0} literal characters; RuleFlow scripts' patterns have at most {MaxLiteralRun} in a row (.NET searches for a long run without checking the timeout)"
            : null;
    }

    /// <summary>
    /// Refuses a match whose captures would add up to more than <see cref="MaxBuiltStringChars"/> characters (Jint makes a string of
    /// each). Only where the text times the groups could exceed that: the match is then tried once here first, from where Jint's
    /// <c>exec</c> starts, to count the captures' lengths without making them.
    /// </summary>
    private static void CheckCaptures(Engine engine, RegExpInstance regex, string text)
    {
        if (!CapturesMayBeLong(regex, text))
        {
            return;
        }

        var start = TypeConverter.ToBoolean(regex.Get("global")) ? TypeConverter.ToInteger(regex.Get("lastIndex")) : 0;
        if (start >= 0 && start <= text.Length)
        {
            CheckCaptures(engine, regex.Value.Match(text, (int)start), "RegExp.prototype.exec");
        }
    }

    /// <summary>
    /// The same for <c>replace</c>, whose every match Jint gives its captures: each match of a global regex (the first of another) is
    /// tried here first, checking the deadline at each, where the text times the groups could exceed the bound.
    /// </summary>
    internal static void CheckReplaceCaptures(ScriptRunLimits limits, RegExpInstance regex, string text)
    {
        if (!CapturesMayBeLong(regex, text))
        {
            return;
        }

        for (var match = regex.Value.Match(text); match.Success; match = TypeConverter.ToBoolean(regex.Get("global")) ? match.NextMatch() : System.Text.RegularExpressions.Match.Empty)
        {
            limits.CheckTimeAndStack();
            CheckCaptures(limits.Engine, match, "String.prototype.replace");
        }
    }

    /// <summary>
    /// Whether the text times the groups could pass <see cref="MaxBuiltStringChars"/>. A pattern of at most
    /// <see cref="MaxPatternChars"/> has at most half as many groups, plus the whole match, so a text shorter than
    /// <see cref="ShortText"/> never can: the groups are not asked for (an array each time) on the common path.
    /// </summary>
    private static bool CapturesMayBeLong(RegExpInstance regex, string text) =>
        text.Length >= ShortText && (long)text.Length * regex.Value.GetGroupNumbers().Length > MaxBuiltStringChars;

    private const int ShortText = MaxBuiltStringChars / (MaxPatternChars / 2 + 1);

    private static void CheckCaptures(Engine engine, System.Text.RegularExpressions.Match match, string what)
    {
        var total = 0L;
        for (var g = 0; match.Success && g < match.Groups.Count; g++)
        {
            total += match.Groups[g].Success ? match.Groups[g].Length : 0;
        }

        CheckBuiltString(engine, (int)Math.Min(total, int.MaxValue), what + " (the captures of one match)");
    }

    /// <summary>
    /// <c>RegExp(pattern, flags)</c> and <c>new RegExp(pattern, flags)</c>, Jint's, with the pattern checked first
    /// (<see cref="CheckedPattern"/>). <c>instanceof RegExp</c> and <c>RegExp.prototype</c> are as before.
    /// </summary>
    private sealed class GuardedRegExpConstructor : FunctionInstance, IConstructor
    {
        private readonly RegExpConstructor _original;

        public GuardedRegExpConstructor(Engine engine)
            : base(engine, [], null, false)
        {
            _original = engine.RegExp;
            Prototype = engine.Function.PrototypeObject;
            Extensible = true;
            FastAddProperty("length", 2, false, false, false);
            FastAddProperty("prototype", engine.RegExp.PrototypeObject, false, false, false);
        }

        public override JsValue Call(JsValue thisObject, JsValue[] arguments) => _original.Call(thisObject, CheckedPattern(Engine, arguments));

        public ObjectInstance Construct(JsValue[] arguments) => _original.Construct(CheckedPattern(Engine, arguments));
    }
}
