using System.Globalization;
using System.Text.RegularExpressions;
using RuleFlow.Rules.Engine;

namespace RuleFlow.Rules.Language;

/// <summary>
/// Resolves names and checks types: event types of patterns, bindings and their fields, aggregate names (<c>count</c>,
/// <c>window</c>), regular expressions, durations, priorities. Fields are type-checked where the event type declares them
/// (<c>fields { ... }</c>); undeclared fields are unknown and accepted (a missing field makes its condition false at run time).
/// Reports every problem it finds and never throws; a rule with an error is not returned.
/// </summary>
internal sealed class Binder
{
    private const int MaxPriority = 1_000_000;

    private readonly DiagnosticBag _diagnostics;
    private readonly IReadOnlyDictionary<string, BoundEventType> _types;

    public Binder(DiagnosticBag diagnostics, IReadOnlyDictionary<string, BoundEventType> types)
    {
        _diagnostics = diagnostics;
        _types = types;
    }

    private SourceLocation Loc(TextSpan span) => _diagnostics.Source.GetLocation(span.Start);

    private void Report(DiagnosticDescriptor descriptor, TextSpan span, string message, string? hint = null) =>
        _diagnostics.Report(descriptor, span, message, hint);

    private int ErrorCount => _diagnostics.Items.Count(d => d.Severity == DiagnosticSeverity.Error);

    private bool HasErrorWithin(TextSpan span) => _diagnostics.ErrorPositions.Any(p => p >= span.Start && p <= span.End);

    // ---- event declarations ----------------------------------------------------------------------------------------

    /// <summary>Binds an event declaration; null when it has an error of its own (then it is not declared).</summary>
    public BoundEventType? BindEventDeclaration(EventDeclarationSyntax declaration)
    {
        if (declaration.Name.IsMissing)
        {
            return null;
        }

        var errors = ErrorCount;
        string? exchange = null;
        string? routingText = null;
        TopicPattern? routing = null;
        FieldSchema? schema = null;
        IReadOnlyList<string>? keyPath = null;
        IReadOnlyList<string>? timePath = null;
        PathExpressionSyntax? keySyntax = null;
        PathExpressionSyntax? timeSyntax = null;
        foreach (var clause in declaration.Clauses)
        {
            switch (clause)
            {
                case FromClauseSyntax from:
                    if (from.Exchange is { IsMissing: false } ex)
                    {
                        exchange = ex.ValueText;
                        if (exchange.Length == 0)
                        {
                            Report(DiagnosticCodes.InvalidRoutingPattern, ex.Span, "the exchange name is empty");
                        }
                    }

                    if (from.RoutingPattern is { IsMissing: false } rp)
                    {
                        routingText = rp.ValueText;
                        routing = TopicPattern.TryParse(routingText, out var error);
                        if (routing is null)
                        {
                            Report(DiagnosticCodes.InvalidRoutingPattern, rp.Span, $"invalid routing pattern \"{routingText}\": {error}",
                                "words are separated by '.'; '*' matches one word, '#' zero or more words");
                        }
                    }

                    break;
                case KeyClauseSyntax key when !HasMissing(key.Field):
                    keySyntax = key.Field;
                    keyPath = [.. key.Field.Segments.Select(s => s.ValueText)];
                    break;
                case TimeClauseSyntax time when !HasMissing(time.Field):
                    timeSyntax = time.Field;
                    timePath = [.. time.Field.Segments.Select(s => s.ValueText)];
                    break;
                case FieldsClauseSyntax fields:
                    schema = new FieldSchema(ExprType.Object, BindFieldBlock(fields.Fields));
                    break;
            }
        }

        if (schema is not null)
        {
            if (keySyntax is not null)
            {
                CheckDeclaredPath(schema, keySyntax, "key", declaration.Name.Name, null);
            }

            if (timeSyntax is not null)
            {
                CheckDeclaredPath(schema, timeSyntax, "time", declaration.Name.Name,
                    t => t is ExprType.Time or ExprType.String or ExprType.Number or ExprType.Any);
            }
        }

        if (ErrorCount > errors)
        {
            return null;
        }

        return new BoundEventType(declaration.Name.Name, exchange, routingText, routing, keyPath, timePath, schema,
            Loc(declaration.EventKeyword.Span));
    }

    private static bool HasMissing(PathExpressionSyntax path) => path.Segments.Any(s => s.IsMissing);

