using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using RuleFlow.Rules.Compilation;

namespace RuleFlow.Rules.Engine;

/// <summary>
/// The mutable state of one rule session over a shared <see cref="ReteNetwork"/>: node memories, working memory (held events),
/// agenda, timers on event time and counters. One thread at a time.
/// </summary>
internal sealed class SessionState : ITimerTarget
{
    private readonly ReteNetwork _network;
    private readonly object?[] _memories;
    private readonly List<AlphaMemoryNode> _reached = [];
    private readonly Stack<AlphaNode> _alphaWork = new();
    private long _sequence;
    private long _activationSequence;

    public SessionState(ReteNetwork network)
    {
        _network = network;
        _memories = new object?[network.NodeCount];
        RootToken = new Token(null, null, network.Root);
        foreach (var child in network.Root.Children)
        {
            child.LeftActivate(this, RootToken);
        }
    }

    public Token RootToken { get; }

    public Agenda Agenda { get; } = new();

    public TimerQueue Timers { get; } = new();

    /// <summary>Session clock: the latest event time seen, in UTC ticks (0 = none yet).</summary>
    public long ClockTicks { get; private set; }

    public long EventsInserted { get; private set; }

    public long LateEvents { get; private set; }

    public long Firings { get; private set; }

    public long SuppressedByThrottle { get; private set; }

    public long ActivationsCreated { get; set; }

    public long UnknownTypeEvents { get; private set; }

    public long InvalidEvents { get; private set; }

    public long InvalidTimestamps { get; private set; }

    public int EventsHeld { get; private set; }

    public int TokenCount { get; set; }

    public ReteNetwork Network => _network;

    public T MemoryOf<T>(int nodeId)
        where T : class, new() => (T)(_memories[nodeId] ??= new T());

    public long NextSequence() => ++_sequence;

    public long NextActivationSequence() => ++_activationSequence;

    public int ThrottleEntries => _network.Terminals.Sum(t => _memories[t.Id] is TerminalNode.Memory m ? m.Throttle.Count : 0);

    public int AggregateGroups => _memories.Sum(m => m is AggregateNode.Memory a ? a.GroupCount : 0);

    /// <summary>Applies one event (see <see cref="RuleSession.Insert"/>).</summary>
    public IReadOnlyList<RuleFiring> Insert(RuleEvent evt)
    {
        ArgumentNullException.ThrowIfNull(evt);
        EventsInserted++;
        _network.Types.TryGetValue(evt.Type ?? "", out var type);
        var isObject = evt.Data.ValueKind == JsonValueKind.Object;
        if (!isObject)
        {
            InvalidEvents++;
        }

        var time = isObject && type?.TimePath is { } timePath ? ReadTime(evt, timePath) : evt.Time.UtcTicks;
        if (time > ClockTicks)
        {
            ClockTicks = time;
            Timers.RunDue(this, ClockTicks); // expiry is a working-memory change of its own, before the insert
        }

        List<RuleFiring>? firings = null;
        EventFact? transient = null;
        if (type is null)
        {
            UnknownTypeEvents++;
        }
        else if (isObject && type.Root is not null)
        {
            if (time < ClockTicks - type.RetentionTicks)
            {
                LateEvents++;
            }
            else
            {
                var retained = type.RetentionTicks > 0;
                var fact = new EventFact(evt.Id, retained ? evt.Data.Clone() : evt.Data, time, type, NextSequence());
                _reached.Clear();
                type.Root.Propagate(fact, _reached, _alphaWork);
                if (_reached.Count > 0)
                {
                    fact.Memories = [.. _reached];
                    foreach (var memory in fact.Memories)
                    {
                        foreach (var successor in memory.Successors)
                        {
                            successor.RightActivate(this, fact);
                        }
                    }
                }

                if (retained)
                {
                    EventsHeld++;
                    Timers.Schedule(time + type.RetentionTicks, this, fact);
                }
                else
                {
                    transient = fact;
                }
            }
        }

        Fire(ref firings);
        if (transient is not null)
        {
            Retract(transient, held: false);
            Fire(ref firings);
        }

        return firings ?? (IReadOnlyList<RuleFiring>)[];
    }

