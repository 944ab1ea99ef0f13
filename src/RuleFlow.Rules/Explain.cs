using System.Globalization;
using System.Text.Json;
using RuleFlow.Rules.Compilation;
using RuleFlow.Rules.Engine;
using RuleFlow.Rules.Language;

namespace RuleFlow.Rules;

/// <summary>How a rule stands in a live session (see <see cref="RuleSession.Explain"/>).</summary>
/// <param name="Rule">Rule name.</param>
/// <param name="Enabled">False for a disabled rule (then nothing else is live).</param>
/// <param name="Clock">The session clock.</param>
/// <param name="Conditions">One entry per condition element, in order.</param>
/// <param name="Activations">The complete matches that exist now (fired, or pending within the current call).</param>
/// <param name="StormControl">Storm-control entries of the rule (throttled keys, open batches).</param>
/// <param name="Summary">Why the rule does or does not fire, in one sentence.</param>
public sealed record RuleMatchesReport(
    string Rule,
    bool Enabled,
    DateTimeOffset Clock,
    IReadOnlyList<ConditionReport> Conditions,
    IReadOnlyList<ActivationReport> Activations,
    IReadOnlyList<StormEntryReport> StormControl,
    string Summary);

/// <summary>One condition element of a rule in a live session.</summary>
/// <param name="Index">Element index (0-based).</param>
/// <param name="Kind"><c>pattern</c>, <c>aggregate</c>, <c>not</c>, <c>exists</c>, <c>forall</c>, <c>absence</c> or <c>silence</c>.</param>
/// <param name="Text">The element as written.</param>
/// <param name="Location">Where it is written.</param>
/// <param name="PartialMatches">Partial matches that got past this element (matches of elements 0..Index).</param>
/// <param name="Matches">Up to 20 of those partial matches, each as the ids of its events and facts.</param>
/// <param name="Groups">For aggregates: the groups with their value and window; for silences: each group's last event.</param>
/// <param name="Pending">For absences and silences: what waits on a timer, with its due time.</param>
/// <param name="MatchesExpireAt">
/// For each of <paramref name="Matches"/>, in the same order: when it expires on event time — when the earliest of its held events
/// leaves working memory (event time + the longest window that needs its type) or, for an earlier step of a sequence
/// (<c>a then b within D</c>), when the sequence's window closes (the first step's time + D), whichever is first; null when the
/// match holds no held event (facts, which stay until retracted, or an aggregate's result). Null for the whole list when not computed.
/// </param>
public sealed record ConditionReport(
    int Index,
    string Kind,
    string Text,
    SourceLocation Location,
    int PartialMatches,
    IReadOnlyList<IReadOnlyList<string>> Matches,
    IReadOnlyList<GroupReport> Groups,
    IReadOnlyList<PendingReport> Pending,
    IReadOnlyList<DateTimeOffset?>? MatchesExpireAt = null);

/// <summary>An aggregate group (or silence group) in a live session.</summary>
/// <param name="Key">Join and <c>per</c> key values as text (empty for the single group of a key-less aggregate).</param>
/// <param name="Value">The aggregate's value as JSON text (a silence group: the time of its last event).</param>
/// <param name="Passes">True when the group passes the aggregate's comparison for some partial match.</param>
/// <param name="Events">The events in the window, oldest first, with when each leaves it.</param>
public sealed record GroupReport(string Key, string Value, bool Passes, IReadOnlyList<WindowEventReport> Events);

/// <summary>An event held in a window.</summary>
/// <param name="EventId">Event id.</param>
/// <param name="Time">Its event time.</param>
/// <param name="ExpiresAt">When it leaves the window (it is in while the clock is at most this), or null for a length window.</param>
public sealed record WindowEventReport(string EventId, DateTimeOffset Time, DateTimeOffset? ExpiresAt);

/// <summary>A timer-driven condition waiting for its due time.</summary>
/// <param name="EventIds">Ids of the events and facts of the partial match.</param>
/// <param name="Due">When it is decided (the clock must pass it).</param>
/// <param name="State"><c>waiting</c>, <c>resolved</c> (an event came: it will not fire) or <c>fired</c>.</param>
public sealed record PendingReport(IReadOnlyList<string> EventIds, DateTimeOffset Due, string State);

