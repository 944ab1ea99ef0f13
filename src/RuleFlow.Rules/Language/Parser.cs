using System.Collections.Frozen;

namespace RuleFlow.Rules.Language;

/// <summary>
/// Hand-written recursive-descent parser for rule files. Never throws on bad input: it reports a diagnostic, inserts a missing
/// token or skips to a point where parsing can go on (the next line, clause or declaration), so one pass reports every error of a
/// file. At most one syntax error is reported per token position, and none right after a lexical error, to avoid cascades.
/// Nesting (parentheses, <c>not</c>, lists, maps) is limited to <see cref="MaxDepth"/> levels, so no input can exhaust the stack.
/// </summary>
internal sealed class Parser
{
    /// <summary>Maximum nesting of parentheses, <c>not</c>, lists, maps and field types.</summary>
    public const int MaxDepth = 48;

    /// <summary>Maximum condition elements (patterns and aggregates) of one rule: bounds the depth of beta-network propagation.</summary>
    public const int MaxElements = 64;

    internal static readonly FrozenSet<string> AggregateFunctions =
        new[] { "count", "sum", "avg", "min", "max", "distinct", "collect" }.ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenSet<string> FutureActions =
        new[] { "signal", "publish", "script", "log", "insert", "update", "retract", "emit" }.ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenSet<string> FutureRuleOptions =
        new[] { "tags", "owner", "runbook", "enabled", "disabled", "namespace" }.ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenSet<string> ReservedInExpressions =
        new[] { "and", "or", "not", "in", "matches" }.ToFrozenSet(StringComparer.Ordinal);

    private readonly IReadOnlyList<SyntaxToken> _tokens;
    private readonly DiagnosticBag _diagnostics;
    private readonly int[] _lexicalErrors;
    private int _index;
    private int _lastErrorIndex = -1;
    private int _depth;
    private bool _depthReported;

    private Parser(IReadOnlyList<SyntaxToken> tokens, DiagnosticBag diagnostics)
    {
        _tokens = tokens;
        _diagnostics = diagnostics;
        _lexicalErrors = [.. diagnostics.ErrorPositions.Order()];
    }

