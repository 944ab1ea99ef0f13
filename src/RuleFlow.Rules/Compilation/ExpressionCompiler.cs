using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using RuleFlow.Rules.Engine;
using RuleFlow.Rules.Language;

namespace RuleFlow.Rules.Compilation;

/// <summary>A compiled value expression.</summary>
internal delegate RuleValue ValueFn(EvalContext context);

/// <summary>A compiled condition.</summary>
internal delegate bool CondFn(EvalContext context);

/// <summary>A compiled hash key (join keys, groups, throttle keys).</summary>
internal delegate JoinKey KeyFn(EvalContext context);

/// <summary>Up to four function arguments on the stack.</summary>
[InlineArray(4)]
internal struct FourValues
{
    private RuleValue _element;
}

/// <summary>
/// Compiles bound expressions to delegates by composing closures over an <see cref="EvalContext"/>: field paths become pre-encoded
/// UTF-8 lookups, literals and regexes are captured constants, <c>and</c>/<c>or</c> chains become flat loops, and every comparison
/// calls <see cref="ValueOps"/>, which holds the semantics. Nothing is generated or JIT-compiled per rule (an expression-tree
/// <c>Compile()</c> costs about a millisecond per lambda, too slow for rule sets of thousands of rules), nothing is looked up by
/// reflection per event, and evaluating a condition allocates nothing unless it calls a string function.
/// </summary>
internal static class ExpressionCompiler
{
    public static CondFn CompileCondition(BoundExpression expression)
    {
        switch (expression)
        {
            case BoundComparison c:
            {
                var op = c.Operator;
                // The most common alpha test, a field of the event compared with a literal, reads the event directly.
                if (c.Left is BoundField { Source: FieldSource.Current } field && c.Right is BoundLiteral literal)
                {
                    var path = new FieldPath(field.Path);
                    var constant = literal.Value;
                    return field.NullIsMissing
                        ? ctx => ctx.Current is { } e && ValueOps.Compare(NullAsMissing(path.Read(e.Data)), constant, op)
                        : ctx => ctx.Current is { } e && ValueOps.Compare(path.Read(e.Data), constant, op);
                }

                var left = CompileValue(c.Left, raw: false);
                if (c.Right is BoundLiteral l)
                {
                    var constant = l.Value;
                    return ctx => ValueOps.Compare(left(ctx), constant, op);
                }

                var right = CompileValue(c.Right, raw: false);
                return ctx => ValueOps.Compare(left(ctx), right(ctx), op);
            }

            case BoundLogical { IsAnd: true } and:
                return And([.. and.Operands.Select(CompileCondition)]);
            case BoundLogical or:
                return Or([.. or.Operands.Select(CompileCondition)]);
            case BoundNot not:
            {
                var operand = CompileCondition(not.Operand);
                return ctx => !operand(ctx);
            }

            case BoundTruth truth:
            {
                var value = CompileValue(truth.Operand, raw: false);
                return ctx => ValueOps.IsTrue(value(ctx));
            }

            case BoundMatches matches:
            {
                var value = CompileValue(matches.Operand, raw: false);
                var regex = matches.Regex;
                return ctx => ValueOps.Matches(value(ctx), regex);
            }

            case BoundTextOp text:
            {
                var left = CompileValue(text.Left, raw: false);
                var right = CompileValue(text.Right, raw: false);
                var op = text.Operator;
                return ctx => ValueOps.Text(op, left(ctx), right(ctx));
            }

            case BoundIn inList:
            {
                var value = CompileValue(inList.Operand, raw: false);
                var items = inList.Items;
                return inList.Negated ? ctx => ValueOps.NotIn(value(ctx), items) : ctx => ValueOps.In(value(ctx), items);
            }

            case BoundInValue inValue:
            {
                var value = CompileValue(inValue.Operand, raw: false);
                var target = CompileValue(inValue.Target, raw: false);
                return inValue.Negated
                    ? ctx =>
                    {
                        var v = value(ctx);
                        var t = target(ctx);
                        return !v.IsMissing && !t.IsMissing && !ValueOps.InValue(v, t);
                    }
                    : ctx => ValueOps.InValue(value(ctx), target(ctx));
            }

            case BoundQuantifier quantifier:
                return CompileQuantifier(quantifier);
            case BoundTemporal temporal:
            {
                var other = temporal.Other;
                var max = temporal.MaxTicks;
                return ctx =>
                {
                    var current = ctx.Current;
                    var before = MatchReader.DataFactAt(ctx.Match, other);
                    if (current is null || before is null)
                    {
                        return false;
                    }

                    var after = current.Time > before.Time || (current.Time == before.Time && current.Sequence > before.Sequence);
                    return after && (max is not { } m || current.Time - before.Time <= m);
                };
            }

            case BoundCall { Function: FunctionKind.Exists } exists:
            {
                // Read raw: present is present, even a number too large for a double (1e400), which reads as missing as a number.
                var value = CompileValue(exists.Arguments[0], raw: true);
                return ctx => !value(ctx).IsMissing;
            }

            case BoundLiteral { Value.Kind: ValueKind.Bool } literal:
            {
                var constant = literal.Value.Bool;
                return _ => constant;
            }

            case BoundError:
                return static _ => false;
            default:
            {
                var value = CompileValue(expression, raw: false);
                return ctx => ValueOps.IsTrue(value(ctx));
            }
        }
    }