/// <summary>A complete match of the rule.</summary>
/// <param name="EventIds">Ids of its events and facts.</param>
/// <param name="Time">Event time of the change that made it.</param>
/// <param name="Fired">True when it was taken off the agenda: it fired, or storm control suppressed or batched it.</param>
/// <param name="Outcome">
/// <c>fired</c>, <c>suppressed</c> (by the rule's throttle), <c>batched</c> (into a <c>group by</c> / <c>once after</c> batch) or
/// <c>pending</c> (still on the agenda). Activations restored from a snapshot that were taken off the agenda before it show <c>fired</c>.
/// </param>
public sealed record ActivationReport(IReadOnlyList<string> EventIds, DateTimeOffset Time, bool Fired, string Outcome = "fired");

/// <summary>A storm-control entry.</summary>
/// <param name="Kind"><c>once within</c>, <c>at most</c> or <c>batch</c>.</param>
/// <param name="Key">The key as text.</param>
/// <param name="Since">When the entry started (the firing, or the batch's first match).</param>
/// <param name="Until">When it ends (suppression ends, or the batch fires).</param>
/// <param name="Count">Firings counted (at most) or matches batched.</param>
public sealed record StormEntryReport(string Kind, string Key, DateTimeOffset Since, DateTimeOffset Until, int Count);

/// <summary>Which conditions of a rule's patterns one event meets (see <see cref="RuleSet.ExplainEvent"/>).</summary>
/// <param name="Rule">Rule name.</param>
/// <param name="EventId">Event id.</param>
/// <param name="EventType">Event type.</param>
/// <param name="Patterns">One entry per condition element of the rule, in order.</param>
public sealed record EventExplanation(string Rule, string EventId, string EventType, IReadOnlyList<PatternCheck> Patterns);

/// <summary>One condition element checked against an event.</summary>
/// <param name="Index">Element index.</param>
/// <param name="Text">The element as written.</param>
/// <param name="Type">The type it matches.</param>
/// <param name="TypeMatches">True when the event is of that type.</param>
/// <param name="Conditions">Each condition on the event alone (empty when the type does not match).</param>
/// <param name="Passes">True when the type matches and every condition on the event alone holds.</param>
public sealed record PatternCheck(int Index, string Text, string Type, bool TypeMatches, IReadOnlyList<ConditionCheck> Conditions, bool Passes);

/// <summary>One condition checked against an event.</summary>
/// <param name="Text">The condition, printed from the compiled rule.</param>
/// <param name="Met">True or false; null when it compares with an earlier binding (decided in the session).</param>
/// <param name="Note">Why it is undecided, or the value read, when useful.</param>
public sealed record ConditionCheck(string Text, bool? Met, string? Note);

/// <summary>Builds explanations of rules and events.</summary>
internal static class Explainer
{
    private const int MaxListed = 20;

    private static DateTimeOffset Time(long ticks) => new(Math.Clamp(ticks, DateTimeOffset.MinValue.UtcTicks, DateTimeOffset.MaxValue.UtcTicks), TimeSpan.Zero);

    private static RulePlan Plan(ReteNetwork network, string ruleName) =>
        network.Plans.TryGetValue(ruleName, out var plan)
            ? plan
            : throw new ArgumentException($"no rule is named \"{ruleName}\"" + Binder.DidYouMean(ruleName, network.Plans.Keys), nameof(ruleName));

    private static string KindOf(BoundElement element) => element switch
    {
        BoundAggregateElement => "aggregate",
        BoundNotElement { Window: not null } => "absence",
        BoundNotElement => "not",
        BoundExistsElement => "exists",
        BoundForallElement => "forall",
        BoundNoElement => "silence",
        _ => "pattern",
    };

