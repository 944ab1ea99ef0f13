using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using RuleFlow.Rules.Engine;

namespace RuleFlow.Rules.Language;

// The bound tree: the rule model after name resolution and type checking. It knows nothing of syntax (spans become
// locations) and nothing of the network; the compiler turns it into delegates and the network builder wires them.
// Expressions carry a canonical text so that identical conditions of different rules compile to one shared alpha node.

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
    Network,
    Group,
}

/// <summary>A declared field type (from <c>fields { ... }</c>).</summary>
internal sealed record FieldSchema(ExprType Type, IReadOnlyDictionary<string, FieldSchema>? Fields = null, FieldSchema? Element = null)
{
    /// <summary>Declared with a trailing <c>?</c>: an event may leave it out without being counted (<c>MissingFieldEvents</c>).
    /// Not part of <see cref="Canonical"/>: it changes no reading of an event, so state carries over when only it changes.</summary>
    public bool Optional { get; init; }

    public string Canonical => Type switch
    {
        ExprType.Object when Fields is not null => "{" + string.Join(",", Fields.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => f.Key + ":" + f.Value.Canonical)) + "}",
        ExprType.Array when Element is not null => "[" + Element.Canonical + "]",
        _ => Type.ToString(),
    };
}

/// <summary><c>dedup by fields within window</c> of an event type.</summary>
internal sealed record BoundDedup(IReadOnlyList<IReadOnlyList<string>> Fields, TimeSpan Window);

/// <summary>A declared event or fact type.</summary>
internal sealed record BoundEventType(
    string Name,
    string? Exchange,
    string? RoutingPattern,
    TopicPattern? Routing,
    IReadOnlyList<string>? KeyPath,
    IReadOnlyList<string>? TimePath,
    FieldSchema? Schema,
    SourceLocation Location,
    bool IsFact,
    BoundDedup? Dedup)
{
    public EventTypeInfo ToInfo() => new(Name, Exchange, RoutingPattern,
        KeyPath is null ? null : string.Join('.', KeyPath), TimePath is null ? null : string.Join('.', TimePath), Location)
    {
        IsFact = IsFact,
        DedupFields = Dedup?.Fields.Select(f => string.Join('.', f)).ToList(),
        DedupWindow = Dedup?.Window,
    };

    /// <summary>
    /// <see cref="Canonical"/> plus the top-level fields declared optional (<c>?</c>): what the rule set's fingerprint hashes, since
    /// optionality changes which events are counted as missing a field (not how they are read, so state still carries over).
    /// </summary>
    public string FingerprintText => Schema?.Fields is { } fields && fields.Any(f => f.Value.Optional)
        ? Canonical + " optional " + string.Join(",", fields.Where(f => f.Value.Optional).Select(f => f.Key).Order(StringComparer.Ordinal))
        : Canonical;

    /// <summary>Structural identity: equal when events of the type are read the same way (used when state is carried over).</summary>
    public string Canonical => $"{(IsFact ? "fact" : "event")} {Name} key {string.Join('.', KeyPath ?? [])} time {string.Join('.', TimePath ?? [])} " +
                               $"fields {Schema?.Canonical} dedup {(Dedup is null ? "" : string.Join(",", Dedup.Fields.Select(f => string.Join('.', f))) + "/" + Dedup.Window.Ticks)}";
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
    BoundThrottle? Throttle,
    BoundGroupBy? GroupBy)
{
    public IReadOnlyList<string> Tags { get; init; } = [];

    public string? Owner { get; init; }

    public string? Runbook { get; init; }

    public bool Enabled { get; init; } = true;

    /// <summary>Source text of each element, for explanations.</summary>
    public IReadOnlyList<string> ElementTexts { get; init; } = [];

    public RuleInfo ToInfo() => new(Name, Priority, Description, File, Location)
    {
        Enabled = Enabled,
        Tags = Tags,
        Owner = Owner,
        RunbookUrl = Runbook,
    };

    /// <summary>Structural identity of the rule's match and storm control (equal text = equal behaviour).</summary>
    public string Canonical =>
        $"rule {Name} p{Priority} when {string.Join(" ; ", Elements.Select(e => e.Canonical))} " +
        $"throttle {Throttle?.Canonical} group {GroupBy?.Canonical} then {string.Join(" ; ", Actions.Select(a => a.Canonical))}";
}

