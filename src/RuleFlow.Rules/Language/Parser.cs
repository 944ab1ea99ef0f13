using System.Collections.Frozen;

namespace RuleFlow.Rules.Language;

/// <summary>
/// Hand-written recursive-descent parser for rule files. Never throws on bad input: it reports a diagnostic, inserts a missing
/// token or skips to a point where parsing can go on (the next line, clause or declaration), so one pass reports every error of a
/// file. At most one syntax error is reported per token position, and none right after a lexical error, to avoid cascades.
/// Nesting (parentheses, <c>not</c>, lists, maps, calls) is limited to <see cref="MaxDepth"/> levels, and the depth of an expression
/// tree, where each operator of a chain (<c>a + b + c</c> is two levels: operators associate to the left) counts as a level too, to
/// <see cref="MaxTreeDepth"/>, so no input can exhaust the stack of the passes that walk the tree.
/// </summary>
internal sealed class Parser
{
    /// <summary>Maximum nesting of parentheses, <c>not</c>, lists, maps, calls and field types.</summary>
    public const int MaxDepth = 48;

    /// <summary>
    /// Maximum depth of an expression tree: nesting levels plus the operators of <c>+ - * / %</c> chains (each makes a level). The
    /// binder, compiler and formatter recurse once per level; 256 levels keep them well inside a 1 MB thread stack.
    /// </summary>
    public const int MaxTreeDepth = 256;

    /// <summary>Maximum condition elements (patterns and aggregates) of one rule: bounds the depth of beta-network propagation.</summary>
    public const int MaxElements = 64;

    internal static readonly FrozenSet<string> AggregateFunctions =
        new[] { "count", "sum", "avg", "min", "max", "distinct", "collect" }.ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenSet<string> ActionKeywords =
        new[] { "start", "signal", "publish", "script", "log", "insert", "update", "retract" }.ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenSet<string> DeclarationKeywords =
        new[] { "event", "fact", "rule", "import", "namespace" }.ToFrozenSet(StringComparer.Ordinal);

    internal static readonly FrozenSet<string> ReservedInExpressions =
        new[] { "and", "or", "not", "in", "matches", "contains", "startswith", "endswith" }.ToFrozenSet(StringComparer.Ordinal);

    internal static readonly FrozenSet<string> LogLevels =
        new[] { "debug", "info", "warning", "error" }.ToFrozenSet(StringComparer.Ordinal);

    private readonly IReadOnlyList<SyntaxToken> _tokens;
    private readonly DiagnosticBag _diagnostics;
    private readonly int[] _lexicalErrors;
    private int _index;
    private int _lastErrorIndex = -1;
    private int _depth;
    private bool _depthReported;

    // The deepest tree level (nesting plus chain operators) reached so far in the expression being parsed; see ParseChain.
    private int _deepest;
    private bool _treeDepthReported;

    private Parser(IReadOnlyList<SyntaxToken> tokens, DiagnosticBag diagnostics)
    {
        _tokens = tokens;
        _diagnostics = diagnostics;
        _lexicalErrors = [.. diagnostics.ErrorPositions.Order()];
    }

    /// <summary>Lexes and parses one file. Diagnostics go to <paramref name="diagnostics"/>.</summary>
    public static CompilationUnitSyntax Parse(SourceText source, DiagnosticBag diagnostics) => Parse(source, diagnostics, out _);

    /// <summary>Lexes and parses one file, also giving its tokens (for the formatter).</summary>
    public static CompilationUnitSyntax Parse(SourceText source, DiagnosticBag diagnostics, out IReadOnlyList<SyntaxToken> tokens)
    {
        tokens = Lexer.Tokenize(source, diagnostics);
        return new Parser(tokens, diagnostics).ParseCompilationUnit();
    }

    /// <summary>Parses a standalone expression (used by rule test files for event bodies and expectations).</summary>
    internal static ExpressionSyntax ParseStandaloneExpression(IReadOnlyList<SyntaxToken> tokens, DiagnosticBag diagnostics, ref int index)
    {
        var parser = new Parser(tokens, diagnostics) { _index = index };
        var expression = parser.ParseExpression();
        index = parser._index;
        return expression;
    }

    // ---- token access ----------------------------------------------------------------------------------------------

    private SyntaxToken Current => _tokens[_index];

    private SyntaxToken Peek(int offset) => _tokens[Math.Min(_index + offset, _tokens.Count - 1)];

    private SyntaxToken Previous => _index > 0 ? _tokens[_index - 1] : _tokens[0];

    private bool AtEnd => Current.Kind == SyntaxKind.EndOfFile;

    private SyntaxToken Advance()
    {
        var token = Current;
        if (!AtEnd)
        {
            _index++;
        }

        return token;
    }

    private bool IsKeyword(string keyword) => Current.IsKeyword(keyword);

    private bool IsDeclarationKeywordAt(int offset) =>
        Peek(offset).Kind == SyntaxKind.Identifier && !Peek(offset).IsQuoted && DeclarationKeywords.Contains(Peek(offset).Text)
        && Peek(offset + 1).Kind is not (SyntaxKind.Colon or SyntaxKind.OpenParen or SyntaxKind.Dot);

    private bool AtDeclarationStart => AtEnd || (Current.AtLineStart && IsDeclarationKeywordAt(0));

    private bool AtClauseStart => IsKeyword("throttle") || (IsKeyword("group") && Peek(1).IsKeyword("by"));

    private bool AtRuleSection => IsKeyword("when") || IsKeyword("then") || IsKeyword("end") || AtClauseStart || AtDeclarationStart;

    // ---- errors ----------------------------------------------------------------------------------------------------

    private void Error(DiagnosticDescriptor descriptor, string message, string? hint = null, bool atPreviousEnd = false)
    {
        if (_index == _lastErrorIndex)
        {
            return;
        }

        _lastErrorIndex = _index;
        var from = _index > 0 ? Previous.Span.Start : 0;
        if (HasLexicalErrorBetween(from, Current.Span.End))
        {
            return; // the lexer already reported what went wrong here
        }

        var position = atPreviousEnd && _index > 0 ? Previous.Span.End : Current.Span.Start;
        _diagnostics.Report(descriptor, position, message, hint);
    }

    /// <summary>Reports "expected X" at the token, or at the end of the previous token when the token starts a new line.</summary>
    private void ErrorExpected(string what, string? hint = null) =>
        Error(DiagnosticCodes.Expected, $"expected {what}, found {Describe(Current)}", hint,
            atPreviousEnd: _index > 0 && (Current.AtLineStart || AtEnd));

    private bool HasLexicalErrorBetween(int from, int to)
    {
        var i = Array.BinarySearch(_lexicalErrors, from);
        if (i < 0)
        {
            i = ~i;
        }

        return i < _lexicalErrors.Length && _lexicalErrors[i] <= to;
    }

    internal static string Describe(SyntaxToken token) => token.Kind switch
    {
        SyntaxKind.EndOfFile => "end of file",
        SyntaxKind.StringLiteral => "string " + Truncate(token.Text),
        SyntaxKind.RegexLiteral => "regular expression " + Truncate(token.Text),
        _ => "'" + Truncate(token.Text) + "'",
    };

    private static string Truncate(string s)
    {
        var firstLine = s.Split('\n')[0];
        return firstLine.Length <= 40 && firstLine.Length == s.Length ? s : firstLine[..Math.Min(37, firstLine.Length)] + "...";
    }

    private SyntaxToken Expect(SyntaxKind kind, string what, string? hint = null)
    {
        if (Current.Kind == kind)
        {
            return Advance();
        }

        ErrorExpected(what, hint);
        return SyntaxToken.Missing(kind, _index > 0 ? Previous.Span.End : Current.Span.Start);
    }

    private SyntaxToken ExpectKeyword(string keyword, string? hint = null)
    {
        if (IsKeyword(keyword))
        {
            return Advance();
        }

        ErrorExpected($"'{keyword}'", hint);
        return SyntaxToken.Missing(SyntaxKind.Identifier, _index > 0 ? Previous.Span.End : Current.Span.Start);
    }

    private void SkipToLineStart()
    {
        while (!AtEnd && !Current.AtLineStart)
        {
            Advance();
        }
    }

    private void SkipRestOfLine()
    {
        Advance();
        SkipToLineStart();
    }

    private void SkipInRuleFromHere()
    {
        while (!AtEnd && !Current.AtLineStart && !AtRuleSection)
        {
            Advance();
        }
    }

    /// <summary>Inside a rule: skips the current token and the rest of the line, stopping early at when/then/end/throttle.</summary>
    private void SkipInRule()
    {
        Advance();
        SkipInRuleFromHere();
    }

