using RuleFlow.Rules.Compilation;

namespace RuleFlow.Rules.Engine;

// The Rete network (C. L. Forgy, "Rete: A Fast Algorithm for the Many Pattern/Many Object Pattern Match Problem", Artificial
// Intelligence 19(1):17–37, 1982; memories, negation and tree-based removal after R. B. Doorenbos, "Production Matching for Large
// Learning Systems", CMU 1995). Nodes are immutable once built and shared by every session of a rule set; each node with state has
// an Id, and a session keeps that node's memory in SessionState.Memories[Id]. So one compiled network serves many sessions (server,
// rule tests, explain), and snapshots and reloads carry memories over by node identity (StructuralKey).

/// <summary>The equality a test checks, when it is <c>field == literal</c> on the event: such children are found by hash.</summary>
internal sealed record AlphaEquality(FieldPath Path, RuleValue Value);

/// <summary>
/// A node of the alpha network: a type node (no test) or a constant test on one event or fact. Children are shared between rules
/// when their condition's canonical text is equal; <see cref="Memory"/> is set where some pattern's conditions end. Children whose
/// test is <c>field == literal</c> are indexed by (field, value): an event reaches them by one hash lookup per field instead of one
/// test per child (hash dispatch on equality constants), so 1,000 rules testing <c>bucket == k</c> cost one lookup, not 1,000 tests.
/// </summary>
internal sealed class AlphaNode(string canonical, CondFn? test, int order)
{
    /// <summary>Below this many children on one field, testing them one by one is cheaper than hashing the event's value.</summary>
    private const int DispatchThreshold = 4;

    private readonly Dictionary<string, AlphaNode> _byCanonical = new(StringComparer.Ordinal);
    private readonly List<AlphaNode> _tested = [];
    private readonly List<Dispatch> _dispatch = [];

    private sealed class Dispatch(FieldPath path)
    {
        public FieldPath Path { get; } = path;

        public Dictionary<RuleValue, List<AlphaNode>> ByValue { get; } = [];

        public List<AlphaNode> All { get; } = [];
    }

    public string Canonical { get; } = canonical;

    public CondFn? Test { get; } = test;

    /// <summary>Creation order in the network (parents before children, rules in load order).</summary>
    public int Order { get; } = order;

    /// <summary>All children, in creation order.</summary>
    public List<AlphaNode> Children { get; } = [];

    public AlphaMemoryNode? Memory { get; set; }

    public AlphaNode GetOrAddChild(string canonical, Func<CondFn> compile, AlphaEquality? equality, ref int nextOrder)
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
            var dispatch = _dispatch.Find(d => d.Path.SameAs(equality.Path));
            if (dispatch is null)
            {
                dispatch = new Dispatch(equality.Path);
                _dispatch.Add(dispatch);
            }

            if (!dispatch.ByValue.TryGetValue(equality.Value, out var list))
            {
                list = [];
                dispatch.ByValue.Add(equality.Value, list);
            }

            list.Add(child);
            dispatch.All.Add(child);
        }

        return child;
    }

    /// <summary>
    /// Collects the alpha memories the fact reaches, in creation order. Iterative, so a pattern with any number of conditions
    /// cannot exhaust the stack.
    /// </summary>
    public void Propagate(EvalContext context, DataFact fact, List<AlphaMemoryNode> reached, Stack<AlphaNode> work)
    {
        context.Set(null, fact);
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
                if (child.Test!(context))
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
                        if (child.Test!(context))
                        {
                            work.Push(child);
                        }
                    }
                }
                else
                {
                    var value = dispatch.Path.Read(fact.Data);
                    if (!value.IsMissing && dispatch.ByValue.TryGetValue(value, out var children))
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

    /// <summary>Every alpha node below this one (for explanations and statistics).</summary>
    public IEnumerable<AlphaNode> Descendants()
    {
        var work = new Stack<AlphaNode>([this]);
        while (work.Count > 0)
        {
            foreach (var child in work.Pop().Children)
            {
                yield return child;
                work.Push(child);
            }
        }
    }
}

/// <summary>
/// An alpha memory: the facts of one type that pass one set of constant tests. It stores nothing itself: each successor (join,
/// negative, aggregate, temporal node) keeps its own hash-indexed right memory.
/// </summary>
internal sealed class AlphaMemoryNode(int id, string typeName, string canonical)
{
    public int Id { get; } = id;

    public string TypeName { get; } = typeName;

    /// <summary>Type and conditions (structural identity).</summary>
    public string Canonical { get; } = canonical;

    public List<IRightInput> Successors { get; } = [];

