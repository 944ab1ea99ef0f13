using System.Text;
using RuleFlow.Rules.Language;

namespace RuleFlow.Rules.Formatting;

/// <summary>The result of formatting one rule file.</summary>
/// <param name="Text">The formatted text (the input unchanged when it has syntax errors).</param>
/// <param name="Changed">True when <paramref name="Text"/> differs from the input.</param>
/// <param name="Diagnostics">Lexical and syntax errors that prevented formatting (empty when formatted).</param>
public sealed record FormatResult(string Text, bool Changed, IReadOnlyList<Diagnostic> Diagnostics);

/// <summary>
/// The canonical layout of rule files (<c>ruleflow fmt</c>): one declaration per paragraph, clauses and options on their own lines
/// indented by 4, <c>when</c>/<c>then</c>/<c>end</c> and storm-control clauses at the margin, one condition element or action per line,
/// single spaces around operators and after commas and colons, none inside parentheses and brackets, <c>{ a: 1 }</c> for maps.
/// Every comment is kept (a comment after code stays on its line). Line breaks written inside brackets are kept, re-indented.
/// Raw strings are kept byte for byte. Formatting is idempotent and does not change what the rules do. A file with lexical or syntax
/// errors is returned unchanged with its errors.
/// </summary>
public static class RuleFormatter
{
    private const string Indent = "    ";

    /// <summary>Formats one rule file.</summary>
    /// <param name="text">The file's text.</param>
    /// <param name="path">Its path, for diagnostics.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static FormatResult Format(string text, string path = "input.rules")
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(path);
        var source = new SourceText(path, text);
        var bag = new DiagnosticBag(source);
        var unit = Parser.Parse(source, bag, out var tokens);
        var errors = bag.Items.Where(d => d.Severity == DiagnosticSeverity.Error && d.Code.StartsWith("RF1", StringComparison.Ordinal)).ToList();
        if (errors.Count > 0)
        {
            return new FormatResult(text, false, errors);
        }

