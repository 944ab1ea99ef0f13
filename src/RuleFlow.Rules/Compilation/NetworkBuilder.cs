using RuleFlow.Rules.Engine;
using RuleFlow.Rules.Language;

namespace RuleFlow.Rules.Compilation;

/// <summary>
/// The compiled Rete network of a rule set (Forgy 1982): alpha network per type, beta network of join, negative, aggregate and
/// temporal nodes, one terminal node per enabled rule. Immutable and shared by all sessions of the rule set.
/// </summary>
internal sealed class ReteNetwork
{
    public required RootNode Root { get; init; }

    /// <summary>Number of beta-node memory slots a session allocates.</summary>
    public required int NodeCount { get; init; }

    public required IReadOnlyDictionary<string, TypeRuntime> Types { get; init; }

    public required IReadOnlyList<TerminalNode> Terminals { get; init; }

    public required IReadOnlyDictionary<string, TerminalNode> TerminalsByRule { get; init; }

    /// <summary>Every beta node by id (index = id; null for ids of no node).</summary>
    public required IReadOnlyList<BetaNode?> Nodes { get; init; }

    /// <summary>Compiled rules by name, enabled or not (disabled ones have no terminal).</summary>
    public required IReadOnlyDictionary<string, RulePlan> Plans { get; init; }

    /// <summary>How far back (ticks) events must be replayed to rebuild every window and throttle.</summary>
    public required long RetentionHorizonTicks { get; init; }

    public required int AlphaNodeCount { get; init; }

    public required int AlphaMemoryCount { get; init; }

    public required int JoinNodeCount { get; init; }

    public required int AggregateNodeCount { get; init; }

    public static ReteNetwork Empty { get; } = NetworkBuilder.Build([], []).Network;
}

/// <summary>
/// Compiles bound rules and wires them into one network. Alpha nodes are shared between rules when their canonical condition is
/// equal (and so are alpha memories); beta nodes are shared when parent, alpha memory and join are equal. Computes each event type's
/// retention — the longest time any window, sequence, absence or silence of the rules needs its events — so working memory holds an
/// event only while something can still use it (inferred expiry, as in Drools Fusion).
/// </summary>
internal static class NetworkBuilder
{
    public sealed record Result(ReteNetwork Network, IReadOnlyList<(BoundRule Rule, string Code, string Message, string Hint)> Warnings);

    /// <summary>How long each event type must be held (ticks) for the enabled rules.</summary>
    private static Dictionary<string, long> Retention(IReadOnlyList<BoundRule> rules)
    {
        var retention = new Dictionary<string, long>(StringComparer.Ordinal);
        void Need(BoundEventType type, long ticks)
        {
            if (!type.IsFact)
            {
                retention[type.Name] = Math.Max(retention.GetValueOrDefault(type.Name), ticks);
            }
        }

        foreach (var rule in rules)
        {
            for (var i = 0; i < rule.Elements.Count; i++)
            {
                var element = rule.Elements[i];
                switch (element)
                {
                    case BoundAggregateElement aggregate:
                        Need(aggregate.Type, (aggregate.Window ?? aggregate.Tumbling ?? TimeSpan.Zero).Ticks);
                        break;
                    case BoundPatternElement { SequenceRetention.Ticks: > 0 } step:
                        Need(step.Type, step.SequenceRetention.Ticks);
                        break;
                    case BoundNoElement no:
                        // After events, a silence is measured while their match exists: keep them one tick past the duration, so
                        // the match still exists when the clock passes time + duration. (An absence holds its matches' events itself.)
                        foreach (var earlier in rule.Elements.Take(i).OfType<BoundPatternElement>())
                        {
                            Need(earlier.Type, no.Duration.Ticks + 1);
                        }

                        break;
                }
            }
        }

        return retention;
    }

    public static Result Build(IReadOnlyList<BoundEventType> types, IReadOnlyList<BoundRule> rules)
    {
        var enabled = rules.Where(r => r.Enabled).ToList();
        var retention = Retention(enabled);
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var rule in enabled)
        {
            foreach (var element in rule.Elements)
            {
                used.Add(element.Type.Name);
                if (element is BoundForallElement forall)
                {
                    used.Add(forall.SatisfiesType.Name);
                }
            }
        }

        var typeRoots = new Dictionary<string, AlphaNode>(StringComparer.Ordinal);
        var alphaOrder = 0;
        var runtimes = new Dictionary<string, TypeRuntime>(StringComparer.Ordinal);
        foreach (var type in types)
        {
            AlphaNode? root = null;
            if (used.Contains(type.Name))
            {
                root = new AlphaNode("type:" + type.Name, null, alphaOrder++);
                typeRoots.Add(type.Name, root);
            }

            runtimes[type.Name] = new TypeRuntime(type, type.TimePath is null ? null : FieldPath.Of([.. type.TimePath]),
                retention.GetValueOrDefault(type.Name), root);
        }