    /// <summary>Hash indexes of this memory's facts shared by its join nodes (one per right-side key), updated before any successor.</summary>
    public List<RightIndex> Indexes { get; } = [];
}

/// <summary>
/// The facts of one alpha memory indexed by one right-side join key, shared by every join node that reads that memory with that key
/// (so 100 rules joining events with the same 982 devices keep one index, not 100). Updated when a fact enters the memory, before
/// the memory's join nodes are activated; the join nodes are activated descendants first (Doorenbos 1995, §2.4.1), so a fact is
/// never joined twice with the same partial match.
/// </summary>
internal sealed class RightIndex(int id, KeyFn? key)
{
    public int Id { get; } = id;

    public KeyFn? Key { get; } = key;

    internal sealed class Memory
    {
        public Dictionary<JoinKey, List<DataFact>> Facts { get; } = [];
    }

    public void Add(SessionState session, DataFact fact)
    {
        var k = Key is null ? JoinKey.Unit : Key(session.Context.Set(null, fact));
        if (k.HasMissing)
        {
            return;
        }

        var facts = session.MemoryOf<Memory>(Id).Facts;
        if (!facts.TryGetValue(k, out var list))
        {
            list = [];
            facts.Add(k.Detach(), list); // the entry may outlive the document of the event the key was read from
        }

        list.Add(fact);
    }

    public void Remove(SessionState session, DataFact fact)
    {
        var k = Key is null ? JoinKey.Unit : Key(session.Context.Set(null, fact));
        var facts = session.MemoryOf<Memory>(Id).Facts;
        if (!k.HasMissing && facts.TryGetValue(k, out var list))
        {
            // Events mostly leave oldest first: look at the front before searching from the back.
            var i = list.Count > 0 && ReferenceEquals(list[0], fact) ? 0 : list.LastIndexOf(fact);
            if (i >= 0)
            {
                list.RemoveAt(i);
            }

            if (list.Count == 0)
            {
                facts.Remove(k);
            }
        }
    }

    public List<DataFact>? Lookup(SessionState session, JoinKey key) =>
        session.MemoryOf<Memory>(Id).Facts.TryGetValue(key, out var list) ? list : null;

    public IEnumerable<DataFact> All(SessionState session) => session.PeekMemory<Memory>(Id)?.Facts.Values.SelectMany(l => l) ?? [];
}

/// <summary>A node that receives facts from an alpha memory (right activations).</summary>
internal interface IRightInput
{
    void RightActivate(SessionState session, DataFact fact);

    void RightRetract(SessionState session, DataFact fact);

    /// <summary>
    /// Where this input comes in the network's order: a node's id × 2 (a node is made after its ancestors, so a higher id is never an
    /// ancestor), plus 1 for the satisfying side of a <c>forall</c>. A fact entering several alpha memories activates its inputs from
    /// the highest order down (descendants first) and leaves them from the lowest up (see <see cref="SessionState"/>).
    /// </summary>
    int ActivationOrder { get; }
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

    /// <summary>See <see cref="IRightInput.ActivationOrder"/>.</summary>
    public int ActivationOrder => Id * 2;

    public List<BetaNode> Children { get; } = [];

    /// <summary>
    /// Identity of the node independent of numbering: its parent's key and its own canonical text, hashed. Equal keys in two rule
    /// sets mean the node computes the same thing, so its saved state can be carried over.
    /// </summary>
    public string StructuralKey { get; set; } = "";

    /// <summary>The condition element index this node matches (its tokens have Length == Element + 1).</summary>
    public int Element { get; set; } = -1;

    /// <summary>The partial matches of the parent this node holds (its left memory), for explanations.</summary>
    public virtual IEnumerable<Token> LeftTokens(SessionState session) => [];

    /// <summary>A new partial match from the parent.</summary>
    public abstract void LeftActivate(SessionState session, Token token);

    /// <summary>A partial match of the parent is gone (its descendants were deleted already or are being deleted).</summary>
    public abstract void LeftRetract(SessionState session, Token token);