    private void CheckDeclaredPath(FieldSchema schema, PathExpressionSyntax path, string clause, string typeName, Func<ExprType, bool>? typeOk)
    {
        var current = schema;
        foreach (var segment in path.Segments)
        {
            if (current.Type is ExprType.Any)
            {
                return;
            }

            if (current.Fields is null || !current.Fields.TryGetValue(segment.ValueText, out var next))
            {
                Report(DiagnosticCodes.UnknownDeclaredField, segment.Span,
                    $"'{clause} {path.Text}': event {typeName} declares no field '{segment.ValueText}'",
                    $"declare it in fields {{ ... }} or correct the name{DidYouMean(segment.ValueText, current.Fields?.Keys ?? [])}");
                return;
            }

            current = next;
        }

        if (typeOk is not null && !typeOk(current.Type))
        {
            Report(DiagnosticCodes.TypeMismatch, path.Span,
                $"the time field '{path.Text}' is declared as {TypeName(current.Type)}; an event time is a time, a string (ISO-8601) or a number (Unix ms)");
        }
    }

    private Dictionary<string, FieldSchema> BindFieldBlock(IReadOnlyList<FieldDeclarationSyntax> fields)
    {
        var result = new Dictionary<string, FieldSchema>(StringComparer.Ordinal);
        foreach (var field in fields)
        {
            if (field.Name.IsMissing)
            {
                continue;
            }

            var name = field.Name.ValueText;
            var type = BindType(field.Type);
            if (!result.TryAdd(name, type))
            {
                Report(DiagnosticCodes.DuplicateField, field.Name.Span, $"the field '{name}' is declared twice");
            }
        }

        return result;
    }

    private FieldSchema BindType(TypeSyntax type)
    {
        switch (type)
        {
            case ObjectTypeSyntax obj:
                return new FieldSchema(ExprType.Object, BindFieldBlock(obj.Fields));
            case ArrayTypeSyntax array:
                return new FieldSchema(ExprType.Array, Element: BindType(array.Element));
            case NamedTypeSyntax named when !named.Name.IsMissing:
                var t = named.Name.ValueText switch
                {
                    "string" => ExprType.String,
                    "number" or "int" or "integer" => ExprType.Number,
                    "bool" or "boolean" => ExprType.Bool,
                    "time" or "timestamp" => ExprType.Time,
                    "object" => ExprType.Object,
                    "array" => ExprType.Array,
                    "any" => ExprType.Any,
                    _ => ExprType.Unknown,
                };
                if (t == ExprType.Unknown)
                {
                    Report(DiagnosticCodes.UnknownFieldType, named.Name.Span, $"unknown field type '{named.Name.ValueText}'",
                        "types are string, number, bool, time, object, array, any, { name: type } and [type]");
                    return new FieldSchema(ExprType.Any);
                }

                return t == ExprType.Object ? new FieldSchema(ExprType.Any) : new FieldSchema(t);
            default:
                return new FieldSchema(ExprType.Any);
        }
    }

    // ---- rules -----------------------------------------------------------------------------------------------------

    private sealed class Symbol(string name, int index, SourceLocation location, bool isExplicit)
    {
        public string Name { get; } = name;

        public int Index { get; } = index;

        public SourceLocation Location { get; } = location;

        public bool Explicit { get; } = isExplicit;

        public BoundEventType? Type { get; init; }

        public BoundAggregateElement? Aggregate { get; set; }

        public bool IsAggregate { get; init; }

        public bool Used { get; set; }

        public bool Ambiguous { get; set; }

        public TextSpan Span { get; init; }
    }

    private enum Context
    {
        /// <summary>Conditions of a pattern: bare names are fields of its event.</summary>
        Pattern,

        /// <summary><c>per</c> of an aggregate: fields of the aggregated events only.</summary>
        Per,

        /// <summary>Actions and throttle keys: names are bindings, aggregates and <c>window</c>.</summary>
        Action,
    }

    private sealed class RuleScope
    {
        public Dictionary<string, Symbol> Symbols { get; } = new(StringComparer.Ordinal);

        public HashSet<string> AllBindingNames { get; } = new(StringComparer.Ordinal);

        public List<Symbol> Aggregates { get; } = [];

        public BoundEventType? CurrentType { get; set; }

        /// <summary>Binding names already reported as hiding a field in the current pattern.</summary>
        public HashSet<string> ShadowWarned { get; } = new(StringComparer.Ordinal);
    }

    /// <summary>Binds every rule of a file; rules with errors are left out (their errors are reported).</summary>
    public List<BoundRule> BindRules(CompilationUnitSyntax unit)
    {
        var rules = new List<BoundRule>();
        var names = new Dictionary<string, SourceLocation>(StringComparer.Ordinal);
        foreach (var rule in unit.Members.OfType<RuleDeclarationSyntax>())
        {
            if (!rule.Name.IsMissing && !names.TryAdd(rule.Name.ValueText, Loc(rule.Name.Span)))
            {
                Report(DiagnosticCodes.DuplicateRule, rule.Name.Span, $"the rule name \"{rule.Name.ValueText}\" is already used at {names[rule.Name.ValueText]}",
                    "rule names must be unique in a rule set");
            }

            var bound = BindRule(rule);
            if (bound is not null)
            {
                rules.Add(bound);
            }
        }

        return rules;
    }