/// <summary>A condition element; <see cref="Index"/> is its position in the rule's partial matches (tokens).</summary>
internal abstract record BoundElement(int Index, string? Name, SourceLocation Location, BoundEventType Type, IReadOnlyList<BoundExpression> Conditions)
{
    public abstract string Canonical { get; }

    protected string ConditionsCanonical => $"{Type.Name}({string.Join(",", Conditions.Select(c => c.Canonical))})";
}

/// <summary><c>name: type(conditions)</c>: matches one event or fact.</summary>
internal sealed record BoundPatternElement(int Index, string? Name, SourceLocation Location, BoundEventType Type, IReadOnlyList<BoundExpression> Conditions)
    : BoundElement(Index, Name, Location, Type, Conditions)
{
    /// <summary>For a step of a sequence: how long its type must stay in working memory to meet the next step.</summary>
    public TimeSpan SequenceRetention { get; init; }

    /// <summary>For a step of a sequence: the element index of its first step (every step is within the window of it); else -1.</summary>
    public int SequenceStart { get; init; } = -1;

    public override string Canonical => $"{Name}:{ConditionsCanonical}";
}

/// <summary>Aggregate functions.</summary>
internal enum AggregateFunctionKind
{
    Count,
    Sum,
    Avg,
    Min,
    Max,
    Distinct,
    Collect,
}

/// <summary>
/// <c>fn(type(conditions) [, value]) [within D | every D] [last N] [per exprs] [op threshold]</c>: an aggregate over a window.
/// Its name is its label, or the function name when unlabeled.
/// </summary>
internal sealed record BoundAggregateElement(
    int Index,
    string? Name,
    SourceLocation Location,
    BoundEventType Type,
    IReadOnlyList<BoundExpression> Conditions,
    AggregateFunctionKind Function,
    BoundExpression? Value,
    TimeSpan? Window,
    TimeSpan? Tumbling,
    int? Last,
    IReadOnlyList<BoundExpression> Per,
    ComparisonOp? Operator,
    BoundExpression? Threshold) : BoundElement(Index, Name, Location, Type, Conditions)
{
    public override string Canonical =>
        $"{Name}:{Function}({ConditionsCanonical},{Value?.Canonical}) within {Window?.Ticks} every {Tumbling?.Ticks} last {Last} " +
        $"per {string.Join(",", Per.Select(p => p.Canonical))} {Operator} {Threshold?.Canonical}";
}

/// <summary><c>not type(...)</c> (no such fact or held event), or with a window: none in the window after the match.</summary>
internal sealed record BoundNotElement(int Index, SourceLocation Location, BoundEventType Type, IReadOnlyList<BoundExpression> Conditions, TimeSpan? Window)
    : BoundElement(Index, null, Location, Type, Conditions)
{
    public override string Canonical => $"not {ConditionsCanonical} within {Window?.Ticks}";
}

/// <summary><c>exists type(...)</c>.</summary>
internal sealed record BoundExistsElement(int Index, SourceLocation Location, BoundEventType Type, IReadOnlyList<BoundExpression> Conditions)
    : BoundElement(Index, null, Location, Type, Conditions)
{
    public override string Canonical => $"exists {ConditionsCanonical}";
}

/// <summary><c>forall each =&gt; satisfies</c>: every match of <see cref="BoundElement.Type"/>(Conditions) has a match of the second pattern.</summary>
internal sealed record BoundForallElement(int Index, SourceLocation Location, BoundEventType Type, IReadOnlyList<BoundExpression> Conditions,
    BoundEventType SatisfiesType, IReadOnlyList<BoundExpression> SatisfiesConditions) : BoundElement(Index, null, Location, Type, Conditions)
{
    public override string Canonical =>
        $"forall {ConditionsCanonical} => {SatisfiesType.Name}({string.Join(",", SatisfiesConditions.Select(c => c.Canonical))})";
}

