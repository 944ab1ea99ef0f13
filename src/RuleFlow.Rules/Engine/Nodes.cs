using RuleFlow.Rules.Compilation;

namespace RuleFlow.Rules.Engine;

// The Rete network (Forgy 1982, "Rete: A Fast Algorithm for the Many Pattern/Many Object Pattern Match Problem",
// Artificial Intelligence 19). Nodes are immutable once built and shared by every session of a rule set; each node with
// state has an Id, and a session keeps that node's memory in SessionState.Memories[Id]. So one compiled network serves
// many sessions (server, rule tests, explain), and a later incremental reload can carry memories over by node identity.

/// <summary>The equality a test checks, when it is <c>field == literal</c> on the event: such children are found by hash.</summary>
internal sealed record AlphaEquality(string PathKey, byte[][] Path, RuleValue Value);

/// <summary>
/// A node of the alpha network: a type node (no test) or a constant test on one event. Children are shared between rules when
/// their condition's canonical text is equal; <see cref="Memory"/> is set where some pattern's conditions end. Children whose test
/// is <c>field == literal</c> are indexed by (field, value): an event reaches them by one hash lookup per field instead of one test
/// per child (hash dispatch on equality constants), so 1,000 rules testing <c>bucket == k</c> cost one lookup, not 1,000 tests.
/// </summary>
internal sealed class AlphaNode(string canonical, Func<EventFact, bool>? test, int order)
{
    /// <summary>Below this many children on one field, testing them one by one is cheaper than hashing the event's value.</summary>
    private const int DispatchThreshold = 4;

    private readonly Dictionary<string, AlphaNode> _byCanonical = new(StringComparer.Ordinal);
    private readonly List<AlphaNode> _tested = [];
    private readonly List<Dispatch> _dispatch = [];

    private sealed class Dispatch(byte[][] path)
    {
        public byte[][] Path { get; } = path;

        public Dictionary<RuleValue, List<AlphaNode>> ByValue { get; } = [];

        public List<AlphaNode> All { get; } = [];
    }

    public string Canonical { get; } = canonical;

    public Func<EventFact, bool>? Test { get; } = test;

    /// <summary>Creation order in the network (parents before children, rules in load order).</summary>
    public int Order { get; } = order;

    /// <summary>All children, in creation order.</summary>
    public List<AlphaNode> Children { get; } = [];

    public AlphaMemoryNode? Memory { get; set; }

    public AlphaNode GetOrAddChild(string canonical, Func<Func<EventFact, bool>> compile, AlphaEquality? equality, ref int nextOrder)
    {
        if (_byCanonical.TryGetValue(canonical, out var child))
        {
            return child;
        }

        child = new AlphaNode(canonical, compile(), nextOrder++);
        _byCanonical.Add(canonical, child);
        Children.Add(child);
        if (equality is null)
        {
            _tested.Add(child);
        }
        else
        {
            var dispatch = _dispatch.Find(d => d.Path.Length == equality.Path.Length
                                               && d.Path.Zip(equality.Path).All(p => p.First.AsSpan().SequenceEqual(p.Second)));
            if (dispatch is null)
            {
                dispatch = new Dispatch(equality.Path);
                _dispatch.Add(dispatch);
            }

            var key = equality.Value.ToKey();
            if (!dispatch.ByValue.TryGetValue(key, out var list))
            {
                list = [];
                dispatch.ByValue.Add(key, list);
            }

            list.Add(child);
            dispatch.All.Add(child);
        }

        return child;
    }

