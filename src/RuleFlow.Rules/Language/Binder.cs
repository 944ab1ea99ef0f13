using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using RuleFlow.Rules.Engine;

namespace RuleFlow.Rules.Language;

/// <summary>The namespace of a file and the namespaces it imports (for resolving short type names).</summary>
internal sealed record FileScope(string? Namespace, IReadOnlyList<string> Imports)
{
    public static FileScope Global { get; } = new(null, []);

    public string Qualify(string name) => Namespace is null ? name : Namespace + "." + name;
}

/// <summary>
/// Resolves names and checks types: event and fact types of patterns, bindings and their fields, aggregate names (<c>count</c>,
/// <c>window</c>), functions, regular expressions, durations, priorities, actions and storm control. Fields are type-checked where
/// the type declares them (<c>fields { ... }</c>); undeclared fields are accepted with a warning when the type declares fields (a
/// missing field makes its condition false at run time). Reports every problem it finds and never throws; a rule with an error is
/// not returned.
/// </summary>
internal sealed class Binder
{
    private const int MaxPriority = 1_000_000;
    private const int MaxLast = 1_000_000;

    private readonly DiagnosticBag _diagnostics;
    private readonly IReadOnlyDictionary<string, BoundEventType> _types;
    private readonly FileScope _scope;
    private readonly RegexCache _regexes;

    public Binder(DiagnosticBag diagnostics, IReadOnlyDictionary<string, BoundEventType> types, FileScope? scope = null, RegexCache? regexes = null)
    {
        _diagnostics = diagnostics;
        _types = types;
        _scope = scope ?? FileScope.Global;
        _regexes = regexes ?? new RegexCache();
    }

    private SourceLocation Loc(TextSpan span) => _diagnostics.Source.GetLocation(span.Start);

    /// <summary>
    /// AMQP carries exchange names, routing keys and header names as short strings of at most 255 bytes: a longer one would load here
    /// and then fail on every bind or publish, so it is an error at its place in the file.
    /// </summary>
    private void CheckAmqpLength(SyntaxToken token, string what)
    {
        var bytes = System.Text.Encoding.UTF8.GetByteCount(token.ValueText);
        if (bytes > 255)
        {
            Report(DiagnosticCodes.InvalidRoutingPattern, token.Span, $"the {what} is {bytes} bytes long in UTF-8; AMQP allows at most 255");
        }
    }

    private void Report(DiagnosticDescriptor descriptor, TextSpan span, string message, string? hint = null) =>
        _diagnostics.Report(descriptor, span, message, hint);

    private int ErrorCount => _diagnostics.Items.Count(d => d.Severity == DiagnosticSeverity.Error);

    private bool HasErrorWithin(TextSpan span) => _diagnostics.ErrorPositions.Any(p => p >= span.Start && p <= span.End);

    private string Text(TextSpan span)
    {
        var text = _diagnostics.Source.Text;
        var start = Math.Clamp(span.Start, 0, text.Length);
        var end = Math.Clamp(span.End, start, text.Length);
        return string.Join(" ", text[start..end].Split(['\n', '\r'], StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()));
    }

    // ---- event declarations ----------------------------------------------------------------------------------------

    /// <summary>Binds an event or fact declaration; null when it has an error of its own (then it is not declared).</summary>
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
        DedupClauseSyntax? dedupSyntax = null;
        var isFact = declaration.IsFact;
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

