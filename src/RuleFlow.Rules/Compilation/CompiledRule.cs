using System.Text.Json.Nodes;
using RuleFlow.Rules.Engine;
using RuleFlow.Rules.Language;

namespace RuleFlow.Rules.Compilation;

/// <summary>A rule ready to run: its identity, salience, compiled actions and storm control.</summary>
internal sealed class CompiledRule(BoundRule bound, int order, IReadOnlyList<ActionPlan> actions, CompiledThrottle? throttle, CompiledGroupBy? groupBy)
{
    public BoundRule Bound { get; } = bound;

    public string Name => Bound.Name;

    /// <summary>Salience.</summary>
    public int Priority => Bound.Priority;

    /// <summary>Load order of the rule in its rule set (the last tie-breaker of conflict resolution).</summary>
    public int Order { get; } = order;

    public RuleInfo Info { get; } = bound.ToInfo();

    public IReadOnlyList<ActionPlan> Actions { get; } = actions;

    public CompiledThrottle? Throttle { get; } = throttle;

    public CompiledGroupBy? GroupBy { get; } = groupBy;

    /// <summary>True when matches are batched (group by, throttle once after): activations are frozen for a later firing.</summary>
    public bool Batches => GroupBy is not null || Throttle?.Mode == ThrottleMode.OnceAfter;

    /// <summary>
    /// True when a match of the rule can end and come back with the same events and facts: it has a <c>not</c>, <c>exists</c>,
    /// <c>forall</c> or an aggregate (a window that empties and empties again, a blocking fact that comes and goes). Its activation
    /// ids then include the time of the change that made the match, so a firing that comes back is not taken for a replay.
    /// </summary>
    public bool MatchCanComeBack { get; } = bound.Elements.Any(e => e is not (BoundPatternElement or BoundNoElement));

    /// <summary>Structural identity: a rule whose identity is unchanged keeps its storm-control state across a reload.</summary>
    public string Identity { get; } = Hashing.Short(bound.Canonical);
}

/// <summary><c>throttle ...</c>: mode, window in ticks, count, and the compiled key of a match.</summary>
internal sealed record CompiledThrottle(ThrottleMode Mode, long WindowTicks, int Count, KeyFn Key);

/// <summary><c>group by keys wait D</c>.</summary>
internal sealed record CompiledGroupBy(long WindowTicks, KeyFn Key);

/// <summary>A fact change made by a firing, applied after all its actions are evaluated.</summary>
internal abstract record FactChange;

internal sealed record InsertFactChange(TypeRuntime Type, JsonObject Value) : FactChange;

internal sealed record UpdateFactChange(DataFact Fact, JsonObject Changes) : FactChange;

internal sealed record RetractFactChange(DataFact Fact) : FactChange;

/// <summary>An action evaluated on a firing.</summary>
internal abstract class ActionPlan
{
    /// <summary>Evaluates the action against the match in <paramref name="context"/>; a fact action also gives its change.</summary>
    public abstract RuleAction Evaluate(EvalContext context, out FactChange? change);
}

/// <summary><c>start workflow "id" [key expr] [with { ... } | with template "..."]</c>.</summary>
internal sealed class StartWorkflowPlan(string workflowId, ValueFn? key, ValuePlan? input, string? template) : ActionPlan
{
    public override RuleAction Evaluate(EvalContext context, out FactChange? change)
    {
        change = null;
        var correlationKey = key is null ? null : ValueOps.ToKeyText(key(context));
        var json = input?.Evaluate(context, out _) as JsonObject ?? [];
        return new StartWorkflowAction(workflowId, correlationKey, json) { InputTemplate = template };
    }
}

/// <summary><c>signal "s" to workflow "id" key expr [with { ... }]</c>.</summary>
internal sealed class SignalPlan(string signal, string workflowId, ValueFn key, ValuePlan? payload, SourceLocation location) : ActionPlan
{
    public override RuleAction Evaluate(EvalContext context, out FactChange? change)
    {
        change = null;
        var correlationKey = ValueOps.ToKeyText(key(context));
        if (correlationKey is null)
        {
            return new LogAction("error", $"{location}: signal \"{signal}\" to workflow \"{workflowId}\" was not sent: its key is missing or null in this match");
        }

        return new SignalWorkflowAction(workflowId, correlationKey, signal, payload?.Evaluate(context, out _) as JsonObject ?? []);
    }
}

/// <summary><c>publish body to exchange "x" [routing expr] [headers { ... }]</c>.</summary>
internal sealed class PublishPlan(ValuePlan body, string exchange, ValueFn? routing, IReadOnlyList<KeyValuePair<string, ValueFn>> headers) : ActionPlan
{
    public override RuleAction Evaluate(EvalContext context, out FactChange? change)
    {
        change = null;
        var node = body.Evaluate(context, out var missing);
        if (missing || node is null)
        {
            node = new JsonObject();
        }

        var routingKey = routing is null ? "" : ValueOps.ToKeyText(routing(context)) ?? "";
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in headers)
        {
            if (ValueOps.ToKeyText(value(context)) is { } text)
            {
                values[name] = text;
            }
        }

        return new PublishAction(exchange, routingKey, node, values);
    }
}