    private long ReadTime(RuleEvent evt, byte[][] path)
    {
        var value = ValueOps.ReadRaw(evt.Data, path);
        if (value.IsMissing || value.Kind == ValueKind.Null)
        {
            return evt.Time.UtcTicks;
        }

        if (value.Kind == ValueKind.Json)
        {
            var element = value.Element;
            if (element.ValueKind == JsonValueKind.String
                && DateTimeOffset.TryParse(ValueOps.SafeGetString(element), CultureInfo.InvariantCulture,
                    DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
            {
                return parsed.UtcTicks;
            }

            if (element.ValueKind == JsonValueKind.Number && element.TryGetDouble(out var ms)
                && ms >= -62_135_596_800_000d && ms <= 253_402_300_799_999d)
            {
                return DateTimeOffset.UnixEpoch.UtcTicks + (long)Math.Round(ms * TimeSpan.TicksPerMillisecond);
            }
        }

        InvalidTimestamps++;
        return evt.Time.UtcTicks;
    }

    /// <summary>Retention expiry of a held event (due = its time + its type's retention).</summary>
    public void OnTimer(SessionState session, object? payload, long due) => Retract((EventFact)payload!, held: true);

    /// <summary>Removes an event from working memory: its partial matches (and their activations), then its right memories.</summary>
    public void Retract(EventFact fact, bool held)
    {
        if (fact.Retracted)
        {
            return;
        }

        fact.Retracted = true;
        if (held)
        {
            EventsHeld--;
        }

        var tokens = fact.Tokens;
        fact.Tokens = null;
        if (tokens is not null)
        {
            foreach (var token in tokens)
            {
                DeleteToken(token);
            }
        }

        if (fact.Memories is { } memories)
        {
            foreach (var memory in memories)
            {
                foreach (var successor in memory.Successors)
                {
                    successor.RightRetract(this, fact);
                }
            }
        }
    }

    /// <summary>Deletes a partial match and everything derived from it (tree-based removal).</summary>
    public void DeleteToken(Token token) => DeleteToken(token, fromParent: false);

    private void DeleteToken(Token token, bool fromParent)
    {
        if (token.Deleted)
        {
            return;
        }

        token.Deleted = true;
        TokenCount--;
        var children = token.Children;
        token.Children = null;
        if (children is not null)
        {
            foreach (var child in children)
            {
                DeleteToken(child, fromParent: true);
            }
        }

        var nodes = token.Owner.Children;
        for (var i = 0; i < nodes.Count; i++)
        {
            nodes[i].LeftRetract(this, token);
        }

        if (!fromParent)
        {
            token.Parent?.Children?.Remove(token);
        }

        if (token.Fact is EventFact e)
        {
            e.Tokens?.Remove(token);
        }
    }

    /// <summary>Fires the agenda: highest salience first, then the most recent activation; throttle may suppress a firing.</summary>
    private void Fire(ref List<RuleFiring>? firings)
    {
        while (Agenda.TryPop(out var activation))
        {
            activation.Fired = true;
            if (!activation.Terminal.TryPassThrottle(this, activation))
            {
                SuppressedByThrottle++;
                continue;
            }

            Firings++;
            (firings ??= []).Add(BuildFiring(activation));
        }
    }

    private RuleFiring BuildFiring(Activation activation)
    {
        var ids = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var fact in activation.Token.Facts())
        {
            switch (fact)
            {
                case EventFact e when seen.Add(e.Id):
                    ids.Add(e.Id);
                    break;
                case AggregateFact a:
                    foreach (var e in a.Group.Events)
                    {
                        if (seen.Add(e.Id))
                        {
                            ids.Add(e.Id);
                        }
                    }

                    break;
            }
        }

        var rule = activation.Rule;
        var actions = new RuleAction[rule.Actions.Count];
        for (var i = 0; i < actions.Length; i++)
        {
            actions[i] = rule.Actions[i].Evaluate(activation.Token);
        }

        return new RuleFiring(rule.Name, ActivationId(rule.Name, ids), new DateTimeOffset(ClockTicks, TimeSpan.Zero), ids, actions);
    }

    /// <summary>First 32 hex digits of SHA-256("rule name\nid1\nid2..."), lower case.</summary>
    internal static string ActivationId(string rule, IReadOnlyList<string> eventIds)
    {
        var text = new StringBuilder(rule);
        foreach (var id in eventIds)
        {
            text.Append('\n').Append(id);
        }

        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()), hash);
        return Convert.ToHexStringLower(hash[..16]);
    }
}