    private BoundRule? BindRule(RuleDeclarationSyntax rule)
    {
        var errors = ErrorCount;
        var name = rule.Name.IsMissing ? null : rule.Name.ValueText;
        if (name is { Length: 0 })
        {
            Report(DiagnosticCodes.Expected, rule.Name.Span, "the rule name is empty");
        }

        var priority = 0;
        string? description = null;
        foreach (var option in rule.Options)
        {
            switch (option)
            {
                case PriorityOptionSyntax p when p.Value.Value is double value:
                    var v = p.Negative ? -value : value;
                    if (v != Math.Floor(v) || Math.Abs(v) > MaxPriority)
                    {
                        Report(DiagnosticCodes.InvalidPriority, p.Value.Span,
                            $"priority {(p.Negative ? "-" : "")}{p.Value.Text} is not a whole number between -{MaxPriority} and {MaxPriority}");
                    }
                    else
                    {
                        priority = (int)v;
                    }

                    break;
                case DescriptionOptionSyntax d when !d.Text.IsMissing:
                    description = d.Text.ValueText;
                    break;
            }
        }

        var scope = new RuleScope();
        foreach (var element in rule.Elements)
        {
            if (element.Binding is { } b)
            {
                scope.AllBindingNames.Add(b.ValueText);
            }
        }

        var elements = new List<BoundElement>();
        for (var i = 0; i < rule.Elements.Count; i++)
        {
            var element = BindElement(rule.Elements[i], i, scope);
            if (element is not null)
            {
                elements.Add(element);
            }
        }

        scope.CurrentType = null;
        var actions = new List<BoundAction>();
        foreach (var action in rule.Actions)
        {
            if (action is StartWorkflowActionSyntax start && !start.WorkflowId.IsMissing)
            {
                var key = start.Key is null ? null : BindValue(start.Key, Context.Action, scope);
                var input = start.Input is null ? null : (BoundMap?)BindValue(start.Input, Context.Action, scope);
                actions.Add(new BoundStartWorkflow(Loc(start.Span), start.WorkflowId.ValueText, key, input));
            }
        }

        BoundThrottle? throttle = null;
        foreach (var clause in rule.Clauses)
        {
            if (clause is ThrottleClauseSyntax t && !t.Mode.IsMissing && t.Window is not null)
            {
                var window = BindDuration(t.Window);
                var per = t.Per.Select(p => BindValue(p, Context.Action, scope)).ToList();
                if (window is { } w)
                {
                    throttle = new BoundThrottle(Loc(t.Span), w, per);
                }
            }
        }

        foreach (var symbol in scope.Symbols.Values)
        {
            if (symbol.Explicit && !symbol.Used && ErrorCount == errors && !HasErrorWithin(rule.Span))
            {
                Report(DiagnosticCodes.UnusedBinding, symbol.Span, $"the binding '{symbol.Name}' is never used",
                    $"use it in a later condition or an action, or remove '{symbol.Name}:'");
            }
        }

        if (ErrorCount > errors || name is null || name.Length == 0)
        {
            return null;
        }

        return new BoundRule(name, priority, description, _diagnostics.Source.Path, Loc(rule.RuleKeyword.Span), elements, actions, throttle);
    }

    private TimeSpan? BindDuration(SyntaxToken token)
    {
        if (token.Kind != SyntaxKind.DurationLiteral || token.Value is not TimeSpan value)
        {
            return null; // a bare number or an invalid duration: already reported
        }

        if (value <= TimeSpan.Zero)
        {
            Report(DiagnosticCodes.NonPositiveDuration, token.Span, $"the duration {token.Text} must be longer than zero");
            return null;
        }

        return value;
    }

    private BoundEventType? ResolveType(QualifiedNameSyntax name)
    {
        if (name.IsMissing)
        {
            return null;
        }

        if (_types.TryGetValue(name.Name, out var type))
        {
            return type;
        }

        Report(DiagnosticCodes.UnknownEventType, name.Span, $"unknown event type '{name.Name}'",
            $"declare it with: event {name.Name}{DidYouMean(name.Name, _types.Keys)}");
        return null;
    }