    /// <summary>
    /// Collects the alpha memories the event reaches, in creation order. Iterative, so a pattern with any number of conditions
    /// cannot exhaust the stack.
    /// </summary>
    public void Propagate(EventFact fact, List<AlphaMemoryNode> reached, Stack<AlphaNode> work)
    {
        work.Clear();
        work.Push(this);
        while (work.Count > 0)
        {
            var node = work.Pop();
            if (node.Memory is not null)
            {
                reached.Add(node.Memory);
            }

            foreach (var child in node._tested)
            {
                if (child.Test!(fact))
                {
                    work.Push(child);
                }
            }

            foreach (var dispatch in node._dispatch)
            {
                if (dispatch.All.Count <= DispatchThreshold)
                {
                    foreach (var child in dispatch.All)
                    {
                        if (child.Test!(fact))
                        {
                            work.Push(child);
                        }
                    }
                }
                else
                {
                    var value = ValueOps.Read(fact.Data, dispatch.Path);
                    if (!value.IsMissing && dispatch.ByValue.TryGetValue(value.ToKey(), out var children))
                    {
                        foreach (var child in children)
                        {
                            work.Push(child);
                        }
                    }
                }
            }
        }

        if (reached.Count > 1)
        {
            reached.Sort(static (a, b) => a.Id.CompareTo(b.Id));
        }
    }
}

/// <summary>
/// An alpha memory: the events of one type that pass one set of constant tests. It stores nothing itself: each successor (join
/// or aggregate node) keeps its own hash-indexed right memory.
/// </summary>
internal sealed class AlphaMemoryNode(int id, string typeName)
{
    public int Id { get; } = id;

    public string TypeName { get; } = typeName;

    public List<IRightInput> Successors { get; } = [];
}

/// <summary>A node that receives events from an alpha memory (right activations).</summary>
internal interface IRightInput
{
    void RightActivate(SessionState session, EventFact fact);

    void RightRetract(SessionState session, EventFact fact);
}

/// <summary>Something the session's timer queue calls back when event time passes a due time.</summary>
internal interface ITimerTarget
{
    void OnTimer(SessionState session, object? payload, long due);
}

/// <summary>A node of the beta network: receives partial matches (tokens) from its parent.</summary>
internal abstract class BetaNode(int id)
{
    public int Id { get; } = id;

    public List<BetaNode> Children { get; } = [];

    /// <summary>A new partial match from the parent.</summary>
    public abstract void LeftActivate(SessionState session, Token token);

    /// <summary>A partial match of the parent is gone (its descendants were deleted already or are being deleted).</summary>
    public abstract void LeftRetract(SessionState session, Token token);

    /// <summary>Makes a child token of <paramref name="parent"/> with <paramref name="fact"/> and passes it to every child node.</summary>
    protected Token Emit(SessionState session, Token parent, Fact fact)
    {
        var child = new Token(parent, fact, this);
        (parent.Children ??= []).Add(child);
        if (fact is EventFact e)
        {
            (e.Tokens ??= []).Add(child);
        }

        session.TokenCount++;
        for (var i = 0; i < Children.Count; i++)
        {
            Children[i].LeftActivate(session, child);
            if (child.Deleted)
            {
                break;
            }
        }

        return child;
    }

    protected static void AddTo<TKey, TItem>(Dictionary<TKey, List<TItem>> index, TKey key, TItem item)
        where TKey : notnull
    {
        if (!index.TryGetValue(key, out var list))
        {
            list = [];
            index.Add(key, list);
        }

        list.Add(item);
    }

    protected static void RemoveFrom<TKey, TItem>(Dictionary<TKey, List<TItem>> index, TKey key, TItem item)
        where TKey : notnull
        where TItem : class
    {
        if (index.TryGetValue(key, out var list))
        {
            var i = list.IndexOf(item);
            if (i >= 0)
            {
                list.RemoveAt(i);
            }

            if (list.Count == 0)
            {
                index.Remove(key);
            }
        }
    }
}

/// <summary>The top of the beta network: holds the single empty root token of each session.</summary>
internal sealed class RootNode(int id) : BetaNode(id)
{
    public override void LeftActivate(SessionState session, Token token)
    {
    }

    public override void LeftRetract(SessionState session, Token token)
    {
    }
}

