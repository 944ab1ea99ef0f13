using System.Globalization;
using System.Text;

namespace RuleFlow.Rules.Language;

/// <summary>
/// Hand-written lexer. Turns the whole text into tokens in one pass; never throws. Comments (<c>#</c> and <c>//</c> to the end of
/// the line) and whitespace are trivia. A <c>/</c> right after the keyword <c>matches</c> starts a regex literal; elsewhere it is an
/// operator. Errors are reported to the <see cref="DiagnosticBag"/> and lexing continues after the bad input.
/// </summary>
internal sealed class Lexer(SourceText source, DiagnosticBag diagnostics)
{
    private readonly string _text = source.Text;
    private int _position;
    private SyntaxToken? _previous;

    public static IReadOnlyList<SyntaxToken> Tokenize(SourceText source, DiagnosticBag diagnostics) => new Lexer(source, diagnostics).LexAll();

    public List<SyntaxToken> LexAll()
    {
        var tokens = new List<SyntaxToken>();
        while (true)
        {
            var token = Next();
            tokens.Add(token);
            _previous = token;
            if (token.Kind == SyntaxKind.EndOfFile)
            {
                return tokens;
            }
        }
    }

    private char Current => _position < _text.Length ? _text[_position] : '\0';

    private char Peek(int offset) => _position + offset < _text.Length ? _text[_position + offset] : '\0';

    private bool AtEnd => _position >= _text.Length;

    private SyntaxToken Next()
    {
        while (true)
        {
            var (trivia, atLineStart) = ScanTrivia();
            var start = _position;
            var token = ScanToken(start);
            if (token is null)
            {
                continue; // bad character: reported, skipped
            }

            return token with { AtLineStart = atLineStart, LeadingTrivia = trivia };
        }
    }

    private bool _lineStartPending = true;

