using RuleFlow.Rules.Language;

using System.Text.Json;

namespace RuleFlow.Rules.Engine;

/// <summary>
/// A working-memory element (WME). <see cref="Sequence"/> is its recency (insertion number). Events are facts with a time and a
/// bounded life (<see cref="EventFact"/>); aggregate results are facts made by aggregate nodes (<see cref="AggregateFact"/>);
/// issue 3 adds inserted facts of declared fact types as a third kind.
/// </summary>
internal abstract class Fact(long sequence)
{
    public long Sequence { get; } = sequence;
}

/// <summary>An event in working memory.</summary>
internal sealed class EventFact(string id, JsonElement data, long time, EventTypeRuntime type, long sequence) : Fact(sequence)
{
    /// <summary>The event's id (only the id of the caller's <see cref="RuleEvent"/> is kept, not its document).</summary>
    public string Id { get; } = id;

    /// <summary>The event's JSON object (a clone when the event is held beyond its insertion).</summary>
    public JsonElement Data { get; } = data;

    /// <summary>Event time in UTC ticks (100 ns).</summary>
    public long Time { get; } = time;

    public EventTypeRuntime Type { get; } = type;

    /// <summary>Alpha memories the event entered (for retraction).</summary>
    public List<AlphaMemoryNode>? Memories { get; set; }

    /// <summary>Tokens whose last fact is this event (tree-based removal: deleting the event deletes them and their descendants).</summary>
    public List<Token>? Tokens { get; set; }

    public bool Retracted { get; set; }
}

/// <summary>
/// The result of one aggregate group, as a fact in partial matches. One per group; the group's value and window change in place
/// (an activation that stays true while the value changes is the same activation and does not fire again).
/// </summary>
internal sealed class AggregateFact(AggregateGroup group, long sequence) : Fact(sequence)
{
    public AggregateGroup Group { get; } = group;
}

/// <summary>
/// A partial match: the facts matched by the first <see cref="Length"/> condition elements of a rule, as a linked list from the
/// last fact back to the root token (Forgy 1982; Doorenbos 1995 for the tree-based removal kept in <see cref="Children"/>).
/// </summary>
internal sealed class Token
{
    public Token(Token? parent, Fact? fact, BetaNode owner)
    {
        Parent = parent;
        Fact = fact;
        Owner = owner;
        Length = parent is null ? 0 : parent.Length + 1;
    }

    public Token? Parent { get; }

    public Fact? Fact { get; }

    /// <summary>The beta node that made this token (its children hold it in their left memories).</summary>
    public BetaNode Owner { get; }

    /// <summary>Number of facts: 0 for the root token.</summary>
    public int Length { get; }

    public List<Token>? Children { get; set; }

    public bool Deleted { get; set; }

    /// <summary>The fact of condition element <paramref name="index"/> (0-based), or null.</summary>
    public Fact? FactAt(int index)
    {
        var token = this;
        while (token is not null && token.Length > index + 1)
        {
            token = token.Parent;
        }

        return token is not null && token.Length == index + 1 ? token.Fact : null;
    }

    /// <summary>The JSON of the event at element <paramref name="index"/>; an undefined element when there is none.</summary>
    public JsonElement DataAt(int index) => FactAt(index) is EventFact e ? e.Data : default;

    /// <summary>The value of the aggregate at element <paramref name="index"/>, or missing.</summary>
    public RuleValue AggregateValueAt(int index) => FactAt(index) is AggregateFact a ? a.Group.Value : RuleValue.Missing;

    /// <summary>The window of the aggregate at element <paramref name="index"/>: all events, the first or last event's field, or the count.</summary>
    public RuleValue WindowAt(int index, int member, byte[][] path)
    {
        if (FactAt(index) is not AggregateFact a)
        {
            return RuleValue.Missing;
        }

        var events = a.Group.Events;
        return (WindowMember)member switch
        {
            WindowMember.All => RuleValue.FromWindow([.. events]),
            WindowMember.Count => RuleValue.FromNumber(events.Count),
            WindowMember.First when events.Count > 0 => ValueOps.ReadRaw(events[0].Data, path),
            WindowMember.Last when events.Count > 0 => ValueOps.ReadRaw(events[^1].Data, path),
            _ => RuleValue.Missing,
        };
    }

    /// <summary>Facts from the first element to the last.</summary>
    public IEnumerable<Fact> Facts()
    {
        var list = new List<Fact>(Length);
        for (var t = this; t is not null; t = t.Parent)
        {
            if (t.Fact is not null)
            {
                list.Add(t.Fact);
            }
        }

        list.Reverse();
        return list;
    }
}

/// <summary>Per-session, per-type information at run time.</summary>
internal sealed class EventTypeRuntime(string name, byte[][]? timePath, long retentionTicks, AlphaNode? root)
{
    public string Name { get; } = name;

    public byte[][]? TimePath { get; } = timePath;

    /// <summary>How long an event of this type is held after its event time (ticks); 0 = only during its insertion.</summary>
    public long RetentionTicks { get; } = retentionTicks;

    /// <summary>The type node of the alpha network, or null when no rule uses the type.</summary>
    public AlphaNode? Root { get; } = root;
}