/// <summary>
/// A join (two-input) node: partial matches of its parent (left) × events of an alpha memory (right). Both memories are
/// hash-indexed on the equality join key (e.g. <c>src_ip == f.src_ip</c> joins by hash, never by scanning); other join tests
/// (<see cref="Residual"/>) run on the candidates of one bucket. A side whose key has a missing field joins nothing.
/// </summary>
internal sealed class JoinNode(int id, AlphaMemoryNode right, Func<Token, JoinKey>? leftKey, Func<EventFact, JoinKey>? rightKey,
    Func<Token, EventFact, bool>? residual, string canonical) : BetaNode(id), IRightInput
{
    public AlphaMemoryNode Right { get; } = right;

    public Func<Token, JoinKey>? LeftKey { get; } = leftKey;

    public Func<EventFact, JoinKey>? RightKey { get; } = rightKey;

    public Func<Token, EventFact, bool>? Residual { get; } = residual;

    public string Canonical { get; } = canonical;

    internal sealed class Memory
    {
        public Dictionary<JoinKey, List<Token>> Left { get; } = [];

        public Dictionary<JoinKey, List<EventFact>> Right { get; } = [];
    }

    public override void LeftActivate(SessionState session, Token token)
    {
        var key = LeftKey is null ? JoinKey.Unit : LeftKey(token);
        if (key.HasMissing)
        {
            return;
        }

        var memory = session.MemoryOf<Memory>(Id);
        AddTo(memory.Left, key, token);
        if (memory.Right.TryGetValue(key, out var facts))
        {
            for (var i = 0; i < facts.Count && !token.Deleted; i++)
            {
                var fact = facts[i];
                if (Residual is null || Residual(token, fact))
                {
                    Emit(session, token, fact);
                }
            }
        }
    }

    public override void LeftRetract(SessionState session, Token token)
    {
        var key = LeftKey is null ? JoinKey.Unit : LeftKey(token);
        if (!key.HasMissing)
        {
            RemoveFrom(session.MemoryOf<Memory>(Id).Left, key, token);
        }
    }

    public void RightActivate(SessionState session, EventFact fact)
    {
        var key = RightKey is null ? JoinKey.Unit : RightKey(fact);
        if (key.HasMissing)
        {
            return;
        }

        var memory = session.MemoryOf<Memory>(Id);
        AddTo(memory.Right, key, fact);
        if (memory.Left.TryGetValue(key, out var tokens))
        {
            for (var i = 0; i < tokens.Count && !fact.Retracted; i++)
            {
                var token = tokens[i];
                if (Residual is null || Residual(token, fact))
                {
                    Emit(session, token, fact);
                }
            }
        }
    }

    public void RightRetract(SessionState session, EventFact fact)
    {
        var key = RightKey is null ? JoinKey.Unit : RightKey(fact);
        if (!key.HasMissing)
        {
            RemoveFrom(session.MemoryOf<Memory>(Id).Right, key, fact);
        }
    }
}

/// <summary>
/// The terminal node of one rule: a partial match that reaches it is an activation, put on the agenda; when the match is
/// retracted the activation goes (unfired) or is forgotten (fired). Also holds the rule's throttle state.
/// </summary>
internal sealed class TerminalNode(int id, CompiledRule rule) : BetaNode(id), ITimerTarget
{
    public CompiledRule Rule { get; } = rule;

    internal sealed class Memory
    {
        public Dictionary<Token, Activation> Activations { get; } = [];

        /// <summary>Throttle: key → event time (ticks) when it last fired.</summary>
        public Dictionary<JoinKey, long> Throttle { get; } = [];
    }

    public override void LeftActivate(SessionState session, Token token)
    {
        var activation = new Activation(this, token, session.NextActivationSequence());
        session.MemoryOf<Memory>(Id).Activations[token] = activation;
        session.Agenda.Add(activation);
        session.ActivationsCreated++;
    }