    public static EventExplanation ExplainEvent(ReteNetwork network, string ruleName, RuleEvent evt)
    {
        var plan = Plan(network, ruleName);
        var names = plan.Rule.Elements.Select(e => e.Name).ToList();
        var context = new EvalContext();
        var patterns = new List<PatternCheck>();
        foreach (var element in plan.Elements)
        {
            var bound = element.Element;
            var text = bound.Index < plan.Rule.ElementTexts.Count ? plan.Rule.ElementTexts[bound.Index] : bound.Type.Name;
            var checks = new List<ConditionCheck>();
            var typeMatches = string.Equals(evt.Type, bound.Type.Name, StringComparison.Ordinal)
                              || (bound is BoundForallElement f && string.Equals(evt.Type, f.SatisfiesType.Name, StringComparison.Ordinal));
            var passes = typeMatches && evt.Data.ValueKind == JsonValueKind.Object;
            if (typeMatches && network.Types.TryGetValue(evt.Type, out var type))
            {
                if (evt.Data.ValueKind == JsonValueKind.Object && type.CheckSchema(evt.Data) == SchemaCheck.WrongType)
                {
                    // The session refuses such an event before any condition (it is invalid): say so, as the session would.
                    checks.Add(new ConditionCheck("the type's declared fields", false,
                        (type.DescribeWrongType(evt.Data) ?? "a declared field is of another JSON kind") + ": the event is invalid and matches nothing"));
                    passes = false;
                }

                var fact = new DataFact(evt.Id, evt.Data, evt.Time.UtcTicks, type, 0);
                context.Set(null, fact);
                context.Clock = evt.Time.UtcTicks;
                var conditions = bound is BoundForallElement fa && evt.Type == fa.SatisfiesType.Name ? fa.SatisfiesConditions : bound.Conditions;
                foreach (var condition in conditions.SelectMany(RuleCompiler.Conjuncts))
                {
                    var printed = BoundPrinter.Print(condition, names);
                    if (condition.Bindings.Any() || condition.UsesForallItem)
                    {
                        checks.Add(new ConditionCheck(printed, null, "compares with an earlier binding: decided when the event meets a partial match"));
                        continue;
                    }

                    bool met;
                    try
                    {
                        met = evt.Data.ValueKind == JsonValueKind.Object && ExpressionCompiler.CompileCondition(condition)(context);
                    }
                    catch (Exception e) when (e is InvalidOperationException or ArgumentException)
                    {
                        met = false;
                    }

                    passes &= met;
                    checks.Add(new ConditionCheck(printed, met, met ? null : MissingNote(condition, fact)));
                }
            }

            patterns.Add(new PatternCheck(bound.Index, text, bound.Type.Name, typeMatches, checks, passes));
        }

        return new EventExplanation(plan.Rule.Name, evt.Id, evt.Type, patterns);
    }

    private static string? MissingNote(BoundExpression condition, DataFact fact)
    {
        var field = Fields(condition).FirstOrDefault();
        if (field is null)
        {
            return null;
        }

        var value = new FieldPath(field.Path).ReadRaw(fact.Data);
        return value.IsMissing
            ? $"the event has no field {string.Concat(field.Path).TrimStart('.')}"
            : $"{BoundPrinter.PathText(field.Path)} is {ValueOps.ToJson(value, out _)?.ToJsonString() ?? "null"}";
    }

    private static IEnumerable<BoundField> Fields(BoundExpression e) => e switch
    {
        BoundField { Source: FieldSource.Current } f => [f],
        BoundComparison c => Fields(c.Left).Concat(Fields(c.Right)),
        BoundMatches m => Fields(m.Operand),
        BoundIn i => Fields(i.Operand),
        BoundTextOp t => Fields(t.Left),
        BoundTruth t => Fields(t.Operand),
        BoundNot n => Fields(n.Operand),
        BoundCall c => c.Arguments.SelectMany(Fields),
        _ => [],
    };

