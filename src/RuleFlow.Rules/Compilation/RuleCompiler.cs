using RuleFlow.Rules.Engine;
using RuleFlow.Rules.Language;

namespace RuleFlow.Rules.Compilation;

/// <summary>How one condition element of a rule enters the network: its alpha tests, join keys, join tests and aggregate.</summary>
internal sealed class ElementPlan
{
    public required BoundElement Element { get; init; }

    /// <summary>
    /// Constant tests on the event, cheapest first (then by canonical text, so equal sets share nodes); equality tests with a literal
    /// carry their (field, value) for hash dispatch.
    /// </summary>
    public required IReadOnlyList<(string Canonical, Func<EventFact, bool> Test, AlphaEquality? Equality)> Alpha { get; init; }

    public Func<Token, JoinKey>? LeftKey { get; init; }

    public Func<EventFact, JoinKey>? RightKey { get; init; }

    public Func<Token, EventFact, bool>? Residual { get; init; }

    /// <summary>Canonical text of the join (keys and tests): equal texts under the same parent share the join node.</summary>
    public required string JoinCanonical { get; init; }

    public Func<EventFact, JoinKey>? PerKey { get; init; }
}

/// <summary>A rule compiled to delegates, not yet wired into a network.</summary>
internal sealed record RulePlan(BoundRule Rule, IReadOnlyList<ElementPlan> Elements, CompiledRule Compiled);

/// <summary>
/// Compiles bound rules to <see cref="RulePlan"/>s: splits each pattern's conditions into alpha tests (on the event alone),
/// equality join keys (<c>field == binding.field</c>, for hash-indexed memories) and residual join tests; compiles actions and
/// throttle keys. Identical alpha tests are compiled once per rule set.
/// </summary>
internal sealed class RuleCompiler
{
    private readonly Dictionary<string, Func<EventFact, bool>> _alphaCache = new(StringComparer.Ordinal);

    public RulePlan Compile(BoundRule rule)
    {
        var elements = rule.Elements.Select(CompileElement).ToList();
        var actions = new List<ActionPlan>();
        foreach (var action in rule.Actions)
        {
            if (action is BoundStartWorkflow start)
            {
                actions.Add(new StartWorkflowPlan(start.WorkflowId,
                    start.Key is null ? null : ExpressionCompiler.CompileTokenValue(start.Key, raw: true),
                    start.Input is null ? null : ValuePlan.Create(start.Input)));
            }
        }

        CompiledThrottle? throttle = null;
        if (rule.Throttle is { } t)
        {
            var key = t.Per.Count == 0 ? (_ => JoinKey.Unit) : ExpressionCompiler.CompileTokenKey(t.Per);
            throttle = new CompiledThrottle(t.Window.Ticks, key);
        }

        return new RulePlan(rule, elements, new CompiledRule(rule, actions, throttle));
    }

    internal static IEnumerable<BoundExpression> Conjuncts(BoundExpression expression) =>
        expression is BoundLogical { IsAnd: true } and ? and.Operands.SelectMany(Conjuncts) : [expression];

    private ElementPlan CompileElement(BoundElement element)
    {
        var alpha = new List<(string Canonical, int Cost, BoundExpression Condition)>();
        var keys = new List<(BoundExpression Current, BoundExpression Bound)>();
        var residual = new List<BoundExpression>();
        foreach (var condition in element.Conditions.SelectMany(Conjuncts))
        {
            if (!condition.Bindings.Any())
            {
                alpha.Add((condition.Canonical, Cost(condition), condition));
            }
            else if (Binder.IsEqualityJoin(condition))
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
            .Select(a => (a.Canonical, GetAlpha(a.Canonical, a.Condition), EqualityOf(a.Condition)))
            .ToList();
        keys = [.. keys.OrderBy(k => k.Current.Canonical + "=" + k.Bound.Canonical, StringComparer.Ordinal)];
        var residualOrdered = residual.OrderBy(r => r.Canonical, StringComparer.Ordinal).ToList();
        var joinCanonical = string.Join(" & ", keys.Select(k => $"{k.Current.Canonical}=={k.Bound.Canonical}"))
                            + " | " + string.Join(" & ", residualOrdered.Select(r => r.Canonical));

        var plan = new ElementPlan
        {
            Element = element,
            Alpha = alphaTests,
            LeftKey = keys.Count == 0 ? null : ExpressionCompiler.CompileTokenKey([.. keys.Select(k => k.Bound)]),
            RightKey = keys.Count == 0 ? null : ExpressionCompiler.CompileEventKey([.. keys.Select(k => k.Current)]),
            Residual = residualOrdered.Count == 0 ? null : ExpressionCompiler.CompileJoinTest(residualOrdered),
            JoinCanonical = joinCanonical,
            PerKey = element is BoundAggregateElement { Per.Count: > 0 } aggregate ? ExpressionCompiler.CompileEventKey(aggregate.Per) : null,
        };
        return plan;
    }

    private static AlphaEquality? EqualityOf(BoundExpression condition)
    {
        if (condition is not BoundComparison { Operator: ComparisonOp.Equal } c)
        {
            return null;
        }

        var (field, literal) = c.Left is BoundField f ? (f, c.Right as BoundLiteral) : (c.Right as BoundField, c.Left as BoundLiteral);
        if (field is not { Source: BoundField.Current } || literal is null || literal.Value.IsMissing)
        {
            return null;
        }

        return new AlphaEquality(string.Join('.', field.Path), ValueOps.EncodePath(field.Path), literal.Value);
    }

    private Func<EventFact, bool> GetAlpha(string canonical, BoundExpression condition)
    {
        if (!_alphaCache.TryGetValue(canonical, out var test))
        {
            test = ExpressionCompiler.CompileAlpha(condition);
            _alphaCache.Add(canonical, test);
        }

        return test;
    }

    private static int Cost(BoundExpression e) => e switch
    {
        BoundMatches => 8,
        BoundIn => 2,
        BoundLogical l => l.Operands.Sum(Cost),
        BoundNot n => Cost(n.Operand),
        _ => 1,
    };
}
