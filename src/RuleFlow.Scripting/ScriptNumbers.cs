using System.Globalization;
using Jint;
using Jint.Native;
using Jint.Runtime;
using Jint.Runtime.Interop;

namespace RuleFlow.Scripting;

/// <summary>
/// <c>parseFloat</c> and <c>parseInt</c> of the sandbox (ES5.1 §15.1.2.2–3), in one pass over the text. Jint 2.10.4's
/// <c>parseFloat</c> raised its mantissa to the exponent one step at a time in <c>decimal</c>, with an <c>int</c> counter:
/// <c>parseFloat('1e-2147483647')</c> never returned (the counter wraps), <c>'1e-999999999'</c> took 9.6 s, and <c>'1e400'</c> failed
/// with a host error (decimal overflow). Its <c>parseInt</c> parsed the text again without its last character for every character
/// that was not a digit, from the end: 262,144 characters took 10.4 s and 1.6 GB in one call.
/// </summary>
internal static class ScriptNumbers
{
    /// <summary>Replaces the global <c>parseFloat</c> and <c>parseInt</c> of <paramref name="engine"/> (before they are wrapped and frozen).</summary>
    public static void Install(Engine engine)
    {
        ScriptGuards.Replace(engine.Global, "parseFloat", new ClrFunctionInstance(engine, (_, args) => ParseFloat(TypeConverter.ToString(args.At(0))), 1));
        ScriptGuards.Replace(engine.Global, "parseInt", new ClrFunctionInstance(engine, (_, args) =>
            ParseInt(TypeConverter.ToString(args.At(0)), TypeConverter.ToInt32(args.At(1))), 2));
    }

    /// <summary>
    /// ES5.1 §15.1.2.3: the longest prefix of the text (after white space) that is a decimal literal — a sign, then
    /// <c>Infinity</c> or digits with an optional fraction and exponent — as a number; NaN when there is none.
    /// </summary>
    public static double ParseFloat(string text)
    {
        var start = SkipWhiteSpace(text);
        var i = start;
        if (i < text.Length && text[i] is '+' or '-')
        {
            i++;
        }

        if (text.AsSpan(i).StartsWith("Infinity", StringComparison.Ordinal))
        {
            return text[start] == '-' ? double.NegativeInfinity : double.PositiveInfinity;
        }

        var digits = 0;
        while (i < text.Length && char.IsAsciiDigit(text[i]))
        {
            i++;
            digits++;
        }

        if (i < text.Length && text[i] == '.')
        {
            var afterPoint = i + 1;
            while (afterPoint < text.Length && char.IsAsciiDigit(text[afterPoint]))
            {
                afterPoint++;
                digits++;
            }

            i = afterPoint;
        }

        if (digits == 0)
        {
            return double.NaN;
        }

        if (i < text.Length && text[i] is 'e' or 'E')
        {
            var e = i + 1;
            if (e < text.Length && text[e] is '+' or '-')
            {
                e++;
            }

            if (e < text.Length && char.IsAsciiDigit(text[e]))
            {
                while (e < text.Length && char.IsAsciiDigit(text[e]))
                {
                    e++;
                }

                i = e;
            }
        }

        // .NET parses with IEEE rounding, any number of digits and any exponent (past the range: 0 or infinity).
        return double.Parse(text.AsSpan(start, i - start), NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// ES5.1 §15.1.2.2: the longest prefix of the text (after white space and a sign) made of digits of the radix, as a number. A radix
    /// of 0 means 10, or 16 for a text that starts with <c>0x</c>; one outside 2–36 gives NaN, as does a text with no digit.
    /// </summary>
    public static double ParseInt(string text, int radix)
    {
        var i = SkipWhiteSpace(text);
        var sign = 1.0;
        if (i < text.Length && text[i] is '+' or '-')
        {
            sign = text[i] == '-' ? -1 : 1;
            i++;
        }

        var stripPrefix = true;
        if (radix != 0)
        {
            if (radix is < 2 or > 36)
            {
                return double.NaN;
            }

            stripPrefix = radix == 16;
        }
        else
        {
            radix = 10;
        }

        if (stripPrefix && i + 1 < text.Length && text[i] == '0' && text[i + 1] is 'x' or 'X')
        {
            i += 2;
            radix = 16;
        }

        var end = i;
        while (end < text.Length && Digit(text[end]) < radix)
        {
            end++;
        }

        if (end == i)
        {
            return double.NaN;
        }

        if (radix == 10)
        {
            return sign * double.Parse(text.AsSpan(i, end - i), NumberStyles.None, CultureInfo.InvariantCulture);
        }

        var value = 0.0;
        for (var k = i; k < end; k++)
        {
            value = value * radix + Digit(text[k]);
        }

        return sign * value;
    }

    private static int Digit(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'z' => c - 'a' + 10,
        >= 'A' and <= 'Z' => c - 'A' + 10,
        _ => int.MaxValue,
    };

    /// <summary>The index of the first character that is not ES5 white space or a line terminator (§7.2–7.3).</summary>
    private static int SkipWhiteSpace(string text)
    {
        var i = 0;
        while (i < text.Length && (text[i] is '\t' or '\v' or '\f' or ' ' or '\u00A0' or '\uFEFF' or '\n' or '\r' or '\u2028' or '\u2029'
                                   || CharUnicodeInfo.GetUnicodeCategory(text[i]) == UnicodeCategory.SpaceSeparator))
        {
            i++;
        }

        return i;
    }
}