    private bool EnterNesting()
    {
        if (_depth < MaxDepth)
        {
            _depth++;
            _deepest = Math.Max(_deepest, _depth);
            return true;
        }

        if (!_depthReported)
        {
            _depthReported = true;
            _diagnostics.Report(DiagnosticCodes.NestedTooDeeply, _index > 0 ? Previous.Span.Start : Current.Span.Start,
                $"nested more than {MaxDepth} levels deep", "split the condition or the value into simpler parts");
        }

        _lastErrorIndex = _index;
        return false;
    }

    private TextSpan SpanFrom(int startIndex)
    {
        var start = _tokens[Math.Min(startIndex, _tokens.Count - 1)].Span.Start;
        var end = _index > startIndex ? Previous.Span.End : start;
        return TextSpan.FromBounds(start, Math.Max(start, end));
    }

    /// <summary>True when the rest of the current line after this point is empty (the action or clause ends here).</summary>
    private bool AtItemEnd => AtEnd || Current.AtLineStart || AtRuleSection;

    // ---- file ------------------------------------------------------------------------------------------------------

    private CompilationUnitSyntax ParseCompilationUnit()
    {
        var members = new List<MemberSyntax>();
        var seenOther = false;
        while (!AtEnd)
        {
            var start = _index;
            if (IsKeyword("event") || IsKeyword("fact"))
            {
                members.Add(ParseEventDeclaration());
                seenOther = true;
            }
            else if (IsKeyword("rule"))
            {
                members.Add(ParseRule());
                seenOther = true;
            }
            else if (IsKeyword("namespace") && Peek(1).Kind == SyntaxKind.Identifier)
            {
                var keyword = Advance();
                var name = ParseTypeName("a namespace name such as netops");
                if (seenOther || members.OfType<NamespaceDeclarationSyntax>().Any())
                {
                    _diagnostics.Report(DiagnosticCodes.MisplacedNamespace, keyword.Span,
                        "'namespace' must come once, before every other declaration of the file", "move it to the top of the file");
                }

                members.Add(new NamespaceDeclarationSyntax(SpanFrom(start), keyword, name));
                EndOfLineDeclaration();
            }
            else if (IsKeyword("import") && Peek(1).Kind is SyntaxKind.StringLiteral or SyntaxKind.Identifier)
            {
                var keyword = Advance();
                if (Current.Kind == SyntaxKind.StringLiteral)
                {
                    var file = Advance();
                    members.Add(new ImportDeclarationSyntax(SpanFrom(start), keyword, file, null));
                }
                else
                {
                    var name = ParseTypeName("a namespace name");
                    members.Add(new ImportDeclarationSyntax(SpanFrom(start), keyword, null, name));
                }

                seenOther = true;
                EndOfLineDeclaration();
            }
            else
            {
                Error(DiagnosticCodes.ExpectedDeclaration, $"expected 'event', 'fact' or 'rule', found {Describe(Current)}",
                    IsKeyword("when") || IsKeyword("then") || IsKeyword("end")
                        ? "a rule starts with: rule \"name\""
                        : "a rule file holds event and fact declarations (event ssh.auth ...) and rules (rule \"name\" when ... then ... end)");
                Advance();
                while (!AtDeclarationStart)
                {
                    Advance();
                }
            }

            if (_index == start)
            {
                Advance();
            }
        }

        return new CompilationUnitSyntax(TextSpan.FromBounds(0, Current.Span.End), members, Current);
    }

    private void EndOfLineDeclaration()
    {
        if (!AtEnd && !Current.AtLineStart)
        {
            ErrorExpected("the end of the line");
            SkipToLineStart();
        }
    }

    // ---- event declarations ----------------------------------------------------------------------------------------

    private EventDeclarationSyntax ParseEventDeclaration()
    {
        var start = _index;
        var keyword = Advance();
        var isFact = keyword.Text == "fact";
        var name = ParseTypeName(isFact ? "a fact type name such as Device" : "an event type name such as ssh.auth");
        var clauses = new List<EventClauseSyntax>();
        var seen = new HashSet<string>();
        while (!AtEnd && !IsDeclarationKeywordAt(0))
        {
            var clauseStart = _index;
            EventClauseSyntax? clause = null;
            if (IsKeyword("from"))
            {
                clause = ParseFromClause();
            }
            else if (IsKeyword("key"))
            {
                var kw = Advance();
                var field = ParsePath("a field name after 'key'");
                clause = new KeyClauseSyntax(SpanFrom(clauseStart), kw, field);
            }
            else if (IsKeyword("time"))
            {
                var kw = Advance();
                var field = ParsePath("a field name after 'time'");
                clause = new TimeClauseSyntax(SpanFrom(clauseStart), kw, field);
            }
            else if (IsKeyword("fields"))
            {
                clause = ParseFieldsClause();
            }
            else if (IsKeyword("dedup"))
            {
                clause = ParseDedupClause();
            }
            else
            {
                Error(DiagnosticCodes.UnknownEventClause,
                    $"unknown clause {Describe(Current)} in the declaration of {(isFact ? "fact" : "event")} {name.Name}",
                    "the clauses are: from exchange \"x\" routing \"pattern\", key <field>, time <field>, fields { name: type }, dedup by <fields> within <duration>");
                SkipRestOfLine();
                continue;
            }

            if (!seen.Add(clause.Keyword.Text))
            {
                _diagnostics.Report(DiagnosticCodes.DuplicateClause, clause.Keyword.Span,
                    $"'{clause.Keyword.Text}' is given twice in the declaration of {name.Name}", "keep one of them");
            }

            clauses.Add(clause);
            if (_index == clauseStart)
            {
                Advance();
            }
        }

        return new EventDeclarationSyntax(SpanFrom(start), keyword, name, clauses);
    }

    private DedupClauseSyntax ParseDedupClause()
    {
        var start = _index;
        var keyword = Advance();
        ExpectKeyword("by", "dedup by src_ip, message within 10s");
        var fields = new List<PathExpressionSyntax> { ParsePath("a field name after 'dedup by'") };
        while (Current.Kind == SyntaxKind.Comma)
        {
            Advance();
            fields.Add(ParsePath("a field name"));
        }

        SyntaxToken? window = null;
        if (IsKeyword("within"))
        {
            Advance();
            window = ParseDuration("a duration such as 10s after 'within'");
        }
        else
        {
            ErrorExpected("'within <duration>' after the dedup fields", "dedup by src_ip, message within 10s");
        }

        return new DedupClauseSyntax(SpanFrom(start), keyword, fields, window);
    }

    private FromClauseSyntax ParseFromClause()
    {
        var start = _index;
        var keyword = Advance();
        SyntaxToken? exchange = null;
        SyntaxToken? routing = null;
        while (true)
        {
            if (IsKeyword("exchange"))
            {
                var kw = Advance();
                if (exchange is not null)
                {
                    _diagnostics.Report(DiagnosticCodes.DuplicateClause, kw.Span, "'exchange' is given twice in one 'from' clause");
                }

                exchange = Expect(SyntaxKind.StringLiteral, "the exchange name in double quotes, e.g. \"security.events\"");
            }
            else if (IsKeyword("routing"))
            {
                var kw = Advance();
                if (routing is not null)
                {
                    _diagnostics.Report(DiagnosticCodes.DuplicateClause, kw.Span, "'routing' is given twice in one 'from' clause");
                }

                routing = Expect(SyntaxKind.StringLiteral, "a routing pattern in double quotes, e.g. \"ssh.#\"");
            }
            else
            {
                break;
            }
        }

        if (exchange is null && routing is null)
        {
            ErrorExpected("'exchange \"name\"' or 'routing \"pattern\"' after 'from'");
        }

        return new FromClauseSyntax(SpanFrom(start), keyword, exchange, routing);
    }

    private FieldsClauseSyntax ParseFieldsClause()
    {
        var start = _index;
        var keyword = Advance();
        var fields = Current.Kind == SyntaxKind.OpenBrace ? ParseFieldBlock() : null;
        if (fields is null)
        {
            ErrorExpected("'{' after 'fields'", "fields { src_ip: string, pid: number }");
            SkipToLineStart();
        }

        return new FieldsClauseSyntax(SpanFrom(start), keyword, fields ?? []);
    }