    private BoundElement? BindElement(ElementSyntax element, int index, RuleScope scope)
    {
        switch (element)
        {
            case PatternElementSyntax pattern:
            {
                var type = ResolveType(pattern.Pattern.Type);
                scope.CurrentType = type;
                scope.ShadowWarned.Clear();
                var conditions = new List<BoundExpression>();
                foreach (var condition in pattern.Pattern.Conditions)
                {
                    conditions.Add(BindCondition(condition, Context.Pattern, scope));
                }

                scope.CurrentType = null;
                if (pattern.Binding is { } b)
                {
                    Declare(scope, b, index, type, isAggregate: false);
                }

                return type is null ? null : new BoundPatternElement(index, pattern.Binding?.ValueText, Loc(pattern.Span), type, conditions);
            }

            case AggregateElementSyntax aggregate:
                return BindAggregate(aggregate, index, scope);

            case QuantifiedElementSyntax quantified:
                Report(DiagnosticCodes.NotSupportedYet, quantified.Quantifier.Span,
                    $"'{quantified.Quantifier.Text}' over a pattern is not supported yet",
                    "this version matches events with patterns and count(...) aggregates");
                return null;

            default:
                return null;
        }
    }

    private Symbol Declare(RuleScope scope, SyntaxToken token, int index, BoundEventType? type, bool isAggregate)
    {
        var name = token.ValueText;
        var symbol = new Symbol(name, index, Loc(token.Span), isExplicit: true) { Type = type, IsAggregate = isAggregate, Span = token.Span };
        if (scope.Symbols.TryGetValue(name, out var existing) && existing.Explicit)
        {
            Report(DiagnosticCodes.DuplicateBinding, token.Span, $"the binding '{name}' is already declared at {existing.Location}",
                "give each pattern its own name");
            return symbol;
        }

        scope.Symbols[name] = symbol;
        return symbol;
    }

    private BoundAggregateElement? BindAggregate(AggregateElementSyntax aggregate, int index, RuleScope scope)
    {
        var errors = ErrorCount;
        if (aggregate.Function.Text != "count")
        {
            Report(DiagnosticCodes.NotSupportedYet, aggregate.Function.Span, $"the aggregate '{aggregate.Function.Text}' is not supported yet",
                "this version has count(...)");
        }

        var type = ResolveType(aggregate.Pattern.Type);
        scope.CurrentType = type;
        scope.ShadowWarned.Clear();
        var conditions = new List<BoundExpression>();
        foreach (var conjunct in aggregate.Pattern.Conditions.SelectMany(Conjuncts))
        {
            var condition = BindCondition(conjunct, Context.Pattern, scope);
            conditions.Add(condition);
            if (condition.Bindings.Any() && !IsEqualityJoin(condition))
            {
                Report(DiagnosticCodes.UnsupportedAggregateJoin, conjunct.Span,
                    "inside an aggregate, a condition on an earlier binding must be an equality between a field and the binding's field",
                    "write src_ip == f.src_ip; other comparisons with bindings are not supported in aggregates yet");
            }
        }

        var per = new List<BoundExpression>();
        foreach (var p in aggregate.Per)
        {
            per.Add(BindValue(p, Context.Per, scope));
        }

        scope.CurrentType = null;
        TimeSpan window = default;
        if (aggregate.WithinKeyword is null)
        {
            Report(DiagnosticCodes.AggregateWithoutWindow, aggregate.Function.Span, $"{aggregate.Function.Text}(...) needs a window",
                $"add 'within <duration>', e.g. {aggregate.Function.Text}(...) within 60s >= 5");
        }
        else if (aggregate.Window is { } w && BindDuration(w) is { } d)
        {
            window = d;
        }

        ComparisonOp? op = null;
        var threshold = RuleValue.Missing;
        if (aggregate.Operator is { } opToken)
        {
            op = ToOperator(opToken.Kind);
            if (aggregate.Threshold is { } thresholdSyntax and not MissingExpressionSyntax)
            {
                var value = BindValue(thresholdSyntax, Context.Per, scope);
                if (value is BoundLiteral { Value.Kind: ValueKind.Number } literal)
                {
                    threshold = literal.Value;
                }
                else if (value is not BoundError)
                {
                    Report(DiagnosticCodes.InvalidThreshold, thresholdSyntax.Span,
                        $"{aggregate.Function.Text}(...) is compared with a number, e.g. >= 5");
                }
            }
        }

        var name = aggregate.Binding?.ValueText ?? aggregate.Function.Text;
        Symbol symbol;
        if (aggregate.Binding is { } label)
        {
            symbol = Declare(scope, label, index, type, isAggregate: true);
        }
        else
        {
            symbol = new Symbol(name, index, Loc(aggregate.Function.Span), isExplicit: false)
            {
                IsAggregate = true, Type = type, Span = aggregate.Function.Span,
            };
            if (scope.Symbols.TryGetValue(name, out var existing))
            {
                if (!existing.Explicit)
                {
                    existing.Ambiguous = true;
                }
            }
            else
            {
                scope.Symbols[name] = symbol;
            }
        }

        scope.Aggregates.Add(symbol);
        if (type is null || ErrorCount > errors)
        {
            return null;
        }

        var bound = new BoundAggregateElement(index, name, Loc(aggregate.Span), type, conditions, AggregateFunctionKind.Count, window, per, op, threshold);
        symbol.Aggregate = bound;
        return bound;
    }