/// <summary><c>[name:] no type(...) for D [per exprs]</c>: silence for D; the binding is the last matching event.</summary>
internal sealed record BoundNoElement(int Index, string? Name, SourceLocation Location, BoundEventType Type, IReadOnlyList<BoundExpression> Conditions,
    TimeSpan Duration, IReadOnlyList<BoundExpression> Per) : BoundElement(Index, Name, Location, Type, Conditions)
{
    public override string Canonical => $"{Name}:no {ConditionsCanonical} for {Duration.Ticks} per {string.Join(",", Per.Select(p => p.Canonical))}";
}

// ---- actions and storm control -------------------------------------------------------------------------------------------

/// <summary>An action.</summary>
internal abstract record BoundAction(SourceLocation Location)
{
    public abstract string Canonical { get; }
}

/// <summary><c>start workflow "id" [key expr] [with { ... } | with template "..."]</c>.</summary>
internal sealed record BoundStartWorkflow(SourceLocation Location, string WorkflowId, BoundExpression? Key, BoundMap? Input, string? Template, BoundMap? Model)
    : BoundAction(Location)
{
    public override string Canonical => $"start {WorkflowId} {Key?.Canonical} {Input?.Canonical} {Template}";
}

/// <summary><c>signal "s" to workflow "id" key expr [with { ... }]</c>.</summary>
internal sealed record BoundSignalWorkflow(SourceLocation Location, string Signal, string WorkflowId, BoundExpression Key, BoundMap? Payload) : BoundAction(Location)
{
    public override string Canonical => $"signal {Signal} {WorkflowId} {Key.Canonical} {Payload?.Canonical}";
}

/// <summary><c>publish body to exchange "x" [routing expr] [headers { ... }]</c>.</summary>
internal sealed record BoundPublish(SourceLocation Location, BoundExpression Body, string Exchange, BoundExpression? Routing, BoundMap? Headers) : BoundAction(Location)
{
    public override string Canonical => $"publish {Body.Canonical} {Exchange} {Routing?.Canonical} {Headers?.Canonical}";
}

/// <summary><c>script "code" [with { ... }]</c> (without <c>with</c>: every binding and aggregate by name).</summary>
internal sealed record BoundScript(SourceLocation Location, string Code, BoundMap Bindings) : BoundAction(Location)
{
    public override string Canonical => $"script {Code} {Bindings.Canonical}";
}

/// <summary><c>log [level] message</c>.</summary>
internal sealed record BoundLog(SourceLocation Location, string Level, BoundExpression Message) : BoundAction(Location)
{
    public override string Canonical => $"log {Level} {Message.Canonical}";
}

/// <summary><c>insert Type { ... }</c>.</summary>
internal sealed record BoundInsertFact(SourceLocation Location, BoundEventType Type, BoundMap Value) : BoundAction(Location)
{
    public override string Canonical => $"insert {Type.Name} {Value.Canonical}";
}

/// <summary><c>update binding { ... }</c>.</summary>
internal sealed record BoundUpdateFact(SourceLocation Location, int Element, BoundMap Changes) : BoundAction(Location)
{
    public override string Canonical => $"update {Element} {Changes.Canonical}";
}

/// <summary><c>retract binding</c>.</summary>
internal sealed record BoundRetractFact(SourceLocation Location, int Element) : BoundAction(Location)
{
    public override string Canonical => $"retract {Element}";
}

/// <summary><c>throttle once within D | once after D | at most N per D [per keys]</c>.</summary>
internal sealed record BoundThrottle(SourceLocation Location, ThrottleMode Mode, int Count, TimeSpan Window, IReadOnlyList<BoundExpression> Per)
{
    public string Canonical => $"{Mode} {Count} {Window.Ticks} per {string.Join(",", Per.Select(p => p.Canonical))}";
}

/// <summary><c>group by keys wait D</c>.</summary>
internal sealed record BoundGroupBy(SourceLocation Location, IReadOnlyList<BoundExpression> Keys, TimeSpan Window)
{
    public string Canonical => $"{Window.Ticks} by {string.Join(",", Keys.Select(p => p.Canonical))}";
}

