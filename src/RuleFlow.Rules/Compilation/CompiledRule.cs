using System.Text.Json.Nodes;
using RuleFlow.Rules.Engine;
using RuleFlow.Rules.Language;

namespace RuleFlow.Rules.Compilation;

/// <summary>A rule ready to run: its identity, salience, compiled actions and throttle.</summary>
internal sealed class CompiledRule(BoundRule bound, IReadOnlyList<ActionPlan> actions, CompiledThrottle? throttle)
{
    public BoundRule Bound { get; } = bound;

    public string Name => Bound.Name;

    /// <summary>Salience.</summary>
    public int Priority => Bound.Priority;

    public RuleInfo Info { get; } = bound.ToInfo();

    public IReadOnlyList<ActionPlan> Actions { get; } = actions;

    public CompiledThrottle? Throttle { get; } = throttle;
}

/// <summary><c>throttle once within D per keys</c>: window in ticks and the compiled key of a partial match.</summary>
internal sealed record CompiledThrottle(long WindowTicks, Func<Token, JoinKey> Key);

/// <summary>An action evaluated on a firing.</summary>
internal abstract class ActionPlan
{
    public abstract RuleAction Evaluate(Token token);
}

/// <summary><c>start workflow "id" [key expr] [with { ... }]</c>.</summary>
internal sealed class StartWorkflowPlan(string workflowId, Func<Token, RuleValue>? key, ValuePlan? input) : ActionPlan
{
    public override RuleAction Evaluate(Token token)
    {
        var correlationKey = key is null ? null : ValueOps.ToKeyText(key(token));
        var json = input?.Evaluate(token, out _) as JsonObject ?? [];
        return new StartWorkflowAction(workflowId, correlationKey, json);
    }
}

/// <summary>The shape of an action value: maps and lists are built here; leaves are compiled delegates.</summary>
internal abstract class ValuePlan
{
    public abstract JsonNode? Evaluate(Token token, out bool missing);

    public static ValuePlan Create(BoundExpression expression) => expression switch
    {
        BoundMap map => new MapPlan([.. map.Entries.Select(e => new KeyValuePair<string, ValuePlan>(e.Key, Create(e.Value)))]),
        BoundList list => new ListPlan([.. list.Items.Select(Create)]),
        _ => new LeafPlan(ExpressionCompiler.CompileTokenValue(expression, raw: true)),
    };
}

/// <summary>A map: entries whose value is missing are left out.</summary>
internal sealed class MapPlan(IReadOnlyList<KeyValuePair<string, ValuePlan>> entries) : ValuePlan
{
    public override JsonNode? Evaluate(Token token, out bool missing)
    {
        missing = false;
        var result = new JsonObject();
        foreach (var (key, value) in entries)
        {
            var node = value.Evaluate(token, out var valueMissing);
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
    public override JsonNode? Evaluate(Token token, out bool missing)
    {
        missing = false;
        var result = new JsonArray();
        foreach (var item in items)
        {
            result.Add(item.Evaluate(token, out _));
        }

        return result;
    }
}

internal sealed class LeafPlan(Func<Token, RuleValue> value) : ValuePlan
{
    public override JsonNode? Evaluate(Token token, out bool missing) => ValueOps.ToJson(value(token), out missing);
}
