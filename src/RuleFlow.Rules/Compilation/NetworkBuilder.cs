using RuleFlow.Rules.Engine;
using RuleFlow.Rules.Language;

namespace RuleFlow.Rules.Compilation;

/// <summary>
/// The compiled Rete network of a rule set (Forgy 1982): alpha network per event type, beta network of join and aggregate
/// nodes, one terminal node per rule. Immutable and shared by all sessions of the rule set.
/// </summary>
internal sealed class ReteNetwork
{
    public required RootNode Root { get; init; }

    /// <summary>Number of beta-node memory slots a session allocates.</summary>
    public required int NodeCount { get; init; }

    public required IReadOnlyDictionary<string, EventTypeRuntime> Types { get; init; }

    public required IReadOnlyList<TerminalNode> Terminals { get; init; }

    /// <summary>How far back (ticks) events must be replayed to rebuild every window and throttle.</summary>
    public required long RetentionHorizonTicks { get; init; }

    public required int AlphaNodeCount { get; init; }

    public required int AlphaMemoryCount { get; init; }

    public required int JoinNodeCount { get; init; }

    public required int AggregateNodeCount { get; init; }

    public static ReteNetwork Empty { get; } = NetworkBuilder.Build([], []).Network;
}

/// <summary>
/// Wires compiled rules into one network. Alpha nodes are shared between rules when their canonical condition is equal (and so
/// are alpha memories); join and aggregate nodes are shared when parent, alpha memory and join are equal. Computes each event
/// type's retention: the longest window over it (0 when no window references it: such events are held only while inserted).
/// </summary>
internal static class NetworkBuilder
{
    public sealed record Result(ReteNetwork Network, IReadOnlyList<(BoundRule Rule, string Message, string Hint)> NeverFires);

    public static Result Build(IReadOnlyList<BoundEventType> types, IReadOnlyList<RulePlan> plans)
    {
        var retention = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var plan in plans)
        {
            foreach (var element in plan.Elements)
            {
                if (element.Element is BoundAggregateElement aggregate)
                {
                    retention[aggregate.Type.Name] = Math.Max(retention.GetValueOrDefault(aggregate.Type.Name), aggregate.Window.Ticks);
                }
            }
        }

        var used = new HashSet<string>(plans.SelectMany(p => p.Elements).Select(e => e.Element.Type.Name), StringComparer.Ordinal);
        var typeRoots = new Dictionary<string, AlphaNode>(StringComparer.Ordinal);
        var alphaOrder = 0;
        var runtimes = new Dictionary<string, EventTypeRuntime>(StringComparer.Ordinal);
        foreach (var type in types)
        {
            AlphaNode? root = null;
            if (used.Contains(type.Name))
            {
                root = new AlphaNode("type:" + type.Name, null, alphaOrder++);
                typeRoots.Add(type.Name, root);
            }

            runtimes[type.Name] = new EventTypeRuntime(type.Name, type.TimePath is null ? null : ValueOps.EncodePath(type.TimePath),
                retention.GetValueOrDefault(type.Name), root);
        }

        var nextId = 0;
        var nextMemoryId = 0;
        var joins = 0;
        var aggregates = 0;
        var rootNode = new RootNode(nextId++);
        var betaNodes = new Dictionary<string, BetaNode>(StringComparer.Ordinal);
        var terminals = new List<TerminalNode>();
        var neverFires = new List<(BoundRule, string, string)>();
        long horizon = retention.Values.DefaultIfEmpty(0).Max();

        foreach (var plan in plans)
        {
            BetaNode parent = rootNode;
            foreach (var element in plan.Elements)
            {
                var type = element.Element.Type;
                var alpha = typeRoots[type.Name];
                foreach (var (canonical, test, equality) in element.Alpha)
                {
                    alpha = alpha.GetOrAddChild(canonical, () => test, equality, ref alphaOrder);
                }

                var memory = alpha.Memory ??= new AlphaMemoryNode(nextMemoryId++, type.Name);
                BetaNode node;
                if (element.Element is BoundAggregateElement aggregate)
                {
                    var canonical = $"{parent.Id}|aggregate|{memory.Id}|{aggregate.Function}|{aggregate.Window.Ticks}|{element.JoinCanonical}" +
                                    $"|per {string.Join(",", aggregate.Per.Select(p => p.Canonical))}|{aggregate.Operator} {aggregate.Threshold}";
                    if (!betaNodes.TryGetValue(canonical, out node!))
                    {
                        var aggregateNode = new AggregateNode(nextId++, memory, element.LeftKey, element.RightKey, element.PerKey,
                            aggregate.Window.Ticks, static () => new CountAccumulator(), aggregate.Operator, aggregate.Threshold, canonical);
                        memory.Successors.Add(aggregateNode);
                        parent.Children.Add(aggregateNode);
                        betaNodes.Add(canonical, aggregateNode);
                        aggregates++;
                        node = aggregateNode;
                    }
                }
                else
                {
                    var canonical = $"{parent.Id}|join|{memory.Id}|{element.JoinCanonical}";
                    if (!betaNodes.TryGetValue(canonical, out node!))
                    {
                        var join = new JoinNode(nextId++, memory, element.LeftKey, element.RightKey, element.Residual, canonical);
                        memory.Successors.Add(join);
                        parent.Children.Add(join);
                        betaNodes.Add(canonical, join);
                        joins++;
                        node = join;
                    }
                }

                parent = node;
            }

            var terminal = new TerminalNode(nextId++, plan.Compiled);
            parent.Children.Add(terminal);
            terminals.Add(terminal);

            var ruleRetention = plan.Elements.Select(e => runtimes[e.Element.Type.Name].RetentionTicks).DefaultIfEmpty(0).Max();
            if (plan.Rule.Throttle is { } throttle)
            {
                horizon = Math.Max(horizon, throttle.Window.Ticks + ruleRetention);
            }

            var transient = plan.Elements.Where(e => e.Element is BoundPatternElement && runtimes[e.Element.Type.Name].RetentionTicks == 0).ToList();
            if (transient.Count >= 2)
            {
                var names = string.Join(" and ", transient.Select(e => e.Element.Name ?? e.Element.Type.Name).Distinct());
                neverFires.Add((plan.Rule,
                    $"rule \"{plan.Rule.Name}\" can never fire: the events of {names} are held only while they are inserted (no window keeps them), so they never meet",
                    "count the earlier events in a window instead, e.g. count(type(key == f.key)) within 5m >= 1"));
            }
        }

        var alphaCount = typeRoots.Values.Sum(CountAlpha);
        var network = new ReteNetwork
        {
            Root = rootNode,
            NodeCount = nextId,
            Types = runtimes,
            Terminals = terminals,
            RetentionHorizonTicks = horizon,
            AlphaNodeCount = alphaCount,
            AlphaMemoryCount = nextMemoryId,
            JoinNodeCount = joins,
            AggregateNodeCount = aggregates,
        };
        return new Result(network, neverFires);
    }

    private static int CountAlpha(AlphaNode root)
    {
        var count = 0;
        var work = new Stack<AlphaNode>([root]);
        while (work.Count > 0)
        {
            foreach (var child in work.Pop().Children)
            {
                count++;
                work.Push(child);
            }
        }

        return count;
    }
}