// ---- expressions ---------------------------------------------------------------------------------------------------------

/// <summary>A bound expression with its static type and canonical text.</summary>
internal abstract record BoundExpression(ExprType Type)
{
    /// <summary>Canonical text: equal for expressions that compute the same thing (used to share alpha nodes).</summary>
    public abstract string Canonical { get; }

    /// <summary>True when it reads a field of the pattern's own event (or the forall item).</summary>
    public virtual bool UsesCurrent => Children.Any(c => c.UsesCurrent);

    /// <summary>Element indexes of the bindings it reads.</summary>
    public virtual IEnumerable<int> Bindings => Children.SelectMany(c => c.Bindings);

    /// <summary>True when it reads the session clock (<c>now()</c>).</summary>
    public virtual bool UsesClock => Children.Any(c => c.UsesClock);

    /// <summary>True when it reads the item of <c>forall</c>'s first pattern.</summary>
    public virtual bool UsesForallItem => Children.Any(c => c.UsesForallItem);

    protected virtual IEnumerable<BoundExpression> Children => [];
}

internal sealed record BoundLiteral(RuleValue Value, ExprType LiteralType) : BoundExpression(LiteralType)
{
    public override string Canonical => Value.Kind == ValueKind.Time
        ? "@" + Value.TimeTicks.ToString(CultureInfo.InvariantCulture)
        : Value.ToString();
}

/// <summary>Where a field path starts.</summary>
internal static class FieldSource
{
    /// <summary>The pattern's own event (or fact).</summary>
    public const int Current = -1;

    /// <summary>The item of <c>forall</c>'s first pattern, inside its second pattern.</summary>
    public const int ForallItem = -2;

    /// <summary>Locals of <c>any</c>/<c>all</c>: <c>LocalBase - depth</c>.</summary>
    public const int LocalBase = -100;

    public static bool IsLocal(int source) => source <= LocalBase;

    public static int LocalDepth(int source) => LocalBase - source;
}

/// <summary>One step of a field path: a name, or an index (negative: from the end).</summary>
internal readonly record struct PathStep(string? Name, int Index)
{
    public override string ToString() => Name is null ? "[" + Index.ToString(CultureInfo.InvariantCulture) + "]" : "." + JsonSerializer.Serialize(Name);
}

/// <summary>A field read from the current fact, a binding, the forall item or a local (<c>any</c>/<c>all</c>).</summary>
/// <param name="Source">Where it is read: a binding's index, or a <see cref="FieldSource"/> value.</param>
/// <param name="Path">The steps into the JSON (names and indexes).</param>
/// <param name="FieldType">Its type as far as the declarations tell.</param>
/// <param name="NullIsMissing">
/// The path is a top-level field its type declares without <c>?</c>: a <c>null</c> there reads as missing, as the reference says of
/// such a field (absent or <c>null</c>, the conditions that read it are false).
/// </param>
internal sealed record BoundField(int Source, IReadOnlyList<PathStep> Path, ExprType FieldType, bool NullIsMissing = false) : BoundExpression(FieldType)
{
    // "!" when null reads as missing: compiled tests and shared nodes are keyed by the canonical text, and the same path reads null
    // differently in a type that declares the field required and one that does not.
    public override string Canonical => (Source == FieldSource.Current ? "$" : "$" + Source.ToString(CultureInfo.InvariantCulture)) + string.Concat(Path)
                                        + (NullIsMissing ? "!" : "");

    public override bool UsesCurrent => Source == FieldSource.Current;

    public override IEnumerable<int> Bindings => Source >= 0 ? [Source] : [];

    public override bool UsesClock => false;

    public override bool UsesForallItem => Source == FieldSource.ForallItem;
}

/// <summary>The event time of a binding (or the pattern's own event: <see cref="FieldSource.Current"/>): <c>timeof(f)</c>.</summary>
internal sealed record BoundEventTime(int Source) : BoundExpression(ExprType.Time)
{
    public override string Canonical => "timeof($" + Source.ToString(CultureInfo.InvariantCulture) + ")";