        var compiler = new RuleCompiler(runtimes);
        var plans = new Dictionary<string, RulePlan>(StringComparer.Ordinal);
        var order = 0;
        foreach (var rule in rules)
        {
            plans[rule.Name] = compiler.Compile(rule, order++);
        }

        var nodes = new List<BetaNode?>();
        var rootNode = new RootNode(0) { StructuralKey = "root" };
        nodes.Add(rootNode);
        var memories = new Dictionary<string, AlphaMemoryNode>(StringComparer.Ordinal);
        var betaNodes = new Dictionary<string, BetaNode>(StringComparer.Ordinal);
        var terminals = new List<TerminalNode>();
        var byRule = new Dictionary<string, TerminalNode>(StringComparer.Ordinal);
        var warnings = new List<(BoundRule, string, string, string)>();
        var joins = 0;
        var aggregates = 0;
        var indexes = new Dictionary<string, RightIndex>(StringComparer.Ordinal);
        long horizon = retention.Values.DefaultIfEmpty(0).Max();

        AlphaMemoryNode MemoryFor(BoundEventType type, ConditionSplit split)
        {
            var alpha = typeRoots[type.Name];
            foreach (var (canonical, condition, equality) in split.Alpha)
            {
                alpha = alpha.GetOrAddChild(canonical, () => compiler.GetAlpha(canonical, condition), equality, ref alphaOrder);
            }

            if (alpha.Memory is null)
            {
                var canonicalText = type.Name + "(" + split.AlphaCanonical + ")";
                alpha.Memory = new AlphaMemoryNode(memories.Count, type.Name, canonicalText);
                memories[canonicalText] = alpha.Memory;
            }

            return alpha.Memory;
        }

        T Share<T>(BetaNode parent, string canonical, int element, Func<int, T> create, Action<T> connect)
            where T : BetaNode
        {
            var key = parent.Id + "|" + canonical;
            if (betaNodes.TryGetValue(key, out var existing))
            {
                return (T)existing;
            }

            var node = create(nodes.Count);
            node.StructuralKey = Hashing.Long(parent.StructuralKey + "|" + canonical);
            node.Element = element;
            nodes.Add(node);
            parent.Children.Add(node);
            betaNodes.Add(key, node);
            connect(node);
            return node;
        }

        foreach (var rule in enabled)
        {
            var plan = plans[rule.Name];
            BetaNode parent = rootNode;
            var chain = new List<BetaNode>();
            foreach (var element in plan.Elements)
            {
                var bound = element.Element;
                var split = element.Split;
                var memory = MemoryFor(bound.Type, split);
                var join = split.JoinCanonical;
                switch (bound)
                {
                    case BoundAggregateElement aggregate:
                    {
                        var window = new AggregateWindow(aggregate.Window?.Ticks, aggregate.Tumbling?.Ticks, aggregate.Last);
                        var canonical = $"aggregate|{memory.Canonical}|{aggregate.Function}|{aggregate.Value?.Canonical}|{window}|{join}" +
                                        $"|per {string.Join(",", aggregate.Per.Select(p => p.Canonical))}|{aggregate.Operator} {aggregate.Threshold?.Canonical}";
                        parent = Share(parent, canonical, bound.Index, id =>
                        {
                            aggregates++;
                            return new AggregateNode(id, memory, split.LeftKey, split.RightKey, element.PerKey, aggregate.Function, element.Value, window,
                                aggregate.Operator, element.Threshold, element.ThresholdIsConstant, canonical);
                        }, n => memory.Successors.Add(n));
                        break;
                    }

                    case BoundNotElement { Window: { } window }:
                    {
                        var canonical = $"absence|{memory.Canonical}|{window.Ticks}|{join}";
                        parent = Share(parent, canonical, bound.Index,
                            id => new AbsenceNode(id, memory, split.LeftKey, split.RightKey, split.Residual, window.Ticks, canonical), n => memory.Successors.Add(n));
                        break;
                    }

                    case BoundNotElement or BoundExistsElement:
                    {
                        var exists = bound is BoundExistsElement;
                        var canonical = $"{(exists ? "exists" : "not")}|{memory.Canonical}|{join}";
                        parent = Share(parent, canonical, bound.Index,
                            id => new NegativeNode(id, memory, split.LeftKey, split.RightKey, split.Residual, exists, canonical), n => memory.Successors.Add(n));
                        break;
                    }

                    case BoundForallElement forall:
                    {
                        var satisfiesMemory = MemoryFor(forall.SatisfiesType, element.Satisfies!);
                        var canonical = $"forall|{memory.Canonical}|{join}|{satisfiesMemory.Canonical}|{element.Satisfies!.JoinCanonical}";
                        parent = Share(parent, canonical, bound.Index,
                            id => new ForallNode(id, memory, satisfiesMemory, split.Residual, element.Satisfies.Residual, canonical),
                            n =>
                            {
                                memory.Successors.Add(n.EachInput);
                                satisfiesMemory.Successors.Add(n.SatisfiesInput);
                            });
                        break;
                    }

                    case BoundNoElement no:
                    {
                        var canonical = $"silence|{memory.Canonical}|{no.Duration.Ticks}|{join}|per {string.Join(",", no.Per.Select(p => p.Canonical))}";
                        parent = Share(parent, canonical, bound.Index,
                            id => new SilenceNode(id, memory, split.LeftKey, split.RightKey, element.PerKey, split.Residual, no.Duration.Ticks, canonical),
                            n => memory.Successors.Add(n));
                        break;
                    }

                    default:
                    {
                        var canonical = $"join|{memory.Canonical}|{join}";
                        parent = Share(parent, canonical, bound.Index, id =>
                        {
                            joins++;
                            var indexKey = memory.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) + "|" + split.RightKeyCanonical;
                            if (!indexes.TryGetValue(indexKey, out var index))
                            {
                                nodes.Add(null); // a memory slot for the index
                                index = new RightIndex(nodes.Count - 1, split.RightKey);
                                indexes.Add(indexKey, index);
                                memory.Indexes.Add(index);
                                id = nodes.Count;
                            }

                            return new JoinNode(id, memory, index, split.LeftKey, split.RightKey, split.Residual, canonical);
                        }, n => memory.Successors.Add(n));
                        break;
                    }
                }

                chain.Add(parent);
            }