    /// <summary><c>{ name: type [,|newline] ... }</c>; the current token is the opening brace.</summary>
    private List<FieldDeclarationSyntax> ParseFieldBlock()
    {
        var fields = new List<FieldDeclarationSyntax>();
        Advance(); // {
        if (!EnterNesting())
        {
            SkipBalanced(SyntaxKind.OpenBrace, SyntaxKind.CloseBrace);
            return fields;
        }

        try
        {
            while (!AtEnd && Current.Kind != SyntaxKind.CloseBrace)
            {
                var entryStart = _index;
                if (Current.Kind is not (SyntaxKind.Identifier or SyntaxKind.StringLiteral))
                {
                    ErrorExpected("a field name");
                    SkipUntilSeparator(SyntaxKind.CloseBrace);
                }
                else
                {
                    var name = Advance();
                    Expect(SyntaxKind.Colon, "':' and a type after the field name", "e.g. pid: number");
                    var type = ParseType();
                    var optional = Current.Kind == SyntaxKind.Question ? Advance() : null; // `name: type?`: the producer may leave it out
                    fields.Add(new FieldDeclarationSyntax(SpanFrom(entryStart), name, type, optional));
                }

                if (Current.Kind == SyntaxKind.Comma)
                {
                    Advance();
                }
                else if (Current.Kind != SyntaxKind.CloseBrace && !Current.AtLineStart && !AtEnd)
                {
                    ErrorExpected("',' or '}'");
                    SkipUntilSeparator(SyntaxKind.CloseBrace);
                    if (Current.Kind == SyntaxKind.Comma)
                    {
                        Advance();
                    }
                }

                if (_index == entryStart)
                {
                    Advance();
                }

                if (AtDeclarationStart)
                {
                    break;
                }
            }

            Expect(SyntaxKind.CloseBrace, "'}'");
        }
        finally
        {
            _depth--;
        }

        return fields;
    }

    private TypeSyntax ParseType()
    {
        var start = _index;
        if (Current.Kind == SyntaxKind.Identifier)
        {
            var name = Advance();
            return new NamedTypeSyntax(SpanFrom(start), name);
        }

        if (Current.Kind == SyntaxKind.OpenBrace)
        {
            var fields = ParseFieldBlock();
            return new ObjectTypeSyntax(SpanFrom(start), fields);
        }

        if (Current.Kind == SyntaxKind.OpenBracket)
        {
            Advance();
            if (!EnterNesting())
            {
                SkipBalanced(SyntaxKind.OpenBracket, SyntaxKind.CloseBracket);
                return new NamedTypeSyntax(SpanFrom(start), SyntaxToken.Missing(SyntaxKind.Identifier, Current.Span.Start));
            }

            try
            {
                var element = ParseType();
                if (Current.Kind == SyntaxKind.Question)
                {
                    Advance(); // `[string?]`: accepted (an item may be null); only a top-level field's `?` counts
                }

                Expect(SyntaxKind.CloseBracket, "']'");
                return new ArrayTypeSyntax(SpanFrom(start), element);
            }
            finally
            {
                _depth--;
            }
        }

        ErrorExpected("a type (string, number, bool, time, object, array, any, { ... } or [type])");
        return new NamedTypeSyntax(SpanFrom(start), SyntaxToken.Missing(SyntaxKind.Identifier, Current.Span.Start));
    }

    private void SkipBalanced(SyntaxKind open, SyntaxKind close)
    {
        var depth = 1;
        while (!AtEnd && depth > 0)
        {
            if (Current.Kind == open)
            {
                depth++;
            }
            else if (Current.Kind == close)
            {
                depth--;
            }

            Advance();
        }
    }

    /// <summary>Skips to a comma or the closing token at nesting depth 0, or to a new line / declaration start.</summary>
    private void SkipUntilSeparator(SyntaxKind close)
    {
        var depth = 0;
        var first = true;
        while (!AtEnd)
        {
            var kind = Current.Kind;
            if (!first && Current.AtLineStart && depth == 0)
            {
                return;
            }

            if (depth == 0 && (kind == SyntaxKind.Comma || kind == close))
            {
                return;
            }

            if (kind is SyntaxKind.OpenParen or SyntaxKind.OpenBrace or SyntaxKind.OpenBracket)
            {
                depth++;
            }
            else if (kind is SyntaxKind.CloseParen or SyntaxKind.CloseBrace or SyntaxKind.CloseBracket)
            {
                if (depth == 0)
                {
                    return;
                }

                depth--;
            }

            Advance();
            first = false;
        }
    }

    /// <summary>A dotted type name; segments are names (or quoted names), and <c>a-b</c> written without spaces is one segment.</summary>
    private QualifiedNameSyntax ParseTypeName(string what)
    {
        var start = _index;
        var segments = new List<SyntaxToken>();
        if (Current.Kind != SyntaxKind.Identifier)
        {
            ErrorExpected(what);
            segments.Add(SyntaxToken.Missing(SyntaxKind.Identifier, Current.Span.Start));
            return new QualifiedNameSyntax(SpanFrom(start), segments);
        }

        segments.Add(ParseNameSegment());
        while (Current.Kind == SyntaxKind.Dot && Peek(1).Kind == SyntaxKind.Identifier)
        {
            Advance();
            segments.Add(ParseNameSegment());
        }

        return new QualifiedNameSyntax(SpanFrom(start), segments);
    }

    private SyntaxToken ParseNameSegment()
    {
        var first = Advance();
        if (first.IsQuoted)
        {
            return first;
        }

        var text = first.Text;
        var end = first.Span.End;
        while (Current.Kind == SyntaxKind.Minus && Current.Span.Start == end
               && Peek(1).Kind is SyntaxKind.Identifier or SyntaxKind.NumberLiteral && !Peek(1).IsQuoted && Peek(1).Span.Start == Current.Span.End)
        {
            Advance();
            var part = Advance();
            text += "-" + part.Text;
            end = part.Span.End;
        }

        return end == first.Span.End ? first : first with { Span = TextSpan.FromBounds(first.Span.Start, end), Text = text, Value = text };
    }

    /// <summary>
    /// True when a pattern starts at <paramref name="offset"/>: <c>name:</c> followed by a name, or a type name (dotted, with
    /// hyphenated segments) followed by <c>(</c>.
    /// </summary>
    private bool IsPatternStartAt(int offset)
    {
        var token = Peek(offset);
        if (token.Kind != SyntaxKind.Identifier)
        {
            return false;
        }

        if (Peek(offset + 1).Kind == SyntaxKind.Colon)
        {
            return Peek(offset + 2).Kind == SyntaxKind.Identifier;
        }

        var i = offset + 1;
        while (true)
        {
            var kind = Peek(i).Kind;
            if (kind == SyntaxKind.OpenParen)
            {
                return true;
            }

            if (kind is SyntaxKind.Dot or SyntaxKind.Minus && Peek(i + 1).Kind is SyntaxKind.Identifier or SyntaxKind.NumberLiteral)
            {
                i += 2;
                continue;
            }

            return false;
        }
    }

    // ---- rules -----------------------------------------------------------------------------------------------------

    private RuleDeclarationSyntax ParseRule()
    {
        var start = _index;
        var keyword = Advance();
        SyntaxToken name;
        if (Current.Kind == SyntaxKind.StringLiteral || (Current.Kind == SyntaxKind.Identifier && !AtRuleSection && !Current.AtLineStart))
        {
            name = Advance();
        }
        else
        {
            ErrorExpected("a rule name in double quotes", "rule \"ssh-bruteforce\"");
            name = SyntaxToken.Missing(SyntaxKind.StringLiteral, Previous.Span.End);
        }

        var ruleName = name.ValueText;
        var options = ParseRuleOptions(ruleName);

        var when = ExpectKeyword("when", $"the conditions of rule \"{ruleName}\" follow 'when'");
        var elements = new List<ElementSyntax>();
        var elementsStart = _index;
        while (!AtEnd && !IsKeyword("then") && !IsKeyword("end") && !AtClauseStart && !AtDeclarationStart)
        {
            var elementStart = _index;
            var element = ParseElement();
            if (element is not null)
            {
                elements.Add(element);
                if (elements.Count == MaxElements + 1)
                {
                    _diagnostics.Report(DiagnosticCodes.TooManyElements, element.Span,
                        $"rule \"{ruleName}\" has more than {MaxElements} patterns and aggregates", "split it into several rules");
                }
            }

            // Elements are joined by 'and' whether it is written or not: 'd: deploy() and not healthy(host == d.host) within 5m' reads
            // as the author thinks it; one element per line is the canonical form (ruleflow fmt drops the word).
            if (element is not null && IsKeyword("and") && Peek(1).Kind == SyntaxKind.Identifier)
            {
                Advance();
            }

            if (_index == elementStart)
            {
                Advance();
            }
        }

        if (elements.Count == 0 && !when.IsMissing && _index == elementsStart)
        {
            _diagnostics.Report(DiagnosticCodes.NoConditions, when.Span, $"rule \"{ruleName}\" has no conditions after 'when'",
                "add a pattern such as f: ssh.auth(message matches /^Failed password/)");
        }

        var then = ExpectKeyword("then", $"the actions of rule \"{ruleName}\" follow 'then'");
        var actions = new List<ActionSyntax>();
        var actionsStart = _index;
        while (!AtEnd && !IsKeyword("end") && !AtClauseStart && !AtDeclarationStart)
        {
            var actionStart = _index;
            var action = ParseAction();
            if (action is not null)
            {
                actions.Add(action);
            }

            if (_index == actionStart)
            {
                Advance();
            }
        }

        if (actions.Count == 0 && !then.IsMissing && _index == actionsStart)
        {
            _diagnostics.Report(DiagnosticCodes.NoActions, then.Span, $"rule \"{ruleName}\" has no actions after 'then'",
                "add an action such as start workflow \"block-source-ip\" with { ip: f.src_ip }");
        }

        var clauses = new List<RuleClauseSyntax>();
        while (AtClauseStart)
        {
            RuleClauseSyntax clause = IsKeyword("throttle") ? ParseThrottle() : ParseGroupBy();
            if (clauses.Any(c => c.Keyword.Text == clause.Keyword.Text))
            {
                _diagnostics.Report(DiagnosticCodes.DuplicateClause, clause.Keyword.Span, $"rule \"{ruleName}\" has more than one '{clause.Keyword.Text}'");
            }

            clauses.Add(clause);
        }

        var end = ExpectKeyword("end", $"close rule \"{ruleName}\" with 'end'");
        if (end.IsMissing)
        {
            while (!AtDeclarationStart)
            {
                Advance();
            }
        }

        return new RuleDeclarationSyntax(SpanFrom(start), keyword, name, options, elements, actions, clauses, when, then, end);
    }