    public override bool UsesCurrent => Source == FieldSource.Current;

    public override IEnumerable<int> Bindings => Source >= 0 ? [Source] : [];

    public override bool UsesClock => false;
}

/// <summary>The value of an aggregate (e.g. the count); actions only.</summary>
internal sealed record BoundAggregateValue(int Element) : BoundExpression(ExprType.Number)
{
    public override string Canonical => "agg" + Element.ToString(CultureInfo.InvariantCulture);

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
internal sealed record BoundWindow(int Element, WindowMember Member, IReadOnlyList<PathStep> Path)
    : BoundExpression(Member switch { WindowMember.All => ExprType.Window, WindowMember.Count => ExprType.Number, _ => Path.Count == 0 ? ExprType.Object : ExprType.Unknown })
{
    public override string Canonical => $"window{Element}.{Member}" + string.Concat(Path);

    public override IEnumerable<int> Bindings => [Element];
}

/// <summary><c>group</c> (the batched matches of <c>group by</c> / <c>throttle once after</c>) or <c>group.count</c>; actions only.</summary>
internal sealed record BoundGroup(bool CountOnly) : BoundExpression(CountOnly ? ExprType.Number : ExprType.Group)
{
    public override string Canonical => CountOnly ? "group.count" : "group";
}

/// <summary>The session clock: <c>now()</c>.</summary>
internal sealed record BoundNow() : BoundExpression(ExprType.Time)
{
    public override string Canonical => "now()";

    public override bool UsesClock => true;
}

internal sealed record BoundComparison(ComparisonOp Operator, BoundExpression Left, BoundExpression Right) : BoundExpression(ExprType.Bool)
{
    public override string Canonical => $"({Operator} {Left.Canonical} {Right.Canonical})";

    protected override IEnumerable<BoundExpression> Children => [Left, Right];
}

/// <summary>Arithmetic operators.</summary>
internal enum ArithmeticOp
{
    Add,
    Subtract,
    Multiply,
    Divide,
    Remainder,
}

internal sealed record BoundArithmetic(ArithmeticOp Operator, BoundExpression Left, BoundExpression Right, ExprType ResultType) : BoundExpression(ResultType)
{
    public override string Canonical => $"({Operator} {Left.Canonical} {Right.Canonical})";

    protected override IEnumerable<BoundExpression> Children => [Left, Right];
}

internal sealed record BoundNegate(BoundExpression Operand) : BoundExpression(ExprType.Number)
{
    public override string Canonical => $"(neg {Operand.Canonical})";

    protected override IEnumerable<BoundExpression> Children => [Operand];
}

/// <summary>Text operators.</summary>
internal enum TextOp
{
    Contains,
    StartsWith,
    EndsWith,
}

internal sealed record BoundTextOp(TextOp Operator, BoundExpression Left, BoundExpression Right) : BoundExpression(ExprType.Bool)
{
    public override string Canonical => $"({Operator} {Left.Canonical} {Right.Canonical})";

    protected override IEnumerable<BoundExpression> Children => [Left, Right];
}

internal sealed record BoundLogical(bool IsAnd, IReadOnlyList<BoundExpression> Operands) : BoundExpression(ExprType.Bool)
{
    public override string Canonical => $"({(IsAnd ? "and" : "or")} {string.Join(' ', Operands.Select(o => o.Canonical))})";

    protected override IEnumerable<BoundExpression> Children => Operands;
}

internal sealed record BoundNot(BoundExpression Operand) : BoundExpression(ExprType.Bool)
{
    public override string Canonical => $"(not {Operand.Canonical})";

    protected override IEnumerable<BoundExpression> Children => [Operand];
}

/// <summary>A value used as a condition: true only when it is the boolean true.</summary>
internal sealed record BoundTruth(BoundExpression Operand) : BoundExpression(ExprType.Bool)
{
    public override string Canonical => $"(true? {Operand.Canonical})";

    protected override IEnumerable<BoundExpression> Children => [Operand];
}

internal sealed record BoundMatches(BoundExpression Operand, Regex Regex, string Pattern, string Flags) : BoundExpression(ExprType.Bool)
{
    public override string Canonical => $"(matches {Operand.Canonical} /{Pattern}/{Flags})";

