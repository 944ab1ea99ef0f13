using System.Text.RegularExpressions;
using RuleFlow.Rules.Engine;

namespace RuleFlow.Rules.Language;

// The bound tree: the rule model after name resolution and type checking. It knows nothing of syntax (spans become
// locations) and nothing of the network; the network builder compiles it. Expressions carry a canonical text so that
// identical conditions of different rules compile to one shared alpha node.

/// <summary>Static types of declared fields and expressions.</summary>
internal enum ExprType
{
    Unknown,
    String,
    Number,
    Bool,
    Time,
    Object,
    Array,
    Null,
    Any,
    Window,
}

/// <summary>A declared field type (from <c>fields { ... }</c>).</summary>
internal sealed record FieldSchema(ExprType Type, IReadOnlyDictionary<string, FieldSchema>? Fields = null, FieldSchema? Element = null);

/// <summary>A declared event type.</summary>
internal sealed record BoundEventType(
    string Name,
    string? Exchange,
    string? RoutingPattern,
    TopicPattern? Routing,
    IReadOnlyList<string>? KeyPath,
    IReadOnlyList<string>? TimePath,
    FieldSchema? Schema,
    SourceLocation Location)
{
    public EventTypeInfo ToInfo() => new(Name, Exchange, RoutingPattern,
        KeyPath is null ? null : string.Join('.', KeyPath), TimePath is null ? null : string.Join('.', TimePath), Location);
}

/// <summary>A rule after binding.</summary>
internal sealed record BoundRule(
    string Name,
    int Priority,
    string? Description,
    string File,
    SourceLocation Location,
    IReadOnlyList<BoundElement> Elements,
    IReadOnlyList<BoundAction> Actions,
    BoundThrottle? Throttle)
{
    public RuleInfo ToInfo() => new(Name, Priority, Description, File, Location);
}

/// <summary>A condition element; <see cref="Index"/> is its position in the rule's partial matches (tokens).</summary>
internal abstract record BoundElement(int Index, string? Name, SourceLocation Location, BoundEventType Type, IReadOnlyList<BoundExpression> Conditions);

/// <summary><c>name: type(conditions)</c>: matches one event.</summary>
internal sealed record BoundPatternElement(int Index, string? Name, SourceLocation Location, BoundEventType Type, IReadOnlyList<BoundExpression> Conditions)
    : BoundElement(Index, Name, Location, Type, Conditions);

/// <summary>Aggregate functions (only <see cref="Count"/> in this version).</summary>
internal enum AggregateFunctionKind
{
    Count,
}

/// <summary>
/// <c>count(type(conditions)) within window [per exprs] op threshold</c>: an aggregate over the events of a sliding window.
/// Its name is its label, or the function name when unlabeled.
/// </summary>
internal sealed record BoundAggregateElement(
    int Index,
    string? Name,
    SourceLocation Location,
    BoundEventType Type,
    IReadOnlyList<BoundExpression> Conditions,
    AggregateFunctionKind Function,
    TimeSpan Window,
    IReadOnlyList<BoundExpression> Per,
    ComparisonOp? Operator,
    RuleValue Threshold) : BoundElement(Index, Name, Location, Type, Conditions);

/// <summary>An action.</summary>
internal abstract record BoundAction(SourceLocation Location);

/// <summary><c>start workflow "id" [key expr] [with { ... }]</c>.</summary>
internal sealed record BoundStartWorkflow(SourceLocation Location, string WorkflowId, BoundExpression? Key, BoundMap? Input) : BoundAction(Location);

/// <summary><c>throttle once within window per keys</c>.</summary>
internal sealed record BoundThrottle(SourceLocation Location, TimeSpan Window, IReadOnlyList<BoundExpression> Per);

// ---- expressions ---------------------------------------------------------------------------------------------------------

/// <summary>A bound expression with its static type and canonical text.</summary>
internal abstract record BoundExpression(ExprType Type)
{
    /// <summary>Canonical text: equal for expressions that compute the same thing (used to share alpha nodes).</summary>
    public abstract string Canonical { get; }

    /// <summary>True when it reads a field of the pattern's own event.</summary>
    public abstract bool UsesCurrent { get; }

    /// <summary>Element indexes of the bindings it reads.</summary>
    public abstract IEnumerable<int> Bindings { get; }
}

internal sealed record BoundLiteral(RuleValue Value, ExprType LiteralType) : BoundExpression(LiteralType)
{
    public override string Canonical => Value.ToString();

    public override bool UsesCurrent => false;

    public override IEnumerable<int> Bindings => [];
}

/// <summary>A field path of an event: the pattern's own (<see cref="Source"/> = -1) or a binding's (its element index).</summary>
internal sealed record BoundField(int Source, IReadOnlyList<string> Path, ExprType FieldType) : BoundExpression(FieldType)
{
    public const int Current = -1;

    public override string Canonical => (Source == Current ? "$" : "$" + Source) + string.Concat(Path.Select(p => "." + System.Text.Json.JsonSerializer.Serialize(p)));