    private List<RuleOptionSyntax> ParseRuleOptions(string ruleName)
    {
        var options = new List<RuleOptionSyntax>();
        var seen = new HashSet<string>();
        while (!AtEnd && !AtRuleSection && !LooksLikeElementStart())
        {
            var optionStart = _index;
            RuleOptionSyntax? option = null;
            if (IsKeyword("priority"))
            {
                var kw = Advance();
                var negative = false;
                if (Current.Kind == SyntaxKind.Minus)
                {
                    Advance();
                    negative = true;
                }

                var value = Expect(SyntaxKind.NumberLiteral, "a whole number after 'priority'", "priority 10 (higher fires first)");
                option = new PriorityOptionSyntax(SpanFrom(optionStart), kw, negative, value);
            }
            else if (IsKeyword("description") || IsKeyword("owner") || IsKeyword("runbook"))
            {
                var kw = Advance();
                var text = Expect(SyntaxKind.StringLiteral, $"a text in double quotes after '{kw.Text}'");
                option = new DescriptionOptionSyntax(SpanFrom(optionStart), kw, text);
            }
            else if (IsKeyword("tags"))
            {
                var kw = Advance();
                var tags = new List<SyntaxToken> { Expect(SyntaxKind.StringLiteral, "a tag in double quotes after 'tags'", "tags \"network\", \"ssh\"") };
                while (Current.Kind == SyntaxKind.Comma)
                {
                    Advance();
                    tags.Add(Expect(SyntaxKind.StringLiteral, "a tag in double quotes"));
                }

                option = new TagsOptionSyntax(SpanFrom(optionStart), kw, tags);
            }
            else if (IsKeyword("enabled"))
            {
                var kw = Advance();
                var enabled = true;
                if (IsKeyword("true") || IsKeyword("false"))
                {
                    enabled = Advance().Text == "true";
                }
                else
                {
                    ErrorExpected("true or false after 'enabled'", "enabled false (or: disabled)");
                }

                option = new EnabledOptionSyntax(SpanFrom(optionStart), kw, enabled);
            }
            else if (IsKeyword("disabled"))
            {
                var kw = Advance();
                option = new EnabledOptionSyntax(SpanFrom(optionStart), kw, false);
            }
            else
            {
                Error(DiagnosticCodes.UnknownRuleOption, $"unknown rule option {Describe(Current)} in rule \"{ruleName}\"",
                    "after the rule name come priority N, description \"...\", tags \"a\", \"b\", owner \"...\", runbook \"url\", enabled true|false; then 'when'");
                SkipInRule();
                continue;
            }

            var optionName = option is EnabledOptionSyntax ? "enabled" : option.Keyword.Text;
            if (!seen.Add(optionName))
            {
                _diagnostics.Report(DiagnosticCodes.DuplicateClause, option.Keyword.Span,
                    $"'{option.Keyword.Text}' is given twice in rule \"{ruleName}\"", "keep one of them");
            }

            options.Add(option);
            if (_index == optionStart)
            {
                Advance();
            }
        }

        return options;
    }

    private bool LooksLikeElementStart()
    {
        if (Current.Kind != SyntaxKind.Identifier)
        {
            return false;
        }

        var next = Peek(1).Kind;
        return next is SyntaxKind.Colon or SyntaxKind.OpenParen
               || (next == SyntaxKind.Dot && Peek(2).Kind == SyntaxKind.Identifier && Peek(3).Kind is SyntaxKind.OpenParen or SyntaxKind.Dot)
               || (IsQuantifierKeyword() && Peek(1).Kind == SyntaxKind.Identifier);
    }

    private bool IsQuantifierKeyword() => IsKeyword("not") || IsKeyword("exists") || IsKeyword("forall") || IsKeyword("no");

    private ElementSyntax? ParseElement()
    {
        var start = _index;
        SyntaxToken? binding = null;
        if (Current.Kind == SyntaxKind.Identifier && Peek(1).Kind == SyntaxKind.Colon)
        {
            binding = Advance();
            Advance();
        }

        if (IsQuantifierKeyword() && Peek(1).Kind == SyntaxKind.Identifier)
        {
            var quantifier = Advance();
            switch (quantifier.Text)
            {
                case "no":
                {
                    var pattern = ParsePattern();
                    SyntaxToken? duration = null;
                    var per = new List<ExpressionSyntax>();
                    if (IsKeyword("for"))
                    {
                        Advance();
                        duration = ParseDuration("a duration such as 26h after 'for'");
                    }
                    else
                    {
                        ErrorExpected("'for <duration>' after the pattern of 'no'", "no heartbeat(host == h.name) for 26h");
                    }

                    if (IsKeyword("per"))
                    {
                        Advance();
                        per.AddRange(ParseValueList());
                    }

                    return new NoElementSyntax(SpanFrom(start), binding, quantifier, pattern, duration, per);
                }

                case "forall":
                {
                    SyntaxToken? inner = null;
                    if (Current.Kind == SyntaxKind.Identifier && Peek(1).Kind == SyntaxKind.Colon)
                    {
                        inner = Advance();
                        Advance();
                    }

                    var each = ParsePattern();
                    PatternSyntax satisfies;
                    if (Current.Kind == SyntaxKind.Arrow)
                    {
                        Advance();
                        satisfies = ParsePattern();
                    }
                    else
                    {
                        ErrorExpected("'=>' and the pattern every match must have", "forall d: Device(site == s.name) => backup(device == d.name)");
                        satisfies = new PatternSyntax(new TextSpan(Current.Span.Start, 0), new QualifiedNameSyntax(new TextSpan(Current.Span.Start, 0), []), []);
                    }

                    ReportBindingNotAllowed(binding, "forall");
                    return new ForallElementSyntax(SpanFrom(start), quantifier, inner, each, satisfies);
                }

                case "exists":
                {
                    var pattern = ParsePattern();
                    ReportBindingNotAllowed(binding, "exists");
                    return new ExistsElementSyntax(SpanFrom(start), quantifier, pattern);
                }

                default:
                {
                    var pattern = ParsePattern();
                    SyntaxToken? window = null;
                    if (IsKeyword("within"))
                    {
                        Advance();
                        window = ParseDuration("a duration such as 5m after 'within'");
                    }

                    ReportBindingNotAllowed(binding, "not");
                    return new NotElementSyntax(SpanFrom(start), quantifier, pattern, window);
                }
            }
        }

        if (Current.Kind == SyntaxKind.Identifier && !Current.IsQuoted && AggregateFunctions.Contains(Current.Text)
            && Peek(1).Kind == SyntaxKind.OpenParen && IsPatternStartAt(2))
        {
            return ParseAggregate(start, binding);
        }

        if (Current.Kind == SyntaxKind.Identifier && !AtRuleSection)
        {
            var pattern = ParsePattern();
            var first = new PatternElementSyntax(SpanFrom(start), binding, pattern);
            if (!(IsKeyword("then") && IsPatternStartAt(1)))
            {
                return first;
            }

            var steps = new List<PatternElementSyntax> { first };
            while (IsKeyword("then") && IsPatternStartAt(1))
            {
                Advance();
                var stepStart = _index;
                SyntaxToken? stepBinding = null;
                if (Current.Kind == SyntaxKind.Identifier && Peek(1).Kind == SyntaxKind.Colon)
                {
                    stepBinding = Advance();
                    Advance();
                }

                var stepPattern = ParsePattern();
                steps.Add(new PatternElementSyntax(SpanFrom(stepStart), stepBinding, stepPattern));
            }

            SyntaxToken? withinKeyword = null;
            SyntaxToken? window = null;
            if (IsKeyword("within"))
            {
                withinKeyword = Advance();
                window = ParseDuration("a duration such as 2m after 'within'");
            }
            else
            {
                ErrorExpected("'within <duration>' after a sequence", "a: login() then b: sudo(user == a.user) within 2m");
            }

            return new SequenceElementSyntax(SpanFrom(start), steps, withinKeyword, window);
        }

        Error(DiagnosticCodes.ExpectedCondition,
            $"expected a pattern or an aggregate, found {Describe(Current)}",
            "a pattern: f: ssh.auth(message matches /^Failed/); an aggregate: count(ssh.auth(src_ip == f.src_ip)) within 60s >= 5");
        SkipInRule();
        return null;
    }