    private (IReadOnlyList<SyntaxTrivia> Trivia, bool AtLineStart) ScanTrivia()
    {
        List<SyntaxTrivia>? trivia = null;
        while (!AtEnd)
        {
            var c = Current;
            if (c == '\n' || c == '\r')
            {
                _position++;
                _lineStartPending = true;
            }
            else if (c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\uFEFF')
            {
                _position++;
            }
            else if (c == '#' || (c == '/' && Peek(1) == '/'))
            {
                var start = _position;
                while (!AtEnd && Current != '\n' && Current != '\r')
                {
                    _position++;
                }

                (trivia ??= []).Add(new SyntaxTrivia(TextSpan.FromBounds(start, _position), _text[start.._position]));
            }
            else
            {
                break;
            }
        }

        var atLineStart = _lineStartPending;
        _lineStartPending = false;
        return (trivia ?? (IReadOnlyList<SyntaxTrivia>)[], atLineStart);
    }

    private SyntaxToken? ScanToken(int start)
    {
        if (AtEnd)
        {
            return new SyntaxToken(SyntaxKind.EndOfFile, new TextSpan(start, 0), "", null);
        }

        var c = Current;
        if (IsIdentifierStart(c))
        {
            while (IsIdentifierPart(Current))
            {
                _position++;
            }

            var text = _text[start.._position];
            return new SyntaxToken(SyntaxKind.Identifier, Span(start), text, text);
        }

        if (char.IsAsciiDigit(c))
        {
            return ScanNumberOrDuration(start);
        }

        switch (c)
        {
            case '"' when Peek(1) == '"' && Peek(2) == '"':
                return ScanRawString(start);
            case '"':
                return ScanString(start);
            case '`':
                return ScanQuotedName(start);
            case '/' when _previous is { } p && p.IsKeyword("matches"):
                return ScanRegex(start);
            case '(':
                return Single(SyntaxKind.OpenParen, start);
            case ')':
                return Single(SyntaxKind.CloseParen, start);
            case '{':
                return Single(SyntaxKind.OpenBrace, start);
            case '}':
                return Single(SyntaxKind.CloseBrace, start);
            case '[':
                return Single(SyntaxKind.OpenBracket, start);
            case ']':
                return Single(SyntaxKind.CloseBracket, start);
            case ',':
                return Single(SyntaxKind.Comma, start);
            case ':':
                return Single(SyntaxKind.Colon, start);
            case '.':
                return Peek(1) == '.' ? Double(SyntaxKind.DotDot, start) : Single(SyntaxKind.Dot, start);
            case '?':
                return Single(SyntaxKind.Question, start);
            case '+':
                return Single(SyntaxKind.Plus, start);
            case '-':
                return Single(SyntaxKind.Minus, start);
            case '*':
                return Single(SyntaxKind.Star, start);
            case '/':
                return Single(SyntaxKind.Slash, start);
            case '%':
                return Single(SyntaxKind.Percent, start);
            case '=':
                return Peek(1) == '=' ? Double(SyntaxKind.EqualsEquals, start)
                    : Peek(1) == '>' ? Double(SyntaxKind.Arrow, start)
                    : Single(SyntaxKind.Equals, start);
            case '!':
                return Peek(1) == '=' ? Double(SyntaxKind.BangEquals, start) : Single(SyntaxKind.Bang, start);
            case '<':
                return Peek(1) == '=' ? Double(SyntaxKind.LessEquals, start) : Single(SyntaxKind.Less, start);
            case '>':
                return Peek(1) == '=' ? Double(SyntaxKind.GreaterEquals, start) : Single(SyntaxKind.Greater, start);
            case '&' when Peek(1) == '&':
                return Double(SyntaxKind.AmpAmp, start);
            case '|' when Peek(1) == '|':
                return Double(SyntaxKind.PipePipe, start);
        }

        // Unexpected character: report it once for a run of such characters, then go on.
        var rune = char.IsHighSurrogate(c) && char.IsLowSurrogate(Peek(1)) ? _text.Substring(_position, 2) : c.ToString();
        diagnostics.Report(DiagnosticCodes.UnexpectedCharacter, start, $"unexpected character '{Printable(rune)}'",
            c switch
            {
                '\'' => "strings are written in double quotes: \"text\"",
                '&' or '|' => "write 'and' / 'or'",
                ';' => "no semicolons are needed: end a line instead",
                _ => null,
            });
        _position += rune.Length;
        while (!AtEnd && IsBadStart(Current))
        {
            _position++;
        }

        return null;
    }

    private static bool IsBadStart(char c) =>
        !(IsIdentifierStart(c) || char.IsAsciiDigit(c) || char.IsWhiteSpace(c) || "\"`(){}[],:.?+-*/%=!<>#&|".Contains(c));

    private static string Printable(string s) => s.Length == 1 && char.IsControl(s[0])
        ? string.Create(CultureInfo.InvariantCulture, $"\\u{(int)s[0]:X4}")
        : s;

    internal static bool IsIdentifierStart(char c) => char.IsAsciiLetter(c) || c == '_';

    internal static bool IsIdentifierPart(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';

    private TextSpan Span(int start) => TextSpan.FromBounds(start, _position);

    private SyntaxToken Single(SyntaxKind kind, int start)
    {
        _position++;
        return new SyntaxToken(kind, Span(start), _text[start.._position], null);
    }

    private SyntaxToken Double(SyntaxKind kind, int start)
    {
        _position += 2;
        return new SyntaxToken(kind, Span(start), _text[start.._position], null);
    }

    /// <summary>Longest duration a rule may write (about 5,000 years), so that time arithmetic on event ticks cannot overflow.</summary>
    internal const long MaxDurationTicks = TimeSpan.TicksPerDay * 365L * 5000L;

    private SyntaxToken ScanNumberOrDuration(int start)
    {
        if (TryScanTimestamp(start) is { } timestamp)
        {
            return timestamp;
        }

        if (TryScanAddress(start) is { } address)
        {
            return address;
        }

        var total = TimeSpan.Zero;
        var isDuration = false;
        var valid = true;
        double number = 0;
        while (true)
        {
            var numberStart = _position;
            ScanDigits();
            if (Current == '.' && char.IsAsciiDigit(Peek(1)))
            {
                _position++;
                ScanDigits();
            }

            var numberText = _text[numberStart.._position].Replace("_", "", StringComparison.Ordinal);
            if (!double.TryParse(numberText, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out number) || double.IsInfinity(number))
            {
                diagnostics.Report(DiagnosticCodes.InvalidNumber, numberStart, $"'{numberText}' is not a valid number");
                valid = false;
                number = 0;
            }

            if (!IsIdentifierStart(Current))
            {
                break;
            }

            var unitStart = _position;
            while (char.IsAsciiLetter(Current))
            {
                _position++;
            }

            var unit = _text[unitStart.._position];
            double? ticksPerUnit = unit switch
            {
                "ms" => TimeSpan.TicksPerMillisecond,
                "s" => TimeSpan.TicksPerSecond,
                "m" => TimeSpan.TicksPerMinute,
                "h" => TimeSpan.TicksPerHour,
                "d" => TimeSpan.TicksPerDay,
                _ => null,
            };
            if (ticksPerUnit is null)
            {
                diagnostics.Report(DiagnosticCodes.UnknownDurationUnit, unitStart, $"unknown duration unit '{unit}'",
                    "units are ms, s, m, h and d, written right after the number: 500ms, 30s, 5m, 2h, 1d");
                valid = false;
                while (IsIdentifierPart(Current))
                {
                    _position++;
                }

                isDuration = true;
                break;
            }

            isDuration = true;
            var ticks = number * ticksPerUnit.Value;
            var tooLong = ticks > MaxDurationTicks - total.Ticks;
            if (valid && (tooLong || ticks % TimeSpan.TicksPerMillisecond != 0))
            {
                diagnostics.Report(DiagnosticCodes.InvalidNumber, numberStart,
                    tooLong
                        ? $"duration '{_text[start.._position]}' is too long"
                        : $"duration '{_text[start.._position]}' is not a whole number of milliseconds");
                valid = false;
            }
            else if (valid)
            {
                total += TimeSpan.FromTicks((long)ticks);
            }

            // Compound durations such as 1h30m.
            if (!char.IsAsciiDigit(Current))
            {
                break;
            }
        }

        if (IsIdentifierPart(Current))
        {
            // e.g. "5m3x": the rest was reported or is junk; swallow it with the token.
            while (IsIdentifierPart(Current))
            {
                _position++;
            }
        }

        var text = _text[start.._position];
        return isDuration
            ? new SyntaxToken(SyntaxKind.DurationLiteral, Span(start), text, valid ? total : null)
            : new SyntaxToken(SyntaxKind.NumberLiteral, Span(start), text, valid ? number : null);
    }

    private int DigitsAt(int offset)
    {
        var n = 0;
        while (char.IsAsciiDigit(Peek(offset + n)))
        {
            n++;
        }

        return n;
    }

    /// <summary>
    /// <c>yyyy-MM-dd</c>, optionally followed by <c>THH:mm[:ss[.fff]]</c> and <c>Z</c> or <c>±HH:mm</c> (no offset: UTC).
    /// </summary>
    private SyntaxToken? TryScanTimestamp(int start)
    {
        if (DigitsAt(0) != 4 || Peek(4) != '-' || DigitsAt(5) != 2 || Peek(7) != '-' || DigitsAt(8) != 2)
        {
            return null;
        }

        var end = 10;
        if (Peek(10) == 'T' && DigitsAt(11) == 2 && Peek(13) == ':' && DigitsAt(14) == 2)
        {
            end = 16;
            if (Peek(16) == ':' && DigitsAt(17) == 2)
            {
                end = 19;
                if (Peek(19) == '.' && DigitsAt(20) > 0)
                {
                    end = 20 + DigitsAt(20);
                }
            }

            if (Peek(end) == 'Z')
            {
                end++;
            }
            else if ((Peek(end) == '+' || Peek(end) == '-') && DigitsAt(end + 1) == 2 && Peek(end + 3) == ':' && DigitsAt(end + 4) == 2)
            {
                end += 6;
            }
        }

        _position += end;
        var text = _text[start.._position];
        if (IsIdentifierPart(Current))
        {
            while (IsIdentifierPart(Current))
            {
                _position++;
            }

            diagnostics.Report(DiagnosticCodes.InvalidNumber, start, $"'{_text[start.._position]}' is not a valid timestamp",
                "write timestamps as 2024-01-31 or 2024-01-31T10:00:00Z");
            return new SyntaxToken(SyntaxKind.TimestampLiteral, Span(start), _text[start.._position], null);
        }

        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal,
                out var value))
        {
            diagnostics.Report(DiagnosticCodes.InvalidNumber, start, $"'{text}' is not a valid timestamp",
                "write timestamps as 2024-01-31 or 2024-01-31T10:00:00Z");
            return new SyntaxToken(SyntaxKind.TimestampLiteral, Span(start), text, null);
        }

        return new SyntaxToken(SyntaxKind.TimestampLiteral, Span(start), text, value);
    }