    public static RuleMatchesReport Explain(SessionState state, string ruleName)
    {
        var network = state.Network;
        var plan = Plan(network, ruleName);
        var clock = Time(Math.Max(0, state.ClockTicks));
        if (!network.TerminalsByRule.TryGetValue(ruleName, out var terminal))
        {
            var empty = plan.Rule.Elements.Select(e => new ConditionReport(e.Index, KindOf(e), Text(plan, e), e.Location, 0, [], [], [])).ToList();
            return new RuleMatchesReport(ruleName, false, clock, empty, [], [], "the rule is disabled: it is checked but not matched");
        }

        var conditions = new List<ConditionReport>();
        for (var i = 0; i < terminal.Chain.Count; i++)
        {
            var node = terminal.Chain[i];
            var element = plan.Rule.Elements[i];
            var next = i + 1 < terminal.Chain.Count ? terminal.Chain[i + 1] : terminal;
            var tokens = next.LeftTokens(state).Where(t => ReferenceEquals(t.Owner, node) && !t.Deleted).ToList();
            var matches = tokens.Take(MaxListed).Select(t => (IReadOnlyList<string>)MatchReader.EventIds(t)).ToList();
            var expiries = tokens.Take(MaxListed).Select(t => ExpiryOf(t, i, element)).ToList();
            var groups = new List<GroupReport>();
            var pending = new List<PendingReport>();
            switch (node)
            {
                case AggregateNode aggregate when state.PeekMemory<AggregateNode.Memory>(aggregate.Id) is { } memory:
                    foreach (var bucket in memory.Buckets.Values)
                    {
                        foreach (var group in bucket.Groups.Take(MaxListed))
                        {
                            var key = string.Join("; ", new[] { bucket.Key.Count > 0 ? bucket.Key.ToString() : null, group.PerKey.Count > 0 ? group.PerKey.ToString() : null }
                                .Where(k => k is not null));
                            var value = ValueOps.ToJson(group.Value(state.Context), out _)?.ToJsonString() ?? "null";
                            var events = group.Events.TakeLast(MaxListed).Select(e =>
                                new WindowEventReport(e.Id, Time(e.Time), aggregate.Window.ExpiryDue(e.Time) is { } due ? Time(due) : null)).ToList();
                            groups.Add(new GroupReport(key, value, group.OutputCount > 0, events));
                        }
                    }

                    break;
                case AbsenceNode absence when state.PeekMemory<AbsenceNode.Memory>(absence.Id) is { } memory:
                    foreach (var entry in memory.Entries.Values.Take(MaxListed))
                    {
                        pending.Add(new PendingReport(MatchReader.EventIds(entry.Token), Time(entry.Deadline),
                            entry.Output is not null ? "fired" : entry.Resolved ? "resolved" : "waiting"));
                    }

                    break;
                case SilenceNode silence:
                    foreach (var group in silence.AllGroups(state).Take(MaxListed))
                    {
                        groups.Add(new GroupReport(group.Per.ToString(), group.LastEvent is null ? "no event yet" : ValueOps.FormatTime(group.LastEvent.Time),
                            group.Output is not null,
                            group.LastEvent is null ? [] : [new WindowEventReport(group.LastEvent.Id, Time(group.LastEvent.Time), null)]));
                        if (group.Since != long.MinValue)
                        {
                            pending.Add(new PendingReport(MatchReader.EventIds(group.Left), Time(group.Since + silence.DurationTicks),
                                group.Output is not null ? "fired" : "waiting"));
                        }
                    }

                    break;
            }

            conditions.Add(new ConditionReport(i, KindOf(element), Text(plan, element), element.Location, state.TokensByNode[node.Id], matches, groups, pending,
                expiries));
        }

        var activations = state.PeekMemory<TerminalNode.Memory>(terminal.Id)?.Activations.Values
            .Select(a => new ActivationReport(MatchReader.EventIds(a.Token), Time(a.Time), a.Fired,
                !a.Fired ? "pending" : a.Suppressed ? "suppressed" : a.Batched ? "batched" : "fired")).Take(MaxListed * 5).ToList() ?? [];
        var storm = new List<StormEntryReport>();
        if (state.PeekMemory<TerminalNode.Memory>(terminal.Id)?.Storm is { } stormState)
        {
            var window = terminal.Rule.Throttle?.WindowTicks ?? 0;
            storm.AddRange(stormState.OnceWithin.Select(e => new StormEntryReport("once within", e.Key.ToString(), Time(e.Value), Time(e.Value + window), 1)));
            storm.AddRange(stormState.AtMost.Select(e => new StormEntryReport("at most", e.Key.ToString(), Time(e.Value.Peek()), Time(e.Value.Peek() + window), e.Value.Count)));
            storm.AddRange(stormState.Batches.Values.Select(b => new StormEntryReport("batch", b.Key.ToString(), Time(b.Opened), Time(b.Due), b.Matches.Count)));
        }

        return new RuleMatchesReport(ruleName, true, clock, conditions, activations, storm, Summarize(plan, conditions, activations, storm, terminal, clock));
    }

    /// <summary>
    /// When a partial match of elements 0..<paramref name="index"/> expires (see <see cref="ConditionReport.MatchesExpireAt"/>): the
    /// earliest retention end of its held events, or sooner the close of the sequence <paramref name="element"/> is an earlier step of.
    /// </summary>
    private static DateTimeOffset? ExpiryOf(IMatch match, int index, BoundElement element)
    {
        long? due = null;
        for (var j = 0; j <= index && j < match.Length; j++)
        {
            if (match.FactAt(j) is DataFact { IsFact: false, RetentionHold: true } held)
            {
                var release = held.Time + held.Type.RetentionTicks;
                due = due is { } d ? Math.Min(d, release) : release;
            }
        }

        if (element is BoundPatternElement { SequenceRetention.Ticks: > 0 and var window, SequenceStart: >= 0 and var first }
            && MatchReader.DataFactAt(match, first) is { } start)
        {
            var close = start.Time + window;
            due = due is { } d ? Math.Min(d, close) : close;
        }

        return due is { } ticks ? Time(ticks) : null;
    }