    private static IEnumerable<ExpressionSyntax> Conjuncts(ExpressionSyntax expression) => expression switch
    {
        LogicalExpressionSyntax { IsAnd: true } and => and.Operands.SelectMany(Conjuncts),
        ParenthesizedExpressionSyntax p => Conjuncts(p.Inner),
        _ => [expression],
    };

    /// <summary>True for <c>field == binding.field</c> (either order): a hash-join key.</summary>
    internal static bool IsEqualityJoin(BoundExpression expression) =>
        expression is BoundComparison { Operator: ComparisonOp.Equal } c
        && ((IsCurrentOnly(c.Left) && IsBindingsOnly(c.Right)) || (IsCurrentOnly(c.Right) && IsBindingsOnly(c.Left)));

    internal static bool IsCurrentOnly(BoundExpression e) => e.UsesCurrent && !e.Bindings.Any();

    internal static bool IsBindingsOnly(BoundExpression e) => !e.UsesCurrent && e.Bindings.Any();

    private static ComparisonOp ToOperator(SyntaxKind kind) => kind switch
    {
        SyntaxKind.EqualsEquals => ComparisonOp.Equal,
        SyntaxKind.BangEquals => ComparisonOp.NotEqual,
        SyntaxKind.Less => ComparisonOp.Less,
        SyntaxKind.LessEquals => ComparisonOp.LessOrEqual,
        SyntaxKind.Greater => ComparisonOp.Greater,
        _ => ComparisonOp.GreaterOrEqual,
    };

    // ---- expressions -----------------------------------------------------------------------------------------------

    private BoundExpression BindCondition(ExpressionSyntax syntax, Context context, RuleScope scope)
    {
        switch (syntax)
        {
            case ComparisonExpressionSyntax comparison:
            {
                var left = BindValue(comparison.Left, context, scope);
                var right = BindValue(comparison.Right, context, scope);
                var op = ToOperator(comparison.Operator.Kind);
                if (left is BoundList or BoundMap || right is BoundList or BoundMap)
                {
                    Report(DiagnosticCodes.TypeMismatch, comparison.Span, "a list or a map cannot be compared with == or <",
                        "to test membership write: field in [\"a\", \"b\"]");
                    return new BoundError();
                }

                CheckComparable(op, left, right, comparison);
                return new BoundComparison(op, left, right);
            }

            case LogicalExpressionSyntax logical:
                return new BoundLogical(logical.IsAnd, [.. logical.Operands.Select(o => BindCondition(o, context, scope))]);
            case NotExpressionSyntax not:
                return new BoundNot(BindCondition(not.Operand, context, scope));
            case ParenthesizedExpressionSyntax parenthesized:
                return BindCondition(parenthesized.Inner, context, scope);
            case MatchesExpressionSyntax matches:
            {
                var operand = BindValue(matches.Operand, context, scope);
                if (operand.Type is not (ExprType.Unknown or ExprType.Any or ExprType.String or ExprType.Time))
                {
                    Report(DiagnosticCodes.TypeMismatch, matches.Operand.Span,
                        $"'matches' needs a string, but {Describe(matches.Operand)} is {TypeName(operand.Type)}");
                }

                if (matches.Regex.IsMissing || matches.Regex.Value is null)
                {
                    return new BoundError();
                }

                var (pattern, flags) = matches.Regex.Value is RegexValue r ? (r.Pattern, r.Flags) : ((string)matches.Regex.Value, "");
                var regex = CompileRegex(pattern, flags, matches.Regex.Span);
                return regex is null ? new BoundError() : new BoundMatches(operand, regex, pattern, flags);
            }

            case InExpressionSyntax inExpression:
            {
                var operand = BindValue(inExpression.Operand, context, scope);
                var items = new List<RuleValue>();
                foreach (var item in inExpression.List.Items)
                {
                    var value = BindValue(item, context, scope);
                    if (value is BoundLiteral literal)
                    {
                        items.Add(literal.Value);
                        CheckComparable(ComparisonOp.Equal, operand, value, item);
                    }
                    else if (value is not BoundError)
                    {
                        Report(DiagnosticCodes.NonLiteralInList, item.Span, "the list after 'in' may hold only literals (strings, numbers, true, false, null)",
                            "compare with fields using == and or");
                    }
                }

                return new BoundIn(operand, [.. items], inExpression.Negated);
            }

            case MissingExpressionSyntax:
                return new BoundError();
            default:
            {
                var value = BindValue(syntax, context, scope);
                if (value is BoundError)
                {
                    return value;
                }

                if (value.Type is not (ExprType.Bool or ExprType.Unknown or ExprType.Any))
                {
                    Report(DiagnosticCodes.TypeMismatch, syntax.Span, $"{Describe(syntax)} is {TypeName(value.Type)}, not a condition",
                        syntax is PathExpressionSyntax path ? $"compare it, e.g. {path.Text} == \"...\"" : null);
                    return new BoundError();
                }

                return value is BoundLiteral { Value.Kind: ValueKind.Bool } ? value : new BoundTruth(value);
            }
        }
    }