    private void ReportBindingNotAllowed(SyntaxToken? binding, string what)
    {
        if (binding is not null)
        {
            _diagnostics.Report(DiagnosticCodes.Expected, binding.Span, $"'{what}' takes no binding: it matches no single fact or event",
                $"remove '{binding.ValueText}:'");
        }
    }

    private PatternSyntax ParsePattern()
    {
        var start = _index;
        var type = ParseTypeName("an event type name such as ssh.auth");
        var conditions = new List<ExpressionSyntax>();
        if (Current.Kind != SyntaxKind.OpenParen)
        {
            if (!type.IsMissing)
            {
                ErrorExpected($"'(' after the type {type.Name}", $"write {type.Name}() to match every {type.Name}");
            }

            if (!AtRuleSection && !Current.AtLineStart)
            {
                SkipToLineStart();
            }

            return new PatternSyntax(SpanFrom(start), type, conditions);
        }

        Advance(); // (
        if (Current.Kind != SyntaxKind.CloseParen)
        {
            while (true)
            {
                var conditionStart = _index;
                conditions.Add(ParseExpression());
                if (Current.Kind == SyntaxKind.Comma)
                {
                    Advance();
                    if (Current.Kind == SyntaxKind.CloseParen)
                    {
                        break;
                    }

                    continue;
                }

                if (Current.Kind == SyntaxKind.CloseParen)
                {
                    break;
                }

                if (AtEnd || AtRuleSection || (Current.AtLineStart && LooksLikeElementStart()))
                {
                    ErrorExpected("')' to close the pattern");
                    return new PatternSyntax(SpanFrom(start), type, conditions);
                }

                ErrorExpected("',' or ')' after a condition");
                SkipUntilSeparator(SyntaxKind.CloseParen);
                if (Current.Kind == SyntaxKind.Comma)
                {
                    Advance();
                    continue;
                }

                if (Current.Kind != SyntaxKind.CloseParen)
                {
                    return new PatternSyntax(SpanFrom(start), type, conditions);
                }

                if (_index == conditionStart)
                {
                    Advance();
                }

                break;
            }
        }

        Expect(SyntaxKind.CloseParen, "')' to close the pattern");
        return new PatternSyntax(SpanFrom(start), type, conditions);
    }

    private AggregateElementSyntax ParseAggregate(int start, SyntaxToken? binding)
    {
        var function = Advance();
        Advance(); // (
        var pattern = ParsePattern();
        ExpressionSyntax? value = null;
        if (Current.Kind == SyntaxKind.Comma)
        {
            Advance();
            value = ParseExpression();
        }

        Expect(SyntaxKind.CloseParen, $"')' to close {function.Text}(...)");
        SyntaxToken? withinKeyword = null;
        SyntaxToken? window = null;
        SyntaxToken? last = null;
        SyntaxToken? every = null;
        var per = new List<ExpressionSyntax>();
        SyntaxToken? op = null;
        ExpressionSyntax? threshold = null;
        var perSeen = false;
        while (true)
        {
            if (IsKeyword("within"))
            {
                var kw = Advance();
                if (withinKeyword is not null)
                {
                    _diagnostics.Report(DiagnosticCodes.DuplicateClause, kw.Span, "'within' is given twice for one aggregate");
                }

                withinKeyword = kw;
                window = ParseDuration("a window length such as 60s after 'within'");
            }
            else if (IsKeyword("every"))
            {
                var kw = Advance();
                if (every is not null)
                {
                    _diagnostics.Report(DiagnosticCodes.DuplicateClause, kw.Span, "'every' is given twice for one aggregate");
                }

                every = ParseDuration("a window length such as 5m after 'every'") ?? SyntaxToken.Missing(SyntaxKind.DurationLiteral, kw.Span.End);
            }
            else if (IsKeyword("last"))
            {
                var kw = Advance();
                if (last is not null)
                {
                    _diagnostics.Report(DiagnosticCodes.DuplicateClause, kw.Span, "'last' is given twice for one aggregate");
                }

                last = Expect(SyntaxKind.NumberLiteral, "a number of events after 'last'", "last 100");
            }
            else if (IsKeyword("per"))
            {
                var kw = Advance();
                if (perSeen)
                {
                    _diagnostics.Report(DiagnosticCodes.DuplicateClause, kw.Span, "'per' is given twice for one aggregate");
                }

                perSeen = true;
                per.AddRange(ParseValueList());
            }
            else if (IsComparisonOperator(Current.Kind))
            {
                var token = Advance();
                if (op is not null)
                {
                    _diagnostics.Report(DiagnosticCodes.DuplicateClause, token.Span, "an aggregate takes one comparison");
                }

                op = token;
                threshold = ParseAdditive();
            }
            else
            {
                break;
            }
        }

        return new AggregateElementSyntax(SpanFrom(start), binding, function, pattern, value, withinKeyword, window, last, every, per, op, threshold);
    }

    private List<ExpressionSyntax> ParseValueList()
    {
        var items = new List<ExpressionSyntax> { ParsePostfix() };
        while (Current.Kind == SyntaxKind.Comma)
        {
            Advance();
            items.Add(ParsePostfix());
        }

        return items;
    }

    /// <summary>A duration token; a bare number is reported (RF1104) and returned so nothing else is reported for it.</summary>
    private SyntaxToken? ParseDuration(string what)
    {
        if (Current.Kind == SyntaxKind.DurationLiteral)
        {
            return Advance();
        }

        if (Current.Kind == SyntaxKind.NumberLiteral)
        {
            var number = Current;
            Error(DiagnosticCodes.DurationWithoutUnit, $"the duration '{number.Text}' has no unit",
                $"write {number.Text}s for seconds (units: ms, s, m, h, d)");
            return Advance();
        }

        ErrorExpected(what, "durations are written 500ms, 30s, 5m, 2h or 1d");
        return null;
    }

    // ---- actions and clauses ---------------------------------------------------------------------------------------

    private ActionSyntax? ParseAction()
    {
        var start = _index;
        if (Current.Kind == SyntaxKind.Identifier && !Current.IsQuoted && ActionKeywords.Contains(Current.Text))
        {
            ActionSyntax action = Current.Text switch
            {
                "start" => ParseStartWorkflow(start),
                "signal" => ParseSignal(start),
                "publish" => ParsePublish(start),
                "script" => ParseScript(start),
                "log" => ParseLog(start),
                "insert" => ParseInsert(start),
                "update" => ParseUpdate(start),
                _ => ParseRetract(start),
            };
            if (!AtItemEnd && !(Current.Kind == SyntaxKind.Identifier && !Current.IsQuoted && ActionKeywords.Contains(Current.Text)))
            {
                ErrorExpected("the end of the action");
                SkipInRuleFromHere();
            }

            return action;
        }

        Error(DiagnosticCodes.ExpectedAction, $"expected an action, found {Describe(Current)}",
            "actions: start workflow \"id\" with { ... }, signal \"s\" to workflow \"id\" key k, publish { ... } to exchange \"x\", " +
            "script \"...\", log \"...\", insert Type { ... }, update b { ... }, retract b");
        SkipInRule();
        return null;
    }