    /// <summary>
    /// For a later step of a sequence that no partial match has got past: how the earlier steps wait for it (how many are still
    /// within the sequence's window, and when the next of them closes), or null when the condition is not such a step.
    /// </summary>
    private static string? SequenceWait(RulePlan plan, List<ConditionReport> conditions, ConditionReport blocking, DateTimeOffset clock)
    {
        if (blocking.Index == 0 || plan.Rule.Elements[blocking.Index] is not BoundPatternElement { SequenceStart: >= 0 and var first } || first >= blocking.Index)
        {
            return null;
        }

        // Every earlier step of this sequence: a partial match held at any of them may still be extended while its window is open
        // (the window is inclusive: a step at exactly the close still matches).
        var earlier = conditions.Skip(first).Take(blocking.Index - first).ToList();
        var open = earlier.SelectMany(c => (c.MatchesExpireAt ?? []).OfType<DateTimeOffset>()).Where(x => x >= clock).ToList();
        var unlisted = earlier.Sum(c => Math.Max(0, c.PartialMatches - c.Matches.Count));
        if (open.Count > 0)
        {
            var notListed = unlisted > 0 ? $" (of those listed; {unlisted} more not listed)" : "";
            return string.Create(CultureInfo.InvariantCulture,
                $"the sequence waits for this step: {open.Count} partial match(es) of the earlier steps are open{notListed}, the next to close at {open.Min():o}");
        }

        return unlisted > 0
            ? string.Create(CultureInfo.InvariantCulture, $"the sequence's window has closed for the listed partial matches of the earlier steps ({unlisted} more not listed)")
            : "the sequence's window has closed for every partial match of the earlier steps (no event of this step came in time)";
    }

    private static string Text(RulePlan plan, BoundElement element) =>
        element.Index < plan.Rule.ElementTexts.Count ? plan.Rule.ElementTexts[element.Index] : element.Type.Name;

    private static string Summarize(RulePlan plan, List<ConditionReport> conditions, List<ActivationReport> activations, List<StormEntryReport> storm,
        TerminalNode terminal, DateTimeOffset clock)
    {
        if (activations.Count > 0)
        {
            string Count(string outcome) => activations.Count(a => a.Outcome == outcome).ToString(CultureInfo.InvariantCulture);
            var text = string.Create(CultureInfo.InvariantCulture,
                $"the rule matches now: {activations.Count} complete match(es): {Count("fired")} fired, {Count("suppressed")} suppressed by the throttle, ") +
                $"{Count("batched")} batched, {Count("pending")} pending (a match fires once: refraction)";
            if (storm.Count > 0)
            {
                text += "; storm control holds " + string.Join(", ", storm.Select(s => $"{s.Kind} {s.Key} until {s.Until:o}"));
            }

            return text;
        }

        var blocking = conditions.FirstOrDefault(c => c.PartialMatches == 0);
        if (blocking is null)
        {
            return "the rule does not match now";
        }

        var reason = blocking.Kind switch
        {
            "aggregate" when blocking.Groups.Count > 0 =>
                $"no group passes the aggregate's comparison (values: {string.Join(", ", blocking.Groups.Take(5).Select(g => g.Value))})",
            "aggregate" => "no event is in the aggregate's window for the partial matches before it",
            "absence" when blocking.Pending.Any(p => p.State == "waiting") =>
                $"waiting: the absence is decided at {blocking.Pending.Where(p => p.State == "waiting").Min(p => p.Due):o}",
            "absence" => "every pending absence was resolved by a matching event",
            "silence" when blocking.Pending.Any(p => p.State == "waiting") =>
                $"waiting: the silence is long enough at {blocking.Pending.Where(p => p.State == "waiting").Min(p => p.Due):o}",
            "not" => "a matching fact or event exists, so 'not' is false",
            "exists" => "no matching fact or event exists",
            "forall" => "some item has no match of the second pattern",
            _ when SequenceWait(plan, conditions, blocking, clock) is { } wait => wait,
            _ when blocking.Index == 0 => "no event or fact in working memory meets the first pattern",
            _ => "no partial match gets past this pattern (no event or fact meets its conditions together with the earlier ones)",
        };
        var storms = storm.Count > 0 ? "; storm control: " + string.Join(", ", storm.Select(s => $"{s.Kind} {s.Key} until {s.Until:o}")) : "";
        return $"condition {blocking.Index + 1} ({blocking.Text}) holds it back: {reason}{storms}";
    }
}