    private BoundExpression BindValue(ExpressionSyntax syntax, Context context, RuleScope scope)
    {
        switch (syntax)
        {
            case LiteralExpressionSyntax literal:
                return BindLiteral(literal);
            case PathExpressionSyntax path:
                return BindPath(path, context, scope);
            case ParenthesizedExpressionSyntax parenthesized:
                return BindValue(parenthesized.Inner, context, scope);
            case ListExpressionSyntax list:
                return new BoundList([.. list.Items.Select(i => BindValue(i, context, scope))]);
            case MapExpressionSyntax map:
            {
                var entries = new List<KeyValuePair<string, BoundExpression>>();
                var keys = new HashSet<string>(StringComparer.Ordinal);
                foreach (var entry in map.Entries)
                {
                    var key = entry.Key.ValueText;
                    if (!keys.Add(key))
                    {
                        Report(DiagnosticCodes.DuplicateField, entry.Key.Span, $"the key '{key}' is given twice in this map");
                    }

                    entries.Add(new(key, BindValue(entry.Value, context, scope)));
                }

                return new BoundMap(entries);
            }

            case MissingExpressionSyntax:
                return new BoundError();
            default:
                return BindCondition(syntax, context, scope); // a condition used as a value gives true or false
        }
    }

    private static BoundExpression BindLiteral(LiteralExpressionSyntax literal)
    {
        var token = literal.Token;
        var sign = literal.Negative ? -1 : 1;
        switch (token.Kind)
        {
            case SyntaxKind.StringLiteral when token.Value is string text:
                return new BoundLiteral(RuleValue.FromString(text), ExprType.String);
            case SyntaxKind.NumberLiteral when token.Value is double d:
                return new BoundLiteral(RuleValue.FromNumber(sign * d), ExprType.Number);
            case SyntaxKind.DurationLiteral when token.Value is TimeSpan t:
                return new BoundLiteral(RuleValue.FromNumber(sign * t.TotalMilliseconds), ExprType.Number);
            case SyntaxKind.Identifier when token.Text == "true":
                return new BoundLiteral(RuleValue.True, ExprType.Bool);
            case SyntaxKind.Identifier when token.Text == "false":
                return new BoundLiteral(RuleValue.False, ExprType.Bool);
            case SyntaxKind.Identifier when token.Text == "null":
                return new BoundLiteral(RuleValue.Null, ExprType.Null);
            default:
                return new BoundError(); // invalid number or duration: already reported
        }
    }