    /// <summary>Makes a child token of <paramref name="parent"/> with <paramref name="fact"/> and passes it to every child node.</summary>
    protected Token Emit(SessionState session, Token parent, Fact? fact)
    {
        var child = new Token(parent, fact, this);
        if (parent.Length > 0)
        {
            parent.LinkChild(child); // the root token is never deleted: its children need no list
        }

        if (fact is DataFact e)
        {
            Token.LinkToFact(e, child);
        }

        session.TokenCount++;
        session.TokensByNode[Id]++;
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

    protected static void AddTo<TItem>(Dictionary<JoinKey, List<TItem>> index, JoinKey key, TItem item)
    {
        if (!index.TryGetValue(key, out var list))
        {
            list = [];
            index.Add(key.Detach(), list); // the entry may outlive the document of the event the key was read from
        }

        list.Add(item);
    }

    protected static void RemoveFrom<TKey, TItem>(Dictionary<TKey, List<TItem>> index, TKey key, TItem item)
        where TKey : notnull
        where TItem : class
    {
        if (index.TryGetValue(key, out var list))
        {
            var i = list.LastIndexOf(item);
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
/// A join (two-input) node: partial matches of its parent (left) × facts of an alpha memory (right). Both memories are
/// hash-indexed on the equality join key (e.g. <c>src_ip == f.src_ip</c> joins by hash, never by scanning); other join tests
/// (<see cref="Residual"/>) run on the candidates of one bucket. A side whose key has a missing field joins nothing.
/// </summary>
internal sealed class JoinNode(int id, AlphaMemoryNode right, RightIndex index, KeyFn? leftKey, KeyFn? rightKey, CondFn? residual, string canonical)
    : BetaNode(id), IRightInput
{
    public AlphaMemoryNode Right { get; } = right;

    /// <summary>The shared index of the right memory by this node's right key.</summary>
    public RightIndex Index { get; } = index;

    public KeyFn? LeftKey { get; } = leftKey;

    public KeyFn? RightKey { get; } = rightKey;

    public CondFn? Residual { get; } = residual;

    public string Canonical { get; } = canonical;

    internal sealed class Memory
    {
        /// <summary>
        /// The left memory: one list per join key, found by the key the list holds (stored once, in the list: a dictionary would keep
        /// a second copy of it in its entry).
        /// </summary>
        public HashSet<TokenList> Left { get; } = new(TokenList.KeyComparer.Instance);

        private readonly TokenList _probe = new(null!, default);

        /// <summary>True when the lookup probe holds no key (between lookups it must not keep an event document alive).</summary>
        internal bool ProbeIsClear => _probe.Key.Count == 0;

        /// <summary>The list of <paramref name="key"/>, if any (looked up with a probe list, so the lookup allocates nothing).</summary>
        public bool TryGetList(JoinKey key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out TokenList list)
        {
            _probe.SetProbeKey(key);
            try
            {
                return Left.TryGetValue(_probe, out list);
            }
            finally
            {
                _probe.SetProbeKey(default); // let go of the event document the key may read from
            }
        }
    }

    /// <summary>
    /// The partial matches of one join key in the left memory, in insertion order, with the key (detached from the event it was read
    /// from). Most keys hold one token: it is kept in a field, and an array is made from the second token on.
    /// </summary>
    internal sealed class TokenList(JoinNode node, JoinKey key)
    {
        private Token? _single;
        private Token[]? _items;

        /// <summary>The join node whose left memory holds the list (a token finds its list, and the node, through <see cref="Token.LeftEntry"/>).</summary>
        public JoinNode Node { get; } = node;

        public JoinKey Key { get; private set; } = key;

        /// <summary>Sets the key of the memory's lookup probe; never called on a list in the memory (its set is hashed by the key).</summary>
        internal void SetProbeKey(JoinKey key) => Key = key;

        public int Count { get; private set; }

        /// <summary>The token at <paramref name="index"/> (0 ≤ index &lt; <see cref="Count"/>).</summary>
        public Token this[int index] => _items is null ? _single! : _items[index];

        public IEnumerable<Token> Tokens
        {
            get
            {
                for (var i = 0; i < Count; i++)
                {
                    yield return this[i];
                }
            }
        }

        public void Add(Token token)
        {
            if (_items is null)
            {
                if (Count == 0)
                {
                    _single = token;
                    Count = 1;
                    return;
                }

                _items = new Token[4];
                _items[0] = _single!;
                _single = null;
            }
            else if (Count == _items.Length)
            {
                Array.Resize(ref _items, Count * 2);
            }

            _items[Count++] = token;
        }

        /// <summary>Removes the last occurrence of <paramref name="token"/>, keeping the order of the others; false when it is not here.</summary>
        public bool Remove(Token token)
        {
            if (_items is null)
            {
                if (Count == 1 && ReferenceEquals(_single, token))
                {
                    _single = null;
                    Count = 0;
                    return true;
                }

                return false;
            }

            var i = Count == 0 ? -1 : Array.LastIndexOf(_items, token, Count - 1, Count);
            if (i < 0)
            {
                return false;
            }

            Array.Copy(_items, i + 1, _items, i, Count - i - 1);
            _items[--Count] = null!;
            return true;
        }

        /// <summary>Compares lists by their <see cref="Key"/>.</summary>
        internal sealed class KeyComparer : IEqualityComparer<TokenList>
        {
            public static readonly KeyComparer Instance = new();

            public bool Equals(TokenList? x, TokenList? y) => ReferenceEquals(x, y) || (x is not null && y is not null && x.Key.Equals(y.Key));

            public int GetHashCode(TokenList obj) => obj.Key.GetHashCode();
        }
    }

    public override IEnumerable<Token> LeftTokens(SessionState session) =>
        session.PeekMemory<Memory>(Id)?.Left.SelectMany(l => l.Tokens) ?? [];

    public override void LeftActivate(SessionState session, Token token)
    {
        var key = LeftKey is null ? JoinKey.Unit : LeftKey(session.Context.Set(token, null));
        if (key.HasMissing)
        {
            return;
        }

        var memory = session.MemoryOf<Memory>(Id);
        if (!memory.TryGetList(key, out var list))
        {
            list = new TokenList(this, key.Detach()); // the list may outlive the document of the event the key was read from
            memory.Left.Add(list);
        }

        list.Add(token);
        if (token.LeftEntry is null)
        {
            // Its removal needs no key (reading it again would parse a held event's text back).
            token.LeftEntry = list;
        }
        if (Index.Lookup(session, key) is { } facts)
        {
            for (var i = 0; i < facts.Count && !token.Deleted; i++)
            {
                var fact = facts[i];
                if (fact.Retracted)
                {
                    continue; // being retracted (its index entry goes last): a match made now would outlive it
                }

                if (Residual is null || Residual(session.Context.Set(token, fact)))
                {
                    Emit(session, token, fact);
                }
            }
        }
    }

    public override void LeftRetract(SessionState session, Token token)
    {
        var memory = session.MemoryOf<Memory>(Id);
        TokenList? list;
        if (token.LeftEntry is { } entry && ReferenceEquals(entry.Node, this))
        {
            list = entry;
        }
        else
        {
            var key = LeftKey is null ? JoinKey.Unit : LeftKey(session.Context.Set(token, null));
            if (key.HasMissing || !memory.TryGetList(key, out list))
            {
                return;
            }
        }

        if (!list.Remove(token))
        {
            return; // not (or no longer) here: the list may be an emptied one whose key a live list now holds
        }

        if (list.Count == 0)
        {
            memory.Left.Remove(list); // by key: removes this list (an emptied list is never in the set with a live one of its key)
        }
    }

    public void RightActivate(SessionState session, DataFact fact)
    {
        var key = RightKey is null ? JoinKey.Unit : RightKey(session.Context.Set(null, fact));
        if (key.HasMissing || session.PeekMemory<Memory>(Id) is not { } memory)
        {
            return;
        }

        if (memory.TryGetList(key, out var tokens))
        {
            for (var i = 0; i < tokens.Count && !fact.Retracted; i++)
            {
                var token = tokens[i];
                if (Residual is null || Residual(session.Context.Set(token, fact)))
                {
                    Emit(session, token, fact);
                }
            }
        }
    }

    public void RightRetract(SessionState session, DataFact fact)
    {
        // The shared index forgets the fact; its partial matches were deleted with it.
    }
}

/// <summary>
/// A negative node (Doorenbos 1995, §2.7) for <c>not pattern</c>, or its mirror for <c>exists pattern</c>: for each partial match
/// it counts the facts of the alpha memory that join it (hash-indexed like a join), and passes the match on (with no fact of its
/// own) while the count is zero (<c>not</c>) or above zero (<c>exists</c>, once, whatever the count).
/// </summary>
internal sealed class NegativeNode(int id, AlphaMemoryNode right, KeyFn? leftKey, KeyFn? rightKey, CondFn? residual, bool exists, string canonical)
    : BetaNode(id), IRightInput
{
    public AlphaMemoryNode Right { get; } = right;

    public bool IsExists { get; } = exists;

    public string Canonical { get; } = canonical;

    internal sealed class Entry(Token token)
    {
        public Token Token { get; } = token;

        public int Count { get; set; }

        public Token? Output { get; set; }
    }

    internal sealed class Memory
    {
        public Dictionary<JoinKey, List<Entry>> Left { get; } = [];

        public Dictionary<Token, Entry> Entries { get; } = [];

        public Dictionary<JoinKey, List<DataFact>> Right { get; } = [];
    }

    private bool Passes(Entry entry) => IsExists ? entry.Count > 0 : entry.Count == 0;

    public override IEnumerable<Token> LeftTokens(SessionState session) => (IEnumerable<Token>?)session.PeekMemory<Memory>(Id)?.Entries.Keys ?? [];

    public override void LeftActivate(SessionState session, Token token)
    {
        var key = leftKey is null ? JoinKey.Unit : leftKey(session.Context.Set(token, null));
        if (key.HasMissing)
        {
            // A missing join field joins nothing: for 'not' the match passes, for 'exists' it never does.
            if (!IsExists)
            {
                var lone = new Entry(token);
                session.MemoryOf<Memory>(Id).Entries[token] = lone;
                lone.Output = Emit(session, token, null);
            }

            return;
        }

        var memory = session.MemoryOf<Memory>(Id);
        var entry = new Entry(token);
        AddTo(memory.Left, key, entry);
        memory.Entries[token] = entry;
        if (memory.Right.TryGetValue(key, out var facts))
        {
            foreach (var fact in facts)
            {
                if (residual is null || residual(session.Context.Set(token, fact)))
                {
                    entry.Count++;
                }
            }
        }

        if (Passes(entry))
        {
            entry.Output = Emit(session, token, null);
        }
    }

    public override void LeftRetract(SessionState session, Token token)
    {
        var memory = session.MemoryOf<Memory>(Id);
        if (!memory.Entries.Remove(token, out var entry))
        {
            return;
        }

        var key = leftKey is null ? JoinKey.Unit : leftKey(session.Context.Set(token, null));
        if (!key.HasMissing)
        {
            RemoveFrom(memory.Left, key, entry);
        }
    }

    public void RightActivate(SessionState session, DataFact fact)
    {
        var key = rightKey is null ? JoinKey.Unit : rightKey(session.Context.Set(null, fact));
        if (key.HasMissing)
        {
            return;
        }

        var memory = session.MemoryOf<Memory>(Id);
        AddTo(memory.Right, key, fact);
        if (!memory.Left.TryGetValue(key, out var entries))
        {
            return;
        }

        foreach (var entry in entries.ToArray())
        {
            if (entry.Token.Deleted || (residual is not null && !residual(session.Context.Set(entry.Token, fact))))
            {
                continue;
            }

            entry.Count++;
            if (entry.Count == 1)
            {
                if (IsExists)
                {
                    entry.Output = Emit(session, entry.Token, null);
                }
                else if (entry.Output is { } output)
                {
                    entry.Output = null;
                    session.DeleteToken(output);
                }
            }
        }
    }

    public void RightRetract(SessionState session, DataFact fact)
    {
        var key = rightKey is null ? JoinKey.Unit : rightKey(session.Context.Set(null, fact));
        if (key.HasMissing)
        {
            return;
        }

        var memory = session.MemoryOf<Memory>(Id);
        RemoveFrom(memory.Right, key, fact);
        if (!memory.Left.TryGetValue(key, out var entries))
        {
            return;
        }

        foreach (var entry in entries.ToArray())
        {
            if (entry.Token.Deleted || (residual is not null && !residual(session.Context.Set(entry.Token, fact))))
            {
                continue;
            }

            entry.Count--;
            if (entry.Count == 0)
            {
                if (IsExists)
                {
                    if (entry.Output is { } output)
                    {
                        entry.Output = null;
                        session.DeleteToken(output);
                    }
                }
                else
                {
                    entry.Output = Emit(session, entry.Token, null);
                }
            }
        }
    }
}

/// <summary>
/// <c>forall each =&gt; satisfies</c>, i.e. <c>not (each and not satisfies)</c> (Drools semantics: true when there is no item).
/// For each partial match it checks that every fact of the first pattern joining the match has a fact of the second pattern
/// joining both. Recomputed for every partial match when either side changes: O(left × each × satisfies) per change, meant for
/// facts and small sets.
/// </summary>
internal sealed class ForallNode(int id, AlphaMemoryNode each, AlphaMemoryNode satisfies, CondFn? eachTest, CondFn? satisfiesTest, string canonical)
    : BetaNode(id)
{
    public AlphaMemoryNode EachMemory { get; } = each;

    public AlphaMemoryNode SatisfiesMemory { get; } = satisfies;

    public string Canonical { get; } = canonical;

    public IRightInput EachInput => new Input(this, true);

    public IRightInput SatisfiesInput => new Input(this, false);

    internal sealed class Memory
    {
        public Dictionary<Token, Token?> Left { get; } = [];

        public List<DataFact> Each { get; } = [];

        public List<DataFact> Satisfies { get; } = [];
    }

    private sealed class Input : IRightInput
    {
        private readonly ForallNode _node;
        private readonly bool _isEach;

        public Input(ForallNode node, bool isEach)
        {
            _node = node;
            _isEach = isEach;
        }

        // A fact on both sides enters the satisfying side first and leaves it last, so the forall does not fail on the way.
        public int ActivationOrder => (_node.Id * 2) + (_isEach ? 0 : 1);

        public void RightActivate(SessionState session, DataFact fact)
        {
            var memory = session.MemoryOf<Memory>(_node.Id);
            (_isEach ? memory.Each : memory.Satisfies).Add(fact);
            _node.Recompute(session, memory);
        }

        public void RightRetract(SessionState session, DataFact fact)
        {
            var memory = session.MemoryOf<Memory>(_node.Id);
            (_isEach ? memory.Each : memory.Satisfies).Remove(fact);
            _node.Recompute(session, memory);
        }
    }

    private bool Holds(SessionState session, Memory memory, Token token)
    {
        var context = session.Context;
        foreach (var item in memory.Each)
        {
            if (eachTest is not null && !eachTest(context.Set(token, item)))
            {
                continue;
            }

            var found = false;
            foreach (var candidate in memory.Satisfies)
            {
                context.Set(token, candidate);
                context.ForallItem = item;
                var ok = satisfiesTest is null || satisfiesTest(context);
                context.ForallItem = null;
                if (ok)
                {
                    found = true;
                    break;
                }
            }

            if (!found)
            {
                return false;
            }
        }

        return true;
    }

    private void Recompute(SessionState session, Memory memory)
    {
        foreach (var token in memory.Left.Keys.ToArray())
        {
            if (token.Deleted)
            {
                continue;
            }

            var holds = Holds(session, memory, token);
            var output = memory.Left[token];
            if (holds && output is null)
            {
                memory.Left[token] = Emit(session, token, null);
            }
            else if (!holds && output is not null)
            {
                memory.Left[token] = null;
                session.DeleteToken(output);
            }
        }
    }

    public override void LeftActivate(SessionState session, Token token)
    {
        var memory = session.MemoryOf<Memory>(Id);
        memory.Left[token] = null;
        if (Holds(session, memory, token))
        {
            memory.Left[token] = Emit(session, token, null);
        }
    }

    public override void LeftRetract(SessionState session, Token token) => session.MemoryOf<Memory>(Id).Left.Remove(token);

    public override IEnumerable<Token> LeftTokens(SessionState session) => (IEnumerable<Token>?)session.PeekMemory<Memory>(Id)?.Left.Keys ?? [];
}

/// <summary>
/// The terminal node of one rule: a partial match that reaches it is an activation, put on the agenda; when the match is
/// retracted the activation goes (unfired) or is forgotten (fired). The rule's storm-control state lives in its memory.
/// </summary>
internal sealed class TerminalNode(int id, CompiledRule rule) : BetaNode(id), ITimerTarget
{
    public CompiledRule Rule { get; } = rule;

    /// <summary>Binding names by element index (null where unnamed), for batched matches' JSON.</summary>
    public IReadOnlyList<string> BindingNames { get; } = [.. rule.Bound.Elements.Select(e => e.Name!)];

    public void OnTimer(SessionState session, object? payload, long due) => session.OnStormTimer(this, (StormTimer)payload!, due);

    /// <summary>The beta nodes of this rule, one per condition element, in element order.</summary>
    public IReadOnlyList<BetaNode> Chain { get; set; } = [];

    public override IEnumerable<Token> LeftTokens(SessionState session) => (IEnumerable<Token>?)session.PeekMemory<Memory>(Id)?.Activations.Keys ?? [];

    internal sealed class Memory
    {
        public Dictionary<Token, Activation> Activations { get; } = [];

        public StormState Storm { get; } = new();
    }

    public override void LeftActivate(SessionState session, Token token)
    {
        var activation = new Activation(this, token, session.NextActivationSequence(), session.ChangeTime) { FromTimer = session.InTimer };
        session.MemoryOf<Memory>(Id).Activations[token] = activation;
        session.ActivationsCreated++;
        if (session.Restoring || session.IsNoLoop(this, token))
        {
            activation.Fired = true; // re-derived while restoring (it fired before the snapshot), or the rule's own update (no-loop)
            return;
        }

        session.Agenda.Add(activation);
    }

    public override void LeftRetract(SessionState session, Token token)
    {
        if (session.MemoryOf<Memory>(Id).Activations.Remove(token, out var activation))
        {
            activation.Cancelled = true;
        }
    }
}

/// <summary>A rule instantiation waiting on the agenda: a complete match of a rule.</summary>
internal sealed class Activation(TerminalNode terminal, Token token, long sequence, long time)
{
    public TerminalNode Terminal { get; } = terminal;

    public CompiledRule Rule => Terminal.Rule;

    public Token Token { get; } = token;

    /// <summary>Creation order (the last tie-breaker).</summary>
    public long Sequence { get; } = sequence;

    /// <summary>
    /// Event time of the working-memory change that made it (ticks); for a match made before the clock started (an empty window,
    /// facts alone) and still waiting then, the clock's first value (<see cref="Agenda.StartClock"/>).
    /// </summary>
    public long Time { get; private set; } = time;

    /// <summary>Gives an activation made before the clock started the clock's first value as its time.</summary>
    public void StartClock(long clock) => Time = clock;

    private long[]? _recency;

    /// <summary>Recency (OPS5 LEX): the match's fact sequences, largest first (computed when first compared).</summary>
    public long[] Recency => _recency ??= MatchReader.Recency(Token);

    /// <summary>True when a timer's working-memory change made it (absence, silence, expiry): its id includes <see cref="Time"/>.</summary>
    public bool FromTimer { get; init; }

    public bool Cancelled { get; set; }

    /// <summary>Taken off the agenda: fired, or suppressed or batched by storm control (see the two below).</summary>
    public bool Fired { get; set; }

    /// <summary>Taken off the agenda and suppressed by the rule's throttle (not known for activations restored from a snapshot).</summary>
    public bool Suppressed { get; set; }

    /// <summary>Taken off the agenda into a storm-control batch (not known for activations restored from a snapshot).</summary>
    public bool Batched { get; set; }
}

/// <summary>
/// The agenda (conflict set): pending activations in conflict-resolution order — salience (rule priority, higher first), then
/// recency as in OPS5's LEX strategy (Forgy, "OPS5 User's Manual", CMU 1981: compare the matches' fact insertion numbers, largest
/// first, element by element; the more recent match first), then the rule's load order, then creation order. Refraction: an
/// activation is fired at most once; a retracted one is skipped. The order depends only on working memory, not on the order in
/// which the network happened to make the activations, so a session restored from a snapshot fires in the same order.
/// </summary>
internal sealed class Agenda
{
    private sealed class Order : IComparer<Activation>
    {
        public static Order Instance { get; } = new();

        public int Compare(Activation? x, Activation? y)
        {
            var c = y!.Rule.Priority.CompareTo(x!.Rule.Priority);
            if (c != 0)
            {
                return c;
            }

            var a = x.Recency;
            var b = y.Recency;
            for (var i = 0; i < Math.Min(a.Length, b.Length); i++)
            {
                c = b[i].CompareTo(a[i]);
                if (c != 0)
                {
                    return c;
                }
            }

            c = b.Length.CompareTo(a.Length);
            if (c != 0)
            {
                return c;
            }

            c = x.Rule.Order.CompareTo(y.Rule.Order);
            return c != 0 ? c : y.Sequence.CompareTo(x.Sequence);
        }
    }

    private readonly PriorityQueue<Activation, Activation> _queue = new(Order.Instance);

    public int Count => _queue.Count;

    public void Add(Activation activation) => _queue.Enqueue(activation, activation);

    /// <summary>
    /// The clock's first value: the activations waiting then were all made before it (by facts or an empty window: the clock starts
    /// before the change that starts it propagates), and take it as their time, as facts inserted then do. The order does not read
    /// the time.
    /// </summary>
    public void StartClock(long clock)
    {
        foreach (var (activation, _) in _queue.UnorderedItems)
        {
            activation.StartClock(clock);
        }
    }

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

    public void Clear() => _queue.Clear();
}

/// <summary>Ordering of timers: due time, then a node order, then two keys that make the order independent of scheduling.</summary>
internal readonly record struct TimerKey(long Due, int Order, long A, long B) : IComparable<TimerKey>
{
    public int CompareTo(TimerKey other)
    {
        var c = Due.CompareTo(other.Due);
        if (c != 0)
        {
            return c;
        }

        c = Order.CompareTo(other.Order);
        if (c != 0)
        {
            return c;
        }

        c = A.CompareTo(other.A);
        return c != 0 ? c : B.CompareTo(other.B);
    }
}

/// <summary>
/// Timers on event time: window expiries, event retention, absence deadlines, silences, storm-control batches and cleanups. An
/// entry due at <c>t</c> runs when the clock passes <c>t</c> (clock &gt; t), in (due, node, key) order — an order that depends only on
/// what is scheduled, not on when it was scheduled, so a restored session runs its timers in the same order.
/// </summary>
internal sealed class TimerQueue
{
    private readonly PriorityQueue<(ITimerTarget Target, object? Payload, long Due), TimerKey> _queue = new();
    private readonly Dictionary<object, Lane> _lanes = new(ReferenceEqualityComparer.Instance);
    private Lane[] _laneList = [];
    private int _laneCount;

    /// <summary>
    /// Timers scheduled in their own order (the retention releases of one event type: events arrive in time order, so their
    /// releases do): a ring buffer, O(1) to schedule and to run, instead of a heap entry each. An entry that would come before
    /// the lane's last goes to the heap; runs merge the heap and the lanes in (due, node, key) order. The target, node order and
    /// second key are the lane's (one retention lane per event type has the same for all), so an entry is 24 bytes: its payload,
    /// due time and first key.
    /// </summary>
    private sealed class Lane(ITimerTarget target, int order, long b)
    {
        private (object? Payload, long Due, long A)[] _items = new (object?, long, long)[16];
        private int _head;

        public ITimerTarget Target { get; } = target;

        public int Order { get; } = order;

        public long B { get; } = b;

        public int Count { get; private set; }

        public bool TryAppend(object? payload, TimerKey key)
        {
            if (Count > 0 && KeyOf(_items[(_head + Count - 1) & (_items.Length - 1)]).CompareTo(key) > 0)
            {
                return false;
            }

            if (Count == _items.Length)
            {
                var grown = new (object?, long, long)[_items.Length * 2];
                for (var i = 0; i < Count; i++)
                {
                    grown[i] = _items[(_head + i) & (_items.Length - 1)];
                }

                _items = grown;
                _head = 0;
            }

            _items[(_head + Count) & (_items.Length - 1)] = (payload, key.Due, key.A);
            Count++;
            return true;
        }

        private TimerKey KeyOf((object? Payload, long Due, long A) item) => new(item.Due, Order, item.A, B);

        public TimerKey PeekKey => KeyOf(_items[_head]);

        public object? Dequeue()
        {
            var item = _items[_head];
            _items[_head] = default;
            _head = (_head + 1) & (_items.Length - 1);
            Count--;
            if (Count == 0)
            {
                _head = 0;
            }

            return item.Payload;
        }

        public void Clear()
        {
            Array.Clear(_items);
            _head = 0;
            Count = 0;
        }
    }

    public int Count => _queue.Count + _laneCount;

    public void Schedule(long due, int order, long a, long b, ITimerTarget target, object? payload) =>
        _queue.Enqueue((target, payload, due), new TimerKey(due, order, a, b));

    /// <summary>
    /// Schedules a timer that usually comes after every timer scheduled before it on the same <paramref name="lane"/> (same order
    /// of runs as <see cref="Schedule"/>; cheaper when it does and has the target, order and <paramref name="b"/> of the lane's first
    /// timer, else it goes to the heap).
    /// </summary>
    public void ScheduleInLane(object lane, long due, int order, long a, long b, ITimerTarget target, object? payload)
    {
        if (!_lanes.TryGetValue(lane, out var entries))
        {
            entries = new Lane(target, order, b);
            _lanes.Add(lane, entries);
            _laneList = [.. _laneList, entries];
        }

        var key = new TimerKey(due, order, a, b);
        if (ReferenceEquals(entries.Target, target) && entries.Order == order && entries.B == b && entries.TryAppend(payload, key))
        {
            _laneCount++;
        }
        else
        {
            _queue.Enqueue((target, payload, due), key);
        }
    }

    /// <summary>The earliest due time, if any.</summary>
    public bool TryPeekDue(out long due)
    {
        var found = TryPeekFirst(out var key, out _);
        due = found ? key.Due : 0;
        return found;
    }

    /// <summary>The first timer: from the heap (lane null) or from a lane.</summary>
    private bool TryPeekFirst(out TimerKey first, out Lane? lane)
    {
        var found = _queue.TryPeek(out _, out first);
        lane = null;
        if (_laneCount == 0)
        {
            return found;
        }

        foreach (var candidate in _laneList)
        {
            if (candidate.Count > 0 && (!found || candidate.PeekKey.CompareTo(first) < 0))
            {
                first = candidate.PeekKey;
                lane = candidate;
                found = true;
            }
        }

        return found;
    }

    /// <summary>Runs every timer of the earliest due time when it is before <paramref name="clock"/>; false when none is due.</summary>
    public bool RunNextGroup(SessionState session, long clock, out long due)
    {
        if (!TryPeekFirst(out var first, out _) || first.Due >= clock)
        {
            due = 0;
            return false;
        }

        due = first.Due;
        while (TryPeekFirst(out var key, out var lane) && key.Due == due)
        {
            ITimerTarget target;
            object? payload;
            if (lane is null)
            {
                (target, payload, _) = _queue.Dequeue();
            }
            else
            {
                target = lane.Target;
                payload = lane.Dequeue();
                _laneCount--;
            }

            target.OnTimer(session, payload, due);
        }

        return true;
    }

    public void Clear()
    {
        _queue.Clear();
        foreach (var lane in _laneList)
        {
            lane.Clear();
        }

        _laneCount = 0;
    }
}