    /// <summary><c>a.b.c.d</c> (an IPv4 address) optionally followed by <c>/n</c> (a network).</summary>
    private SyntaxToken? TryScanAddress(int start)
    {
        var offset = 0;
        var bytes = new byte[4];
        for (var part = 0; part < 4; part++)
        {
            var digits = DigitsAt(offset);
            if (digits == 0 || digits > 3)
            {
                return null;
            }

            var value = int.Parse(_text.AsSpan(_position + offset, digits), CultureInfo.InvariantCulture);
            offset += digits;
            if (part < 3)
            {
                if (Peek(offset) != '.')
                {
                    return null;
                }

                offset++;
            }

            bytes[part] = (byte)Math.Min(value, 255);
            if (value > 255)
            {
                bytes[0] = 0; // reported below
                offset = -offset;
                break;
            }
        }

        var invalid = offset < 0;
        offset = Math.Abs(offset);
        if (invalid)
        {
            // Skip the rest of the dotted address for the report.
            while (char.IsAsciiDigit(Peek(offset)) || (Peek(offset) == '.' && char.IsAsciiDigit(Peek(offset + 1))))
            {
                offset++;
            }
        }

        var prefix = -1;
        if (Peek(offset) == '/' && DigitsAt(offset + 1) is > 0 and <= 2)
        {
            var digits = DigitsAt(offset + 1);
            prefix = int.Parse(_text.AsSpan(_position + offset + 1, digits), CultureInfo.InvariantCulture);
            offset += 1 + digits;
        }

        _position += offset;
        var text = _text[start.._position];
        if (invalid || prefix > 32)
        {
            diagnostics.Report(DiagnosticCodes.InvalidNumber, start, $"'{text}' is not a valid IPv4 address or network",
                "write an address as 10.0.0.1 and a network as 10.0.0.0/8 (each part 0..255, prefix 0..32)");
            return new SyntaxToken(prefix >= 0 ? SyntaxKind.CidrLiteral : SyntaxKind.IpLiteral, Span(start), text, null);
        }

        return prefix >= 0
            ? new SyntaxToken(SyntaxKind.CidrLiteral, Span(start), text, new CidrValue(bytes, prefix, text))
            : new SyntaxToken(SyntaxKind.IpLiteral, Span(start), text, text);
    }

