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
                return Single(SyntaxKind.Dot, start);
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
                return Peek(1) == '=' ? Double(SyntaxKind.EqualsEquals, start) : Single(SyntaxKind.Equals, start);
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