    private StartWorkflowActionSyntax ParseStartWorkflow(int start)
    {
        Advance();
        ExpectKeyword("workflow", "start workflow \"id\" with { ... }");
        var id = Expect(SyntaxKind.StringLiteral, "the workflow id in double quotes, e.g. \"block-source-ip\"");
        ExpressionSyntax? key = null;
        MapExpressionSyntax? input = null;
        SyntaxToken? template = null;
        while (true)
        {
            if (IsKeyword("key"))
            {
                var kw = Advance();
                if (key is not null)
                {
                    _diagnostics.Report(DiagnosticCodes.DuplicateClause, kw.Span, "'key' is given twice in one action");
                }

                key = ParseExpression();
            }
            else if (IsKeyword("with"))
            {
                var kw = Advance();
                if (input is not null || template is not null)
                {
                    _diagnostics.Report(DiagnosticCodes.DuplicateClause, kw.Span, "'with' is given twice in one action");
                }

                if (Current.Kind == SyntaxKind.OpenBrace)
                {
                    input = ParseMap();
                }
                else if (IsKeyword("template"))
                {
                    Advance();
                    template = Expect(SyntaxKind.StringLiteral, "a Handlebars template in quotes after 'template'",
                        "with template \"\"\"{ \"ip\": \"{{f.src_ip}}\" }\"\"\"");
                }
                else
                {
                    ErrorExpected("'{' or 'template' after 'with'", "with { ip: f.src_ip }");
                    SkipInRuleFromHere();
                }
            }
            else
            {
                break;
            }
        }

        return new StartWorkflowActionSyntax(SpanFrom(start), id, key, input, template);
    }

    private SignalWorkflowActionSyntax ParseSignal(int start)
    {
        Advance();
        var signal = Expect(SyntaxKind.StringLiteral, "the signal name in double quotes", "signal \"approved\" to workflow \"change\" key c.id");
        ExpectKeyword("to", "signal \"approved\" to workflow \"change\" key c.id");
        ExpectKeyword("workflow");
        var id = Expect(SyntaxKind.StringLiteral, "the workflow id in double quotes");
        ExpressionSyntax? key = null;
        MapExpressionSyntax? payload = null;
        if (IsKeyword("key"))
        {
            Advance();
            key = ParseExpression();
        }
        else
        {
            ErrorExpected("'key <value>': the correlation key of the waiting instance");
        }

        if (IsKeyword("with"))
        {
            Advance();
            if (Current.Kind == SyntaxKind.OpenBrace)
            {
                payload = ParseMap();
            }
            else
            {
                ErrorExpected("'{' after 'with'");
            }
        }

        return new SignalWorkflowActionSyntax(SpanFrom(start), signal, id, key, payload);
    }

    private PublishActionSyntax ParsePublish(int start)
    {
        Advance();
        var body = ParseExpression();
        ExpectKeyword("to", "publish { ... } to exchange \"alerts\" routing \"link.down\"");
        ExpectKeyword("exchange");
        var exchange = Expect(SyntaxKind.StringLiteral, "the exchange name in double quotes");
        ExpressionSyntax? routing = null;
        MapExpressionSyntax? headers = null;
        while (true)
        {
            if (IsKeyword("routing") && routing is null)
            {
                Advance();
                routing = ParseAdditive();
            }
            else if (IsKeyword("headers") && headers is null)
            {
                Advance();
                if (Current.Kind == SyntaxKind.OpenBrace)
                {
                    headers = ParseMap();
                }
                else
                {
                    ErrorExpected("'{' after 'headers'");
                }
            }
            else
            {
                break;
            }
        }

        return new PublishActionSyntax(SpanFrom(start), body, exchange, routing, headers);
    }

    private ScriptActionSyntax ParseScript(int start)
    {
        Advance();
        var code = Expect(SyntaxKind.StringLiteral, "the script in quotes (\"\"\" for several lines)");
        MapExpressionSyntax? bindings = null;
        if (IsKeyword("with"))
        {
            Advance();
            if (Current.Kind == SyntaxKind.OpenBrace)
            {
                bindings = ParseMap();
            }
            else
            {
                ErrorExpected("'{' after 'with'");
            }
        }

        return new ScriptActionSyntax(SpanFrom(start), code, bindings);
    }

    private LogActionSyntax ParseLog(int start)
    {
        Advance();
        SyntaxToken? level = null;
        if (Current.Kind == SyntaxKind.Identifier && !Current.IsQuoted && LogLevels.Contains(Current.Text) && !Peek(1).AtLineStart
            && Peek(1).Kind != SyntaxKind.EndOfFile)
        {
            level = Advance();
        }

        var message = ParseExpression();
        return new LogActionSyntax(SpanFrom(start), level, message);
    }

    private InsertFactActionSyntax ParseInsert(int start)
    {
        Advance();
        var type = ParseTypeName("a fact type after 'insert'");
        MapExpressionSyntax map;
        if (Current.Kind == SyntaxKind.OpenBrace)
        {
            map = ParseMap();
        }
        else
        {
            ErrorExpected("'{' and the fact's fields", "insert Blocked { ip: f.src_ip }");
            map = new MapExpressionSyntax(new TextSpan(Current.Span.Start, 0), []);
        }

        return new InsertFactActionSyntax(SpanFrom(start), type, map);
    }

    private UpdateFactActionSyntax ParseUpdate(int start)
    {
        Advance();
        var binding = Expect(SyntaxKind.Identifier, "the binding of a fact after 'update'", "update d { state: \"down\" }");
        MapExpressionSyntax map;
        if (Current.Kind == SyntaxKind.OpenBrace)
        {
            map = ParseMap();
        }
        else
        {
            ErrorExpected("'{' and the fields to change", "update d { state: \"down\" }");
            map = new MapExpressionSyntax(new TextSpan(Current.Span.Start, 0), []);
        }

        return new UpdateFactActionSyntax(SpanFrom(start), binding, map);
    }

    private RetractFactActionSyntax ParseRetract(int start)
    {
        Advance();
        var binding = Expect(SyntaxKind.Identifier, "the binding of a fact after 'retract'", "retract d");
        return new RetractFactActionSyntax(SpanFrom(start), binding);
    }

    private ThrottleClauseSyntax ParseThrottle()
    {
        var start = _index;
        var keyword = Advance();
        SyntaxToken mode;
        SyntaxToken? window = null;
        SyntaxToken? count = null;
        var kind = ThrottleMode.OnceWithin;
        var per = new List<ExpressionSyntax>();
        if (IsKeyword("once"))
        {
            mode = Advance();
            if (IsKeyword("within"))
            {
                Advance();
                window = ParseDuration("a duration such as 1h after 'within'");
            }
            else if (IsKeyword("after"))
            {
                Advance();
                kind = ThrottleMode.OnceAfter;
                window = ParseDuration("a duration such as 5m after 'after'");
            }
            else
            {
                ErrorExpected("'within <duration>' or 'after <duration>' after 'throttle once'", "throttle once within 1h per f.src_ip");
            }
        }
        else if (IsKeyword("at"))
        {
            mode = Advance();
            kind = ThrottleMode.AtMost;
            ExpectKeyword("most", "throttle at most 3 per 1h per f.device");
            count = Expect(SyntaxKind.NumberLiteral, "a number after 'at most'", "throttle at most 3 per 1h per f.device");
            ExpectKeyword("per", "throttle at most 3 per 1h per f.device");
            window = ParseDuration("a duration such as 1h after 'per'");
        }
        else
        {
            ErrorExpected("'once' or 'at most' after 'throttle'", "throttle once within 1h per f.src_ip");
            mode = SyntaxToken.Missing(SyntaxKind.Identifier, Previous.Span.End);
            SkipInRuleFromHere();
            return new ThrottleClauseSyntax(SpanFrom(start), keyword, mode, kind, null, null, per);
        }

        if (IsKeyword("per"))
        {
            Advance();
            per.AddRange(ParseValueList());
        }

        if (!AtItemEnd)
        {
            ErrorExpected("'per' or the end of the throttle clause");
            SkipInRuleFromHere();
        }

        return new ThrottleClauseSyntax(SpanFrom(start), keyword, mode, kind, count, window, per);
    }

    private GroupByClauseSyntax ParseGroupBy()
    {
        var start = _index;
        var keyword = Advance();
        Advance(); // by
        var keys = ParseValueList();
        SyntaxToken? window = null;
        if (IsKeyword("wait"))
        {
            Advance();
            window = ParseDuration("a duration such as 30s after 'wait'");
        }
        else
        {
            ErrorExpected("'wait <duration>' after the group keys", "group by f.site wait 30s");
        }

        if (!AtItemEnd)
        {
            ErrorExpected("the end of the group clause");
            SkipInRuleFromHere();
        }

        return new GroupByClauseSyntax(SpanFrom(start), keyword, keys, window);
    }

    // ---- expressions -----------------------------------------------------------------------------------------------

