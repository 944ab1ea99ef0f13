namespace RuleFlow.Rules.Language;

// Immutable syntax tree of a rule file. Every node carries the span of source text it covers; tokens keep their comments,
// so a formatter can be written over this tree. Nodes produced by error recovery contain missing tokens (IsMissing).

/// <summary>Base of all syntax nodes.</summary>
internal abstract record SyntaxNode(TextSpan Span);

/// <summary>A whole file: its declarations in source order.</summary>
internal sealed record CompilationUnitSyntax(TextSpan Span, IReadOnlyList<MemberSyntax> Members, SyntaxToken EndOfFile) : SyntaxNode(Span);

/// <summary>A top-level declaration.</summary>
internal abstract record MemberSyntax(TextSpan Span) : SyntaxNode(Span);

/// <summary>A dotted name such as <c>ssh.auth</c> (segments may be quoted with backticks).</summary>
internal sealed record QualifiedNameSyntax(TextSpan Span, IReadOnlyList<SyntaxToken> Segments) : SyntaxNode(Span)
{
    public string Name => string.Join('.', Segments.Select(s => s.ValueText));

    public bool IsMissing => Segments.Count == 0 || Segments.Any(s => s.IsMissing);
}

// ---- event declarations ------------------------------------------------------------------------------------------------

/// <summary><c>event name clause*</c>.</summary>
internal sealed record EventDeclarationSyntax(TextSpan Span, SyntaxToken EventKeyword, QualifiedNameSyntax Name, IReadOnlyList<EventClauseSyntax> Clauses)
    : MemberSyntax(Span);

/// <summary>A clause of an event declaration.</summary>
internal abstract record EventClauseSyntax(TextSpan Span, SyntaxToken Keyword) : SyntaxNode(Span);

/// <summary><c>from exchange "x" routing "pattern"</c> (either part may be left out, not both).</summary>
internal sealed record FromClauseSyntax(TextSpan Span, SyntaxToken Keyword, SyntaxToken? Exchange, SyntaxToken? RoutingPattern)
    : EventClauseSyntax(Span, Keyword);

/// <summary><c>key field.path</c>: the correlation key.</summary>
internal sealed record KeyClauseSyntax(TextSpan Span, SyntaxToken Keyword, PathExpressionSyntax Field) : EventClauseSyntax(Span, Keyword);

/// <summary><c>time field.path</c>: the event-time field.</summary>
internal sealed record TimeClauseSyntax(TextSpan Span, SyntaxToken Keyword, PathExpressionSyntax Field) : EventClauseSyntax(Span, Keyword);

/// <summary><c>fields { name: type, ... }</c>: declared fields with types.</summary>
internal sealed record FieldsClauseSyntax(TextSpan Span, SyntaxToken Keyword, IReadOnlyList<FieldDeclarationSyntax> Fields)
    : EventClauseSyntax(Span, Keyword);

/// <summary><c>name: type</c> inside <c>fields { }</c>.</summary>
internal sealed record FieldDeclarationSyntax(TextSpan Span, SyntaxToken Name, TypeSyntax Type) : SyntaxNode(Span);

/// <summary>A field type.</summary>
internal abstract record TypeSyntax(TextSpan Span) : SyntaxNode(Span);

/// <summary><c>string</c>, <c>number</c>, <c>bool</c>, <c>time</c>, <c>object</c>, <c>array</c>, <c>any</c>.</summary>
internal sealed record NamedTypeSyntax(TextSpan Span, SyntaxToken Name) : TypeSyntax(Span);

/// <summary><c>{ name: type, ... }</c>: a nested object.</summary>
internal sealed record ObjectTypeSyntax(TextSpan Span, IReadOnlyList<FieldDeclarationSyntax> Fields) : TypeSyntax(Span);

/// <summary><c>[type]</c>: an array of that type.</summary>
internal sealed record ArrayTypeSyntax(TextSpan Span, TypeSyntax Element) : TypeSyntax(Span);

// ---- rules -------------------------------------------------------------------------------------------------------------

/// <summary><c>rule "name" option* when element* then action* clause* end</c>.</summary>
internal sealed record RuleDeclarationSyntax(
    TextSpan Span,
    SyntaxToken RuleKeyword,
    SyntaxToken Name,
    IReadOnlyList<RuleOptionSyntax> Options,
    IReadOnlyList<ElementSyntax> Elements,
    IReadOnlyList<ActionSyntax> Actions,
    IReadOnlyList<RuleClauseSyntax> Clauses,
    SyntaxToken WhenKeyword,
    SyntaxToken ThenKeyword,
    SyntaxToken EndKeyword) : MemberSyntax(Span);

/// <summary>A rule header option.</summary>
internal abstract record RuleOptionSyntax(TextSpan Span, SyntaxToken Keyword) : SyntaxNode(Span);

/// <summary><c>priority [-]N</c>: salience.</summary>
internal sealed record PriorityOptionSyntax(TextSpan Span, SyntaxToken Keyword, bool Negative, SyntaxToken Value) : RuleOptionSyntax(Span, Keyword);

/// <summary><c>description "text"</c>.</summary>
internal sealed record DescriptionOptionSyntax(TextSpan Span, SyntaxToken Keyword, SyntaxToken Text) : RuleOptionSyntax(Span, Keyword);

/// <summary>A condition element of <c>when</c>.</summary>
internal abstract record ElementSyntax(TextSpan Span, SyntaxToken? Binding) : SyntaxNode(Span);

/// <summary><c>[binding:] type(condition, ...)</c>.</summary>
internal sealed record PatternElementSyntax(TextSpan Span, SyntaxToken? Binding, PatternSyntax Pattern) : ElementSyntax(Span, Binding);

