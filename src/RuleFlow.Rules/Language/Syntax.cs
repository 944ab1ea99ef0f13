namespace RuleFlow.Rules.Language;

// Immutable syntax tree of a rule file. Every node carries the span of source text it covers; tokens keep their comments,
// so the formatter (ruleflow fmt) can be written over tokens and this tree. Nodes produced by error recovery contain missing
// tokens (IsMissing).

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

/// <summary><c>namespace a.b</c>: the names this file declares are prefixed with <c>a.b.</c>.</summary>
internal sealed record NamespaceDeclarationSyntax(TextSpan Span, SyntaxToken Keyword, QualifiedNameSyntax Name) : MemberSyntax(Span);

/// <summary><c>import "file.rules"</c> (load that file too) or <c>import a.b</c> (its short names resolve here).</summary>
internal sealed record ImportDeclarationSyntax(TextSpan Span, SyntaxToken Keyword, SyntaxToken? File, QualifiedNameSyntax? Namespace)
    : MemberSyntax(Span);

// ---- event and fact declarations ---------------------------------------------------------------------------------------

/// <summary><c>event name clause*</c> or <c>fact name clause*</c>.</summary>
internal sealed record EventDeclarationSyntax(TextSpan Span, SyntaxToken EventKeyword, QualifiedNameSyntax Name, IReadOnlyList<EventClauseSyntax> Clauses)
    : MemberSyntax(Span)
{
    public bool IsFact => EventKeyword.Text == "fact";
}

/// <summary>A clause of an event declaration.</summary>
internal abstract record EventClauseSyntax(TextSpan Span, SyntaxToken Keyword) : SyntaxNode(Span);

/// <summary><c>from exchange "x" routing "pattern"</c> (either part may be left out, not both).</summary>
internal sealed record FromClauseSyntax(TextSpan Span, SyntaxToken Keyword, SyntaxToken? Exchange, SyntaxToken? RoutingPattern)
    : EventClauseSyntax(Span, Keyword);

/// <summary><c>key field.path</c>: the correlation key (for facts: the identity).</summary>
internal sealed record KeyClauseSyntax(TextSpan Span, SyntaxToken Keyword, PathExpressionSyntax Field) : EventClauseSyntax(Span, Keyword);

/// <summary><c>time field.path</c>: the event-time field.</summary>
internal sealed record TimeClauseSyntax(TextSpan Span, SyntaxToken Keyword, PathExpressionSyntax Field) : EventClauseSyntax(Span, Keyword);

/// <summary><c>fields { name: type, ... }</c>: declared fields with types.</summary>
internal sealed record FieldsClauseSyntax(TextSpan Span, SyntaxToken Keyword, IReadOnlyList<FieldDeclarationSyntax> Fields)
    : EventClauseSyntax(Span, Keyword);

/// <summary><c>dedup by a, b within 10s</c>: drop events whose fields equal those of an event accepted less than 10 s before.</summary>
internal sealed record DedupClauseSyntax(TextSpan Span, SyntaxToken Keyword, IReadOnlyList<PathExpressionSyntax> Fields, SyntaxToken? Window)
    : EventClauseSyntax(Span, Keyword);

/// <summary><c>name: type</c>, or <c>name: type?</c> inside <c>fields { }</c>, the latter for a field its producer may leave out (<paramref name="Optional"/> is the <c>?</c>).</summary>
internal sealed record FieldDeclarationSyntax(TextSpan Span, SyntaxToken Name, TypeSyntax Type, SyntaxToken? Optional = null) : SyntaxNode(Span);

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

/// <summary><c>description "text"</c>, <c>owner "text"</c>, <c>runbook "url"</c>: one string.</summary>
internal sealed record DescriptionOptionSyntax(TextSpan Span, SyntaxToken Keyword, SyntaxToken Text) : RuleOptionSyntax(Span, Keyword);

/// <summary><c>tags "a", "b"</c>.</summary>
internal sealed record TagsOptionSyntax(TextSpan Span, SyntaxToken Keyword, IReadOnlyList<SyntaxToken> Tags) : RuleOptionSyntax(Span, Keyword);

/// <summary><c>enabled true|false</c> or <c>disabled</c>.</summary>
internal sealed record EnabledOptionSyntax(TextSpan Span, SyntaxToken Keyword, bool Enabled) : RuleOptionSyntax(Span, Keyword);

/// <summary>A condition element of <c>when</c>.</summary>
internal abstract record ElementSyntax(TextSpan Span, SyntaxToken? Binding) : SyntaxNode(Span);

/// <summary><c>[binding:] type(condition, ...)</c>.</summary>
internal sealed record PatternElementSyntax(TextSpan Span, SyntaxToken? Binding, PatternSyntax Pattern) : ElementSyntax(Span, Binding);

/// <summary>
/// <c>[a:] type(...) then [b:] type(...) [then ...] within duration</c>: each event after the previous one (event time, then arrival
/// order), all within the duration of the first.
/// </summary>
internal sealed record SequenceElementSyntax(TextSpan Span, IReadOnlyList<PatternElementSyntax> Steps, SyntaxToken? WithinKeyword, SyntaxToken? Window)
    : ElementSyntax(Span, null);