                        CheckAmqpLength(ex, "exchange name");
                    }

                    if (from.RoutingPattern is { IsMissing: false } rp)
                    {
                        routingText = rp.ValueText;
                        CheckAmqpLength(rp, "routing pattern");
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
                    if (isFact)
                    {
                        Report(DiagnosticCodes.InvalidFactClause, time.Keyword.Span, "a fact has no event time: 'time' is for events",
                            "declare it with 'event' if it happens at a time, or remove the clause");
                        break;
                    }

                    timeSyntax = time.Field;
                    timePath = [.. time.Field.Segments.Select(s => s.ValueText)];
                    break;
                case FieldsClauseSyntax fields:
                    schema = new FieldSchema(ExprType.Object, BindFieldBlock(fields.Fields));
                    break;
                case DedupClauseSyntax dedup:
                    if (isFact)
                    {
                        Report(DiagnosticCodes.InvalidFactClause, dedup.Keyword.Span, "'dedup' is for events: a fact with the same key is updated, not repeated",
                            "remove the clause, or declare the type with 'event'");
                        break;
                    }

                    dedupSyntax = dedup;
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

        BoundDedup? boundDedup = null;
        if (dedupSyntax is not null && dedupSyntax.Fields.All(f => !HasMissing(f)) && dedupSyntax.Window is { } dw && BindDuration(dw) is { } window)
        {
            if (schema is not null)
            {
                foreach (var f in dedupSyntax.Fields)
                {
                    CheckDeclaredPath(schema, f, "dedup by", declaration.Name.Name, null);
                }
            }

            boundDedup = new BoundDedup([.. dedupSyntax.Fields.Select(f => (IReadOnlyList<string>)[.. f.Segments.Select(s => s.ValueText)])], window);
        }

        if (ErrorCount > errors)
        {
            return null;
        }

        return new BoundEventType(_scope.Qualify(declaration.Name.Name), exchange, routingText, routing, keyPath, timePath, schema,
            Loc(declaration.EventKeyword.Span), isFact, boundDedup);
    }

    private static bool HasMissing(PathExpressionSyntax path) => path.Segments.Any(s => s.IsMissing || s.Kind != SyntaxKind.Identifier);

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
                    $"'{clause} {path.Text}': {typeName} declares no field '{segment.ValueText}'",
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
            var type = BindType(field.Type) with { Optional = field.Optional is not null };
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

    private enum SymbolKind
    {
        Pattern,
        Aggregate,
        Silence,
        ForallItem,
    }

    private sealed class Symbol(string name, int index, SourceLocation location, bool isExplicit)
    {
        public string Name { get; } = name;

        public int Index { get; } = index;

        public SourceLocation Location { get; } = location;

        public bool Explicit { get; } = isExplicit;

        public BoundEventType? Type { get; init; }

        public SymbolKind Kind { get; init; }

        public BoundAggregateElement? Aggregate { get; set; }

        public bool Used { get; set; }

        public bool Ambiguous { get; set; }

        public TextSpan Span { get; init; }
    }

    private enum Context
    {
        /// <summary>Conditions of a pattern: bare names are fields of its event.</summary>
        Pattern,

        /// <summary><c>per</c> and the value of an aggregate: fields of the aggregated events only.</summary>
        Per,

        /// <summary>Actions, storm control keys and aggregate thresholds: names are bindings, aggregates, <c>window</c>, <c>group</c>.</summary>
        Action,
    }

    private sealed record Local(string Name, int Depth, FieldSchema? Schema);

    private sealed class RuleScope
    {
        public Dictionary<string, Symbol> Symbols { get; } = new(StringComparer.Ordinal);

        public HashSet<string> AllBindingNames { get; } = new(StringComparer.Ordinal);

        public List<Symbol> Aggregates { get; } = [];

        public BoundEventType? CurrentType { get; set; }

        /// <summary>The item of forall's first pattern, visible in its second pattern.</summary>
        public Symbol? ForallItem { get; set; }

        public List<Local> Locals { get; } = [];

        public bool HasGroup { get; set; }

        /// <summary>Binding names already reported as hiding a field in the current pattern.</summary>
        public HashSet<string> ShadowWarned { get; } = new(StringComparer.Ordinal);
    }

    /// <summary>
    /// Every action bound so far, with its rule's name, of rules that bound and of rules with errors alike: a host checks the
    /// templates and scripts of all of them, so one pass reports every error.
    /// </summary>
    public List<(string Rule, BoundAction Action)> BoundActions { get; } = [];

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
        string? owner = null;
        string? runbook = null;
        var enabled = true;
        var tags = new List<string>();
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
                case DescriptionOptionSyntax { Text.IsMissing: false } d:
                    switch (d.Keyword.Text)
                    {
                        case "description":
                            description = d.Text.ValueText;
                            break;
                        case "owner":
                            owner = d.Text.ValueText;
                            break;
                        default:
                            runbook = d.Text.ValueText;
                            if (!Uri.TryCreate(runbook, UriKind.Absolute, out _))
                            {
                                Report(DiagnosticCodes.TypeMismatch, d.Text.Span, $"the runbook \"{runbook}\" is not an absolute URL",
                                    "runbook \"https://wiki.example.com/runbooks/ssh\"");
                            }

                            break;
                    }

                    break;
                case TagsOptionSyntax t:
                    tags.AddRange(t.Tags.Where(x => !x.IsMissing).Select(x => x.ValueText));
                    break;
                case EnabledOptionSyntax e:
                    enabled = e.Enabled;
                    break;
            }
        }

        var scope = new RuleScope
        {
            HasGroup = rule.Clauses.Any(c => c is GroupByClauseSyntax || c is ThrottleClauseSyntax { Kind: ThrottleMode.OnceAfter }),
        };
        foreach (var element in rule.Elements)
        {
            if (element.Binding is { } b)
            {
                scope.AllBindingNames.Add(b.ValueText);
            }

            if (element is SequenceElementSyntax sequence)
            {
                foreach (var step in sequence.Steps.Where(s => s.Binding is not null))
                {
                    scope.AllBindingNames.Add(step.Binding!.ValueText);
                }
            }
        }

        var elements = new List<BoundElement>();
        var elementTexts = new List<string>();
        foreach (var element in rule.Elements)
        {
            var step = 0;
            foreach (var bound in BindElement(element, elements.Count, scope).ToList())
            {
                elements.Add(bound);
                elementTexts.Add(element is SequenceElementSyntax seq && step < seq.Steps.Count ? Text(seq.Steps[step].Span) : Text(element.Span));
                step++;
            }
        }

        scope.CurrentType = null;
        var actions = new List<BoundAction>();
        foreach (var action in rule.Actions)
        {
            if (BindAction(action, scope, elements) is { } bound)
            {
                actions.Add(bound);
                BoundActions.Add((name ?? "", bound));
            }
        }

        BoundThrottle? throttle = null;
        BoundGroupBy? groupBy = null;
        foreach (var clause in rule.Clauses)
        {
            switch (clause)
            {
                case ThrottleClauseSyntax t when !t.Mode.IsMissing && t.Window is not null:
                {
                    var window = BindDuration(t.Window);
                    var per = t.Per.Select(p => StormKey(p, BindValue(p, Context.Action, scope), "throttle")).ToList();
                    var count = 1;
                    if (t.Kind == ThrottleMode.AtMost && t.Count is { Value: double c })
                    {
                        if (c != Math.Floor(c) || c < 1 || c > 1_000_000)
                        {
                            Report(DiagnosticCodes.InvalidWindow, t.Count.Span, $"'at most {t.Count.Text}' must be a whole number from 1 to 1,000,000");
                        }
                        else
                        {
                            count = (int)c;
                        }
                    }

                    if (window is { } w)
                    {
                        throttle = new BoundThrottle(Loc(t.Span), t.Kind, count, w, per);
                    }

                    break;
                }

                case GroupByClauseSyntax g when g.Window is not null:
                {
                    var window = BindDuration(g.Window);
                    var keys = g.Keys.Select(k => StormKey(k, BindValue(k, Context.Action, scope), "group by")).ToList();
                    if (window is { } w)
                    {
                        groupBy = new BoundGroupBy(Loc(g.Span), keys, w);
                    }

                    if (rule.Clauses.OfType<ThrottleClauseSyntax>().FirstOrDefault(x => x.Kind == ThrottleMode.OnceAfter) is { } after)
                    {
                        Report(DiagnosticCodes.StormControlConflict, after.Mode.Span,
                            "'group by ... wait' and 'throttle once after' both batch matches; use one of them",
                            "keep group by F wait D (it is the same as throttle once after D per F)");
                    }

                    break;
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

        if (ErrorCount == errors)
        {
            foreach (var element in elements)
            {
                CheckReachable(element, rule);
            }
        }

        if (ErrorCount > errors || name is null || name.Length == 0)
        {
            return null;
        }

        return new BoundRule(_scope.Qualify(name), priority, description, _diagnostics.Source.Path, Loc(rule.RuleKeyword.Span), elements, actions,
            throttle, groupBy)
        {
            Tags = tags,
            Owner = owner,
            Runbook = runbook,
            Enabled = enabled,
            ElementTexts = elementTexts,
        };
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

    /// <summary>
    /// Resolves a type name: in a file with a namespace, its own types first; then the namespaces it imports (more than one match
    /// is ambiguous); then the name as written.
    /// </summary>
    internal BoundEventType? ResolveType(QualifiedNameSyntax name)
    {
        if (name.IsMissing)
        {
            return null;
        }

        var text = name.Name;
        if (_scope.Namespace is { } ns && _types.TryGetValue(ns + "." + text, out var own))
        {
            return own;
        }

        var imported = _scope.Imports.Select(i => i + "." + text).Where(_types.ContainsKey).Distinct().ToList();
        if (imported.Count > 1)
        {
            Report(DiagnosticCodes.AmbiguousName, name.Span, $"'{text}' is declared in several imported namespaces: {string.Join(", ", imported)}",
                "write the full name, e.g. " + imported[0]);
            return null;
        }

        if (imported.Count == 1)
        {
            return _types[imported[0]];
        }

        if (_types.TryGetValue(text, out var type))
        {
            return type;
        }

        var qualified = _scope.Namespace is { } space && DeclaredWithErrors.ContainsKey(space + "." + text) ? space + "." + text : text;
        if (DeclaredWithErrors.TryGetValue(qualified, out var at))
        {
            Report(DiagnosticCodes.UnknownEventType, name.Span, $"the type '{qualified}' is declared at {at} with an error: it cannot be used until that is fixed",
                "fix the declaration first; this error goes with it");
            return null;
        }

        Report(DiagnosticCodes.UnknownEventType, name.Span, $"unknown event type '{text}'",
            $"declare it with: event {text}{DidYouMean(text, _types.Keys)}");
        return null;
    }

    /// <summary>Types whose declaration did not bind (an error of its own), by qualified name: where they are declared.</summary>
    internal IReadOnlyDictionary<string, SourceLocation> DeclaredWithErrors { get; init; } = new Dictionary<string, SourceLocation>();

    private IEnumerable<BoundElement> BindElement(ElementSyntax element, int index, RuleScope scope)
    {
        switch (element)
        {
            case PatternElementSyntax pattern:
            {
                if (BindPattern(pattern, index, scope, []) is { } bound)
                {
                    yield return bound;
                }

                yield break;
            }

            case SequenceElementSyntax sequence:
            {
                var window = sequence.Window is { } w ? BindDuration(w) : null;
                var steps = new List<BoundPatternElement>();
                var first = index;
                for (var i = 0; i < sequence.Steps.Count; i++)
                {
                    var extra = new List<BoundExpression>();
                    if (i > 0)
                    {
                        var previous = index + i - 1;
                        if (previous != first)
                        {
                            extra.Add(new BoundTemporal(previous, null));
                        }

                        extra.Add(new BoundTemporal(first, window?.Ticks));
                    }

                    var bound = BindPattern(sequence.Steps[i], index + i, scope, extra);
                    if (bound is null)
                    {
                        yield break;
                    }

                    steps.Add(i < sequence.Steps.Count - 1 && window is { } keep ? bound with { SequenceRetention = keep, SequenceStart = first } : bound with { SequenceStart = first });
                }

                foreach (var step in steps)
                {
                    yield return step;
                }

                yield break;
            }

            case AggregateElementSyntax aggregate:
            {
                if (BindAggregate(aggregate, index, scope) is { } bound)
                {
                    yield return bound;
                }

                yield break;
            }

            case NotElementSyntax not:
            {
                var type = ResolveType(not.Pattern.Type);
                var conditions = BindPatternConditions(not.Pattern, type, scope);
                TimeSpan? window = null;
                if (not.Window is { } w)
                {
                    window = BindDuration(w);
                }

                if (type is not null && (not.Window is null || window is not null))
                {
                    yield return new BoundNotElement(index, Loc(not.Span), type, conditions, window);
                }

                yield break;
            }

            case ExistsElementSyntax exists:
            {
                var type = ResolveType(exists.Pattern.Type);
                var conditions = BindPatternConditions(exists.Pattern, type, scope);
                if (type is not null)
                {
                    yield return new BoundExistsElement(index, Loc(exists.Span), type, conditions);
                }

                yield break;
            }

            case ForallElementSyntax forall:
            {
                var type = ResolveType(forall.Each.Type);
                var conditions = BindPatternConditions(forall.Each, type, scope);
                Symbol? item = null;
                if (forall.InnerBinding is { } inner)
                {
                    item = new Symbol(inner.ValueText, FieldSource.ForallItem, Loc(inner.Span), isExplicit: true)
                    {
                        Type = type, Kind = SymbolKind.ForallItem, Span = inner.Span,
                    };
                    scope.ForallItem = item;
                }

                var satisfiesType = forall.Satisfies.Type.IsMissing ? null : ResolveType(forall.Satisfies.Type);
                var satisfies = BindPatternConditions(forall.Satisfies, satisfiesType, scope);
                scope.ForallItem = null;
                if (item is { Used: false })
                {
                    Report(DiagnosticCodes.UnusedBinding, item.Span, $"the binding '{item.Name}' is never used",
                        $"use it in the second pattern ({item.Name}.field), or remove '{item.Name}:'");
                }

                if (type is not null && satisfiesType is not null)
                {
                    yield return new BoundForallElement(index, Loc(forall.Span), type, conditions, satisfiesType, satisfies);
                }

                yield break;
            }

            case NoElementSyntax no:
            {
                var type = ResolveType(no.Pattern.Type);
                var conditions = BindPatternConditions(no.Pattern, type, scope);
                scope.CurrentType = type;
                var per = no.Per.Select(p => BindValue(p, Context.Per, scope)).ToList();
                scope.CurrentType = null;
                var duration = no.Duration is { } d ? BindDuration(d) : null;
                if (no.Binding is { } b)
                {
                    Declare(scope, b, index, type, SymbolKind.Silence);
                }

                if (type is not null && duration is { } dd)
                {
                    yield return new BoundNoElement(index, no.Binding?.ValueText, Loc(no.Span), type, conditions, dd, per);
                }

                yield break;
            }
        }
    }

    private BoundPatternElement? BindPattern(PatternElementSyntax pattern, int index, RuleScope scope, IReadOnlyList<BoundExpression> extra)
    {
        var type = ResolveType(pattern.Pattern.Type);
        var conditions = BindPatternConditions(pattern.Pattern, type, scope);
        conditions.AddRange(extra);
        if (pattern.Binding is { } b)
        {
            Declare(scope, b, index, type, SymbolKind.Pattern);
        }

        return type is null ? null : new BoundPatternElement(index, pattern.Binding?.ValueText, Loc(pattern.Span), type, conditions);
    }

    private List<BoundExpression> BindPatternConditions(PatternSyntax pattern, BoundEventType? type, RuleScope scope)
    {
        scope.CurrentType = type;
        scope.ShadowWarned.Clear();
        var conditions = new List<BoundExpression>();
        foreach (var condition in pattern.Conditions)
        {
            conditions.Add(BindCondition(condition, Context.Pattern, scope));
        }

        scope.CurrentType = null;
        return conditions;
    }

    private Symbol Declare(RuleScope scope, SyntaxToken token, int index, BoundEventType? type, SymbolKind kind)
    {
        var name = token.ValueText;
        var symbol = new Symbol(name, index, Loc(token.Span), isExplicit: true) { Type = type, Kind = kind, Span = token.Span };
        if (scope.Symbols.TryGetValue(name, out var existing) && existing.Explicit)
        {
            Report(DiagnosticCodes.DuplicateBinding, token.Span, $"the binding '{name}' is already declared at {existing.Location}",
                "give each pattern its own name");
            return symbol;
        }

        scope.Symbols[name] = symbol;
        return symbol;
    }

    private static AggregateFunctionKind FunctionOf(string name) => name switch
    {
        "sum" => AggregateFunctionKind.Sum,
        "avg" => AggregateFunctionKind.Avg,
        "min" => AggregateFunctionKind.Min,
        "max" => AggregateFunctionKind.Max,
        "distinct" => AggregateFunctionKind.Distinct,
        "collect" => AggregateFunctionKind.Collect,
        _ => AggregateFunctionKind.Count,
    };

    private BoundAggregateElement? BindAggregate(AggregateElementSyntax aggregate, int index, RuleScope scope)
    {
        var errors = ErrorCount;
        var function = FunctionOf(aggregate.Function.Text);
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
                    "write src_ip == f.src_ip; other comparisons with bindings are not supported in aggregates (groups are shared by key)");
            }
        }

        BoundExpression? value = null;
        if (aggregate.Value is { } valueSyntax)
        {
            value = BindValue(valueSyntax, Context.Per, scope);
            if (function == AggregateFunctionKind.Count)
            {
                Report(DiagnosticCodes.AggregateValue, valueSyntax.Span, "count(...) counts events and takes no value",
                    "write count(type(...)), or sum(type(...), field) to add up a field");
            }
            else if (function is AggregateFunctionKind.Sum or AggregateFunctionKind.Avg
                     && value.Type is not (ExprType.Number or ExprType.Unknown or ExprType.Any))
            {
                Report(DiagnosticCodes.TypeMismatch, valueSyntax.Span, $"{aggregate.Function.Text}(...) adds numbers, but the value is {TypeName(value.Type)}");
            }
        }
        else if (function is not (AggregateFunctionKind.Count or AggregateFunctionKind.Collect))
        {
            Report(DiagnosticCodes.AggregateValue, aggregate.Function.Span, $"{aggregate.Function.Text}(...) needs the value to aggregate",
                $"write {aggregate.Function.Text}({Text(aggregate.Pattern.Span)}, field)");
        }

        var per = new List<BoundExpression>();
        foreach (var p in aggregate.Per)
        {
            per.Add(BindValue(p, Context.Per, scope));
        }

        scope.CurrentType = null;
        TimeSpan? window = null;
        TimeSpan? tumbling = null;
        int? last = null;
        if (aggregate.WithinKeyword is null && aggregate.Every is null && aggregate.Last is null)
        {
            Report(DiagnosticCodes.AggregateWithoutWindow, aggregate.Function.Span, $"{aggregate.Function.Text}(...) needs a window",
                $"add 'within <duration>' (sliding), 'every <duration>' (tumbling) or 'last <n>' (length), e.g. {aggregate.Function.Text}(...) within 60s >= 5");
        }

        if (aggregate.Window is { } w)
        {
            window = BindDuration(w);
        }

        if (aggregate.Every is { IsMissing: false } e)
        {
            tumbling = BindDuration(e);
            if (aggregate.WithinKeyword is not null)
            {
                Report(DiagnosticCodes.InvalidWindow, e.Span, "an aggregate has either a sliding window (within) or a tumbling one (every), not both");
            }
        }

        if (aggregate.Last is { IsMissing: false } l)
        {
            if (l.Value is double n && n == Math.Floor(n) && n >= 1 && n <= MaxLast)
            {
                last = (int)n;
            }
            else
            {
                Report(DiagnosticCodes.InvalidWindow, l.Span, $"'last {l.Text}' must be a whole number of events from 1 to {MaxLast:N0}");
            }
        }

        ComparisonOp? op = null;
        BoundExpression? threshold = null;
        if (aggregate.Operator is { } opToken)
        {
            op = ToOperator(opToken.Kind);
            if (aggregate.Threshold is { } thresholdSyntax and not MissingExpressionSyntax)
            {
                var bound = BindValue(thresholdSyntax, Context.Action, scope);
                if (function == AggregateFunctionKind.Collect)
                {
                    Report(DiagnosticCodes.InvalidThreshold, thresholdSyntax.Span, "collect(...) gathers values and cannot be compared",
                        "use count(...) to compare a number of events");
                }
                else if (bound.Type is ExprType.String or ExprType.Bool or ExprType.Array or ExprType.Object or ExprType.Window or ExprType.Null
                         && function is not (AggregateFunctionKind.Min or AggregateFunctionKind.Max))
                {
                    Report(DiagnosticCodes.InvalidThreshold, thresholdSyntax.Span,
                        $"{aggregate.Function.Text}(...) is compared with a number, e.g. >= 5");
                }
                else if (bound is not BoundError)
                {
                    threshold = bound;
                }
            }
        }

        var name = aggregate.Binding?.ValueText ?? aggregate.Function.Text;
        Symbol symbol;
        if (aggregate.Binding is { } label)
        {
            symbol = Declare(scope, label, index, type, SymbolKind.Aggregate);
        }
        else
        {
            symbol = new Symbol(name, index, Loc(aggregate.Function.Span), isExplicit: false)
            {
                Kind = SymbolKind.Aggregate, Type = type, Span = aggregate.Function.Span,
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

        var bound2 = new BoundAggregateElement(index, name, Loc(aggregate.Span), type, conditions, function, value, window, tumbling, last, per, op, threshold);
        symbol.Aggregate = bound2;
        return bound2;
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

    internal static bool IsCurrentOnly(BoundExpression e) => e.UsesCurrent && !e.Bindings.Any() && !e.UsesClock;

    internal static bool IsBindingsOnly(BoundExpression e) => !e.UsesCurrent && e.Bindings.Any() && !e.UsesClock
                                                              && e is not BoundAggregateValue and not BoundWindow;

    private static ComparisonOp ToOperator(SyntaxKind kind) => kind switch
    {
        SyntaxKind.EqualsEquals => ComparisonOp.Equal,
        SyntaxKind.BangEquals => ComparisonOp.NotEqual,
        SyntaxKind.Less => ComparisonOp.Less,
        SyntaxKind.LessEquals => ComparisonOp.LessOrEqual,
        SyntaxKind.Greater => ComparisonOp.Greater,
        _ => ComparisonOp.GreaterOrEqual,
    };

    // ---- actions ---------------------------------------------------------------------------------------------------

    private BoundAction? BindAction(ActionSyntax action, RuleScope scope, IReadOnlyList<BoundElement> elements)
    {
        switch (action)
        {
            case StartWorkflowActionSyntax start when !start.WorkflowId.IsMissing:
            {
                var key = start.Key is null ? null : BindValue(start.Key, Context.Action, scope);
                var input = start.Input is null ? null : (BoundMap?)BindValue(start.Input, Context.Action, scope);
                string? template = null;
                BoundMap? model = null;
                if (start.Template is { IsMissing: false } t && t.Value is string text)
                {
                    template = text;
                    model = ModelOf(scope);
                    CheckTemplate(text, t.Span);
                }

                return new BoundStartWorkflow(Loc(start.Span), start.WorkflowId.ValueText, key, input, template, model);
            }

            case SignalWorkflowActionSyntax signal when !signal.Signal.IsMissing && !signal.WorkflowId.IsMissing && signal.Key is not null:
            {
                var key = BindValue(signal.Key, Context.Action, scope);
                var payload = signal.Payload is null ? null : (BoundMap)BindValue(signal.Payload, Context.Action, scope);
                return new BoundSignalWorkflow(Loc(signal.Span), signal.Signal.ValueText, signal.WorkflowId.ValueText, key, payload);
            }

            case PublishActionSyntax publish when !publish.Exchange.IsMissing:
            {
                var body = BindValue(publish.Body, Context.Action, scope);
                var routing = publish.Routing is null ? null : BindValue(publish.Routing, Context.Action, scope);
                var headers = publish.Headers is null ? null : (BoundMap)BindValue(publish.Headers, Context.Action, scope);
                if (publish.Exchange.ValueText.Length == 0)
                {
                    Report(DiagnosticCodes.InvalidRoutingPattern, publish.Exchange.Span, "the exchange name is empty");
                }

                CheckAmqpLength(publish.Exchange, "exchange name");
                if (publish.Routing is LiteralExpressionSyntax { Token.Value: string } literalRouting)
                {
                    CheckAmqpLength(literalRouting.Token, "routing key"); // a computed one is checked when the action runs
                }

                if (publish.Headers is MapExpressionSyntax headerMap)
                {
                    foreach (var entry in headerMap.Entries)
                    {
                        CheckAmqpLength(entry.Key, "header name");
                    }
                }

                return new BoundPublish(Loc(publish.Span), body, publish.Exchange.ValueText, routing, headers);
            }

            case ScriptActionSyntax script when !script.Code.IsMissing && script.Code.Value is string code:
            {
                var bindings = script.Bindings is null ? ModelOf(scope) : (BoundMap)BindValue(script.Bindings, Context.Action, scope);
                return new BoundScript(Loc(script.Span), code, bindings);
            }

            case LogActionSyntax log:
            {
                var message = BindValue(log.Message, Context.Action, scope);
                return new BoundLog(Loc(log.Span), log.Level?.Text ?? "info", message);
            }

            case InsertFactActionSyntax insert:
            {
                var type = ResolveType(insert.Type);
                var value = (BoundMap)BindValue(insert.Value, Context.Action, scope);
                if (type is null)
                {
                    return null;
                }

                if (!type.IsFact)
                {
                    Report(DiagnosticCodes.NotAFact, insert.Type.Span, $"'{type.Name}' is an event type; rules insert facts",
                        $"declare it with: fact {type.Name} key <field>");
                    return null;
                }

                CheckMapAgainstSchema(value, type, insert.Value);
                return new BoundInsertFact(Loc(insert.Span), type, value);
            }

            case UpdateFactActionSyntax update when !update.Binding.IsMissing:
            {
                var element = FactBinding(update.Binding, scope, elements, "update");
                var changes = (BoundMap)BindValue(update.Changes, Context.Action, scope);
                if (element is null)
                {
                    return null;
                }

                CheckMapAgainstSchema(changes, element.Type, update.Changes);
                if (element.Type.KeyPath is { } keyPath && changes.Entries.Any(e => keyPath.Count == 1 && e.Key == keyPath[0]))
                {
                    Report(DiagnosticCodes.NotAFact, update.Changes.Span, $"'{keyPath[0]}' is the key of {element.Type.Name}: an update cannot change it",
                        "retract the fact and insert a new one");
                    return null;
                }

                return new BoundUpdateFact(Loc(update.Span), element.Index, changes);
            }

            case RetractFactActionSyntax retract when !retract.Binding.IsMissing:
            {
                var element = FactBinding(retract.Binding, scope, elements, "retract");
                return element is null ? null : new BoundRetractFact(Loc(retract.Span), element.Index);
            }

            default:
                return null;
        }
    }

    private BoundElement? FactBinding(SyntaxToken binding, RuleScope scope, IReadOnlyList<BoundElement> elements, string verb)
    {
        if (!scope.Symbols.TryGetValue(binding.ValueText, out var symbol) || !symbol.Explicit)
        {
            Report(DiagnosticCodes.UnknownName, binding.Span, $"unknown binding '{binding.ValueText}'",
                $"'{verb}' takes the binding of a fact pattern{DidYouMean(binding.ValueText, scope.Symbols.Keys)}");
            return null;
        }

        symbol.Used = true;
        var element = elements.FirstOrDefault(e => e.Index == symbol.Index);
        if (symbol.Kind != SymbolKind.Pattern || element is not BoundPatternElement || symbol.Type is not { IsFact: true })
        {
            Report(DiagnosticCodes.NotAFact, binding.Span,
                $"'{binding.ValueText}' is not a fact: only facts (declared with 'fact') can be {(verb == "update" ? "updated" : "retracted")}",
                "events are facts of the past; declare the type with 'fact' to change it");
            return null;
        }

        return element;
    }

    private void CheckMapAgainstSchema(BoundMap map, BoundEventType type, MapExpressionSyntax syntax)
    {
        if (type.Schema?.Fields is not { } fields)
        {
            return;
        }

        foreach (var (entry, entrySyntax) in map.Entries.Zip(syntax.Entries))
        {
            if (!fields.TryGetValue(entry.Key, out var field))
            {
                Report(DiagnosticCodes.UnknownField, entrySyntax.Key.Span, $"{type.Name} declares no field '{entry.Key}'",
                    "declare it in fields { ... } or correct the name" + DidYouMean(entry.Key, fields.Keys));
            }
            else if (field.Type is not (ExprType.Any or ExprType.Unknown) && entry.Value.Type is not (ExprType.Unknown or ExprType.Any or ExprType.Null)
                     && !Compatible(field.Type, entry.Value.Type) && !(field.Type == ExprType.Array && entry.Value.Type == ExprType.Window))
            {
                Report(DiagnosticCodes.TypeMismatch, entrySyntax.Value.Span,
                    $"'{entry.Key}' of {type.Name} is declared as {TypeName(field.Type)}, but the value is {TypeName(entry.Value.Type)}");
            }
        }
    }

    /// <summary>The model of a template or script: every named binding and aggregate (and <c>group</c> when there is one).</summary>
    private static BoundMap ModelOf(RuleScope scope)
    {
        var entries = new List<KeyValuePair<string, BoundExpression>>();
        foreach (var symbol in scope.Symbols.Values.OrderBy(s => s.Index))
        {
            if (symbol.Ambiguous)
            {
                continue;
            }

            BoundExpression value = symbol.Kind switch
            {
                SymbolKind.Aggregate when symbol.Aggregate is not null => new BoundAggregateValue(symbol.Index),
                SymbolKind.Aggregate => new BoundError(),
                _ => new BoundField(symbol.Index, [], ExprType.Object),
            };
            if (value is not BoundError)
            {
                entries.Add(new(symbol.Name, value));
                symbol.Used = true;
            }
        }

        if (scope.Aggregates.Count == 1 && scope.Aggregates[0].Aggregate is not null && !scope.Symbols.ContainsKey("window"))
        {
            entries.Add(new("window", new BoundWindow(scope.Aggregates[0].Index, WindowMember.All, [])));
        }

        if (scope.HasGroup && !scope.Symbols.ContainsKey("group"))
        {
            entries.Add(new("group", new BoundGroup(false)));
        }

        return new BoundMap(entries);
    }

    private void CheckTemplate(string template, TextSpan span)
    {
        var depth = 0;
        for (var i = 0; i + 1 < template.Length; i++)
        {
            if (template[i] == '{' && template[i + 1] == '{')
            {
                depth++;
                i++;
            }
            else if (template[i] == '}' && template[i + 1] == '}')
            {
                depth--;
                i++;
                if (depth < 0)
                {
                    break;
                }
            }
        }

        if (depth != 0)
        {
            Report(DiagnosticCodes.TypeMismatch, span, "the template's {{ and }} do not pair up", "every {{ needs its }}");
        }
    }

    // ---- reachability ----------------------------------------------------------------------------------------------

    /// <summary>Warns about constant conditions of one pattern that can never hold together (RF3006).</summary>
    private void CheckReachable(BoundElement element, RuleDeclarationSyntax rule)
    {
        var equal = new Dictionary<string, RuleValue>(StringComparer.Ordinal);
        var low = new Dictionary<string, (double Value, bool Inclusive)>(StringComparer.Ordinal);
        var high = new Dictionary<string, (double Value, bool Inclusive)>(StringComparer.Ordinal);
        var notEqual = new Dictionary<string, List<RuleValue>>(StringComparer.Ordinal);
        var lists = new Dictionary<string, List<InItem[]>>(StringComparer.Ordinal);
        var absent = new HashSet<string>(StringComparer.Ordinal);
        var compared = new HashSet<string>(StringComparer.Ordinal);
        var texts = new Dictionary<string, List<(TextOp Op, string Text)>>(StringComparer.Ordinal);

        // What a constant value of a field must meet, from the conditions seen so far: false when it meets them not, null when that
        // cannot be told at load.
        bool? Admits(string path, RuleValue value)
        {
            if (absent.Contains(path) || (equal.TryGetValue(path, out var eq) && !ValueOps.AreEqual(eq, value))
                || (notEqual.TryGetValue(path, out var ne) && ne.Any(x => ValueOps.AreEqual(x, value))))
            {
                return false;
            }

            if (value.Kind == ValueKind.Number
                && ((low.TryGetValue(path, out var lo) && (value.Number < lo.Value || (value.Number == lo.Value && !lo.Inclusive)))
                    || (high.TryGetValue(path, out var hi) && (value.Number > hi.Value || (value.Number == hi.Value && !hi.Inclusive)))))
            {
                return false;
            }

            if (value.Kind == ValueKind.String && texts.TryGetValue(path, out var ops) && ops.Any(o => !TextHolds(o.Op, value.GetString(), o.Text)))
            {
                return false;
            }

            bool? result = true;
            foreach (var items in lists.TryGetValue(path, out var all) ? all : [])
            {
                var allowed = Allows(items, value);
                if (allowed == false)
                {
                    return false;
                }

                result = allowed is null ? null : result;
            }

            return result;
        }

        // True when no item of a list meets the conditions seen so far (a range of numbers outside the numeric bounds, a value that
        // Admits refuses); false when one may.
        bool NoneAdmitted(string path, InItem[] items) => items.All(item =>
            item.IsRange
                ? item.Value.Kind == ValueKind.Number && item.High.Kind == ValueKind.Number
                  && ((low.TryGetValue(path, out var lo) && (item.High.Number < lo.Value || (item.High.Number == lo.Value && !lo.Inclusive)))
                      || (high.TryGetValue(path, out var hi) && (item.Value.Number > hi.Value || (item.Value.Number == hi.Value && !hi.Inclusive)))
                      || (equal.TryGetValue(path, out var eq) && eq.Kind == ValueKind.Number && (eq.Number < item.Value.Number || eq.Number > item.High.Number)))
                : item.Value.Kind != ValueKind.Network && Admits(path, item.Value) == false);

        foreach (var original in element.Conditions.SelectMany(RuleConjuncts))
        {
            string? contradiction = null;
            var condition = AsList(original) ?? original;
            if (condition is BoundLiteral { Value.Kind: ValueKind.Bool } literal && !literal.Value.Bool)
            {
                contradiction = "it is the constant false";
            }
            else if (condition is BoundIn { Negated: false, Items.Length: 0 })
            {
                contradiction = "the list after 'in' is empty";
            }
            else if (condition is BoundNot { Operand: BoundCall { Function: FunctionKind.Exists } exists }
                     && exists.Arguments[0] is BoundField { Source: FieldSource.Current } gone)
            {
                absent.Add(gone.Canonical);
                if (compared.Contains(gone.Canonical))
                {
                    contradiction = $"'{BoundPrinter.PathText(gone.Path)}' is compared with a value, and a missing field compares with none";
                }
            }
            else if (condition is BoundIn { Negated: false } inList && inList.Operand is BoundField { Source: FieldSource.Current } listed)
            {
                var path = listed.Canonical;
                var shown = BoundPrinter.PathText(listed.Path);
                compared.Add(path);
                if (absent.Contains(path))
                {
                    contradiction = $"'{shown}' is required to be missing";
                }
                else if (equal.TryGetValue(path, out var eq) && Allows(inList.Items, eq) == false)
                {
                    contradiction = $"'{shown}' is already required to equal {eq}";
                }
                else if (lists.TryGetValue(path, out var earlier) && earlier.Any(e => Disjoint(e, inList.Items)))
                {
                    contradiction = $"no value of '{shown}' is in both lists";
                }
                else if (NoneAdmitted(path, inList.Items))
                {
                    contradiction = $"no value in the list meets the other conditions on '{shown}'";
                }

                (lists.TryGetValue(path, out var all) ? all : lists[path] = []).Add(inList.Items);
            }
            else if (condition is BoundTextOp { Left: BoundField { Source: FieldSource.Current } texted, Right: BoundLiteral { Value.Kind: ValueKind.String } text } textOp)
            {
                var path = texted.Canonical;
                var shown = BoundPrinter.PathText(texted.Path);
                var needle = text.Value.GetString();
                compared.Add(path);
                var ops = texts.TryGetValue(path, out var known) ? known : texts[path] = [];
                if (absent.Contains(path))
                {
                    contradiction = $"'{shown}' is required to be missing";
                }
                else if (equal.TryGetValue(path, out var eq) && eq.Kind == ValueKind.String && !TextHolds(textOp.Operator, eq.GetString(), needle))
                {
                    contradiction = $"'{shown}' is already required to equal {eq}";
                }
                else if (ops.FirstOrDefault(o => o.Op == textOp.Operator && textOp.Operator != TextOp.Contains
                             && !TextHolds(o.Op, o.Text, needle) && !TextHolds(o.Op, needle, o.Text)) is { Text: { } other })
                {
                    contradiction = $"no text {(textOp.Operator == TextOp.StartsWith ? "starts" : "ends")} with both \"{other}\" and \"{needle}\"";
                }

                ops.Add((textOp.Operator, needle));
                if (contradiction is null && lists.TryGetValue(path, out var earlier) && earlier.Any(items => NoneAdmitted(path, items)))
                {
                    contradiction = $"no value in the list of '{shown}' {textOp.Operator.ToString().ToLowerInvariant()} \"{needle}\"";
                }
            }
            else if (condition is BoundComparison c && ConstantSide(c) is var (path, op, value))
            {
                var shown = c.Left is BoundField lf ? BoundPrinter.PathText(lf.Path) : c.Right is BoundField rf ? BoundPrinter.PathText(rf.Path) : path;
                compared.Add(path);
                if (absent.Contains(path))
                {
                    contradiction = $"'{shown}' is required to be missing, and a missing field compares with none";
                }
                else if (op == ComparisonOp.NotEqual)
                {
                    if (equal.TryGetValue(path, out var same) && ValueOps.AreEqual(same, value))
                    {
                        contradiction = $"'{shown}' is already required to equal {same}";
                    }

                    (notEqual.TryGetValue(path, out var excluded) ? excluded : notEqual[path] = []).Add(value);
                }
                else if (op == ComparisonOp.Equal)
                {
                    if (equal.TryGetValue(path, out var other) && !ValueOps.AreEqual(other, value))
                    {
                        contradiction = $"'{shown}' is already required to equal {other}";
                    }
                    else if (notEqual.TryGetValue(path, out var excluded) && excluded.Any(x => ValueOps.AreEqual(x, value)))
                    {
                        contradiction = $"'{shown}' is already required to differ from {value}";
                    }
                    else if (lists.TryGetValue(path, out var allowed) && allowed.Any(items => Allows(items, value) == false))
                    {
                        contradiction = $"'{shown}' is already required to be in a list without {value}";
                    }
                    else if (value.Kind == ValueKind.String && texts.TryGetValue(path, out var ops)
                             && ops.FirstOrDefault(o => !TextHolds(o.Op, value.GetString(), o.Text)) is { Text: { } failed } fails)
                    {
                        contradiction = $"'{shown}' is already required to {fails.Op.ToString().ToLowerInvariant()} \"{failed}\"";
                    }

                    equal[path] = value;
                    if (value.Kind == ValueKind.Number)
                    {
                        if (low.TryGetValue(path, out var lo) && (value.Number < lo.Value || (value.Number == lo.Value && !lo.Inclusive)))
                        {
                            contradiction = $"'{shown}' is already required to be {(lo.Inclusive ? ">=" : ">")} {RuleValue.FormatNumber(lo.Value)}";
                        }

                        if (high.TryGetValue(path, out var hi) && (value.Number > hi.Value || (value.Number == hi.Value && !hi.Inclusive)))
                        {
                            contradiction = $"'{shown}' is already required to be {(hi.Inclusive ? "<=" : "<")} {RuleValue.FormatNumber(hi.Value)}";
                        }
                    }
                }
                else if (value.Kind == ValueKind.Number && op is ComparisonOp.Greater or ComparisonOp.GreaterOrEqual or ComparisonOp.Less or ComparisonOp.LessOrEqual)
                {
                    var isLow = op is ComparisonOp.Greater or ComparisonOp.GreaterOrEqual;
                    var bound = (value.Number, op is ComparisonOp.GreaterOrEqual or ComparisonOp.LessOrEqual);
                    var target = isLow ? low : high;
                    if (!target.TryGetValue(path, out var existing)
                        || (isLow ? bound.Number > existing.Value : bound.Number < existing.Value)
                        || (bound.Number == existing.Value && !bound.Item2))
                    {
                        target[path] = bound;
                    }

                    if (low.TryGetValue(path, out var lo) && high.TryGetValue(path, out var hi)
                        && (lo.Value > hi.Value || (lo.Value == hi.Value && !(lo.Inclusive && hi.Inclusive))))
                    {
                        contradiction = $"no number is {(lo.Inclusive ? ">=" : ">")} {RuleValue.FormatNumber(lo.Value)} and {(hi.Inclusive ? "<=" : "<")} {RuleValue.FormatNumber(hi.Value)}";
                    }

                    if (equal.TryGetValue(path, out var eq) && eq.Kind == ValueKind.Number
                        && ((isLow && (eq.Number < bound.Number || (eq.Number == bound.Number && !bound.Item2)))
                            || (!isLow && (eq.Number > bound.Number || (eq.Number == bound.Number && !bound.Item2)))))
                    {
                        contradiction = $"'{shown}' is already required to equal {eq}";
                    }

                    if (contradiction is null && lists.TryGetValue(path, out var earlier) && earlier.Any(items => NoneAdmitted(path, items)))
                    {
                        contradiction = $"no value in the list of '{shown}' is {(isLow ? ">" : "<")}{(bound.Item2 ? "=" : "")} {RuleValue.FormatNumber(bound.Number)}";
                    }
                }
            }

            if (contradiction is not null)
            {
                _diagnostics.Report(DiagnosticCodes.UnreachableCondition, element.Location,
                    $"a condition of this pattern can never hold: {contradiction}", $"rule \"{rule.Name.ValueText}\" can never match; fix the condition");
                return;
            }
        }
    }

    /// <summary>Whether <paramref name="value"/> is one of <paramref name="items"/>; null when that cannot be told at load (networks, ranges of non-numbers).</summary>
    private static bool? Allows(InItem[] items, RuleValue value)
    {
        foreach (var item in items)
        {
            if (item.IsRange)
            {
                if (item.Value.Kind != ValueKind.Number || item.High.Kind != ValueKind.Number || value.Kind != ValueKind.Number)
                {
                    return null;
                }

                if (value.Number >= item.Value.Number && value.Number <= item.High.Number)
                {
                    return true;
                }
            }
            else if (item.Value.Kind is ValueKind.Network)
            {
                return null;
            }
            else if (ValueOps.AreEqual(item.Value, value))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// True when two lists have no value in common: each pair of items is two different plain values, a number outside a range of
    /// numbers, or two ranges of numbers that do not overlap (a network, or a range of other values, cannot be told at load).
    /// </summary>
    private static bool Disjoint(InItem[] a, InItem[] b) => a.All(x => b.All(y => ItemsDisjoint(x, y)));

    private static bool ItemsDisjoint(InItem x, InItem y)
    {
        if (x.Value.Kind == ValueKind.Network || y.Value.Kind == ValueKind.Network)
        {
            return false;
        }

        static bool NumericRange(InItem i) => i.IsRange && i.Value.Kind == ValueKind.Number && i.High.Kind == ValueKind.Number;
        return (x.IsRange, y.IsRange) switch
        {
            (false, false) => !ValueOps.AreEqual(x.Value, y.Value),
            (true, false) => NumericRange(x) && Allows([x], y.Value) == false,
            (false, true) => NumericRange(y) && Allows([y], x.Value) == false,
            _ => NumericRange(x) && NumericRange(y) && (x.High.Number < y.Value.Number || y.High.Number < x.Value.Number),
        };
    }

    /// <summary>Whether <paramref name="value"/> meets <c>value op text</c> (ordinal, as the engine compares).</summary>
    private static bool TextHolds(TextOp op, string value, string text) => op switch
    {
        TextOp.StartsWith => value.StartsWith(text, StringComparison.Ordinal),
        TextOp.EndsWith => value.EndsWith(text, StringComparison.Ordinal),
        _ => value.Contains(text, StringComparison.Ordinal),
    };

    /// <summary>
    /// An <c>or</c> of equalities with constants and <c>in</c> lists on one field of the pattern's own event, as one <c>in</c> list
    /// (<c>k == "a" or k == "b"</c> is <c>k in ["a", "b"]</c>); null for any other condition.
    /// </summary>
    private static BoundIn? AsList(BoundExpression condition)
    {
        if (condition is not BoundLogical { IsAnd: false } or)
        {
            return null;
        }

        string? path = null;
        BoundField? field = null;
        var items = new List<InItem>();
        foreach (var operand in or.Operands)
        {
            switch (operand)
            {
                case BoundComparison { Operator: ComparisonOp.Equal } c when ConstantSide(c) is var (p, _, v) && (path is null || path == p):
                    path = p;
                    field ??= (c.Left as BoundField ?? c.Right as BoundField)!;
                    items.Add(new InItem(v, default, false));
                    break;
                case BoundIn { Negated: false, Operand: BoundField { Source: FieldSource.Current } f } list when path is null || path == f.Canonical:
                    path = f.Canonical;
                    field ??= f;
                    items.AddRange(list.Items);
                    break;
                default:
                    return null;
            }
        }

        return field is null ? null : new BoundIn(field, [.. items], false);
    }

    private static IEnumerable<BoundExpression> RuleConjuncts(BoundExpression e) =>
        e is BoundLogical { IsAnd: true } and ? and.Operands.SelectMany(RuleConjuncts) : [e];

    private static (string Path, ComparisonOp Op, RuleValue Value)? ConstantSide(BoundComparison c)
    {
        if (c.Left is BoundField { Source: FieldSource.Current } f && c.Right is BoundLiteral l)
        {
            return (f.Canonical, c.Operator, l.Value);
        }

        if (c.Right is BoundField { Source: FieldSource.Current } f2 && c.Left is BoundLiteral l2)
        {
            var op = c.Operator switch
            {
                ComparisonOp.Less => ComparisonOp.Greater,
                ComparisonOp.LessOrEqual => ComparisonOp.GreaterOrEqual,
                ComparisonOp.Greater => ComparisonOp.Less,
                ComparisonOp.GreaterOrEqual => ComparisonOp.LessOrEqual,
                var o => o,
            };
            return (f2.Canonical, op, l2.Value);
        }

        return null;
    }

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
                return IsDeclaredTime(left) || IsDeclaredTime(right) ? new BoundComparison(op, AsTime(left, right), AsTime(right, left)) : new BoundComparison(op, left, right);
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

            case TextOperatorExpressionSyntax text:
            {
                var left = BindValue(text.Left, context, scope);
                var right = BindValue(text.Right, context, scope);
                var op = text.Operator.Text switch
                {
                    "contains" => TextOp.Contains,
                    "startswith" => TextOp.StartsWith,
                    _ => TextOp.EndsWith,
                };
                var leftOk = op == TextOp.Contains
                    ? left.Type is ExprType.String or ExprType.Array or ExprType.Unknown or ExprType.Any or ExprType.Window or ExprType.Time
                    : left.Type is ExprType.String or ExprType.Unknown or ExprType.Any or ExprType.Time;
                if (!leftOk)
                {
                    Report(DiagnosticCodes.TypeMismatch, text.Left.Span,
                        $"'{text.Operator.Text}' needs {(op == TextOp.Contains ? "a string or an array" : "a string")}, but {Describe(text.Left)} is {TypeName(left.Type)}");
                }
                else if (op != TextOp.Contains && right.Type is not (ExprType.String or ExprType.Unknown or ExprType.Any))
                {
                    Report(DiagnosticCodes.TypeMismatch, text.Right.Span, $"'{text.Operator.Text}' takes a string, but {Describe(text.Right)} is {TypeName(right.Type)}");
                }

                return new BoundTextOp(op, left, right);
            }

            case InExpressionSyntax inExpression:
                return BindIn(inExpression, context, scope);
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

                return value is BoundLiteral { Value.Kind: ValueKind.Bool } or BoundComparison or BoundLogical or BoundNot or BoundTextOp
                    or BoundMatches or BoundIn or BoundInValue or BoundQuantifier or BoundTemporal or BoundCall { Function: FunctionKind.Exists }
                    ? value
                    : new BoundTruth(value);
            }
        }
    }

    private BoundExpression BindIn(InExpressionSyntax syntax, Context context, RuleScope scope)
    {
        var operand = BindValue(syntax.Operand, context, scope);
        switch (syntax.Target)
        {
            case ListExpressionSyntax list:
            {
                var items = new List<InItem>();
                foreach (var item in list.Items)
                {
                    if (BindInItem(item, operand, context, scope) is { } bound)
                    {
                        items.Add(bound);
                    }
                }

                return new BoundIn(operand, [.. items], syntax.Negated);
            }

            case RangeExpressionSyntax or LiteralExpressionSyntax { Token.Kind: SyntaxKind.CidrLiteral }:
            {
                var item = BindInItem(syntax.Target, operand, context, scope);
                return item is null ? new BoundError() : new BoundIn(operand, [item], syntax.Negated);
            }

            case CallExpressionSyntax { Name.Text: "cidr" } call:
            {
                var item = BindInItem(call, operand, context, scope);
                return item is null ? new BoundError() : new BoundIn(operand, [item], syntax.Negated);
            }

            case MissingExpressionSyntax:
                return new BoundError();
            default:
            {
                var target = BindValue(syntax.Target, context, scope);
                if (target.Type is not (ExprType.Array or ExprType.Unknown or ExprType.Any or ExprType.Window or ExprType.Network or ExprType.String))
                {
                    Report(DiagnosticCodes.TypeMismatch, syntax.Target.Span,
                        $"'in' needs a list, a range, a network or an array, but {Describe(syntax.Target)} is {TypeName(target.Type)}",
                        "x in [1, 2], x in 1..5, ip in 10.0.0.0/8, \"admin\" in u.groups");
                    return new BoundError();
                }

                return new BoundInValue(operand, target, syntax.Negated);
            }
        }
    }

    private InItem? BindInItem(ExpressionSyntax item, BoundExpression operand, Context context, RuleScope scope)
    {
        if (item is RangeExpressionSyntax range)
        {
            var low = BindValue(range.Low, context, scope);
            var high = BindValue(range.High, context, scope);
            if (low is BoundLiteral l && high is BoundLiteral h && l.Value.Kind == h.Value.Kind && l.Value.Kind is ValueKind.Number or ValueKind.Time or ValueKind.String)
            {
                CheckComparable(ComparisonOp.LessOrEqual, operand, low, range);
                return new InItem(l.Value, h.Value, true);
            }

            if (low is not BoundError && high is not BoundError)
            {
                Report(DiagnosticCodes.NonLiteralInList, range.Span, "a range is written with two literals of the same kind, e.g. 1..5 or 2024-01-01..2024-02-01");
            }

            return null;
        }

        var value = BindValue(item, context, scope);
        if (value is BoundLiteral literal)
        {
            if (literal.Value.Kind != ValueKind.Network)
            {
                CheckComparable(ComparisonOp.Equal, operand, value, item);
            }

            return new InItem(literal.Value, default, false);
        }

        if (value is BoundCall { Function: FunctionKind.Cidr, Arguments: [BoundLiteral network] })
        {
            return new InItem(network.Value, default, false);
        }

        if (value is not BoundError)
        {
            Report(DiagnosticCodes.NonLiteralInList, item.Span, "the list after 'in' may hold only literals (strings, numbers, times, networks, ranges)",
                "compare with fields using == and or");
        }

        return null;
    }

    /// <summary>
    /// A key of storm control (<c>throttle ... per</c>, <c>group by</c>) must be a value: a window or a group is a set of events held
    /// by reference, equal to nothing else, and outlived by the key.
    /// </summary>
    private BoundExpression StormKey(ExpressionSyntax syntax, BoundExpression key, string clause)
    {
        if (key.Type is ExprType.Window or ExprType.Group)
        {
            Report(DiagnosticCodes.TypeMismatch, syntax.Span, $"a {(key.Type == ExprType.Window ? "window" : "group")} cannot be a key of '{clause}'",
                "key by a value of it, e.g. window.last.host");
        }

        return key;
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

            case BinaryExpressionSyntax binary:
                return BindArithmetic(binary, context, scope);
            case NegateExpressionSyntax negate:
            {
                var operand = BindValue(negate.Operand, context, scope);
                if (operand.Type is not (ExprType.Number or ExprType.Unknown or ExprType.Any))
                {
                    Report(DiagnosticCodes.TypeMismatch, negate.Span, $"'-' needs a number, but {Describe(negate.Operand)} is {TypeName(operand.Type)}");
                }

                return new BoundNegate(operand);
            }

            case CallExpressionSyntax call:
                return BindCall(call, context, scope);
            case QuantifierExpressionSyntax quantifier:
                return BindQuantifier(quantifier, context, scope);
            case RangeExpressionSyntax range:
                Report(DiagnosticCodes.TypeMismatch, range.Span, "a range is used only after 'in'", "x in 1..5");
                return new BoundError();
            case MissingExpressionSyntax:
                return new BoundError();
            default:
                return BindCondition(syntax, context, scope); // a condition used as a value gives true or false
        }
    }

    private BoundExpression BindArithmetic(BinaryExpressionSyntax binary, Context context, RuleScope scope)
    {
        var left = BindValue(binary.Left, context, scope);
        var right = BindValue(binary.Right, context, scope);
        var op = binary.Operator.Kind switch
        {
            SyntaxKind.Plus => ArithmeticOp.Add,
            SyntaxKind.Minus => ArithmeticOp.Subtract,
            SyntaxKind.Star => ArithmeticOp.Multiply,
            SyntaxKind.Slash => ArithmeticOp.Divide,
            _ => ArithmeticOp.Remainder,
        };
        var l = left.Type;
        var r = right.Type;
        var unknown = l is ExprType.Unknown or ExprType.Any || r is ExprType.Unknown or ExprType.Any;
        ExprType result;
        if (op == ArithmeticOp.Add && (l == ExprType.String || r == ExprType.String))
        {
            result = ExprType.String;
        }
        else if (l == ExprType.Time && r == ExprType.Time && op == ArithmeticOp.Subtract)
        {
            result = ExprType.Number;
        }
        else if ((l == ExprType.Time && r is ExprType.Number or ExprType.Unknown or ExprType.Any && op is ArithmeticOp.Add or ArithmeticOp.Subtract)
                 || (r == ExprType.Time && l is ExprType.Number && op == ArithmeticOp.Add))
        {
            result = ExprType.Time;
        }
        else if ((l is ExprType.Number || unknown) && (r is ExprType.Number || unknown))
        {
            result = unknown && (l == ExprType.Time || r == ExprType.Time) ? ExprType.Unknown : unknown ? ExprType.Unknown : ExprType.Number;
        }
        else
        {
            if (left is not BoundError && right is not BoundError)
            {
                Report(DiagnosticCodes.TypeMismatch, binary.Span,
                    $"'{binary.Operator.Text}' cannot combine {TypeName(l)} with {TypeName(r)}",
                    "arithmetic works on numbers (durations are milliseconds), time - time (ms), time ± ms, and + joins text");
            }

            return new BoundError();
        }

        return new BoundArithmetic(op, left, right, result);
    }

    /// <summary>The name a rule author writes for <paramref name="kind"/> (its first name, for explanations).</summary>
    internal static string FunctionName(FunctionKind kind) =>
        NameOfFunction.TryGetValue(kind, out var name) ? name : kind.ToString().ToLowerInvariant();

    private static readonly Dictionary<string, (FunctionKind Kind, int Min, int Max, ExprType Result)> Functions = new(StringComparer.Ordinal)
    {
        ["lower"] = (FunctionKind.Lower, 1, 1, ExprType.String),
        ["upper"] = (FunctionKind.Upper, 1, 1, ExprType.String),
        ["trim"] = (FunctionKind.Trim, 1, 1, ExprType.String),
        ["len"] = (FunctionKind.Len, 1, 1, ExprType.Number),
        ["substring"] = (FunctionKind.Substring, 2, 3, ExprType.String),
        ["replace"] = (FunctionKind.Replace, 3, 3, ExprType.String),
        ["split"] = (FunctionKind.Split, 2, 2, ExprType.Array),
        ["abs"] = (FunctionKind.Abs, 1, 1, ExprType.Number),
        ["round"] = (FunctionKind.Round, 1, 2, ExprType.Number),
        ["floor"] = (FunctionKind.Floor, 1, 1, ExprType.Number),
        ["ceil"] = (FunctionKind.Ceil, 1, 1, ExprType.Number),
        ["min"] = (FunctionKind.Min, 2, 16, ExprType.Number),
        ["max"] = (FunctionKind.Max, 2, 16, ExprType.Number),
        ["now"] = (FunctionKind.Now, 0, 0, ExprType.Time),
        ["hour_of_day"] = (FunctionKind.HourOfDay, 1, 1, ExprType.Number),
        ["day_of_week"] = (FunctionKind.DayOfWeek, 1, 1, ExprType.Number),
        ["minute_of_hour"] = (FunctionKind.MinuteOfHour, 1, 1, ExprType.Number),
        ["date"] = (FunctionKind.Date, 1, 1, ExprType.String),
        ["time"] = (FunctionKind.ToTime, 1, 1, ExprType.Time),
        ["number"] = (FunctionKind.ToNumber, 1, 1, ExprType.Number),
        ["string"] = (FunctionKind.ToString, 1, 1, ExprType.String),
        ["exists"] = (FunctionKind.Exists, 1, 1, ExprType.Bool),
        ["coalesce"] = (FunctionKind.Coalesce, 2, 16, ExprType.Unknown),
        ["cidr"] = (FunctionKind.Cidr, 1, 1, ExprType.Network),
    };

    // After Functions: static fields are initialized in the order they are written.
    private static readonly Dictionary<FunctionKind, string> NameOfFunction = Functions
        .GroupBy(f => f.Value.Kind).ToDictionary(g => g.Key, g => g.First().Key);

    /// <summary>Names of the built-in functions (for documentation and did-you-mean).</summary>
    internal static IEnumerable<string> FunctionNames => Functions.Keys.Append("timeof").Append("any").Append("all");

    private BoundExpression BindCall(CallExpressionSyntax call, Context context, RuleScope scope)
    {
        var name = call.Name.Text;
        if (name == "timeof")
        {
            return BindTimeOf(call, context, scope);
        }

        if (!Functions.TryGetValue(name, out var signature))
        {
            Report(DiagnosticCodes.InvalidCall, call.Name.Span, $"unknown function '{name}'",
                "functions: " + string.Join(", ", FunctionNames.Order(StringComparer.Ordinal)) + DidYouMean(name, FunctionNames));
            foreach (var argument in call.Arguments)
            {
                BindValue(argument, context, scope);
            }

            return new BoundError();
        }

        var arguments = call.Arguments.Select(a => BindValue(a, context, scope)).ToList();
        if (arguments.Count < signature.Min || arguments.Count > signature.Max)
        {
            var expected = signature.Min == signature.Max ? signature.Min.ToString(CultureInfo.InvariantCulture) : $"{signature.Min} to {signature.Max}";
            Report(DiagnosticCodes.InvalidCall, call.Span, $"{name}(...) takes {expected} argument(s), not {arguments.Count}");
            return new BoundError();
        }

        if (arguments.Any(a => a is BoundError))
        {
            return new BoundError();
        }

        switch (signature.Kind)
        {
            case FunctionKind.Exists when call.Arguments[0] is not PathExpressionSyntax:
                Report(DiagnosticCodes.InvalidCall, call.Arguments[0].Span, "exists(...) takes a field, e.g. exists(labels.severity)");
                return new BoundError();
            case FunctionKind.Cidr:
            {
                if (arguments[0] is not BoundLiteral { Value.Kind: ValueKind.String } text)
                {
                    Report(DiagnosticCodes.InvalidCall, call.Arguments[0].Span, "cidr(...) takes a network in quotes, e.g. cidr(\"2001:db8::/32\")");
                    return new BoundError();
                }

                var networkText = text.Value.GetString();
                var address = networkText.Split('/')[0];
                if (!IPNetwork.TryParse(networkText, out var network) || (!address.Contains(':', StringComparison.Ordinal) && address.Count(c => c == '.') != 3))
                {
                    Report(DiagnosticCodes.InvalidCall, call.Arguments[0].Span, $"\"{text.Value.GetString()}\" is not a network such as 10.0.0.0/8 or 2001:db8::/32");
                    return new BoundError();
                }

                return new BoundCall(FunctionKind.Cidr, [new BoundLiteral(RuleValue.FromNetwork(network, text.Value.GetString()), ExprType.Network)], ExprType.Network);
            }

            case FunctionKind.Lower or FunctionKind.Upper or FunctionKind.Trim or FunctionKind.Substring or FunctionKind.Replace or FunctionKind.Split:
                if (arguments[0].Type is not (ExprType.String or ExprType.Unknown or ExprType.Any or ExprType.Time))
                {
                    Report(DiagnosticCodes.InvalidCall, call.Arguments[0].Span, $"{name}(...) takes a string, but {Describe(call.Arguments[0])} is {TypeName(arguments[0].Type)}");
                    return new BoundError();
                }

                break;
            case FunctionKind.Len:
                if (arguments[0].Type is ExprType.Number or ExprType.Bool or ExprType.Null or ExprType.Network)
                {
                    Report(DiagnosticCodes.InvalidCall, call.Arguments[0].Span,
                        $"len(...) takes a string, an array, an object or a window, but {Describe(call.Arguments[0])} is {TypeName(arguments[0].Type)}");
                    return new BoundError();
                }

                break;
            case FunctionKind.Abs or FunctionKind.Round or FunctionKind.Floor or FunctionKind.Ceil or FunctionKind.Min or FunctionKind.Max:
                foreach (var (argument, argumentSyntax) in arguments.Zip(call.Arguments))
                {
                    if (argument.Type is not (ExprType.Number or ExprType.Unknown or ExprType.Any))
                    {
                        Report(DiagnosticCodes.InvalidCall, argumentSyntax.Span, $"{name}(...) takes numbers, but {Describe(argumentSyntax)} is {TypeName(argument.Type)}");
                        return new BoundError();
                    }
                }

                break;
            case FunctionKind.HourOfDay or FunctionKind.DayOfWeek or FunctionKind.MinuteOfHour or FunctionKind.Date:
                if (arguments[0].Type is not (ExprType.Time or ExprType.String or ExprType.Number or ExprType.Unknown or ExprType.Any))
                {
                    Report(DiagnosticCodes.InvalidCall, call.Arguments[0].Span, $"{name}(...) takes a time, but {Describe(call.Arguments[0])} is {TypeName(arguments[0].Type)}");
                    return new BoundError();
                }

                break;
        }

        var result = signature.Kind == FunctionKind.Coalesce
            ? arguments.Select(a => a.Type).FirstOrDefault(t => t is not (ExprType.Unknown or ExprType.Any or ExprType.Null), ExprType.Unknown)
            : signature.Result;
        return new BoundCall(signature.Kind, arguments, result);
    }

    private BoundExpression BindTimeOf(CallExpressionSyntax call, Context context, RuleScope scope)
    {
        if (call.Arguments.Count == 0)
        {
            if (context != Context.Pattern && context != Context.Per)
            {
                Report(DiagnosticCodes.InvalidCall, call.Span, "timeof() without a binding is the time of the pattern's own event: use it inside a pattern",
                    "timeof(f) is the event time of the binding f");
                return new BoundError();
            }

            return new BoundEventTime(FieldSource.Current);
        }

        if (call.Arguments.Count == 1 && call.Arguments[0] is PathExpressionSyntax { Segments.Count: 1 } path
            && scope.Symbols.TryGetValue(path.Segments[0].ValueText, out var symbol) && symbol.Kind is SymbolKind.Pattern or SymbolKind.Silence)
        {
            symbol.Used = true;
            return new BoundEventTime(symbol.Index);
        }

        Report(DiagnosticCodes.InvalidCall, call.Span, "timeof(...) takes the binding of a pattern, e.g. timeof(f)");
        return new BoundError();
    }

    private BoundExpression BindQuantifier(QuantifierExpressionSyntax quantifier, Context context, RuleScope scope)
    {
        var source = BindValue(quantifier.Source, context, scope);
        if (source.Type is not (ExprType.Array or ExprType.Unknown or ExprType.Any or ExprType.Window))
        {
            Report(DiagnosticCodes.TypeMismatch, quantifier.Source.Span,
                $"{quantifier.Quantifier.Text}(...) goes through an array, but {Describe(quantifier.Source)} is {TypeName(source.Type)}");
        }

        var depth = scope.Locals.Count;
        FieldSchema? element = null;
        if (source is BoundField field)
        {
            element = SchemaOf(field, scope)?.Element;
        }

        scope.Locals.Add(new Local(quantifier.Variable.ValueText, depth, element));
        try
        {
            var condition = BindCondition(quantifier.Condition, context, scope);
            return new BoundQuantifier(quantifier.Quantifier.Text == "all", depth, source, condition);
        }
        finally
        {
            scope.Locals.RemoveAt(scope.Locals.Count - 1);
        }
    }

    private FieldSchema? SchemaOf(BoundField field, RuleScope scope)
    {
        FieldSchema? schema = field.Source switch
        {
            FieldSource.Current => scope.CurrentType?.Schema,
            >= 0 => scope.Symbols.Values.FirstOrDefault(s => s.Index == field.Source)?.Type?.Schema,
            _ when FieldSource.IsLocal(field.Source) => scope.Locals.FirstOrDefault(l => l.Depth == FieldSource.LocalDepth(field.Source))?.Schema,
            _ => scope.ForallItem?.Type?.Schema,
        };
        foreach (var step in field.Path)
        {
            if (schema is null)
            {
                return null;
            }

            schema = step.Name is null ? schema.Element : schema.Fields?.GetValueOrDefault(step.Name);
        }

        return schema;
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
            case SyntaxKind.TimestampLiteral when token.Value is DateTimeOffset time:
                return new BoundLiteral(RuleValue.FromTime(time.UtcTicks), ExprType.Time);
            case SyntaxKind.IpLiteral when token.Value is string ip:
                return new BoundLiteral(RuleValue.FromString(ip), ExprType.String);
            case SyntaxKind.CidrLiteral when token.Value is CidrValue cidr:
                return new BoundLiteral(RuleValue.FromNetwork(new IPNetwork(new IPAddress(cidr.Address), cidr.PrefixLength), cidr.Text), ExprType.Network);
            case SyntaxKind.Identifier when token.Text == "true":
                return new BoundLiteral(RuleValue.True, ExprType.Bool);
            case SyntaxKind.Identifier when token.Text == "false":
                return new BoundLiteral(RuleValue.False, ExprType.Bool);
            case SyntaxKind.Identifier when token.Text == "null":
                return new BoundLiteral(RuleValue.Null, ExprType.Null);
            default:
                return new BoundError(); // invalid number, duration, timestamp or network: already reported
        }
    }

    private static List<PathStep>? Steps(PathExpressionSyntax path, int skip)
    {
        var steps = new List<PathStep>();
        foreach (var segment in path.Segments.Skip(skip))
        {
            switch (segment.Kind)
            {
                case SyntaxKind.Identifier:
                    steps.Add(new PathStep(segment.ValueText, 0));
                    break;
                case SyntaxKind.StringLiteral when segment.Value is string key:
                    steps.Add(new PathStep(key, 0));
                    break;
                case SyntaxKind.NumberLiteral when segment.Value is double d && d == Math.Floor(d) && Math.Abs(d) < int.MaxValue:
                    steps.Add(new PathStep(null, (int)d));
                    break;
                default:
                    return null;
            }
        }

        return steps;
    }

    private BoundExpression BindPath(PathExpressionSyntax path, Context context, RuleScope scope)
    {
        if (path.Segments.Any(s => s.IsMissing || (s.Kind == SyntaxKind.Identifier && s.ValueText.Length == 0)))
        {
            return new BoundError();
        }

        var first = path.Segments[0];
        var name = first.ValueText;
        var rest = Steps(path, 1);
        if (rest is null)
        {
            Report(DiagnosticCodes.InvalidIndex, path.Span, $"'{path.Text}' has an index that is not a whole number or a string");
            return new BoundError();
        }

        if (!first.IsQuoted)
        {
            for (var i = scope.Locals.Count - 1; i >= 0; i--)
            {
                if (scope.Locals[i].Name == name)
                {
                    var local = scope.Locals[i];
                    return new BoundField(FieldSource.LocalBase - local.Depth, rest, TypeAlong(local.Schema, rest));
                }
            }

            if (scope.ForallItem is { } item && item.Name == name)
            {
                item.Used = true;
                return new BoundField(FieldSource.ForallItem, rest, FieldTypeOf(item.Type, rest, path, 1), NullIsMissing(context, item.Type, rest));
            }
        }

        if (!first.IsQuoted && scope.Symbols.TryGetValue(name, out var symbol))
        {
            symbol.Used = true;
            if (context == Context.Per)
            {
                Report(DiagnosticCodes.UnsupportedAggregateJoin, path.Span,
                    $"'per' and the value of an aggregate take fields of the aggregated events, not the binding '{name}'");
                return new BoundError();
            }

            if (symbol.Kind == SymbolKind.Aggregate)
            {
                if (context == Context.Pattern)
                {
                    Report(DiagnosticCodes.AggregateInCondition, path.Span,
                        $"the aggregate '{name}' can be used in actions only", "move the comparison into the aggregate: count(...) >= 5");
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

                if (rest[0].Name == "window")
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

            return new BoundField(symbol.Index, rest, FieldTypeOf(symbol.Type, rest, path, 1), NullIsMissing(context, symbol.Type, rest));
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

            if (!first.IsQuoted && name == "group")
            {
                if (!scope.HasGroup)
                {
                    Report(DiagnosticCodes.AggregateName, first.Span, "'group' names the matches batched by 'group by ... wait' or 'throttle once after', and this rule has neither",
                        "add group by <keys> wait <duration>");
                    return new BoundError();
                }

                if (rest.Count == 0)
                {
                    return new BoundGroup(false);
                }

                if (rest is [{ Name: "count" or "size" }])
                {
                    return new BoundGroup(true);
                }

                Report(DiagnosticCodes.UnknownWindowMember, path.Segments[1].Span, $"a group has no member '{rest[0]}'", "use group or group.count");
                return new BoundError();
            }

            Report(DiagnosticCodes.UnknownName, first.Span, $"unknown name '{name}'",
                Parser.AggregateFunctions.Contains(name)
                    ? $"'{name}' names the value of an unlabeled {name}(...) aggregate, and this rule has none"
                    : "in actions, names are bindings (f: ...), aggregates (count), window and group" + DidYouMean(name, scope.Symbols.Keys.Append("window")));
            return new BoundError();
        }

        if (!first.IsQuoted && scope.AllBindingNames.Contains(name) && (scope.CurrentType?.Schema?.Fields?.ContainsKey(name) != true))
        {
            Report(DiagnosticCodes.UnknownName, first.Span,
                $"the binding '{name}' is not available here: a binding can be used only in the conditions after its pattern, and in the actions",
                "reorder the patterns so that the pattern of the binding comes first");
            return new BoundError();
        }

        var all = Steps(path, 0)!;
        return new BoundField(FieldSource.Current, all, FieldTypeOf(scope.CurrentType, all, path, 0, scope), NullIsMissing(context, scope.CurrentType, all));
    }

    /// <summary>
    /// True when <paramref name="path"/> is one top-level field that <paramref name="type"/> declares without <c>?</c> (read in a
    /// condition, its <c>null</c> is missing; actions see the <c>null</c>, as the event has it).
    /// </summary>
    // A null reads as missing in conditions (not in actions, which see the event as it is) on a top-level field its type declares
    // without '?' (see BoundField.NullIsMissing).
    private static bool NullIsMissing(Context context, BoundEventType? type, IReadOnlyList<PathStep> path) =>
        context != Context.Action && path is [{ Name: { } name }] && type?.Schema?.Fields is { } fields && fields.TryGetValue(name, out var field)
        && !field.Optional;

    private static ExprType TypeAlong(FieldSchema? schema, IReadOnlyList<PathStep> path)
    {
        foreach (var step in path)
        {
            if (schema is null)
            {
                return ExprType.Unknown;
            }

            schema = step.Name is null ? schema.Element : schema.Fields?.GetValueOrDefault(step.Name);
        }

        return schema is null || schema.Type == ExprType.Any ? ExprType.Unknown : schema.Type;
    }

    private BoundExpression BindWindow(Symbol aggregate, List<PathStep> members, PathExpressionSyntax path)
    {
        var index = aggregate.Index;
        if (members.Count == 0)
        {
            return new BoundWindow(index, WindowMember.All, []);
        }

        switch (members[0].Name)
        {
            case "first" or "last":
                var fieldPath = members.Skip(1).ToList();
                FieldTypeOf(aggregate.Type, fieldPath, path, path.Segments.Count - fieldPath.Count);
                return new BoundWindow(index, members[0].Name == "first" ? WindowMember.First : WindowMember.Last, fieldPath);
            case "count" or "size" when members.Count == 1:
                return new BoundWindow(index, WindowMember.Count, []);
            default:
                var token = path.Segments[path.Segments.Count - members.Count];
                Report(DiagnosticCodes.UnknownWindowMember, token.Span, $"a window has no member '{members[0].Name ?? members[0].ToString()}'",
                    "a window has first, last and count; 'window' alone is the list of its events");
                return new BoundError();
        }
    }

    /// <summary>The declared type of a field path; warns (RF3003) about a field the type does not declare.</summary>
    private ExprType FieldTypeOf(BoundEventType? type, IReadOnlyList<PathStep> fieldPath, PathExpressionSyntax syntax, int firstSegment, RuleScope? scope = null)
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

            var step = fieldPath[i];
            if (step.Name is null)
            {
                if (current.Type != ExprType.Array)
                {
                    Report(DiagnosticCodes.TypeMismatch, segment.Span,
                        $"'{string.Concat(fieldPath.Take(i)).TrimStart('.')}' is {TypeName(current.Type)}, not an array, and cannot be indexed");
                    return ExprType.Unknown;
                }

                if (current.Element is null)
                {
                    return ExprType.Unknown;
                }

                current = current.Element;
                continue;
            }

            if (current.Type != ExprType.Object)
            {
                Report(DiagnosticCodes.TypeMismatch, segment.Span,
                    $"'{string.Join('.', fieldPath.Take(i).Select(p => p.Name ?? p.ToString()))}' is {TypeName(current.Type)} and has no field '{step.Name}'");
                return ExprType.Unknown;
            }

            if (current.Fields is null || !current.Fields.TryGetValue(step.Name, out var next))
            {
                var candidates = (current.Fields?.Keys ?? Enumerable.Empty<string>()).Concat(i == 0 && scope is not null ? scope.Symbols.Keys : []);
                Report(DiagnosticCodes.UnknownField, segment.Span, $"{(type.IsFact ? "fact" : "event")} {type.Name} declares no field '{step.Name}'",
                    "declare it in fields { ... } or correct the name" + DidYouMean(step.Name, candidates));
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
        if (left is BoundError || right is BoundError)
        {
            return;
        }

        // One side is enough to know that an order can never hold (`a < true` with `a` undeclared, as `true < false`).
        if (op is not (ComparisonOp.Equal or ComparisonOp.NotEqual) && (Unorderable(l) || Unorderable(r)))
        {
            Report(DiagnosticCodes.TypeMismatch, syntax.Span,
                $"'<', '>', '<=' and '>=' compare two numbers, two strings or two times, never {TypeName(Unorderable(l) ? l : r)}");
            return;
        }

        if (l is ExprType.Unknown or ExprType.Any || r is ExprType.Unknown or ExprType.Any)
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
                "compare values of the same type; declared field types are in the type's fields { ... }");
            return;
        }

        var orderable = (l is ExprType.Number or ExprType.String or ExprType.Time) && (r is ExprType.Number or ExprType.String or ExprType.Time);
        if (!orderable || !Compatible(l, r))
        {
            Report(DiagnosticCodes.TypeMismatch, syntax.Span,
                $"'<', '>', '<=' and '>=' compare two numbers, two strings or two times, not {TypeName(l)} with {TypeName(r)}");
        }
    }

    private static bool IsDeclaredTime(BoundExpression e) => e is BoundField { FieldType: ExprType.Time };

    /// <summary>
    /// A comparison with a field declared <c>time</c> is made between instants: its text in another format, another field's text or
    /// a string in the rule then compare by instant, not as text. JSON holds a time as a string, so both sides are read through
    /// <c>time(...)</c> (both: a join key of a time and a key of a string would never be equal). A literal is left as written
    /// (a comparison reads a string literal as an instant against a time), and so is a comparison with <c>null</c>, which asks
    /// whether the field is <c>null</c> (time(null) is missing).
    /// </summary>
    private static BoundExpression AsTime(BoundExpression side, BoundExpression other) =>
        side is BoundLiteral || other is BoundLiteral { Value.Kind: ValueKind.Null }
            ? side
            : new BoundCall(FunctionKind.ToTime, [side], ExprType.Time);

    private static bool Unorderable(ExprType type) => type is not (ExprType.Number or ExprType.String or ExprType.Time or ExprType.Unknown or ExprType.Any);

    private static bool Compatible(ExprType a, ExprType b) =>
        a == b || (a == ExprType.Time && b is ExprType.String or ExprType.Number) || (b == ExprType.Time && a is ExprType.String or ExprType.Number)
        || (a == ExprType.Array && b == ExprType.Window) || (b == ExprType.Array && a == ExprType.Window);

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
            return _regexes.Get(pattern, options);
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
        ExprType.Network => "a network",
        ExprType.Group => "a group",
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

/// <summary>
/// Compiled regular expressions of one load: a pattern that several rules use is compiled once (with a 100 ms match timeout).
/// </summary>
internal sealed class RegexCache
{
    private readonly Dictionary<(string, RegexOptions), Regex> _cache = [];

    public Regex Get(string pattern, RegexOptions options)
    {
        if (!_cache.TryGetValue((pattern, options), out var regex))
        {
            regex = new Regex(pattern, options | RegexOptions.Compiled, ValueOps.RegexTimeout);
            _cache.Add((pattern, options), regex);
        }

        return regex;
    }
}