    private static CondFn CompileQuantifier(BoundQuantifier quantifier)
    {
        var source = CompileValue(quantifier.Source, raw: false);
        var condition = CompileCondition(quantifier.Condition);
        var depth = quantifier.Depth;
        var all = quantifier.IsAll;
        return ctx =>
        {
            var items = source(ctx);
            switch (items.Kind)
            {
                case ValueKind.Json when items.Element.ValueKind == JsonValueKind.Array:
                    foreach (var item in items.Element.EnumerateArray())
                    {
                        ctx.Locals[depth] = RuleValue.FromElement(item);
                        if (condition(ctx) != all)
                        {
                            return !all;
                        }
                    }

                    return all;
                case ValueKind.List:
                    foreach (var item in items.List)
                    {
                        ctx.Locals[depth] = item;
                        if (condition(ctx) != all)
                        {
                            return !all;
                        }
                    }

                    return all;
                case ValueKind.Window:
                    foreach (var e in items.Window)
                    {
                        ctx.Locals[depth] = RuleValue.FromElement(e.Data);
                        if (condition(ctx) != all)
                        {
                            return !all;
                        }
                    }

                    return all;
                default:
                    return false; // not an array: neither any nor all holds
            }
        };
    }

    private static CondFn And(CondFn[] operands) => operands.Length switch
    {
        1 => operands[0],
        2 => ctx => operands[0](ctx) && operands[1](ctx),
        _ => ctx =>
        {
            foreach (var operand in operands)
            {
                if (!operand(ctx))
                {
                    return false;
                }
            }

            return true;
        },
    };

    private static CondFn Or(CondFn[] operands) => operands.Length switch
    {
        1 => operands[0],
        2 => ctx => operands[0](ctx) || operands[1](ctx),
        _ => ctx =>
        {
            foreach (var operand in operands)
            {
                if (operand(ctx))
                {
                    return true;
                }
            }

            return false;
        },
    };

    /// <summary>A conjunction of conditions (true when empty).</summary>
    public static CondFn? CompileConjunction(IReadOnlyList<BoundExpression> conditions) =>
        conditions.Count == 0 ? null : And([.. conditions.Select(CompileCondition)]);

    /// <summary>A hash key from one or more values.</summary>
    public static KeyFn CompileKey(IReadOnlyList<BoundExpression> parts)
    {
        var values = parts.Select(p => CompileValue(p, raw: false)).ToArray();
        return values.Length switch
        {
            0 => static _ => JoinKey.Unit,
            1 => ctx => new JoinKey(values[0](ctx)),
            2 => ctx => new JoinKey(values[0](ctx), values[1](ctx)),
            _ => ctx =>
            {
                var key = new RuleValue[values.Length];
                for (var i = 0; i < key.Length; i++)
                {
                    key[i] = values[i](ctx);
                }

                return new JoinKey(key);
            },
        };
    }

    /// <summary>A value; with <paramref name="raw"/>, JSON numbers keep their exact digits (for action input).</summary>
    public static ValueFn CompileValue(BoundExpression expression, bool raw)
    {
        switch (expression)
        {
            case BoundLiteral literal:
            {
                var constant = literal.Value;
                return _ => constant;
            }

            case BoundField field:
                return CompileField(field, raw);
            case BoundEventTime time when time.Source == FieldSource.Current:
                return ctx => ctx.Current is { } e ? RuleValue.FromTime(e.Time) : RuleValue.Missing;
            case BoundEventTime time:
            {
                var index = time.Source;
                return ctx => MatchReader.DataFactAt(ctx.Match, index) is { } e ? RuleValue.FromTime(e.Time) : RuleValue.Missing;
            }

            case BoundAggregateValue aggregate:
            {
                var index = aggregate.Element;
                return ctx => ctx.Match?.FactAt(index) is AggregateResult a ? a.Value(ctx) : RuleValue.Missing;
            }

            case BoundWindow window:
                return CompileWindow(window);
            case BoundGroup group:
                return group.CountOnly
                    ? ctx => ctx.Group is { } g ? RuleValue.FromNumber(g.Count) : RuleValue.Missing
                    : ctx => ctx.Group is { } g ? GroupValue(g, ctx) : RuleValue.Missing;
            case BoundNow:
                return ctx => RuleValue.FromTime(ctx.Clock);
            case BoundArithmetic arithmetic:
            {
                var left = CompileValue(arithmetic.Left, raw: false);
                var right = CompileValue(arithmetic.Right, raw: false);
                var op = arithmetic.Operator;
                return ctx => ValueOps.Arithmetic(op, left(ctx), right(ctx));
            }

            case BoundNegate negate:
            {
                var operand = CompileValue(negate.Operand, raw: false);
                return ctx => ValueOps.Arithmetic(ArithmeticOp.Subtract, RuleValue.FromNumber(0), operand(ctx));
            }

            case BoundCall call:
                return CompileCall(call);
            case BoundList list:
            {
                var items = list.Items.Select(i => CompileValue(i, raw)).ToArray();
                return ctx =>
                {
                    var values = new RuleValue[items.Length];
                    for (var i = 0; i < values.Length; i++)
                    {
                        values[i] = items[i](ctx);
                        if (values[i].IsMissing)
                        {
                            values[i] = RuleValue.Null;
                        }
                    }

                    return RuleValue.FromList(values);
                };
            }

            case BoundMap map:
            {
                var plan = ValuePlan.Create(map);
                return ctx => plan.Evaluate(ctx, out _) is { } node ? RuleValue.FromElementRaw(JsonSerializer.SerializeToElement(node)) : RuleValue.Missing;
            }

            case BoundError:
                return static _ => RuleValue.Missing;
            default:
            {
                var condition = CompileCondition(expression);
                return ctx => RuleValue.FromBool(condition(ctx));
            }
        }
    }