    private BoundExpression BindPath(PathExpressionSyntax path, Context context, RuleScope scope)
    {
        if (path.Segments.Any(s => s.IsMissing || s.ValueText.Length == 0))
        {
            return new BoundError();
        }

        var first = path.Segments[0];
        var name = first.ValueText;
        var rest = path.Segments.Skip(1).Select(s => s.ValueText).ToList();
        if (!first.IsQuoted && scope.Symbols.TryGetValue(name, out var symbol))
        {
            symbol.Used = true;
            if (context == Context.Per)
            {
                Report(DiagnosticCodes.UnsupportedAggregateJoin, path.Span, $"'per' takes fields of the aggregated events, not the binding '{name}'");
                return new BoundError();
            }

            if (symbol.IsAggregate)
            {
                if (context == Context.Pattern)
                {
                    Report(DiagnosticCodes.AggregateInCondition, path.Span,
                        $"the aggregate '{name}' can be used in actions only in this version", "move the comparison into the aggregate: count(...) >= 5");
                    return new BoundError();
                }

                if (symbol.Ambiguous)
                {
                    Report(DiagnosticCodes.AggregateName, path.Span, $"'{name}' is ambiguous: the rule has several {name}(...) aggregates",
                        $"label them, e.g. n: {name}(...), and use the labels");
                    return new BoundError();
                }

                if (symbol.Aggregate is null)
                {
                    return new BoundError(); // the aggregate had errors
                }

                if (rest.Count == 0)
                {
                    return new BoundAggregateValue(symbol.Index);
                }

                if (rest[0] == "window")
                {
                    return BindWindow(symbol, rest.Skip(1).ToList(), path);
                }

                Report(DiagnosticCodes.UnknownWindowMember, path.Segments[1].Span, $"the aggregate '{name}' has no member '{rest[0]}'",
                    $"use {name} for its value or {name}.window for its events");
                return new BoundError();
            }

            if (context == Context.Pattern && scope.CurrentType?.Schema?.Fields?.ContainsKey(name) == true && scope.ShadowWarned.Add(name))
            {
                Report(DiagnosticCodes.BindingShadowsField, first.Span,
                    $"'{name}' refers to the binding '{name}', which hides the field '{name}' of {scope.CurrentType.Name}",
                    $"write `{name}` (in backticks) for the field, or rename the binding");
            }

            return new BoundField(symbol.Index, rest, FieldTypeOf(symbol.Type, rest, path, 1));
        }

        if (context == Context.Action)
        {
            if (!first.IsQuoted && name == "window")
            {
                var windowed = scope.Aggregates;
                if (windowed.Count == 1)
                {
                    windowed[0].Used = true;
                    return BindWindow(windowed[0], rest, path);
                }

                Report(DiagnosticCodes.AggregateName, first.Span,
                    windowed.Count == 0
                        ? "'window' names the events of an aggregate, and this rule has none"
                        : "'window' is ambiguous: the rule has several aggregates",
                    windowed.Count == 0 ? "add an aggregate such as count(...) within 60s >= 5" : "label them (n: count(...)) and write n.window");
                return new BoundError();
            }

            Report(DiagnosticCodes.UnknownName, first.Span, $"unknown name '{name}'",
                Parser.AggregateFunctions.Contains(name)
                    ? $"'{name}' names the value of an unlabeled {name}(...) aggregate, and this rule has none"
                    : "in actions, names are bindings (f: ...), aggregates (count) and window" + DidYouMean(name, scope.Symbols.Keys.Append("window")));
            return new BoundError();
        }

        if (!first.IsQuoted && scope.AllBindingNames.Contains(name) && (scope.CurrentType?.Schema?.Fields?.ContainsKey(name) != true))
        {
            Report(DiagnosticCodes.UnknownName, first.Span,
                $"the binding '{name}' is not available here: a binding can be used only in the conditions after its pattern, and in the actions",
                "reorder the patterns so that the pattern of the binding comes first");
            return new BoundError();
        }

        var all = path.Segments.Select(s => s.ValueText).ToList();
        return new BoundField(BoundField.Current, all, FieldTypeOf(scope.CurrentType, all, path, 0, scope));
    }

    private BoundExpression BindWindow(Symbol aggregate, List<string> members, PathExpressionSyntax path)
    {
        var index = aggregate.Index;
        if (members.Count == 0)
        {
            return new BoundWindow(index, WindowMember.All, []);
        }

        switch (members[0])
        {
            case "first" or "last":
                var fieldPath = members.Skip(1).ToList();
                FieldTypeOf(aggregate.Type, fieldPath, path, path.Segments.Count - fieldPath.Count);
                return new BoundWindow(index, members[0] == "first" ? WindowMember.First : WindowMember.Last, fieldPath);
            case "count" or "size" when members.Count == 1:
                return new BoundWindow(index, WindowMember.Count, []);
            default:
                var token = path.Segments[path.Segments.Count - members.Count];
                Report(DiagnosticCodes.UnknownWindowMember, token.Span, $"a window has no member '{members[0]}'",
                    "a window has first, last and count; 'window' alone is the list of its events");
                return new BoundError();
        }
    }