    private static bool IsComparisonOperator(SyntaxKind kind) => kind is SyntaxKind.EqualsEquals or SyntaxKind.BangEquals
        or SyntaxKind.Less or SyntaxKind.LessEquals or SyntaxKind.Greater or SyntaxKind.GreaterEquals;

    private ExpressionSyntax ParseExpression() => ParseOr();

    private ExpressionSyntax ParseOr()
    {
        var start = _index;
        var first = ParseAnd();
        List<ExpressionSyntax>? operands = null;
        while (IsKeyword("or") || Current.Kind == SyntaxKind.PipePipe)
        {
            if (Current.Kind == SyntaxKind.PipePipe)
            {
                Error(DiagnosticCodes.ForeignOperator, "'||' is not an operator of this language", "write 'or'");
            }

            Advance();
            (operands ??= [first]).Add(ParseAnd());
        }

        return operands is null ? first : new LogicalExpressionSyntax(SpanFrom(start), false, operands);
    }

    private ExpressionSyntax ParseAnd()
    {
        var start = _index;
        var first = ParseNot();
        List<ExpressionSyntax>? operands = null;
        while (IsKeyword("and") || Current.Kind == SyntaxKind.AmpAmp)
        {
            if (Current.Kind == SyntaxKind.AmpAmp)
            {
                Error(DiagnosticCodes.ForeignOperator, "'&&' is not an operator of this language", "write 'and'");
            }

            Advance();
            (operands ??= [first]).Add(ParseNot());
        }

        return operands is null ? first : new LogicalExpressionSyntax(SpanFrom(start), true, operands);
    }

    private ExpressionSyntax ParseNot()
    {
        var start = _index;
        if ((IsKeyword("not") && !Peek(1).IsKeyword("in")) || Current.Kind == SyntaxKind.Bang)
        {
            if (Current.Kind == SyntaxKind.Bang)
            {
                Error(DiagnosticCodes.ForeignOperator, "'!' is not an operator of this language", "write 'not'");
            }

            var keyword = Advance();
            if (!EnterNesting())
            {
                SkipToLineStart();
                return new MissingExpressionSyntax(SpanFrom(start));
            }

            try
            {
                var operand = ParseNot();
                return new NotExpressionSyntax(SpanFrom(start), keyword, operand);
            }
            finally
            {
                _depth--;
            }
        }

        return ParseRelational();
    }

    private ExpressionSyntax ParseRelational()
    {
        var start = _index;
        var left = ParseAdditive();
        if (IsComparisonOperator(Current.Kind) || Current.Kind == SyntaxKind.Equals)
        {
            var op = Current;
            if (op.Kind == SyntaxKind.Equals)
            {
                Error(DiagnosticCodes.ForeignOperator, "'=' does not compare", "write '==' to compare");
                op = op with { Kind = SyntaxKind.EqualsEquals };
            }

            Advance();
            var right = ParseAdditive();
            return new ComparisonExpressionSyntax(SpanFrom(start), left, op, right);
        }

        if (IsKeyword("matches"))
        {
            Advance();
            SyntaxToken regex;
            if (Current.Kind is SyntaxKind.RegexLiteral or SyntaxKind.StringLiteral)
            {
                regex = Advance();
            }
            else
            {
                ErrorExpected("a regular expression such as /^Failed password/ after 'matches'");
                regex = SyntaxToken.Missing(SyntaxKind.RegexLiteral, Previous.Span.End);
            }

            return new MatchesExpressionSyntax(SpanFrom(start), left, regex);
        }

        if (IsKeyword("contains") || IsKeyword("startswith") || IsKeyword("endswith"))
        {
            var op = Advance();
            var right = ParseAdditive();
            return new TextOperatorExpressionSyntax(SpanFrom(start), left, op, right);
        }

        var negated = IsKeyword("not") && Peek(1).IsKeyword("in");
        if (IsKeyword("in") || negated)
        {
            if (negated)
            {
                Advance();
            }

            Advance();
            ExpressionSyntax target;
            if (Current.Kind == SyntaxKind.OpenBracket)
            {
                target = ParseList(allowRanges: true);
            }
            else if (AtItemEndForExpression())
            {
                ErrorExpected("a list such as [\"a\", \"b\"], a range such as 1..5 or a network such as 10.0.0.0/8 after 'in'");
                target = new MissingExpressionSyntax(new TextSpan(Current.Span.Start, 0));
            }
            else
            {
                target = ParseRangeOrValue();
            }

            return new InExpressionSyntax(SpanFrom(start), left, negated, target);
        }

        return left;
    }

    private bool AtItemEndForExpression() =>
        AtEnd || Current.Kind is SyntaxKind.CloseParen or SyntaxKind.Comma or SyntaxKind.CloseBracket or SyntaxKind.CloseBrace
        || (Current.AtLineStart && AtRuleSection);

    private ExpressionSyntax ParseRangeOrValue()
    {
        var start = _index;
        var low = ParseAdditive();
        if (Current.Kind != SyntaxKind.DotDot)
        {
            return low;
        }

        Advance();
        var high = ParseAdditive();
        return new RangeExpressionSyntax(SpanFrom(start), low, high);
    }

    private ExpressionSyntax ParseAdditive() => ParseChain(additive: true);

    private ExpressionSyntax ParseMultiplicative() => ParseChain(additive: false);

    /// <summary>
    /// A chain of <c>+ -</c> (operands: multiplicative chains) or <c>* / %</c> (operands: unary expressions), left-associative: n
    /// operators make a tree n levels deep above its deepest operand. The tree's depth (levels above the current nesting, plus the
    /// deepest level reached inside the operands) is kept within <see cref="MaxTreeDepth"/>: past it, RF1109 at the operator; the rest
    /// of the chain is still read (so brackets stay balanced and nothing else is reported) but makes no tree.
    /// </summary>
    private ExpressionSyntax ParseChain(bool additive)
    {
        var start = _index;
        var outerDeepest = _deepest;
        _deepest = _depth;
        var left = additive ? ParseChain(additive: false) : ParseUnary();
        var operators = 0;
        var innerDeepest = _deepest;
        var tooDeep = false;
        while (additive ? Current.Kind is SyntaxKind.Plus or SyntaxKind.Minus : Current.Kind is SyntaxKind.Star or SyntaxKind.Slash or SyntaxKind.Percent)
        {
            var op = Advance();
            _deepest = _depth;
            var right = additive ? ParseChain(additive: false) : ParseUnary();
            innerDeepest = Math.Max(innerDeepest, _deepest);
            operators++;
            if (!tooDeep && innerDeepest + operators > MaxTreeDepth)
            {
                tooDeep = true;
                if (!_treeDepthReported)
                {
                    _treeDepthReported = true;
                    _diagnostics.Report(DiagnosticCodes.NestedTooDeeply, op.Span.Start,
                        $"an expression more than {MaxTreeDepth} levels deep (each + - * / % of a chain is a level)",
                        "split it into simpler parts, or compute part of it in a rule that inserts a fact");
                }
            }

            if (!tooDeep)
            {
                left = new BinaryExpressionSyntax(SpanFrom(start), left, op, right);
            }
        }

        if (tooDeep)
        {
            _deepest = Math.Max(outerDeepest, _depth + 1); // the chain is replaced by one missing operand
            return new MissingExpressionSyntax(SpanFrom(start));
        }

        _deepest = Math.Max(outerDeepest, innerDeepest + operators);
        return left;
    }

    private ExpressionSyntax ParseUnary()
    {
        var start = _index;
        if (Current.Kind == SyntaxKind.Minus)
        {
            if (Peek(1).Kind is SyntaxKind.NumberLiteral or SyntaxKind.DurationLiteral)
            {
                Advance();
                var number = Advance();
                return new LiteralExpressionSyntax(SpanFrom(start), number, true);
            }

            var minus = Advance();
            if (!EnterNesting())
            {
                SkipToLineStart();
                return new MissingExpressionSyntax(SpanFrom(start));
            }

            try
            {
                var operand = ParseUnary();
                return new NegateExpressionSyntax(SpanFrom(start), minus, operand);
            }
            finally
            {
                _depth--;
            }
        }

        return ParsePostfix();
    }

    private ExpressionSyntax ParsePostfix() => ParsePrimary();