            var terminal = new TerminalNode(nodes.Count, plan.Compiled)
            {
                StructuralKey = Hashing.Long(parent.StructuralKey + "|terminal|" + plan.Compiled.Identity),
                Element = rule.Elements.Count,
                Chain = chain,
            };
            nodes.Add(terminal);
            parent.Children.Add(terminal);
            terminals.Add(terminal);
            byRule[rule.Name] = terminal;

            var ruleRetention = rule.Elements.Select(e => retention.GetValueOrDefault(e.Type.Name)).DefaultIfEmpty(0).Max();
            var stormWindow = Math.Max(rule.Throttle?.Window.Ticks ?? 0, rule.GroupBy?.Window.Ticks ?? 0);
            horizon = Math.Max(horizon, stormWindow + ruleRetention);

            bool Transient(BoundElement e) => !e.Type.IsFact && retention.GetValueOrDefault(e.Type.Name) == 0;
            var transient = rule.Elements.Where(e => e is BoundPatternElement && Transient(e)).ToList();
            if (transient.Count >= 2)
            {
                var names = string.Join(" and ", transient.Select(e => e.Name ?? e.Type.Name).Distinct());
                warnings.Add((rule, DiagnosticCodes.NeverFires.Code,
                    $"rule \"{rule.Name}\" can never fire: the events of {names} are held only while they are inserted (no window keeps them), so they never meet",
                    "count the earlier events in a window instead, e.g. count(type(key == f.key)) within 5m >= 1, or write a sequence: a: x() then b: y() within 5m"));
            }

            foreach (var negation in rule.Elements.Where(e => e is BoundNotElement { Window: null } or BoundExistsElement or BoundForallElement && Transient(e)))
            {
                var word = negation switch { BoundExistsElement => "exists", BoundForallElement => "forall", _ => "not" };
                warnings.Add((rule, DiagnosticCodes.NegationOverTransient.Code,
                    $"'{word} {negation.Type.Name}(...)' in rule \"{rule.Name}\" sees only the {negation.Type.Name} events being inserted: no window keeps them",
                    word == "not"
                        ? $"for \"no {negation.Type.Name} in the time after the match\" write: not {negation.Type.Name}(...) within 5m; for facts declare the type with 'fact'"
                        : $"declare {negation.Type.Name} as a fact, or keep its events with a window"));
            }
        }

        var network = new ReteNetwork
        {
            Root = rootNode,
            NodeCount = nodes.Count,
            Types = runtimes,
            Terminals = terminals,
            TerminalsByRule = byRule,
            Nodes = nodes,
            Plans = plans,
            RetentionHorizonTicks = horizon,
            AlphaNodeCount = typeRoots.Values.Sum(r => r.Descendants().Count()),
            AlphaMemoryCount = memories.Count,
            JoinNodeCount = joins,
            AggregateNodeCount = aggregates,
        };
        return new Result(network, warnings);
    }
}
