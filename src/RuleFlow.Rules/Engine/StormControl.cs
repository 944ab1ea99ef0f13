using System.Text.Json.Nodes;

namespace RuleFlow.Rules.Engine;

/// <summary>An aggregate result captured when a match was batched: its value and window at that moment.</summary>
internal sealed class FrozenAggregate(RuleValue value, IReadOnlyList<DataFact> events, JoinKey per) : AggregateResult
{
    private readonly RuleValue _value = value;

    public override RuleValue Value(EvalContext context) => _value;

    public override IReadOnlyList<DataFact> Events { get; } = events;

    public override JoinKey PerKey { get; } = per;
}

/// <summary>A silence result captured when a match was batched.</summary>
internal sealed class FrozenSilence(DataFact? last, JoinKey per) : SilenceResult
{
    public override DataFact? Last { get; } = last;

    public override JoinKey PerKey { get; } = per;
}

/// <summary>
/// A match captured for a later firing (<c>group by ... wait</c>, <c>throttle once after</c>): the facts of each element, aggregate
/// values and windows as they were, and the activation's time. Actions evaluate against it as against a live match.
/// </summary>
internal sealed class FrozenMatch : IMatch
{
    public FrozenMatch(Fact?[] facts, long time, IReadOnlyList<string> names)
    {
        Facts = facts;
        Time = time;
        Names = names;
    }

    public Fact?[] Facts { get; }

    /// <summary>Time of the activation (ticks).</summary>
    public long Time { get; }

    /// <summary>Binding names by element (null where unnamed), for the JSON form.</summary>
    public IReadOnlyList<string> Names { get; }

    public int Length => Facts.Length;

    public Fact? FactAt(int index) => index >= 0 && index < Facts.Length ? Facts[index] : null;

    public static FrozenMatch Capture(Token token, long time, IReadOnlyList<string> names, EvalContext context)
    {
        var facts = new Fact?[token.Length];
        for (var t = token; t is not null && t.Length > 0; t = t.Parent)
        {
            // The batch outlives the events' stay in working memory: their objects must not serve later events.
            facts[t.Length - 1] = t.Fact switch
            {
                AggregateResult a => new FrozenAggregate(a.Value(context), [.. a.Events.Select(e => e.Keep())], a.PerKey),
                SilenceResult s => new FrozenSilence(s.Last?.Keep(), s.PerKey),
                DataFact d => d.Keep(),
                var f => f,
            };
        }

        return new FrozenMatch(facts, time, names);
    }

    /// <summary>The match as JSON for <c>group</c>: <c>{ time, eventIds, &lt;binding&gt;: event or aggregate value, ... }</c>.</summary>
    public JsonObject ToJson(EvalContext context)
    {
        var json = new JsonObject
        {
            ["time"] = ValueOps.FormatTime(Time),
            ["eventIds"] = new JsonArray([.. MatchReader.EventIds(this).Select(id => (JsonNode)JsonValue.Create(id)!)]),
        };
        for (var i = 0; i < Facts.Length; i++)
        {
            var name = i < Names.Count ? Names[i] : null;
            if (name is null)
            {
                continue;
            }

            switch (Facts[i])
            {
                case DataFact d:
                    json[name] = ValueOps.CopyElement(d.Data);
                    break;
                case AggregateResult a:
                    json[name] = ValueOps.ToJson(a.Value(context), out _);
                    break;
                case SilenceResult { Last: { } last }:
                    json[name] = ValueOps.CopyElement(last.Data);
                    break;
            }
        }

        return json;
    }
}

/// <summary>An open batch of <c>group by</c> / <c>throttle once after</c>: the matches of one key since it opened.</summary>
internal sealed class Batch(JoinKey key, long opened, long due)
{
    public JoinKey Key { get; } = key;

    public long Opened { get; } = opened;

    public long Due { get; } = due;

    public List<FrozenMatch> Matches { get; } = [];
}

/// <summary>
/// Storm-control state of one rule (kept by its terminal node, carried over by rule identity): the last firing per key of
/// <c>throttle once within</c>, the firing times per key of <c>throttle at most N per D</c>, and the open batches.
/// </summary>
internal sealed class StormState
{
    public Dictionary<JoinKey, long> OnceWithin { get; } = [];

    public Dictionary<JoinKey, Queue<long>> AtMost { get; } = [];

    public Dictionary<JoinKey, Batch> Batches { get; } = [];

    public int Count => OnceWithin.Count + AtMost.Count + Batches.Count;
}

/// <summary>Timer payloads of storm control.</summary>
internal abstract record StormTimer;

/// <summary>A batch is due: fire it.</summary>
internal sealed record BatchDue(Batch Batch) : StormTimer;

/// <summary>A <c>once within</c> entry may be forgotten (when it still holds this firing time).</summary>
internal sealed record OnceWithinExpiry(JoinKey Key, long FiredAt) : StormTimer;

/// <summary>Old firing times of an <c>at most</c> key may be dropped.</summary>
internal sealed record AtMostExpiry(JoinKey Key) : StormTimer;

/// <summary>A dedup entry of an event type may be forgotten.</summary>
internal sealed record DedupExpiry(TypeRuntime Type, JoinKey Key, long Start) : StormTimer;