/// <summary>
/// <c>[binding:] function(pattern [, value]) clause*</c>, e.g. <c>count(ssh.auth(...)) within 60s &gt;= 5</c>. The clauses after the
/// closing parenthesis (<c>within</c>, <c>last</c>, <c>every</c>, <c>per</c>, a comparison) may come in any order.
/// </summary>
internal sealed record AggregateElementSyntax(
    TextSpan Span,
    SyntaxToken? Binding,
    SyntaxToken Function,
    PatternSyntax Pattern,
    ExpressionSyntax? Value,
    SyntaxToken? WithinKeyword,
    SyntaxToken? Window,
    SyntaxToken? Last,
    SyntaxToken? Every,
    IReadOnlyList<ExpressionSyntax> Per,
    SyntaxToken? Operator,
    ExpressionSyntax? Threshold) : ElementSyntax(Span, Binding);

/// <summary><c>not pattern [within duration]</c>: no such fact or event (with <c>within</c>: none in the duration after the match).</summary>
internal sealed record NotElementSyntax(TextSpan Span, SyntaxToken Keyword, PatternSyntax Pattern, SyntaxToken? Window) : ElementSyntax(Span, null);

/// <summary><c>exists pattern</c>.</summary>
internal sealed record ExistsElementSyntax(TextSpan Span, SyntaxToken Keyword, PatternSyntax Pattern) : ElementSyntax(Span, null);

/// <summary><c>forall [b:] pattern =&gt; pattern</c>: every fact or event of the first pattern has a match of the second.</summary>
internal sealed record ForallElementSyntax(TextSpan Span, SyntaxToken Keyword, SyntaxToken? InnerBinding, PatternSyntax Each, PatternSyntax Satisfies)
    : ElementSyntax(Span, null);

/// <summary><c>[binding:] no pattern for duration [per a, b]</c>: silence — no such event for the duration.</summary>
internal sealed record NoElementSyntax(TextSpan Span, SyntaxToken? Binding, SyntaxToken Keyword, PatternSyntax Pattern, SyntaxToken? Duration,
    IReadOnlyList<ExpressionSyntax> Per) : ElementSyntax(Span, Binding);

/// <summary><c>type(condition, ...)</c>: the conditions are and-ed.</summary>
internal sealed record PatternSyntax(TextSpan Span, QualifiedNameSyntax Type, IReadOnlyList<ExpressionSyntax> Conditions) : SyntaxNode(Span);

/// <summary>An action of <c>then</c>.</summary>
internal abstract record ActionSyntax(TextSpan Span) : SyntaxNode(Span);

/// <summary><c>start workflow "id" [key expr] [with { ... } | with template "..."]</c>.</summary>
internal sealed record StartWorkflowActionSyntax(TextSpan Span, SyntaxToken WorkflowId, ExpressionSyntax? Key, MapExpressionSyntax? Input, SyntaxToken? Template)
    : ActionSyntax(Span);

/// <summary><c>signal "name" to workflow "id" key expr [with { ... }]</c>.</summary>
internal sealed record SignalWorkflowActionSyntax(TextSpan Span, SyntaxToken Signal, SyntaxToken WorkflowId, ExpressionSyntax? Key, MapExpressionSyntax? Payload)
    : ActionSyntax(Span);

/// <summary><c>publish value to exchange "x" [routing expr] [headers { ... }]</c>.</summary>
internal sealed record PublishActionSyntax(TextSpan Span, ExpressionSyntax Body, SyntaxToken Exchange, ExpressionSyntax? Routing, MapExpressionSyntax? Headers)
    : ActionSyntax(Span);

/// <summary><c>script "code" [with { ... }]</c>.</summary>
internal sealed record ScriptActionSyntax(TextSpan Span, SyntaxToken Code, MapExpressionSyntax? Bindings) : ActionSyntax(Span);

/// <summary><c>log [debug|info|warning|error] value</c>.</summary>
internal sealed record LogActionSyntax(TextSpan Span, SyntaxToken? Level, ExpressionSyntax Message) : ActionSyntax(Span);

/// <summary><c>insert Type { ... }</c>.</summary>
internal sealed record InsertFactActionSyntax(TextSpan Span, QualifiedNameSyntax Type, MapExpressionSyntax Value) : ActionSyntax(Span);

/// <summary><c>update binding { field: value, ... }</c>.</summary>
internal sealed record UpdateFactActionSyntax(TextSpan Span, SyntaxToken Binding, MapExpressionSyntax Changes) : ActionSyntax(Span);

/// <summary><c>retract binding</c>.</summary>
internal sealed record RetractFactActionSyntax(TextSpan Span, SyntaxToken Binding) : ActionSyntax(Span);

/// <summary>A clause after the actions.</summary>
internal abstract record RuleClauseSyntax(TextSpan Span, SyntaxToken Keyword) : SyntaxNode(Span);

/// <summary>How a throttle limits firings.</summary>
internal enum ThrottleMode
{
    OnceWithin,
    OnceAfter,
    AtMost,
}