    private void ScanDigits()
    {
        while (char.IsAsciiDigit(Current) || (Current == '_' && char.IsAsciiDigit(Peek(1))))
        {
            _position++;
        }
    }

    private SyntaxToken ScanString(int start)
    {
        _position++; // opening quote
        var value = new StringBuilder();
        var terminated = false;
        while (true)
        {
            if (AtEnd || Current == '\n' || Current == '\r')
            {
                diagnostics.Report(DiagnosticCodes.UnterminatedString, start, "unterminated string: the closing \" is missing",
                    "a string ends on the line it starts on; write \\\" for a quote inside it");
                break;
            }

            var c = Current;
            if (c == '"')
            {
                _position++;
                terminated = true;
                break;
            }

            if (c == '\\')
            {
                var escapeStart = _position;
                _position++;
                var e = Current;
                switch (e)
                {
                    case '"': value.Append('"'); _position++; break;
                    case '\\': value.Append('\\'); _position++; break;
                    case '/': value.Append('/'); _position++; break;
                    case 'n': value.Append('\n'); _position++; break;
                    case 't': value.Append('\t'); _position++; break;
                    case 'r': value.Append('\r'); _position++; break;
                    case 'u' when IsHex(Peek(1)) && IsHex(Peek(2)) && IsHex(Peek(3)) && IsHex(Peek(4)):
                        value.Append((char)int.Parse(_text.AsSpan(_position + 1, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                        _position += 5;
                        break;
                    default:
                        diagnostics.Report(DiagnosticCodes.InvalidEscape, escapeStart,
                            $"invalid escape sequence '\\{(AtEnd || e == '\n' || e == '\r' ? "" : e.ToString())}' in a string",
                            "valid escapes are \\\" \\\\ \\/ \\n \\t \\r and \\uXXXX");
                        if (!AtEnd && e != '\n' && e != '\r')
                        {
                            value.Append(e);
                            _position++;
                        }

                        break;
                }

                continue;
            }

            value.Append(c);
            _position++;
        }

        // An unterminated string has no value: later stages treat it as already reported.
        return new SyntaxToken(SyntaxKind.StringLiteral, Span(start), _text[start.._position], terminated ? value.ToString() : null);
    }

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);

    /// <summary>
    /// <c>"""..."""</c>: a raw string that may span lines; no escapes. As in C# raw string literals, a line break right after the
    /// opening quotes is dropped, and when the closing quotes stand on their own line, that line's indentation is removed from every line.
    /// </summary>
    private SyntaxToken ScanRawString(int start)
    {
        _position += 3;
        var contentStart = _position;
        var end = _text.IndexOf("\"\"\"", _position, StringComparison.Ordinal);
        if (end < 0)
        {
            _position = _text.Length;
            diagnostics.Report(DiagnosticCodes.UnterminatedString, start, "unterminated string: the closing \"\"\" is missing",
                "a triple-quoted string ends with \"\"\"");
            return new SyntaxToken(SyntaxKind.StringLiteral, Span(start), _text[start.._position], null) { IsRaw = true };
        }

        _position = end + 3;
        var raw = _text[contentStart..end].Replace("\r\n", "\n", StringComparison.Ordinal);
        return new SyntaxToken(SyntaxKind.StringLiteral, Span(start), _text[start.._position], Dedent(raw)) { IsRaw = true };
    }

    internal static string Dedent(string raw)
    {
        if (!raw.Contains('\n', StringComparison.Ordinal))
        {
            return raw;
        }

        var lines = raw.Split('\n').ToList();
        if (lines[0].Trim().Length == 0)
        {
            lines.RemoveAt(0);
        }

        var indent = "";
        if (lines.Count > 0 && lines[^1].Trim().Length == 0)
        {
            indent = lines[^1];
            lines.RemoveAt(lines.Count - 1);
        }

        return string.Join('\n', lines.Select(l => l.StartsWith(indent, StringComparison.Ordinal) ? l[indent.Length..] : l.TrimStart()));
    }

    private SyntaxToken ScanQuotedName(int start)
    {
        _position++;
        var nameStart = _position;
        while (!AtEnd && Current != '`' && Current != '\n' && Current != '\r')
        {
            _position++;
        }

        var name = _text[nameStart.._position];
        if (Current == '`')
        {
            _position++;
        }
        else
        {
            diagnostics.Report(DiagnosticCodes.UnterminatedQuotedName, start, "unterminated quoted name: the closing ` is missing");
        }

        if (name.Length == 0)
        {
            diagnostics.Report(DiagnosticCodes.Expected, start, "a quoted name must not be empty");
        }

        return new SyntaxToken(SyntaxKind.Identifier, Span(start), _text[start.._position], name) { IsQuoted = true };
    }

    private SyntaxToken ScanRegex(int start)
    {
        _position++; // opening slash
        var pattern = new StringBuilder();
        var terminated = false;
        while (!AtEnd && Current != '\n' && Current != '\r')
        {
            var c = Current;
            if (c == '\\' && Peek(1) == '/')
            {
                pattern.Append('/');
                _position += 2;
                continue;
            }

            if (c == '\\' && Peek(1) != '\0' && Peek(1) != '\n' && Peek(1) != '\r')
            {
                pattern.Append(c).Append(Peek(1));
                _position += 2;
                continue;
            }

            if (c == '/')
            {
                _position++;
                terminated = true;
                break;
            }

            pattern.Append(c);
            _position++;
        }

        if (!terminated)
        {
            diagnostics.Report(DiagnosticCodes.UnterminatedRegex, start, "unterminated regular expression: the closing / is missing",
                "a regular expression ends on the line it starts on; write \\/ for a slash inside it");
        }

        var flagsStart = _position;
        while (terminated && IsIdentifierPart(Current))
        {
            var flag = Current;
            if (flag is not ('i' or 'm' or 's' or 'x' or 'n'))
            {
                diagnostics.Report(DiagnosticCodes.UnknownRegexFlag, _position, $"unknown regular expression flag '{flag}'",
                    "flags are i (ignore case), m (multi-line), s (single-line), x (ignore pattern whitespace), n (explicit capture)");
            }

            _position++;
        }

        var flags = _text[flagsStart.._position];
        return new SyntaxToken(SyntaxKind.RegexLiteral, Span(start), _text[start.._position],
            terminated ? new RegexValue(pattern.ToString(), flags) : null); // unterminated: no value, already reported
    }
}
