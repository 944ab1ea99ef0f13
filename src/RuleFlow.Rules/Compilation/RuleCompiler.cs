using RuleFlow.Rules.Engine;
using RuleFlow.Rules.Language;

namespace RuleFlow.Rules.Compilation;

/// <summary>The parts of one pattern's conditions: constant tests, equality join keys and other join tests.</summary>
internal sealed class ConditionSplit
{
    /// <summary>
    /// Constant tests on the fact, cheapest first (then by canonical text, so equal sets share nodes); equality tests with a literal
    /// carry their (field, value) for hash dispatch.
    /// </summary>
    public required IReadOnlyList<(string Canonical, BoundExpression Condition, AlphaEquality? Equality)> Alpha { get; init; }

    public KeyFn? LeftKey { get; init; }

    public KeyFn? RightKey { get; init; }

    public CondFn? Residual { get; init; }

    /// <summary>Canonical text of the join (keys and tests): equal texts under the same parent share the node.</summary>
    public required string JoinCanonical { get; init; }

    /// <summary>Canonical text of the right-side key alone: join nodes over one memory with equal texts share one index.</summary>
    public required string RightKeyCanonical { get; init; }

    public string AlphaCanonical => string.Join(" & ", Alpha.Select(a => a.Canonical));
}

/// <summary>How one condition element of a rule enters the network.</summary>
internal sealed class ElementPlan
{
    public required BoundElement Element { get; init; }

    public required ConditionSplit Split { get; init; }

    /// <summary>Forall: the second pattern (its join tests read the partial match and the forall item).</summary>
    public ConditionSplit? Satisfies { get; init; }

    public KeyFn? PerKey { get; init; }

    public ValueFn? Value { get; init; }

    public ValueFn? Threshold { get; init; }

    public bool ThresholdIsConstant { get; init; }
}

/// <summary>A rule compiled to delegates, not yet wired into a network.</summary>
internal sealed record RulePlan(BoundRule Rule, IReadOnlyList<ElementPlan> Elements, CompiledRule Compiled);

/// <summary>
/// Compiles bound rules to <see cref="RulePlan"/>s: splits each pattern's conditions into alpha tests (on the fact alone), equality
/// join keys (<c>field == binding.field</c>, for hash-indexed memories) and residual join tests; compiles actions and storm control.
/// Identical alpha tests are compiled once per rule set.
/// </summary>
internal sealed class RuleCompiler(IReadOnlyDictionary<string, TypeRuntime> types)
{
    private readonly Dictionary<string, CondFn> _alphaCache = new(StringComparer.Ordinal);

    public RulePlan Compile(BoundRule rule, int order)
    {
        var elements = rule.Elements.Select(CompileElement).ToList();
        var actions = new List<ActionPlan>();
        foreach (var action in rule.Actions)
        {
            switch (action)
            {
                case BoundStartWorkflow start:
                    actions.Add(new StartWorkflowPlan(start.WorkflowId,
                        start.Key is null ? null : ExpressionCompiler.CompileValue(start.Key, raw: true),
                        start.Template is not null ? ValuePlan.Create(start.Model!) : start.Input is null ? null : ValuePlan.Create(start.Input),
                        start.Template));
                    break;
                case BoundSignalWorkflow signal:
                    actions.Add(new SignalPlan(signal.Signal, signal.WorkflowId, ExpressionCompiler.CompileValue(signal.Key, raw: true),
                        signal.Payload is null ? null : ValuePlan.Create(signal.Payload), signal.Location));
                    break;
                case BoundPublish publish:
                    actions.Add(new PublishPlan(ValuePlan.Create(publish.Body), publish.Exchange,
                        publish.Routing is null ? null : ExpressionCompiler.CompileValue(publish.Routing, raw: true),
                        publish.Headers is null ? [] : [.. publish.Headers.Entries.Select(e => new KeyValuePair<string, ValueFn>(e.Key, ExpressionCompiler.CompileValue(e.Value, raw: true)))]));
                    break;
                case BoundScript script:
                    actions.Add(new ScriptPlan(script.Code, ValuePlan.Create(script.Bindings), script.Location));
                    break;
                case BoundLog log:
                    actions.Add(new LogPlan(log.Level, ExpressionCompiler.CompileValue(log.Message, raw: false)));
                    break;
                case BoundInsertFact insert:
                    actions.Add(new InsertFactPlan(types[insert.Type.Name], ValuePlan.Create(insert.Value)));
                    break;
                case BoundUpdateFact update:
                    actions.Add(new UpdateFactPlan(update.Element, ValuePlan.Create(update.Changes)));
                    break;
                case BoundRetractFact retract:
                    actions.Add(new RetractFactPlan(retract.Element));
                    break;
            }
        }

        CompiledThrottle? throttle = null;
        if (rule.Throttle is { } t)
        {
            throttle = new CompiledThrottle(t.Mode, t.Window.Ticks, t.Count, ExpressionCompiler.CompileKey(t.Per));
        }

        CompiledGroupBy? groupBy = null;
        if (rule.GroupBy is { } g)
        {
            groupBy = new CompiledGroupBy(g.Window.Ticks, ExpressionCompiler.CompileKey(g.Keys));
        }

        return new RulePlan(rule, elements, new CompiledRule(rule, order, actions, throttle, groupBy));
    }