        var formatted = new Writer(text, tokens, unit).Write();
        return new FormatResult(formatted, !string.Equals(formatted, text, StringComparison.Ordinal), []);
    }

    private sealed class Writer
    {
        private readonly string _text;
        private readonly IReadOnlyList<SyntaxToken> _tokens;

        // The optional 'and' between two condition elements (one element per line is the canonical form), when no comment hangs on it.
        private readonly HashSet<int> _dropped = [];
        private readonly Dictionary<int, (int Indent, bool BlankBefore)> _breaks = [];
        private readonly StringBuilder _out = new();
        private int _depth;

        public Writer(string text, IReadOnlyList<SyntaxToken> tokens, CompilationUnitSyntax unit)
        {
            _text = text;
            _tokens = tokens;
            var byStart = new Dictionary<int, int>();
            for (var i = 0; i < tokens.Count; i++)
            {
                byStart.TryAdd(tokens[i].Span.Start, i);
            }

            void Break(TextSpan span, int indent, bool blank = false)
            {
                if (span.Length >= 0 && byStart.TryGetValue(span.Start, out var index) && !tokens[index].IsMissing)
                {
                    _breaks[index] = (indent, blank || (_breaks.TryGetValue(index, out var b) && b.BlankBefore));
                }
            }

            MemberSyntax? previous = null;
            foreach (var member in unit.Members)
            {
                var blank = previous is not null && !(previous is ImportDeclarationSyntax or NamespaceDeclarationSyntax
                                                        && member is ImportDeclarationSyntax or NamespaceDeclarationSyntax);
                Break(member.Span, 0, blank);
                switch (member)
                {
                    case EventDeclarationSyntax declaration:
                        foreach (var clause in declaration.Clauses)
                        {
                            Break(clause.Span, 1);
                        }

                        break;
                    case RuleDeclarationSyntax rule:
                        foreach (var option in rule.Options)
                        {
                            Break(option.Span, 1);
                        }

                        Break(rule.WhenKeyword.Span, 0);
                        for (var e = 1; e < rule.Elements.Count; e++)
                        {
                            // The token just before an element, when it is an 'and' after the previous element.
                            if (byStart.TryGetValue(rule.Elements[e].Span.Start, out var next) && next > 0
                                && tokens[next - 1] is { Kind: SyntaxKind.Identifier, Text: "and", LeadingTrivia.Count: 0 } joiner
                                && joiner.Span.Start >= rule.Elements[e - 1].Span.End)
                            {
                                _dropped.Add(next - 1);
                            }
                        }

                        foreach (var element in rule.Elements)
                        {
                            if (element is SequenceElementSyntax sequence)
                            {
                                Break(sequence.Steps[0].Span, 1);
                                continue;
                            }

                            Break(element.Span, 1);
                        }

                        Break(rule.ThenKeyword.Span, 0);
                        foreach (var action in rule.Actions)
                        {
                            Break(action.Span, 1);
                        }

                        foreach (var clause in rule.Clauses)
                        {
                            Break(clause.Span, 0);
                        }

                        Break(rule.EndKeyword.Span, 0);
                        break;
                }

                previous = member;
            }
        }

        private bool OriginalLineBreakBefore(int index) =>
            index > 0 && _text.AsSpan(_tokens[index - 1].Span.End, Math.Max(0, _tokens[index].Span.Start - _tokens[index - 1].Span.End)).IndexOfAny('\n', '\r') >= 0
            && !_tokens[index].LeadingTrivia.Any(t => CommentOnOwnLine(index, t) is false);

        private bool? CommentOnOwnLine(int index, SyntaxTrivia comment)
        {
            var from = index > 0 ? _tokens[index - 1].Span.End : 0;
            if (index == 0 || comment.Span.Start < from)
            {
                return true;
            }

            return _text.AsSpan(from, comment.Span.Start - from).IndexOfAny('\n', '\r') >= 0;
        }

        public string Write()
        {
            var lineIndent = 0;
            var atLineStart = true;
            for (var i = 0; i < _tokens.Count; i++)
            {
                var token = _tokens[i];
                if (token.IsMissing || _dropped.Contains(i))
                {
                    continue;
                }

                // Comments before the token.
                foreach (var comment in token.LeadingTrivia)
                {
                    if (CommentOnOwnLine(i, comment) is false && !atLineStart)
                    {
                        _out.Append("  ").Append(comment.Text.TrimEnd());
                        NewLine();
                        atLineStart = true;
                        continue;
                    }

                    if (!atLineStart)
                    {
                        NewLine();
                    }

                    var indent = _breaks.TryGetValue(i, out var b) ? b.Indent : lineIndent + (_depth > 0 ? _depth : 0);
                    if (_breaks.TryGetValue(i, out var blank) && blank.BlankBefore && _out.Length > 0 && !EndsWithBlankLine())
                    {
                        NewLine();
                    }

                    AppendIndent(indent);
                    _out.Append(comment.Text.TrimEnd());
                    NewLine();
                    atLineStart = true;
                }

                if (token.Kind == SyntaxKind.EndOfFile)
                {
                    break;
                }

                if (_breaks.TryGetValue(i, out var br))
                {
                    if (!atLineStart)
                    {
                        NewLine();
                    }

                    if (br.BlankBefore && _out.Length > 0 && !EndsWithBlankLine() && !PreviousLineIsComment())
                    {
                        NewLine();
                    }

                    lineIndent = br.Indent;
                    _depth = 0;
                    AppendIndent(lineIndent);
                    atLineStart = false;
                }
                else if (!atLineStart && _depth > 0 && OriginalLineBreakBefore(i))
                {
                    NewLine();
                    AppendIndent(lineIndent + _depth + (token.Kind is SyntaxKind.CloseBrace or SyntaxKind.CloseBracket or SyntaxKind.CloseParen ? -1 : 0));
                }
                else if (atLineStart)
                {
                    AppendIndent(lineIndent + _depth);
                    atLineStart = false;
                }
                else if (Space(i))
                {
                    _out.Append(' ');
                }

                _out.Append(token.Text);
                if (token.Kind is SyntaxKind.OpenParen or SyntaxKind.OpenBrace or SyntaxKind.OpenBracket)
                {
                    _depth++;
                }
                else if (token.Kind is SyntaxKind.CloseParen or SyntaxKind.CloseBrace or SyntaxKind.CloseBracket)
                {
                    _depth = Math.Max(0, _depth - 1);
                }

                atLineStart = false;
            }

            var result = _out.ToString().TrimEnd('\n', ' ') + "\n";
            return result == "\n" ? "" : result;
        }

        private bool EndsWithBlankLine() => _out.Length >= 2 && _out[^1] == '\n' && _out[^2] == '\n';

        private bool PreviousLineIsComment()
        {
            var text = _out.ToString().TrimEnd('\n');
            var last = text[(text.LastIndexOf('\n') + 1)..].TrimStart();
            return last.StartsWith('#') || last.StartsWith("//", StringComparison.Ordinal);
        }

        private void NewLine()
        {
            while (_out.Length > 0 && _out[^1] == ' ')
            {
                _out.Length--;
            }

            _out.Append('\n');
        }

        private void AppendIndent(int level)
        {
            for (var i = 0; i < Math.Max(0, level); i++)
            {
                _out.Append(Indent);
            }
        }

        private static bool IsValue(SyntaxToken t) => t.Kind is SyntaxKind.Identifier or SyntaxKind.StringLiteral or SyntaxKind.NumberLiteral
            or SyntaxKind.DurationLiteral or SyntaxKind.TimestampLiteral or SyntaxKind.IpLiteral or SyntaxKind.CidrLiteral or SyntaxKind.RegexLiteral
            or SyntaxKind.CloseParen or SyntaxKind.CloseBracket or SyntaxKind.CloseBrace;

        /// <summary>Whether a space goes between token i-1 and token i (same line).</summary>
        private bool Space(int i)
        {
            var a = _tokens[i - 1];
            var b = _tokens[i];
            var adjacent = a.Span.End == b.Span.Start;
            switch (b.Kind)
            {
                case SyntaxKind.Comma or SyntaxKind.Colon or SyntaxKind.CloseParen or SyntaxKind.CloseBracket or SyntaxKind.Dot or SyntaxKind.DotDot or SyntaxKind.Question:
                    return false;
                case SyntaxKind.CloseBrace:
                    return a.Kind != SyntaxKind.OpenBrace;
                case SyntaxKind.OpenParen:
                    return !(a.Kind == SyntaxKind.Identifier && (adjacent || !IsKeywordLike(a)));
                case SyntaxKind.OpenBracket:
                    return !(adjacent && IsValue(a));
                case SyntaxKind.Minus when a.Kind == SyntaxKind.Identifier && adjacent && i + 1 < _tokens.Count && _tokens[i + 1].Span.Start == b.Span.End:
                    return false; // a-b inside a type name
            }

            switch (a.Kind)
            {
                case SyntaxKind.OpenParen or SyntaxKind.OpenBracket or SyntaxKind.Dot or SyntaxKind.DotDot:
                    return false;
                case SyntaxKind.OpenBrace:
                    return b.Kind != SyntaxKind.CloseBrace;
                case SyntaxKind.Minus when adjacent && (i < 2 || IsUnaryPosition(i - 1)):
                    return false;
                case SyntaxKind.Minus when adjacent && i >= 2 && _tokens[i - 2].Kind == SyntaxKind.Identifier && _tokens[i - 2].Span.End == a.Span.Start:
                    return false; // a-b inside a type name
            }

            return true;
        }

        private bool IsUnaryPosition(int minus)
        {
            if (minus == 0)
            {
                return true;
            }

            var before = _tokens[minus - 1];
            return !IsValue(before) || (before.Kind == SyntaxKind.Identifier && !before.IsQuoted
                                        && before.Text is "priority" or "and" or "or" or "not" or "in" or "matches" or "within" or "contains");
        }

        private static bool IsKeywordLike(SyntaxToken t) => !t.IsQuoted && t.Text is "and" or "or" or "not" or "in" or "matches" or "contains"
            or "startswith" or "endswith" or "when" or "then" or "exists" or "forall" or "no" or "with" or "key" or "per" or "by";
    }
}