    public override bool UsesCurrent => Source == Current;

    public override IEnumerable<int> Bindings => Source == Current ? [] : [Source];
}

/// <summary>The value of an aggregate (e.g. the count); actions only.</summary>
internal sealed record BoundAggregateValue(int Element) : BoundExpression(ExprType.Number)
{
    public override string Canonical => "agg" + Element;

    public override bool UsesCurrent => false;

    public override IEnumerable<int> Bindings => [Element];
}

/// <summary>Which part of a window an expression reads.</summary>
internal enum WindowMember
{
    All,
    First,
    Last,
    Count,
}

/// <summary><c>window</c>, <c>window.first.path</c>, <c>window.last.path</c>, <c>window.count</c>; actions only.</summary>
internal sealed record BoundWindow(int Element, WindowMember Member, IReadOnlyList<string> Path)
    : BoundExpression(Member switch { WindowMember.All => ExprType.Window, WindowMember.Count => ExprType.Number, _ => Path.Count == 0 ? ExprType.Object : ExprType.Unknown })
{
    public override string Canonical => $"window{Element}.{Member}" + string.Concat(Path.Select(p => "." + p));

    public override bool UsesCurrent => false;

    public override IEnumerable<int> Bindings => [Element];
}

internal sealed record BoundComparison(ComparisonOp Operator, BoundExpression Left, BoundExpression Right) : BoundExpression(ExprType.Bool)
{
    public override string Canonical => $"({Operator} {Left.Canonical} {Right.Canonical})";

    public override bool UsesCurrent => Left.UsesCurrent || Right.UsesCurrent;

    public override IEnumerable<int> Bindings => Left.Bindings.Concat(Right.Bindings);
}

internal sealed record BoundLogical(bool IsAnd, IReadOnlyList<BoundExpression> Operands) : BoundExpression(ExprType.Bool)
{
    public override string Canonical => $"({(IsAnd ? "and" : "or")} {string.Join(' ', Operands.Select(o => o.Canonical))})";

    public override bool UsesCurrent => Operands.Any(o => o.UsesCurrent);

    public override IEnumerable<int> Bindings => Operands.SelectMany(o => o.Bindings);
}

internal sealed record BoundNot(BoundExpression Operand) : BoundExpression(ExprType.Bool)
{
    public override string Canonical => $"(not {Operand.Canonical})";

    public override bool UsesCurrent => Operand.UsesCurrent;

    public override IEnumerable<int> Bindings => Operand.Bindings;
}

/// <summary>A value used as a condition: true only when it is the boolean true.</summary>
internal sealed record BoundTruth(BoundExpression Operand) : BoundExpression(ExprType.Bool)
{
    public override string Canonical => $"(true? {Operand.Canonical})";

    public override bool UsesCurrent => Operand.UsesCurrent;

    public override IEnumerable<int> Bindings => Operand.Bindings;
}

internal sealed record BoundMatches(BoundExpression Operand, Regex Regex, string Pattern, string Flags) : BoundExpression(ExprType.Bool)
{
    public override string Canonical => $"(matches {Operand.Canonical} /{Pattern}/{Flags})";

    public override bool UsesCurrent => Operand.UsesCurrent;

    public override IEnumerable<int> Bindings => Operand.Bindings;
}

internal sealed record BoundIn(BoundExpression Operand, RuleValue[] Items, bool Negated) : BoundExpression(ExprType.Bool)
{
    public override string Canonical => $"({(Negated ? "not-in" : "in")} {Operand.Canonical} [{string.Join(',', Items.Select(i => i.ToString()))}])";

    public override bool UsesCurrent => Operand.UsesCurrent;

    public override IEnumerable<int> Bindings => Operand.Bindings;
}

internal sealed record BoundList(IReadOnlyList<BoundExpression> Items) : BoundExpression(ExprType.Array)
{
    public override string Canonical => $"[{string.Join(',', Items.Select(i => i.Canonical))}]";

    public override bool UsesCurrent => Items.Any(i => i.UsesCurrent);

    public override IEnumerable<int> Bindings => Items.SelectMany(i => i.Bindings);
}

internal sealed record BoundMap(IReadOnlyList<KeyValuePair<string, BoundExpression>> Entries) : BoundExpression(ExprType.Object)
{
    public override string Canonical => $"{{{string.Join(',', Entries.Select(e => e.Key + ":" + e.Value.Canonical))}}}";

    public override bool UsesCurrent => Entries.Any(e => e.Value.UsesCurrent);

    public override IEnumerable<int> Bindings => Entries.SelectMany(e => e.Value.Bindings);
}

/// <summary>Stands for an expression that had an error (already reported); compiles to false / missing.</summary>
internal sealed record BoundError() : BoundExpression(ExprType.Unknown)
{
    public override string Canonical => "<error>";

    public override bool UsesCurrent => false;

    public override IEnumerable<int> Bindings => [];
}