    public override void LeftRetract(SessionState session, Token token)
    {
        if (session.MemoryOf<Memory>(Id).Activations.Remove(token, out var activation))
        {
            activation.Cancelled = true;
        }
    }

    /// <summary>
    /// Throttle <c>once within D per key</c>: true when the activation may fire (and records it); false when an earlier firing
    /// of the same key is at most D ago on event time (the activation is then suppressed, and not fired later).
    /// </summary>
    public bool TryPassThrottle(SessionState session, Activation activation)
    {
        if (Rule.Throttle is not { } throttle)
        {
            return true;
        }

        var memory = session.MemoryOf<Memory>(Id);
        var key = throttle.Key(activation.Token);
        if (memory.Throttle.TryGetValue(key, out var firedAt) && session.ClockTicks - firedAt <= throttle.WindowTicks)
        {
            return false;
        }

        memory.Throttle[key] = session.ClockTicks;
        session.Timers.Schedule(session.ClockTicks + throttle.WindowTicks, this, key);
        return true;
    }

    public void OnTimer(SessionState session, object? payload, long due)
    {
        var memory = session.MemoryOf<Memory>(Id);
        var key = (JoinKey)payload!;
        if (memory.Throttle.TryGetValue(key, out var firedAt) && firedAt + Rule.Throttle!.WindowTicks == due)
        {
            memory.Throttle.Remove(key);
        }
    }
}

/// <summary>A rule instantiation waiting on the agenda: a complete match of a rule.</summary>
internal sealed class Activation(TerminalNode terminal, Token token, long sequence)
{
    public TerminalNode Terminal { get; } = terminal;

    public CompiledRule Rule => Terminal.Rule;

    public Token Token { get; } = token;

    /// <summary>Creation order: the recency used by conflict resolution.</summary>
    public long Sequence { get; } = sequence;

    public bool Cancelled { get; set; }

    public bool Fired { get; set; }
}

/// <summary>
/// The agenda (conflict set): pending activations ordered by salience (rule priority, higher first), then recency (the most
/// recently created activation first). Refraction: an activation is fired at most once; a retracted one is skipped.
/// </summary>
internal sealed class Agenda
{
    private sealed class Order : IComparer<Activation>
    {
        public static Order Instance { get; } = new();

        public int Compare(Activation? x, Activation? y)
        {
            var bySalience = y!.Rule.Priority.CompareTo(x!.Rule.Priority);
            return bySalience != 0 ? bySalience : y.Sequence.CompareTo(x.Sequence);
        }
    }

    private readonly PriorityQueue<Activation, Activation> _queue = new(Order.Instance);

    public int Count => _queue.Count;

    public void Add(Activation activation) => _queue.Enqueue(activation, activation);

    public bool TryPop(out Activation activation)
    {
        while (_queue.TryDequeue(out activation!, out _))
        {
            if (!activation.Cancelled)
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>
/// Timers on event time: window expiries, event retention, throttle releases (issue 3 adds absence timers). An entry due at
/// <c>t</c> runs when the clock passes <c>t</c> (clock &gt; t), in (due, scheduling order) order, so runs are deterministic.
/// </summary>
internal sealed class TimerQueue
{
    private readonly PriorityQueue<(ITimerTarget Target, object? Payload, long Due), (long Due, long Sequence)> _queue = new();
    private long _sequence;

    public int Count => _queue.Count;

    public void Schedule(long due, ITimerTarget target, object? payload) => _queue.Enqueue((target, payload, due), (due, _sequence++));

    /// <summary>Runs every timer due before <paramref name="clock"/>.</summary>
    public void RunDue(SessionState session, long clock)
    {
        while (_queue.TryPeek(out var entry, out var priority) && priority.Due < clock)
        {
            _queue.Dequeue();
            entry.Target.OnTimer(session, entry.Payload, entry.Due);
        }
    }
}