    private static ValueFn CompileField(BoundField field, bool raw)
    {
        var read = CompileFieldRead(field, raw);
        if (!field.NullIsMissing)
        {
            return read;
        }

        return ctx => NullAsMissing(read(ctx));
    }

    /// <summary>A <c>null</c> (read or raw) as <see cref="RuleValue.Missing"/>, for a field declared without <c>?</c>.</summary>
    private static RuleValue NullAsMissing(RuleValue value) =>
        value.Kind == ValueKind.Null || (value.Kind == ValueKind.Json && value.Element.ValueKind == JsonValueKind.Null) ? RuleValue.Missing : value;

    private static ValueFn CompileFieldRead(BoundField field, bool raw)
    {
        var path = new FieldPath(field.Path);
        var source = field.Source;
        if (source == FieldSource.Current)
        {
            return raw
                ? ctx => ctx.Current is { } e ? path.ReadRaw(e.Data) : RuleValue.Missing
                : ctx => ctx.Current is { } e ? path.Read(e.Data) : RuleValue.Missing;
        }

        if (source == FieldSource.ForallItem)
        {
            return raw
                ? ctx => ctx.ForallItem is { } e ? path.ReadRaw(e.Data) : RuleValue.Missing
                : ctx => ctx.ForallItem is { } e ? path.Read(e.Data) : RuleValue.Missing;
        }

        if (FieldSource.IsLocal(source))
        {
            var depth = FieldSource.LocalDepth(source);
            return ctx =>
            {
                var local = ctx.Locals[depth];
                if (path.IsEmpty)
                {
                    return local;
                }

                return local.Kind == ValueKind.Json ? (raw ? path.ReadRaw(local.Element) : path.Read(local.Element)) : RuleValue.Missing;
            };
        }

        return raw
            ? ctx => MatchReader.DataFactAt(ctx.Match, source) is { } e ? path.ReadRaw(e.Data) : RuleValue.Missing
            : ctx => MatchReader.DataFactAt(ctx.Match, source) is { } e ? path.Read(e.Data) : RuleValue.Missing;
    }

    private static ValueFn CompileWindow(BoundWindow window)
    {
        var index = window.Element;
        var path = new FieldPath(window.Path);
        return window.Member switch
        {
            WindowMember.All => ctx => ctx.Match?.FactAt(index) is AggregateResult a ? RuleValue.FromWindow([.. a.Events]) : RuleValue.Missing,
            WindowMember.Count => ctx => ctx.Match?.FactAt(index) is AggregateResult a ? RuleValue.FromNumber(a.Events.Count) : RuleValue.Missing,
            WindowMember.First => ctx => ctx.Match?.FactAt(index) is AggregateResult { Events.Count: > 0 } a ? path.ReadRaw(a.Events[0].Data) : RuleValue.Missing,
            _ => ctx => ctx.Match?.FactAt(index) is AggregateResult { Events.Count: > 0 } a ? path.ReadRaw(a.Events[^1].Data) : RuleValue.Missing,
        };
    }

    private static RuleValue GroupValue(IReadOnlyList<FrozenMatch> group, EvalContext ctx)
    {
        var array = new JsonArray();
        foreach (var match in group)
        {
            array.Add(match.ToJson(ctx));
        }

        return RuleValue.FromElementRaw(JsonSerializer.SerializeToElement(array));
    }

    private static ValueFn CompileCall(BoundCall call)
    {
        var function = call.Function;
        var args = call.Arguments.Select(a => CompileValue(a, raw: false)).ToArray();
        if (args.Length <= 4)
        {
            return ctx =>
            {
                var values = new FourValues();
                for (var i = 0; i < args.Length; i++)
                {
                    values[i] = args[i](ctx);
                }

                return ValueOps.Call(function, ((Span<RuleValue>)values)[..args.Length], ctx.Clock);
            };
        }

        return ctx =>
        {
            var values = new RuleValue[args.Length];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = args[i](ctx);
            }

            return ValueOps.Call(function, values, ctx.Clock);
        };
    }
}