    /// <summary>The declared type of a field path; warns (RF3003) about a field the type does not declare.</summary>
    private ExprType FieldTypeOf(BoundEventType? type, IReadOnlyList<string> fieldPath, PathExpressionSyntax syntax, int firstSegment, RuleScope? scope = null)
    {
        if (type?.Schema is not { } schema)
        {
            return fieldPath.Count == 0 ? ExprType.Object : ExprType.Unknown;
        }

        var current = schema;
        for (var i = 0; i < fieldPath.Count; i++)
        {
            var segment = syntax.Segments[Math.Min(firstSegment + i, syntax.Segments.Count - 1)];
            if (current.Type == ExprType.Any)
            {
                return ExprType.Unknown;
            }

            if (current.Type != ExprType.Object)
            {
                Report(DiagnosticCodes.TypeMismatch, segment.Span,
                    $"'{string.Join('.', fieldPath.Take(i))}' is {TypeName(current.Type)} and has no field '{fieldPath[i]}'");
                return ExprType.Unknown;
            }

            if (current.Fields is null || !current.Fields.TryGetValue(fieldPath[i], out var next))
            {
                var candidates = (current.Fields?.Keys ?? Enumerable.Empty<string>()).Concat(i == 0 && scope is not null ? scope.Symbols.Keys : []);
                Report(DiagnosticCodes.UnknownField, segment.Span, $"event {type.Name} declares no field '{fieldPath[i]}'",
                    "declare it in fields { ... } or correct the name" + DidYouMean(fieldPath[i], candidates));
                return ExprType.Unknown;
            }

            current = next;
        }

        return current.Type == ExprType.Any ? ExprType.Unknown : current.Type;
    }

    private void CheckComparable(ComparisonOp op, BoundExpression left, BoundExpression right, ExpressionSyntax syntax)
    {
        var l = left.Type;
        var r = right.Type;
        if (l is ExprType.Unknown or ExprType.Any || r is ExprType.Unknown or ExprType.Any || left is BoundError || right is BoundError)
        {
            return;
        }

        if (op is ComparisonOp.Equal or ComparisonOp.NotEqual)
        {
            if (l == ExprType.Null || r == ExprType.Null || Compatible(l, r))
            {
                return;
            }

            Report(DiagnosticCodes.TypeMismatch, syntax.Span, $"this compares {TypeName(l)} with {TypeName(r)}: they are never equal",
                "compare values of the same type; declared field types are in the event's fields { ... }");
            return;
        }

        var orderable = (l is ExprType.Number or ExprType.String or ExprType.Time) && (r is ExprType.Number or ExprType.String or ExprType.Time);
        if (!orderable || !Compatible(l, r))
        {
            Report(DiagnosticCodes.TypeMismatch, syntax.Span,
                $"'<', '>', '<=' and '>=' compare two numbers or two strings, not {TypeName(l)} with {TypeName(r)}");
        }
    }

    private static bool Compatible(ExprType a, ExprType b) =>
        a == b || (a == ExprType.Time && b is ExprType.String or ExprType.Number) || (b == ExprType.Time && a is ExprType.String or ExprType.Number);

    private Regex? CompileRegex(string pattern, string flags, TextSpan span)
    {
        var options = RegexOptions.CultureInvariant;
        foreach (var flag in flags)
        {
            options |= flag switch
            {
                'i' => RegexOptions.IgnoreCase,
                'm' => RegexOptions.Multiline,
                's' => RegexOptions.Singleline,
                'x' => RegexOptions.IgnorePatternWhitespace,
                'n' => RegexOptions.ExplicitCapture,
                _ => RegexOptions.None,
            };
        }

        try
        {
            return new Regex(pattern, options | RegexOptions.Compiled, ValueOps.RegexTimeout);
        }
        catch (ArgumentException e)
        {
            Report(DiagnosticCodes.InvalidRegex, span, $"invalid regular expression /{pattern}/: {e.Message}",
                "regular expressions use .NET syntax; escape special characters such as ( [ { with \\");
            return null;
        }
    }

    internal static string TypeName(ExprType type) => type switch
    {
        ExprType.String => "a string",
        ExprType.Number => "a number",
        ExprType.Bool => "a bool",
        ExprType.Time => "a time",
        ExprType.Object => "an object",
        ExprType.Array => "an array",
        ExprType.Null => "null",
        ExprType.Window => "a window",
        _ => "a value",
    };

    private static string Describe(ExpressionSyntax syntax) => syntax switch
    {
        PathExpressionSyntax path => $"'{path.Text}'",
        LiteralExpressionSyntax literal => literal.Token.Text,
        _ => "this expression",
    };

    internal static string DidYouMean(string name, IEnumerable<string> candidates)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            var d = EditDistance(name, candidate);
            if (d < bestDistance || (d == bestDistance && string.CompareOrdinal(candidate, best) < 0))
            {
                bestDistance = d;
                best = candidate;
            }
        }

        return best is not null && bestDistance <= Math.Max(1, Math.Min(2, name.Length / 3)) && best != name
            ? string.Create(CultureInfo.InvariantCulture, $" (did you mean '{best}'?)")
            : "";
    }

    private static int EditDistance(string a, string b)
    {
        if (Math.Abs(a.Length - b.Length) > 3 || a.Length > 64 || b.Length > 64)
        {
            return int.MaxValue;
        }

        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