    /// <summary>Lexes and parses one file. Diagnostics go to <paramref name="diagnostics"/>.</summary>
    public static CompilationUnitSyntax Parse(SourceText source, DiagnosticBag diagnostics)
    {
        var tokens = Lexer.Tokenize(source, diagnostics);
        return new Parser(tokens, diagnostics).ParseCompilationUnit();
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

    private bool AtDeclarationStart => AtEnd || (Current.AtLineStart && (IsKeyword("event") || IsKeyword("rule")));

    private bool AtRuleSection => IsKeyword("when") || IsKeyword("then") || IsKeyword("end") || IsKeyword("throttle") || AtDeclarationStart;

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

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..37] + "...";

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
        while (!AtEnd && !Current.AtLineStart && !AtRuleSection)
        {
            Advance();
        }
    }

    private bool EnterNesting()
    {
        if (_depth < MaxDepth)
        {
            _depth++;
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

    // ---- file ------------------------------------------------------------------------------------------------------

    private CompilationUnitSyntax ParseCompilationUnit()
    {
        var members = new List<MemberSyntax>();
        while (!AtEnd)
        {
            var start = _index;
            if (IsKeyword("event"))
            {
                members.Add(ParseEventDeclaration());
            }
            else if (IsKeyword("rule"))
            {
                members.Add(ParseRule());
            }
            else
            {
                Error(DiagnosticCodes.ExpectedDeclaration, $"expected 'event' or 'rule', found {Describe(Current)}",
                    IsKeyword("when") || IsKeyword("then") || IsKeyword("end")
                        ? "a rule starts with: rule \"name\""
                        : "a rule file holds event declarations (event ssh.auth ...) and rules (rule \"name\" when ... then ... end)");
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

    // ---- event declarations ----------------------------------------------------------------------------------------

    private EventDeclarationSyntax ParseEventDeclaration()
    {
        var start = _index;
        var keyword = Advance();
        var name = ParseTypeName("an event type name such as ssh.auth");
        var clauses = new List<EventClauseSyntax>();
        var seen = new HashSet<string>();
        while (!AtEnd && !IsKeyword("event") && !IsKeyword("rule"))
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
            else
            {
                Error(DiagnosticCodes.UnknownEventClause,
                    $"unknown clause {Describe(Current)} in the declaration of event {name.Name}",
                    "the clauses are: from exchange \"x\" routing \"pattern\", key <field>, time <field>, fields { name: type }");
                SkipRestOfLine();
                continue;
            }

            if (!seen.Add(clause.Keyword.Text))
            {
                _diagnostics.Report(DiagnosticCodes.DuplicateClause, clause.Keyword.Span,
                    $"'{clause.Keyword.Text}' is given twice in the declaration of event {name.Name}", "keep one of them");
            }

            clauses.Add(clause);
            if (_index == clauseStart)
            {
                Advance();
            }
        }

        return new EventDeclarationSyntax(SpanFrom(start), keyword, name, clauses);
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
                    fields.Add(new FieldDeclarationSyntax(SpanFrom(entryStart), name, type));
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
            if (Current.Kind == SyntaxKind.Question)
            {
                Advance(); // optional marker: accepted, every field is optional in this version
            }

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
        while (!AtEnd && !IsKeyword("then") && !IsKeyword("end") && !IsKeyword("throttle") && !AtDeclarationStart)
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
        while (!AtEnd && !IsKeyword("end") && !IsKeyword("throttle") && !AtDeclarationStart)
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
        while (IsKeyword("throttle"))
        {
            var clause = ParseThrottle();
            if (clauses.Count > 0)
            {
                _diagnostics.Report(DiagnosticCodes.DuplicateClause, clause.Keyword.Span, $"rule \"{ruleName}\" has more than one 'throttle'");
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
            else if (IsKeyword("description"))
            {
                var kw = Advance();
                var text = Expect(SyntaxKind.StringLiteral, "a description in double quotes");
                option = new DescriptionOptionSyntax(SpanFrom(optionStart), kw, text);
            }
            else if (Current.Kind == SyntaxKind.Identifier && FutureRuleOptions.Contains(Current.Text) && !Current.IsQuoted)
            {
                _diagnostics.Report(DiagnosticCodes.NotSupportedYet, Current.Span, $"the rule option '{Current.Text}' is not supported yet",
                    "this version knows priority and description");
                _lastErrorIndex = _index;
                SkipInRule();
                continue;
            }
            else
            {
                Error(DiagnosticCodes.UnknownRuleOption, $"unknown rule option {Describe(Current)} in rule \"{ruleName}\"",
                    "after the rule name come priority N and description \"...\", then 'when'");
                SkipInRule();
                continue;
            }

            if (!seen.Add(option.Keyword.Text))
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
               || ((IsKeyword("not") || IsKeyword("exists") || IsKeyword("forall")) && Peek(1).Kind == SyntaxKind.Identifier);
    }

    private ElementSyntax? ParseElement()
    {
        var start = _index;
        SyntaxToken? binding = null;
        if (Current.Kind == SyntaxKind.Identifier && Peek(1).Kind == SyntaxKind.Colon)
        {
            binding = Advance();
            Advance();
        }

        if ((IsKeyword("not") || IsKeyword("exists") || IsKeyword("forall")) && Peek(1).Kind == SyntaxKind.Identifier)
        {
            var quantifier = Advance();
            var pattern = ParsePattern();
            return new QuantifiedElementSyntax(SpanFrom(start), quantifier, pattern);
        }

        if (Current.Kind == SyntaxKind.Identifier && !Current.IsQuoted && AggregateFunctions.Contains(Current.Text)
            && Peek(1).Kind == SyntaxKind.OpenParen)
        {
            return ParseAggregate(start, binding);
        }

        if (Current.Kind == SyntaxKind.Identifier && !AtRuleSection)
        {
            var pattern = ParsePattern();
            return new PatternElementSyntax(SpanFrom(start), binding, pattern);
        }

        Error(DiagnosticCodes.ExpectedCondition,
            $"expected a pattern or an aggregate, found {Describe(Current)}",
            "a pattern: f: ssh.auth(message matches /^Failed/); an aggregate: count(ssh.auth(src_ip == f.src_ip)) within 60s >= 5");
        SkipInRule();
        return null;
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
                ErrorExpected($"'(' after the event type {type.Name}", $"write {type.Name}() to match every {type.Name} event");
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
        Expect(SyntaxKind.CloseParen, $"')' to close {function.Text}(...)");
        SyntaxToken? withinKeyword = null;
        SyntaxToken? window = null;
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
            else if (IsKeyword("last"))
            {
                _diagnostics.Report(DiagnosticCodes.NotSupportedYet, Current.Span, "length windows ('last N') are not supported yet",
                    "use a time window: within 60s");
                _lastErrorIndex = _index;
                Advance();
                if (Current.Kind == SyntaxKind.NumberLiteral)
                {
                    Advance();
                }
            }
            else if (IsComparisonOperator(Current.Kind))
            {
                var token = Advance();
                if (op is not null)
                {
                    _diagnostics.Report(DiagnosticCodes.DuplicateClause, token.Span, "an aggregate takes one comparison");
                }

                op = token;
                threshold = ParsePrimary();
            }
            else
            {
                break;
            }
        }

        return new AggregateElementSyntax(SpanFrom(start), binding, function, pattern, withinKeyword, window, per, op, threshold);
    }

    private List<ExpressionSyntax> ParseValueList()
    {
        var items = new List<ExpressionSyntax> { ParsePrimary() };
        while (Current.Kind == SyntaxKind.Comma)
        {
            Advance();
            items.Add(ParsePrimary());
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
        if (IsKeyword("start"))
        {
            Advance();
            ExpectKeyword("workflow", "start workflow \"id\" with { ... }");
            var id = Expect(SyntaxKind.StringLiteral, "the workflow id in double quotes, e.g. \"block-source-ip\"");
            ExpressionSyntax? key = null;
            MapExpressionSyntax? input = null;
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
                    if (input is not null)
                    {
                        _diagnostics.Report(DiagnosticCodes.DuplicateClause, kw.Span, "'with' is given twice in one action");
                    }

                    if (Current.Kind == SyntaxKind.OpenBrace)
                    {
                        input = ParseMap();
                    }
                    else
                    {
                        ErrorExpected("'{' after 'with'", "with { ip: f.src_ip }");
                        SkipInRuleFromHere();
                    }
                }
                else
                {
                    break;
                }
            }

            if (!AtEnd && !Current.AtLineStart && !AtRuleSection)
            {
                ErrorExpected("'key', 'with' or the end of the action");
                SkipInRuleFromHere();
            }

            return new StartWorkflowActionSyntax(SpanFrom(start), id, key, input);
        }

        if (Current.Kind == SyntaxKind.Identifier && !Current.IsQuoted && FutureActions.Contains(Current.Text))
        {
            _diagnostics.Report(DiagnosticCodes.NotSupportedYet, Current.Span, $"the action '{Current.Text}' is not supported yet",
                "this version knows: start workflow \"id\" [key expr] with { ... }");
            _lastErrorIndex = _index;
            SkipInRule();
            return null;
        }

        Error(DiagnosticCodes.ExpectedAction, $"expected an action, found {Describe(Current)}",
            "start workflow \"block-source-ip\" key f.src_ip with { ip: f.src_ip }");
        SkipInRule();
        return null;
    }

    private ThrottleClauseSyntax ParseThrottle()
    {
        var start = _index;
        var keyword = Advance();
        SyntaxToken mode;
        SyntaxToken? window = null;
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
                _diagnostics.Report(DiagnosticCodes.NotSupportedYet, Current.Span, "'throttle once after' is not supported yet",
                    "use throttle once within <duration>");
                _lastErrorIndex = _index;
                SkipInRule();
                return new ThrottleClauseSyntax(SpanFrom(start), keyword, mode, null, per);
            }
            else
            {
                ErrorExpected("'within <duration>' after 'throttle once'", "throttle once within 1h per f.src_ip");
            }
        }
        else if (IsKeyword("at"))
        {
            _diagnostics.Report(DiagnosticCodes.NotSupportedYet, Current.Span, "'throttle at most N per' is not supported yet",
                "use throttle once within <duration>");
            _lastErrorIndex = _index;
            mode = Current;
            SkipInRule();
            return new ThrottleClauseSyntax(SpanFrom(start), keyword, mode, null, per);
        }
        else
        {
            ErrorExpected("'once' after 'throttle'", "throttle once within 1h per f.src_ip");
            mode = SyntaxToken.Missing(SyntaxKind.Identifier, Previous.Span.End);
            SkipInRuleFromHere();
            return new ThrottleClauseSyntax(SpanFrom(start), keyword, mode, null, per);
        }

        if (IsKeyword("per"))
        {
            Advance();
            per.AddRange(ParseValueList());
        }

        if (!AtEnd && !Current.AtLineStart && !AtRuleSection)
        {
            ErrorExpected("'per' or the end of the throttle clause");
            SkipInRuleFromHere();
        }

        return new ThrottleClauseSyntax(SpanFrom(start), keyword, mode, window, per);
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
        var left = ParsePrimary();
        if (IsComparisonOperator(Current.Kind) || Current.Kind == SyntaxKind.Equals)
        {
            var op = Current;
            if (op.Kind == SyntaxKind.Equals)
            {
                Error(DiagnosticCodes.ForeignOperator, "'=' does not compare", "write '==' to compare");
                op = op with { Kind = SyntaxKind.EqualsEquals };
            }

            Advance();
            var right = ParsePrimary();
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

        var negated = IsKeyword("not") && Peek(1).IsKeyword("in");
        if (IsKeyword("in") || negated)
        {
            if (negated)
            {
                Advance();
            }

            Advance();
            ListExpressionSyntax list;
            if (Current.Kind == SyntaxKind.OpenBracket)
            {
                list = ParseList();
            }
            else
            {
                ErrorExpected("a list such as [\"a\", \"b\"] after 'in'");
                list = new ListExpressionSyntax(new TextSpan(Current.Span.Start, 0), []);
            }

            return new InExpressionSyntax(SpanFrom(start), left, negated, list);
        }

        return left;
    }

    private ExpressionSyntax ParsePrimary()
    {
        var start = _index;
        var token = Current;
        switch (token.Kind)
        {
            case SyntaxKind.StringLiteral or SyntaxKind.NumberLiteral or SyntaxKind.DurationLiteral:
                Advance();
                return new LiteralExpressionSyntax(token.Span, token, false);
            case SyntaxKind.Minus when Peek(1).Kind is SyntaxKind.NumberLiteral or SyntaxKind.DurationLiteral:
                Advance();
                var number = Advance();
                return new LiteralExpressionSyntax(SpanFrom(start), number, true);
            case SyntaxKind.Identifier when !token.IsQuoted && token.Text is "true" or "false" or "null":
                Advance();
                return new LiteralExpressionSyntax(token.Span, token, false);
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
                return ParseList();
            case SyntaxKind.OpenBrace:
                return ParseMap();
            default:
                ErrorExpected("a value or a condition");
                return new MissingExpressionSyntax(new TextSpan(token.Span.Start, 0));
        }
    }

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
        while (Current.Kind == SyntaxKind.Dot)
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

        return new PathExpressionSyntax(SpanFrom(start), segments);
    }

    private ListExpressionSyntax ParseList()
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
                   && !(Current.AtLineStart && (IsKeyword("end") || IsKeyword("throttle"))))
            {
                var itemStart = _index;
                items.Add(ParseExpression());
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
                   && !(Current.AtLineStart && (IsKeyword("end") || IsKeyword("throttle"))))
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
