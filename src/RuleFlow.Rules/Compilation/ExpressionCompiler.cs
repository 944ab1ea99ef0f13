using System.Text.Json;
using RuleFlow.Rules.Engine;
using RuleFlow.Rules.Language;

namespace RuleFlow.Rules.Compilation;

/// <summary>
/// Compiles bound expressions to delegates by composing closures: field paths become pre-encoded UTF-8 property lookups,
/// literals and regexes are captured constants, <c>and</c>/<c>or</c> chains become flat loops, and every comparison calls
/// <see cref="ValueOps"/>, which holds the semantics. Nothing is generated or JIT-compiled per rule (an expression-tree
/// <c>Compile()</c> costs about a millisecond per lambda, too slow for rule sets of thousands of rules), and nothing is looked up
/// by reflection per event. Common shapes (a field of the event compared with a literal) get a specialised closure.
/// </summary>
internal static class ExpressionCompiler
{
    private delegate bool Condition(Token? token, EventFact? current);

    private delegate RuleValue Value(Token? token, EventFact? current);

    /// <summary>An alpha test: a condition on the pattern's own event.</summary>
    public static Func<EventFact, bool> CompileAlpha(BoundExpression condition)
    {
        // The most common alpha test, a field compared with a literal, reads the event directly.
        if (condition is BoundComparison { Left: BoundField { Source: BoundField.Current } field, Right: BoundLiteral literal } c)
        {
            var path = ValueOps.EncodePath(field.Path);
            var constant = literal.Value;
            var op = c.Operator;
            return e => ValueOps.Compare(ValueOps.Read(e.Data, path), constant, op);
        }

        var test = CompileCondition(condition);
        return e => test(null, e);
    }

    /// <summary>A join test on (partial match, event): the conjunction of the conditions.</summary>
    public static Func<Token, EventFact, bool> CompileJoinTest(IReadOnlyList<BoundExpression> conditions)
    {
        var test = And([.. conditions.Select(CompileCondition)]);
        return (t, e) => test(t, e);
    }

    /// <summary>A key of an event (right side of a join, or an aggregate's <c>per</c> fields).</summary>
    public static Func<EventFact, JoinKey> CompileEventKey(IReadOnlyList<BoundExpression> parts)
    {
        var values = parts.Select(p => CompileValue(p, raw: false)).ToArray();
        if (values.Length == 1)
        {
            var single = values[0];
            return e => new JoinKey(single(null, e));
        }

        return e =>
        {
            var key = new RuleValue[values.Length];
            for (var i = 0; i < key.Length; i++)
            {
                key[i] = values[i](null, e);
            }

            return new JoinKey(key);
        };
    }

    /// <summary>A key of a partial match (left side of a join, or a throttle key).</summary>
    public static Func<Token, JoinKey> CompileTokenKey(IReadOnlyList<BoundExpression> parts)
    {
        var values = parts.Select(p => CompileValue(p, raw: false)).ToArray();
        if (values.Length == 1)
        {
            var single = values[0];
            return t => new JoinKey(single(t, null));
        }

        return t =>
        {
            var key = new RuleValue[values.Length];
            for (var i = 0; i < key.Length; i++)
            {
                key[i] = values[i](t, null);
            }

            return new JoinKey(key);
        };
    }

    /// <summary>A value of a partial match for an action; with <paramref name="raw"/>, JSON numbers keep their exact digits.</summary>
    public static Func<Token, RuleValue> CompileTokenValue(BoundExpression expression, bool raw)
    {
        var value = CompileValue(expression, raw);
        return t => value(t, null);
    }

    private static Condition CompileCondition(BoundExpression expression)
    {
        switch (expression)
        {
            case BoundComparison c:
            {
                var op = c.Operator;
                var left = CompileValue(c.Left, raw: false);
                if (c.Right is BoundLiteral literal)
                {
                    var constant = literal.Value;
                    return (t, e) => ValueOps.Compare(left(t, e), constant, op);
                }

                var right = CompileValue(c.Right, raw: false);
                return (t, e) => ValueOps.Compare(left(t, e), right(t, e), op);
            }

            case BoundLogical { IsAnd: true } and:
                return And([.. and.Operands.Select(CompileCondition)]);
            case BoundLogical or:
                return Or([.. or.Operands.Select(CompileCondition)]);
            case BoundNot not:
            {
                var operand = CompileCondition(not.Operand);
                return (t, e) => !operand(t, e);
            }

            case BoundTruth truth:
            {
                var value = CompileValue(truth.Operand, raw: false);
                return (t, e) => ValueOps.IsTrue(value(t, e));
            }

            case BoundMatches matches:
            {
                var value = CompileValue(matches.Operand, raw: false);
                var regex = matches.Regex;
                return (t, e) => ValueOps.Matches(value(t, e), regex);
            }

            case BoundIn inList:
            {
                var value = CompileValue(inList.Operand, raw: false);
                var items = inList.Items;
                return inList.Negated ? (t, e) => ValueOps.NotIn(value(t, e), items) : (t, e) => ValueOps.In(value(t, e), items);
            }

            case BoundLiteral { Value.Kind: ValueKind.Bool } literal:
            {
                var constant = literal.Value.Bool;
                return (_, _) => constant;
            }

            default:
                return static (_, _) => false;
        }
    }

    private static Condition And(Condition[] operands) => operands.Length switch
    {
        1 => operands[0],
        2 => (t, e) => operands[0](t, e) && operands[1](t, e),
        _ => (t, e) =>
        {
            foreach (var operand in operands)
            {
                if (!operand(t, e))
                {
                    return false;
                }
            }

            return true;
        },
    };

    private static Condition Or(Condition[] operands) => operands.Length switch
    {
        1 => operands[0],
        2 => (t, e) => operands[0](t, e) || operands[1](t, e),
        _ => (t, e) =>
        {
            foreach (var operand in operands)
            {
                if (operand(t, e))
                {
                    return true;
                }
            }

            return false;
        },
    };

    private static Value CompileValue(BoundExpression expression, bool raw)
    {
        switch (expression)
        {
            case BoundLiteral literal:
            {
                var constant = literal.Value;
                return (_, _) => constant;
            }

            case BoundField { Source: BoundField.Current } field:
            {
                var path = ValueOps.EncodePath(field.Path);
                return raw
                    ? (_, e) => ValueOps.ReadRaw(e is null ? default : e.Data, path)
                    : (_, e) => ValueOps.Read(e is null ? default : e.Data, path);
            }

            case BoundField field:
            {
                var path = ValueOps.EncodePath(field.Path);
                var source = field.Source;
                return raw
                    ? (t, _) => ValueOps.ReadRaw(DataAt(t, source), path)
                    : (t, _) => ValueOps.Read(DataAt(t, source), path);
            }

            case BoundAggregateValue aggregate:
            {
                var index = aggregate.Element;
                return (t, _) => t is null ? RuleValue.Missing : t.AggregateValueAt(index);
            }

            case BoundWindow window:
            {
                var index = window.Element;
                var member = (int)window.Member;
                var path = ValueOps.EncodePath(window.Path);
                return (t, _) => t is null ? RuleValue.Missing : t.WindowAt(index, member, path);
            }

            case BoundComparison or BoundLogical or BoundNot or BoundTruth or BoundMatches or BoundIn:
            {
                var condition = CompileCondition(expression);
                return (t, e) => RuleValue.FromBool(condition(t, e));
            }

            default:
                return static (_, _) => RuleValue.Missing;
        }
    }

    private static JsonElement DataAt(Token? token, int index) => token is null ? default : token.DataAt(index);
}