/// <summary>
/// <c>throttle once within D [per ...]</c>, <c>throttle once after D [per ...]</c>, <c>throttle at most N per D [per ...]</c>.
/// </summary>
internal sealed record ThrottleClauseSyntax(TextSpan Span, SyntaxToken Keyword, SyntaxToken Mode, ThrottleMode Kind, SyntaxToken? Count,
    SyntaxToken? Window, IReadOnlyList<ExpressionSyntax> Per) : RuleClauseSyntax(Span, Keyword);

/// <summary><c>group by expr, ... wait D</c>.</summary>
internal sealed record GroupByClauseSyntax(TextSpan Span, SyntaxToken Keyword, IReadOnlyList<ExpressionSyntax> Keys, SyntaxToken? Window)
    : RuleClauseSyntax(Span, Keyword);

// ---- expressions -------------------------------------------------------------------------------------------------------

/// <summary>An expression: a condition or a value.</summary>
internal abstract record ExpressionSyntax(TextSpan Span) : SyntaxNode(Span);

/// <summary>
/// A string, number, duration, timestamp, IP address, network, <c>true</c>, <c>false</c> or <c>null</c> (numbers and durations may
/// carry a leading minus).
/// </summary>
internal sealed record LiteralExpressionSyntax(TextSpan Span, SyntaxToken Token, bool Negative) : ExpressionSyntax(Span);

/// <summary>
/// <c>a.b[0].c</c>: a field of the pattern's event, or a binding followed by a field path. Segments are names (identifiers) or
/// indexes (number literals, negative from the end, and string literals for keys that are not names).
/// </summary>
internal sealed record PathExpressionSyntax(TextSpan Span, IReadOnlyList<SyntaxToken> Segments) : ExpressionSyntax(Span)
{
    public string Text => string.Concat(Segments.Select((s, i) => s.Kind switch
    {
        SyntaxKind.Identifier => (i == 0 ? "" : ".") + s.ValueText,
        SyntaxKind.StringLiteral => "[" + s.Text + "]",
        _ => "[" + s.Text + "]",
    }));
}

/// <summary><c>left op right</c> with op one of <c>== != &lt; &gt; &lt;= &gt;=</c>.</summary>
internal sealed record ComparisonExpressionSyntax(TextSpan Span, ExpressionSyntax Left, SyntaxToken Operator, ExpressionSyntax Right) : ExpressionSyntax(Span);

/// <summary><c>left op right</c> with op one of <c>+ - * / %</c>.</summary>
internal sealed record BinaryExpressionSyntax(TextSpan Span, ExpressionSyntax Left, SyntaxToken Operator, ExpressionSyntax Right) : ExpressionSyntax(Span);

/// <summary><c>-operand</c> (for something that is not a number literal).</summary>
internal sealed record NegateExpressionSyntax(TextSpan Span, SyntaxToken Minus, ExpressionSyntax Operand) : ExpressionSyntax(Span);

/// <summary><c>left contains right</c>, <c>left startswith right</c>, <c>left endswith right</c>.</summary>
internal sealed record TextOperatorExpressionSyntax(TextSpan Span, ExpressionSyntax Left, SyntaxToken Operator, ExpressionSyntax Right) : ExpressionSyntax(Span);

/// <summary><c>a and b and c</c> / <c>a or b or c</c>: n-ary, so long chains do not make deep trees.</summary>
internal sealed record LogicalExpressionSyntax(TextSpan Span, bool IsAnd, IReadOnlyList<ExpressionSyntax> Operands) : ExpressionSyntax(Span);

/// <summary><c>not operand</c>.</summary>
internal sealed record NotExpressionSyntax(TextSpan Span, SyntaxToken NotKeyword, ExpressionSyntax Operand) : ExpressionSyntax(Span);

/// <summary><c>operand matches /regex/flags</c> (a string literal is accepted for the regex too).</summary>
internal sealed record MatchesExpressionSyntax(TextSpan Span, ExpressionSyntax Operand, SyntaxToken Regex) : ExpressionSyntax(Span);

/// <summary><c>operand [not] in target</c>: target is a list (of literals, ranges and networks), a range, a network or a value.</summary>
internal sealed record InExpressionSyntax(TextSpan Span, ExpressionSyntax Operand, bool Negated, ExpressionSyntax Target) : ExpressionSyntax(Span);

/// <summary><c>low..high</c> (inclusive), only after <c>in</c>.</summary>
internal sealed record RangeExpressionSyntax(TextSpan Span, ExpressionSyntax Low, ExpressionSyntax High) : ExpressionSyntax(Span);

/// <summary><c>name(arguments)</c>: a function.</summary>
internal sealed record CallExpressionSyntax(TextSpan Span, SyntaxToken Name, IReadOnlyList<ExpressionSyntax> Arguments) : ExpressionSyntax(Span);

/// <summary><c>any(x in source: condition)</c> / <c>all(x in source: condition)</c>.</summary>
internal sealed record QuantifierExpressionSyntax(TextSpan Span, SyntaxToken Quantifier, SyntaxToken Variable, ExpressionSyntax Source, ExpressionSyntax Condition)
    : ExpressionSyntax(Span);

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