/// <summary><c>script "code" [with { ... }]</c>.</summary>
internal sealed class ScriptPlan(string code, ValuePlan bindings, SourceLocation location) : ActionPlan
{
    public override RuleAction Evaluate(EvalContext context, out FactChange? change)
    {
        change = null;
        return new ScriptAction(code, bindings.Evaluate(context, out _) as JsonObject ?? [], location);
    }
}

/// <summary><c>log [level] message</c>.</summary>
internal sealed class LogPlan(string level, ValueFn message) : ActionPlan
{
    public override RuleAction Evaluate(EvalContext context, out FactChange? change)
    {
        change = null;
        return new LogAction(level, ValueOps.TextOf(message(context)));
    }
}

/// <summary><c>insert Type { ... }</c>.</summary>
internal sealed class InsertFactPlan(TypeRuntime type, ValuePlan value) : ActionPlan
{
    public override RuleAction Evaluate(EvalContext context, out FactChange? change)
    {
        var json = value.Evaluate(context, out _) as JsonObject ?? [];
        change = new InsertFactChange(type, json);
        return new InsertFactAction(type.Name, FactIds.Of(type, json), (JsonObject)json.DeepClone());
    }
}

/// <summary><c>update binding { ... }</c>.</summary>
internal sealed class UpdateFactPlan(int element, ValuePlan changes) : ActionPlan
{
    public override RuleAction Evaluate(EvalContext context, out FactChange? change)
    {
        var json = changes.Evaluate(context, out _) as JsonObject ?? [];
        if (MatchReader.DataFactAt(context.Match, element) is not { } fact)
        {
            change = null;
            return new LogAction("error", "update skipped: the fact is no longer in working memory");
        }

        change = new UpdateFactChange(fact, json);
        var after = ValueOps.CopyElement(fact.Data) as JsonObject ?? [];
        foreach (var (name, value) in json)
        {
            after[name] = value?.DeepClone();
        }

        return new UpdateFactAction(fact.Type.Name, fact.Id, after);
    }
}

/// <summary><c>retract binding</c>.</summary>
internal sealed class RetractFactPlan(int element) : ActionPlan
{
    public override RuleAction Evaluate(EvalContext context, out FactChange? change)
    {
        if (MatchReader.DataFactAt(context.Match, element) is not { } fact)
        {
            change = null;
            return new LogAction("error", "retract skipped: the fact is no longer in working memory");
        }

        change = new RetractFactChange(fact);
        return new RetractFactAction(fact.Type.Name, fact.Id);
    }
}

/// <summary>Ids of facts inserted by rules: <c>Type:key</c> for keyed types, <c>Type#hash</c> of the content otherwise.</summary>
internal static class FactIds
{
    public static string Of(TypeRuntime type, JsonObject value)
    {
        if (type.Declaration.KeyPath is { } keyPath)
        {
            JsonNode? node = value;
            foreach (var step in keyPath)
            {
                node = node is JsonObject o ? o[step] : null;
            }

            return type.Name + ":" + (node is JsonValue v && v.TryGetValue<string>(out var s) ? s : node?.ToJsonString() ?? "null");
        }

        return type.Name + "#" + Hashing.Short(value.ToJsonString());
    }
}

/// <summary>The shape of an action value: maps and lists are built here; leaves are compiled delegates.</summary>
internal abstract class ValuePlan
{
    public abstract JsonNode? Evaluate(EvalContext context, out bool missing);

    public static ValuePlan Create(BoundExpression expression) => expression switch
    {
        BoundMap map => new MapPlan([.. map.Entries.Select(e => new KeyValuePair<string, ValuePlan>(e.Key, Create(e.Value)))]),
        BoundList list => new ListPlan([.. list.Items.Select(Create)]),
        _ => new LeafPlan(ExpressionCompiler.CompileValue(expression, raw: true)),
    };
}

/// <summary>A map: entries whose value is missing are left out.</summary>
internal sealed class MapPlan(IReadOnlyList<KeyValuePair<string, ValuePlan>> entries) : ValuePlan
{
    public override JsonNode? Evaluate(EvalContext context, out bool missing)
    {
        missing = false;
        var result = new JsonObject();
        foreach (var (key, value) in entries)
        {
            var node = value.Evaluate(context, out var valueMissing);
            if (!valueMissing)
            {
                result[key] = node;
            }
        }

        return result;
    }
}

/// <summary>A list: missing items become null (positions are kept).</summary>
internal sealed class ListPlan(IReadOnlyList<ValuePlan> items) : ValuePlan
{
    public override JsonNode? Evaluate(EvalContext context, out bool missing)
    {
        missing = false;
        var result = new JsonArray();
        foreach (var item in items)
        {
            result.Add(item.Evaluate(context, out _));
        }

        return result;
    }
}

internal sealed class LeafPlan(ValueFn value) : ValuePlan
{
    public override JsonNode? Evaluate(EvalContext context, out bool missing) => ValueOps.ToJson(value(context), out missing);
}

/// <summary>Short stable hashes (first 16 or 32 hex digits of SHA-256).</summary>
internal static class Hashing
{
    public static string Short(string text) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)).AsSpan(0, 8));

    public static string Long(string text) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)).AsSpan(0, 16));
}