/// <summary>
/// <c>[binding:] function(pattern) [within duration] [per expr, ...] [op value]</c>, e.g. <c>count(ssh.auth(...)) within 60s &gt;= 5</c>.
/// The clauses after the closing parenthesis may come in any order.
/// </summary>
internal sealed record AggregateElementSyntax(
    TextSpan Span,
    SyntaxToken? Binding,
    SyntaxToken Function,
    PatternSyntax Pattern,
    SyntaxToken? WithinKeyword,
    SyntaxToken? Window,
    IReadOnlyList<ExpressionSyntax> Per,
    SyntaxToken? Operator,
    ExpressionSyntax? Threshold) : ElementSyntax(Span, Binding);

/// <summary><c>not pattern</c>, <c>exists pattern</c>, <c>forall pattern</c>: parsed, not yet supported (issue 3).</summary>
internal sealed record QuantifiedElementSyntax(TextSpan Span, SyntaxToken Quantifier, PatternSyntax Pattern) : ElementSyntax(Span, null);

/// <summary><c>type(condition, ...)</c>: the conditions are and-ed.</summary>
internal sealed record PatternSyntax(TextSpan Span, QualifiedNameSyntax Type, IReadOnlyList<ExpressionSyntax> Conditions) : SyntaxNode(Span);

/// <summary>An action of <c>then</c>.</summary>
internal abstract record ActionSyntax(TextSpan Span) : SyntaxNode(Span);

/// <summary><c>start workflow "id" [key expr] [with { ... }]</c>.</summary>
internal sealed record StartWorkflowActionSyntax(TextSpan Span, SyntaxToken WorkflowId, ExpressionSyntax? Key, MapExpressionSyntax? Input)
    : ActionSyntax(Span);

/// <summary>A clause after the actions.</summary>
internal abstract record RuleClauseSyntax(TextSpan Span, SyntaxToken Keyword) : SyntaxNode(Span);

/// <summary><c>throttle once within duration [per expr, ...]</c>.</summary>
internal sealed record ThrottleClauseSyntax(TextSpan Span, SyntaxToken Keyword, SyntaxToken Mode, SyntaxToken? Window, IReadOnlyList<ExpressionSyntax> Per)
    : RuleClauseSyntax(Span, Keyword);

// ---- expressions -------------------------------------------------------------------------------------------------------

/// <summary>An expression: a condition or a value.</summary>
internal abstract record ExpressionSyntax(TextSpan Span) : SyntaxNode(Span);

/// <summary>A string, number, duration, <c>true</c>, <c>false</c> or <c>null</c> (numbers may carry a leading minus).</summary>
internal sealed record LiteralExpressionSyntax(TextSpan Span, SyntaxToken Token, bool Negative) : ExpressionSyntax(Span);

/// <summary><c>a.b.c</c>: a field of the pattern's event, or a binding followed by a field path.</summary>
internal sealed record PathExpressionSyntax(TextSpan Span, IReadOnlyList<SyntaxToken> Segments) : ExpressionSyntax(Span)
{
    public string Text => string.Join('.', Segments.Select(s => s.ValueText));
}

/// <summary><c>left op right</c> with op one of <c>== != &lt; &gt; &lt;= &gt;=</c>.</summary>
internal sealed record ComparisonExpressionSyntax(TextSpan Span, ExpressionSyntax Left, SyntaxToken Operator, ExpressionSyntax Right) : ExpressionSyntax(Span);

/// <summary><c>a and b and c</c> / <c>a or b or c</c>: n-ary, so long chains do not make deep trees.</summary>
internal sealed record LogicalExpressionSyntax(TextSpan Span, bool IsAnd, IReadOnlyList<ExpressionSyntax> Operands) : ExpressionSyntax(Span);

/// <summary><c>not operand</c>.</summary>
internal sealed record NotExpressionSyntax(TextSpan Span, SyntaxToken NotKeyword, ExpressionSyntax Operand) : ExpressionSyntax(Span);

/// <summary><c>operand matches /regex/flags</c> (a string literal is accepted for the regex too).</summary>
internal sealed record MatchesExpressionSyntax(TextSpan Span, ExpressionSyntax Operand, SyntaxToken Regex) : ExpressionSyntax(Span);

/// <summary><c>operand [not] in [a, b, ...]</c>.</summary>
internal sealed record InExpressionSyntax(TextSpan Span, ExpressionSyntax Operand, bool Negated, ListExpressionSyntax List) : ExpressionSyntax(Span);

/// <summary><c>( expression )</c>.</summary>
internal sealed record ParenthesizedExpressionSyntax(TextSpan Span, ExpressionSyntax Inner) : ExpressionSyntax(Span);

/// <summary><c>[a, b, ...]</c>.</summary>
internal sealed record ListExpressionSyntax(TextSpan Span, IReadOnlyList<ExpressionSyntax> Items) : ExpressionSyntax(Span);

/// <summary><c>{ key: value, ... }</c> (keys are names or strings).</summary>
internal sealed record MapExpressionSyntax(TextSpan Span, IReadOnlyList<MapEntrySyntax> Entries) : ExpressionSyntax(Span);

/// <summary><c>key: value</c>.</summary>
internal sealed record MapEntrySyntax(TextSpan Span, SyntaxToken Key, ExpressionSyntax Value) : SyntaxNode(Span);

/// <summary>Placeholder for an expression that is not there (error recovery); always reported already.</summary>
internal sealed record MissingExpressionSyntax(TextSpan Span) : ExpressionSyntax(Span);