/// <summary>Prints bound expressions back as rule text (for explanations).</summary>
internal static class BoundPrinter
{
    public static string PathText(IReadOnlyList<PathStep> path) =>
        string.Concat(path.Select((p, i) => p.Name is null ? "[" + p.Index.ToString(CultureInfo.InvariantCulture) + "]" : (i == 0 ? "" : ".") + p.Name));

    public static string Print(BoundExpression e, IReadOnlyList<string?> names) => e switch
    {
        BoundLiteral l => l.Value.ToString(),
        BoundField { Source: FieldSource.Current } f => f.Path.Count == 0 ? "this" : PathText(f.Path),
        BoundField { Source: FieldSource.ForallItem } f => "item" + (f.Path.Count == 0 ? "" : "." + PathText(f.Path)),
        BoundField f when FieldSource.IsLocal(f.Source) => "item" + FieldSource.LocalDepth(f.Source) + (f.Path.Count == 0 ? "" : "." + PathText(f.Path)),
        BoundField f => (f.Source < names.Count ? names[f.Source] ?? "#" + f.Source : "#" + f.Source) + (f.Path.Count == 0 ? "" : "." + PathText(f.Path)),
        BoundEventTime t => t.Source == FieldSource.Current ? "timeof()" : $"timeof({(t.Source < names.Count ? names[t.Source] : "#" + t.Source)})",
        BoundComparison c => $"{Print(c.Left, names)} {Op(c.Operator)} {Print(c.Right, names)}",
        BoundArithmetic a => $"({Print(a.Left, names)} {ArithmeticText(a.Operator)} {Print(a.Right, names)})",
        BoundNegate n => "-" + Print(n.Operand, names),
        BoundTextOp t => $"{Print(t.Left, names)} {t.Operator.ToString().ToLowerInvariant()} {Print(t.Right, names)}",
        BoundLogical l => "(" + string.Join(l.IsAnd ? " and " : " or ", l.Operands.Select(o => Print(o, names))) + ")",
        BoundNot n => "not " + Print(n.Operand, names),
        BoundTruth t => Print(t.Operand, names),
        BoundMatches m => $"{Print(m.Operand, names)} matches /{m.Pattern}/{m.Flags}",
        BoundIn i => $"{Print(i.Operand, names)} {(i.Negated ? "not in" : "in")} [{string.Join(", ", i.Items.Select(x => x.ToString()))}]",
        BoundInValue i => $"{Print(i.Operand, names)} {(i.Negated ? "not in" : "in")} {Print(i.Target, names)}",
        BoundCall c => $"{Binder.FunctionName(c.Function)}({string.Join(", ", c.Arguments.Select(a => Print(a, names)))})",
        BoundQuantifier q => $"{(q.IsAll ? "all" : "any")}(item{q.Depth} in {Print(q.Source, names)}: {Print(q.Condition, names)})",
        BoundTemporal t => $"after {(t.Other < names.Count ? names[t.Other] ?? "#" + t.Other : "#" + t.Other)}" +
                           (t.MaxTicks is { } m ? $" within {TimeSpan.FromTicks(m)}" : ""),
        BoundNow => "now()",
        _ => e.Canonical,
    };

    private static string Op(ComparisonOp op) => op switch
    {
        ComparisonOp.Equal => "==",
        ComparisonOp.NotEqual => "!=",
        ComparisonOp.Less => "<",
        ComparisonOp.LessOrEqual => "<=",
        ComparisonOp.Greater => ">",
        _ => ">=",
    };

    private static string ArithmeticText(ArithmeticOp op) => op switch
    {
        ArithmeticOp.Add => "+",
        ArithmeticOp.Subtract => "-",
        ArithmeticOp.Multiply => "*",
        ArithmeticOp.Divide => "/",
        _ => "%",
    };
}