    private ExpressionSyntax ParsePrimary()
    {
        var start = _index;
        var token = Current;
        switch (token.Kind)
        {
            case SyntaxKind.StringLiteral or SyntaxKind.NumberLiteral or SyntaxKind.DurationLiteral or SyntaxKind.TimestampLiteral
                or SyntaxKind.IpLiteral or SyntaxKind.CidrLiteral:
                Advance();
                return new LiteralExpressionSyntax(token.Span, token, false);
            case SyntaxKind.Minus when Peek(1).Kind is SyntaxKind.NumberLiteral or SyntaxKind.DurationLiteral:
                Advance();
                var number = Advance();
                return new LiteralExpressionSyntax(SpanFrom(start), number, true);
            case SyntaxKind.Identifier when !token.IsQuoted && token.Text is "true" or "false" or "null":
                Advance();
                return new LiteralExpressionSyntax(token.Span, token, false);
            case SyntaxKind.Identifier when !token.IsQuoted && Peek(1).Kind == SyntaxKind.OpenParen && !ReservedInExpressions.Contains(token.Text):
                return ParseCall();
            case SyntaxKind.Identifier when token.IsQuoted || !ReservedInExpressions.Contains(token.Text):
                return ParsePath("a field name");
            case SyntaxKind.OpenParen:
                Advance();
                if (!EnterNesting())
                {
                    SkipBalanced(SyntaxKind.OpenParen, SyntaxKind.CloseParen);
                    return new MissingExpressionSyntax(SpanFrom(start));
                }

                try
                {
                    var inner = ParseExpression();
                    Expect(SyntaxKind.CloseParen, "')'");
                    return new ParenthesizedExpressionSyntax(SpanFrom(start), inner);
                }
                finally
                {
                    _depth--;
                }

            case SyntaxKind.OpenBracket:
                return ParseList(allowRanges: false);
            case SyntaxKind.OpenBrace:
                return ParseMap();
            default:
                ErrorExpected("a value or a condition");
                return new MissingExpressionSyntax(new TextSpan(token.Span.Start, 0));
        }
    }

    private ExpressionSyntax ParseCall()
    {
        var start = _index;
        var name = Advance();
        Advance(); // (
        if (!EnterNesting())
        {
            SkipBalanced(SyntaxKind.OpenParen, SyntaxKind.CloseParen);
            return new MissingExpressionSyntax(SpanFrom(start));
        }

        try
        {
            if (name.Text is "any" or "all" && Current.Kind == SyntaxKind.Identifier && Peek(1).IsKeyword("in"))
            {
                var variable = Advance();
                Advance(); // in
                var source = ParseAdditive();
                Expect(SyntaxKind.Colon, $"':' and the condition each item is tested with", $"{name.Text}(a in alerts: a.status == \"firing\")");
                var condition = ParseExpression();
                Expect(SyntaxKind.CloseParen, $"')' to close {name.Text}(...)");
                return new QuantifierExpressionSyntax(SpanFrom(start), name, variable, source, condition);
            }

            var arguments = new List<ExpressionSyntax>();
            if (Current.Kind != SyntaxKind.CloseParen)
            {
                while (true)
                {
                    arguments.Add(ParseExpression());
                    if (Current.Kind == SyntaxKind.Comma)
                    {
                        Advance();
                        continue;
                    }

                    break;
                }
            }

            Expect(SyntaxKind.CloseParen, $"',' or ')' in the arguments of {name.Text}(...)");
            return new CallExpressionSyntax(SpanFrom(start), name, arguments);
        }
        finally
        {
            _depth--;
        }
    }

    /// <summary><c>name(.name | [index])*</c>; an index is a whole number (negative: from the end) or a string (a key).</summary>
    private PathExpressionSyntax ParsePath(string what)
    {
        var start = _index;
        var segments = new List<SyntaxToken>();
        if (Current.Kind != SyntaxKind.Identifier)
        {
            ErrorExpected(what);
            segments.Add(SyntaxToken.Missing(SyntaxKind.Identifier, Current.Span.Start));
            return new PathExpressionSyntax(new TextSpan(Current.Span.Start, 0), segments);
        }

        segments.Add(Advance());
        while (true)
        {
            if (Current.Kind == SyntaxKind.Dot)
            {
                Advance();
                if (Current.Kind == SyntaxKind.Identifier)
                {
                    segments.Add(Advance());
                }
                else
                {
                    ErrorExpected("a field name after '.'");
                    segments.Add(SyntaxToken.Missing(SyntaxKind.Identifier, Current.Span.Start));
                    break;
                }
            }
            else if (Current.Kind == SyntaxKind.OpenBracket && !Current.AtLineStart)
            {
                var open = Advance();
                if (Current.Kind == SyntaxKind.Minus && Peek(1).Kind == SyntaxKind.NumberLiteral)
                {
                    Advance();
                    var n = Advance();
                    segments.Add(n with { Text = "-" + n.Text, Value = n.Value is double d ? -d : null, Span = TextSpan.FromBounds(open.Span.End, n.Span.End) });
                }
                else if (Current.Kind is SyntaxKind.NumberLiteral or SyntaxKind.StringLiteral)
                {
                    segments.Add(Advance());
                }
                else
                {
                    Error(DiagnosticCodes.InvalidIndex, $"an index is a whole number or a string in quotes, found {Describe(Current)}",
                        "alerts[0], alerts[-1] (the last one), labels[\"app.kubernetes.io/name\"]");
                    SkipUntilSeparator(SyntaxKind.CloseBracket);
                    segments.Add(SyntaxToken.Missing(SyntaxKind.NumberLiteral, Current.Span.Start));
                }

                Expect(SyntaxKind.CloseBracket, "']' after the index");
            }
            else
            {
                break;
            }
        }

        return new PathExpressionSyntax(SpanFrom(start), segments);
    }

    private ListExpressionSyntax ParseList(bool allowRanges)
    {
        var start = _index;
        Advance(); // [
        var items = new List<ExpressionSyntax>();
        if (!EnterNesting())
        {
            SkipBalanced(SyntaxKind.OpenBracket, SyntaxKind.CloseBracket);
            return new ListExpressionSyntax(SpanFrom(start), items);
        }

        try
        {
            while (!AtEnd && Current.Kind != SyntaxKind.CloseBracket && !AtDeclarationStart
                   && !(Current.AtLineStart && (IsKeyword("end") || AtClauseStart)))
            {
                var itemStart = _index;
                items.Add(allowRanges ? ParseRangeOrValue() : ParseExpression());
                if (Current.Kind == SyntaxKind.Comma)
                {
                    Advance();
                    continue;
                }

                if (Current.Kind == SyntaxKind.CloseBracket)
                {
                    break;
                }

                ErrorExpected("',' or ']' in a list");
                SkipUntilSeparator(SyntaxKind.CloseBracket);
                if (Current.Kind == SyntaxKind.Comma)
                {
                    Advance();
                    continue;
                }

                if (Current.Kind != SyntaxKind.CloseBracket || _index == itemStart)
                {
                    return new ListExpressionSyntax(SpanFrom(start), items);
                }
            }

            Expect(SyntaxKind.CloseBracket, "']' to close the list");
            return new ListExpressionSyntax(SpanFrom(start), items);
        }
        finally
        {
            _depth--;
        }
    }

    private MapExpressionSyntax ParseMap()
    {
        var start = _index;
        Advance(); // {
        var entries = new List<MapEntrySyntax>();
        if (!EnterNesting())
        {
            SkipBalanced(SyntaxKind.OpenBrace, SyntaxKind.CloseBrace);
            return new MapExpressionSyntax(SpanFrom(start), entries);
        }

        try
        {
            while (!AtEnd && Current.Kind != SyntaxKind.CloseBrace && !AtDeclarationStart
                   && !(Current.AtLineStart && (IsKeyword("end") || AtClauseStart)))
            {
                var entryStart = _index;
                if (Current.Kind is SyntaxKind.Identifier or SyntaxKind.StringLiteral)
                {
                    var key = Advance();
                    Expect(SyntaxKind.Colon, $"':' after the key {Describe(key)}", "{ ip: f.src_ip }");
                    var value = ParseExpression();
                    entries.Add(new MapEntrySyntax(SpanFrom(entryStart), key, value));
                }
                else
                {
                    ErrorExpected("a key (a name or a string) in a map");
                    SkipUntilSeparator(SyntaxKind.CloseBrace);
                }

                if (Current.Kind == SyntaxKind.Comma)
                {
                    Advance();
                }
                else if (Current.Kind != SyntaxKind.CloseBrace && !Current.AtLineStart && !AtEnd)
                {
                    ErrorExpected("',' or '}' in a map");
                    SkipUntilSeparator(SyntaxKind.CloseBrace);
                    if (Current.Kind == SyntaxKind.Comma)
                    {
                        Advance();
                    }
                }

                if (_index == entryStart)
                {
                    Advance();
                }
            }

            Expect(SyntaxKind.CloseBrace, "'}' to close the map");
            return new MapExpressionSyntax(SpanFrom(start), entries);
        }
        finally
        {
            _depth--;
        }
    }
}