    protected override IEnumerable<BoundExpression> Children => [Operand];
}

/// <summary>One item of the list after <c>in</c>: a value, a range <c>low..high</c> or a network.</summary>
internal sealed record InItem(RuleValue Value, RuleValue High, bool IsRange)
{
    public override string ToString() => IsRange ? $"{Value}..{High}" : Value.ToString();
}

/// <summary><c>x [not] in [items]</c>, <c>x in low..high</c>, <c>ip in 10.0.0.0/8</c>.</summary>
internal sealed record BoundIn(BoundExpression Operand, InItem[] Items, bool Negated) : BoundExpression(ExprType.Bool)
{
    public override string Canonical => $"({(Negated ? "not-in" : "in")} {Operand.Canonical} [{string.Join(',', Items.Select(i => i.ToString()))}])";

    protected override IEnumerable<BoundExpression> Children => [Operand];
}

/// <summary><c>x [not] in expr</c> where the expression is an array at run time.</summary>
internal sealed record BoundInValue(BoundExpression Operand, BoundExpression Target, bool Negated) : BoundExpression(ExprType.Bool)
{
    public override string Canonical => $"({(Negated ? "not-in" : "in")} {Operand.Canonical} {Target.Canonical})";

    protected override IEnumerable<BoundExpression> Children => [Operand, Target];
}

/// <summary>Built-in functions.</summary>
internal enum FunctionKind
{
    Lower,
    Upper,
    Trim,
    Len,
    Substring,
    Abs,
    Round,
    Floor,
    Ceil,
    Min,
    Max,
    Now,
    HourOfDay,
    DayOfWeek,
    MinuteOfHour,
    Date,
    ToTime,
    ToNumber,
    ToString,
    Exists,
    Coalesce,
    Cidr,
    Replace,
    Split,
}

internal sealed record BoundCall(FunctionKind Function, IReadOnlyList<BoundExpression> Arguments, ExprType ResultType) : BoundExpression(ResultType)
{
    public override string Canonical => $"{Function}({string.Join(",", Arguments.Select(a => a.Canonical))})";

    protected override IEnumerable<BoundExpression> Children => Arguments;
}

/// <summary><c>any(x in source: condition)</c> / <c>all(...)</c>; the item is the local at <see cref="Depth"/>.</summary>
internal sealed record BoundQuantifier(bool IsAll, int Depth, BoundExpression Source, BoundExpression Condition) : BoundExpression(ExprType.Bool)
{
    public override string Canonical => $"({(IsAll ? "all" : "any")}{Depth} {Source.Canonical} {Condition.Canonical})";

    protected override IEnumerable<BoundExpression> Children => [Source, Condition];
}

/// <summary>Temporal constraint between the pattern's own event and an earlier binding (sequences).</summary>
internal sealed record BoundTemporal(int Other, long? MaxTicks) : BoundExpression(ExprType.Bool)
{
    public override string Canonical => $"(after ${Other} {MaxTicks})";

    public override bool UsesCurrent => true;

    public override IEnumerable<int> Bindings => [Other];
}

internal sealed record BoundList(IReadOnlyList<BoundExpression> Items) : BoundExpression(ExprType.Array)
{
    public override string Canonical => $"[{string.Join(',', Items.Select(i => i.Canonical))}]";

    protected override IEnumerable<BoundExpression> Children => Items;
}

internal sealed record BoundMap(IReadOnlyList<KeyValuePair<string, BoundExpression>> Entries) : BoundExpression(ExprType.Object)
{
    public override string Canonical => $"{{{string.Join(',', Entries.Select(e => e.Key + ":" + e.Value.Canonical))}}}";

    protected override IEnumerable<BoundExpression> Children => Entries.Select(e => e.Value);
}

/// <summary>Stands for an expression that had an error (already reported); compiles to false / missing.</summary>
internal sealed record BoundError() : BoundExpression(ExprType.Unknown)
{
    public override string Canonical => "<error>";
}