    internal static IEnumerable<BoundExpression> Conjuncts(BoundExpression expression) =>
        expression is BoundLogical { IsAnd: true } and ? and.Operands.SelectMany(Conjuncts) : [expression];

    private ElementPlan CompileElement(BoundElement element)
    {
        var split = Split(element.Conditions, allowKeys: element is not BoundForallElement);
        return element switch
        {
            BoundAggregateElement aggregate => new ElementPlan
            {
                Element = element,
                Split = split,
                PerKey = aggregate.Per.Count == 0 ? null : ExpressionCompiler.CompileKey(aggregate.Per),
                Value = aggregate.Value is null ? null : ExpressionCompiler.CompileValue(aggregate.Value, raw: true),
                Threshold = aggregate.Threshold is null ? null : ExpressionCompiler.CompileValue(aggregate.Threshold, raw: false),
                ThresholdIsConstant = aggregate.Threshold is not null && !aggregate.Threshold.Bindings.Any() && !aggregate.Threshold.UsesClock,
            },
            BoundNoElement no => new ElementPlan
            {
                Element = element,
                Split = split,
                PerKey = no.Per.Count == 0 ? null : ExpressionCompiler.CompileKey(no.Per),
            },
            BoundForallElement forall => new ElementPlan
            {
                Element = element,
                Split = split,
                Satisfies = Split(forall.SatisfiesConditions, allowKeys: false),
            },
            _ => new ElementPlan { Element = element, Split = split },
        };
    }

    private ConditionSplit Split(IReadOnlyList<BoundExpression> conditions, bool allowKeys)
    {
        var alpha = new List<(string Canonical, int Cost, BoundExpression Condition)>();
        var keys = new List<(BoundExpression Current, BoundExpression Bound)>();
        var residual = new List<BoundExpression>();
        foreach (var condition in conditions.SelectMany(Conjuncts))
        {
            if (!condition.Bindings.Any() && !condition.UsesForallItem)
            {
                alpha.Add((condition.Canonical, Cost(condition), condition));
            }
            else if (allowKeys && Binder.IsEqualityJoin(condition))
            {
                var c = (BoundComparison)condition;
                keys.Add(Binder.IsCurrentOnly(c.Left) ? (c.Left, c.Right) : (c.Right, c.Left));
            }
            else
            {
                residual.Add(condition);
            }
        }

        var alphaTests = alpha
            .DistinctBy(a => a.Canonical)
            .OrderBy(a => a.Cost).ThenBy(a => a.Canonical, StringComparer.Ordinal)
            .Select(a => (a.Canonical, a.Condition, EqualityOf(a.Condition)))
            .ToList();
        keys = [.. keys.OrderBy(k => k.Current.Canonical + "=" + k.Bound.Canonical, StringComparer.Ordinal)];
        var residualOrdered = residual.OrderBy(r => r.Canonical, StringComparer.Ordinal).ToList();
        var joinCanonical = string.Join(" & ", keys.Select(k => $"{k.Current.Canonical}=={k.Bound.Canonical}"))
                            + " | " + string.Join(" & ", residualOrdered.Select(r => r.Canonical));
        return new ConditionSplit
        {
            Alpha = alphaTests,
            LeftKey = keys.Count == 0 ? null : ExpressionCompiler.CompileKey([.. keys.Select(k => k.Bound)]),
            RightKey = keys.Count == 0 ? null : ExpressionCompiler.CompileKey([.. keys.Select(k => k.Current)]),
            Residual = ExpressionCompiler.CompileConjunction(residualOrdered),
            JoinCanonical = joinCanonical,
            RightKeyCanonical = string.Join(" & ", keys.Select(k => k.Current.Canonical)),
        };
    }

    public CondFn GetAlpha(string canonical, BoundExpression condition)
    {
        if (!_alphaCache.TryGetValue(canonical, out var test))
        {
            test = ExpressionCompiler.CompileCondition(condition);
            _alphaCache.Add(canonical, test);
        }

        return test;
    }

    private static AlphaEquality? EqualityOf(BoundExpression condition)
    {
        if (condition is not BoundComparison { Operator: ComparisonOp.Equal } c)
        {
            return null;
        }

        var (field, literal) = c.Left is BoundField f ? (f, c.Right as BoundLiteral) : (c.Right as BoundField, c.Left as BoundLiteral);
        if (field is not { Source: FieldSource.Current } || literal is null
            || literal.Value.Kind is not (ValueKind.String or ValueKind.Number or ValueKind.Bool or ValueKind.Null)
            || (field.NullIsMissing && literal.Value.Kind == ValueKind.Null)) // a declared field's null is missing: it equals nothing
        {
            return null;
        }

        return new AlphaEquality(new FieldPath(field.Path), literal.Value);
    }

    private static int Cost(BoundExpression e) => e switch
    {
        BoundMatches => 8,
        BoundQuantifier => 6,
        BoundCall => 4,
        BoundIn => 2,
        BoundTextOp => 2,
        BoundLogical l => l.Operands.Sum(Cost),
        BoundNot n => Cost(n.Operand),
        _ => 1,
    };
}
