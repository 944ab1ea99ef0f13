using RuleFlow.Rules.Compilation;
using RuleFlow.Rules.Language;

namespace RuleFlow.Rules.Engine;

/// <summary>
/// The incremental state of one aggregate group: the events of its window ordered by (event time, recency), the accumulated value,
/// and the partial matches it currently extends. It is also the fact that partial matches carry for the aggregate element.
/// </summary>
internal sealed class AggregateGroup : AggregateResult, IReadOnlyList<DataFact>
{
    // The window, oldest first, in _inline[0.._n) while it holds up to three events (most groups hold one or two: no object of
    // their own), else all of it in _spill[0.._n), an array made from the fourth event on and dropped when the group empties.
    private const int InlineCapacity = 3;
    private Three<DataFact?> _inline;
    private DataFact?[]? _spill;
    private int _n;

    // The value each event added to the accumulator (sum, avg, min, max, distinct), parallel to the events: its removal takes
    // back exactly that, without reading the event again (a held event is compact text: reading it would parse it back into
    // a document for good, on every expiry). Standalone values: none refers to an event's JSON document. Null for count and
    // collect, whose groups are most of the groups there are: they pay one reference for it.
    private readonly KeptValues? _kept;

    // Also the group's accumulator: the functions that keep values are those that have one (count is the window's length, collect
    // reads the window), so both share the one reference.
    private sealed class KeptValues(IAccumulator accumulator)
    {
        public readonly IAccumulator Accumulator = accumulator;
        public Three<RuleValue> Inline;
        public RuleValue[]? Spill;
    }

    [System.Runtime.CompilerServices.InlineArray(InlineCapacity)]
    private struct Three<T>
    {
        private T _first;
    }

    // The output partial match made for each left one: while there is one, _output is that token and _singleLeft its left one; from
    // the second on, _output is a dictionary from left to output.
    private Token? _singleLeft;
    private object? _output;

    // The per key, detached and packed (24 bytes instead of 88: there is one per group).
    private CompactKey _per;

    public AggregateGroup(AggregateNode node, AggregateBucket bucket, JoinKey perKey)
    {
        Bucket = bucket;
        _per = CompactKey.From(perKey);
        _kept = node.Function is AggregateFunctionKind.Sum or AggregateFunctionKind.Avg or AggregateFunctionKind.Min
            or AggregateFunctionKind.Max or AggregateFunctionKind.Distinct ? new KeptValues(Accumulators.Create(node.Function)) : null;
    }

    public AggregateNode Node => Bucket.Node;

    /// <summary>The group changed in a change that tests aggregates at its end (the timers of a due time, a fact replacement): see <see cref="SessionState.DeferReevaluation"/>.</summary>
    internal bool ReevaluationPending;

    public AggregateBucket Bucket { get; private set; }

    public override JoinKey PerKey => _per.Key;

    /// <summary>The accumulator of sum, avg, min, max and distinct (null for count, which is the window's length, and collect, which reads the window).</summary>
    public IAccumulator? Accumulator => _kept?.Accumulator;

    /// <summary>
    /// Compares the groups of a node memory's buckets by their per key. A lookup goes through <see cref="Probe"/>, a group that stands
    /// for <see cref="ProbeKey"/>: the key read from an event or partial match, compared with the stored keys as it is (packing it would
    /// detach it, making strings, on every lookup).
    /// </summary>
    internal sealed class PerKeyComparer : IEqualityComparer<AggregateGroup>
    {
        /// <summary>The group that stands for <see cref="ProbeKey"/> in lookups (never stored in a set).</summary>
        public AggregateGroup? Probe;

        /// <summary>The key looked up; reset after each lookup so that no event document stays reachable from here.</summary>
        public JoinKey ProbeKey;

        public bool Equals(AggregateGroup? x, AggregateGroup? y)
        {
            if (ReferenceEquals(x, y))
            {
                return true;
            }

            if (x is null || y is null)
            {
                return false;
            }

            return ReferenceEquals(x, Probe) ? y._per.Matches(ProbeKey)
                : ReferenceEquals(y, Probe) ? x._per.Matches(ProbeKey)
                : x._per.Matches(y._per.Key);
        }

        public int GetHashCode(AggregateGroup obj) => ReferenceEquals(obj, Probe) ? ProbeKey.GetHashCode() : obj._per.Hash;
    }

    /// <summary>Makes an empty group of the pool the group of another key (groups churn: most keys hold few events).</summary>
    public void Reuse(AggregateBucket bucket, JoinKey perKey)
    {
        Bucket = bucket;
        _per = CompactKey.From(perKey);
        ClearEvents();
        _singleLeft = null;
        _output = null;
        _kept?.Accumulator.Clear(); // empty again, as a new one would be (nothing else holds it: results are read as values)
    }

    /// <summary>Events in the window, oldest first: the group itself, a live view (copy it to keep it).</summary>
    public override IReadOnlyList<DataFact> Events => this;

    /// <summary>Number of events in the window.</summary>
    public int Count => _n;

    /// <summary>The event at <paramref name="index"/> of the window, oldest first.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not in [0, <see cref="Count"/>).</exception>
    public DataFact this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _n);
            return EventSlots[index]!;
        }
    }

    /// <inheritdoc />
    public IEnumerator<DataFact> GetEnumerator()
    {
        for (var i = 0; i < _n; i++)
        {
            yield return this[i];
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The oldest event of the window (the group is not empty).</summary>
    public DataFact Oldest => this[0];

    public override RuleValue Value(EvalContext context) =>
        Node.Function == AggregateFunctionKind.Collect ? Node.Collect(this, context) : Accumulator?.Result ?? RuleValue.FromNumber(_n);

    public int OutputCount => _output switch
    {
        null => 0,
        Token => 1,
        _ => ((Dictionary<Token, Token>)_output).Count,
    };

    public bool TryGetOutput(Token left, out Token output)
    {
        if (_output is Token single)
        {
            output = ReferenceEquals(_singleLeft, left) ? single : null!;
            return output is not null;
        }

        if (_output is not null)
        {
            return ((Dictionary<Token, Token>)_output).TryGetValue(left, out output!);
        }

        output = null!;
        return false;
    }

    public void SetOutput(Token left, Token output)
    {
        if (_output is null)
        {
            _singleLeft = left;
            _output = output;
        }
        else if (_output is Token single)
        {
            _output = new Dictionary<Token, Token> { [_singleLeft!] = single, [left] = output };
            _singleLeft = null;
        }
        else
        {
            ((Dictionary<Token, Token>)_output)[left] = output;
        }
    }

    public bool RemoveOutput(Token left, out Token output)
    {
        if (_output is Token single)
        {
            if (!ReferenceEquals(_singleLeft, left))
            {
                output = null!;
                return false;
            }

            output = single;
            _output = null;
            _singleLeft = null;
            return true;
        }

        if (_output is not null)
        {
            return ((Dictionary<Token, Token>)_output).Remove(left, out output!);
        }

        output = null!;
        return false;
    }

    /// <summary>Adds an event entering the window with its value for the accumulator (<see cref="RuleValue.Missing"/> for count).</summary>
    public void Add(DataFact fact, RuleValue value)
    {
        Accumulator?.Add(value);
        var kept = _kept is null ? default : Standalone(value);

        // Events mostly arrive in time order: search from the end.
        var events = EventSlots;
        var i = _n;
        while (i > 0 && Compare(events[i - 1]!, fact) > 0)
        {
            i--;
        }

        InsertAt(i, fact, kept);
    }

    /// <summary>
    /// What the accumulator took from <paramref name="value"/>, as a value that refers to no event's JSON document: for sum, avg,
    /// min and max the finite number or nothing (they skip the rest); for distinct the detached key.
    /// </summary>
    private RuleValue Standalone(RuleValue value) => Node.Function == AggregateFunctionKind.Distinct
        ? value.Detach()
        : Accumulators.TryNumber(value, out var number) ? RuleValue.FromNumber(number) : RuleValue.Missing;

    /// <summary>Removes an event leaving the window, taking back from the accumulator the value it added.</summary>
    /// <returns>False when the event is not in this group.</returns>
    public bool Remove(DataFact fact)
    {
        var events = EventSlots;
        var lo = 0;
        var hi = _n - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var c = Compare(events[mid]!, fact);
            if (c == 0)
            {
                var kept = RemoveAt(mid); // (not inside Accumulator?.Remove(...): count has no accumulator, and the removal must happen)
                Accumulator?.Remove(kept);
                return true;
            }

            if (c < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return false;
    }

    // The slots in use: the inline ones, or the spill array once there is one. Values parallel the events (groups that keep values).
    private Span<DataFact?> EventSlots => _spill is not null ? _spill : _inline;

    private Span<RuleValue> ValueSlots => _kept!.Spill is not null ? _kept.Spill : _kept.Inline;

    private void InsertAt(int index, DataFact fact, RuleValue kept)
    {
        if (_n == (_spill?.Length ?? InlineCapacity))
        {
            Grow();
        }

        var events = EventSlots;
        events[index.._n].CopyTo(events[(index + 1)..]);
        events[index] = fact;
        if (_kept is not null)
        {
            var values = ValueSlots;
            values[index.._n].CopyTo(values[(index + 1)..]);
            values[index] = kept;
        }

        _n++;
    }

    /// <summary>Moves the events (and values) to a spill array twice as large as the slots in use, clearing the old ones.</summary>
    private void Grow()
    {
        var events = new DataFact?[2 * EventSlots.Length];
        EventSlots[.._n].CopyTo(events);
        EventSlots.Clear();
        _spill = events;
        if (_kept is not null)
        {
            var values = new RuleValue[events.Length];
            ValueSlots[.._n].CopyTo(values);
            ValueSlots.Clear();
            _kept.Spill = values;
        }
    }

    /// <summary>Removes the event at <paramref name="index"/>; returns the value it added to the accumulator (Missing for count and collect).</summary>
    private RuleValue RemoveAt(int index)
    {
        var events = EventSlots;
        events[(index + 1).._n].CopyTo(events[index..]);
        events[_n - 1] = null;
        RuleValue kept = default;
        if (_kept is not null)
        {
            var values = ValueSlots;
            kept = values[index];
            values[(index + 1).._n].CopyTo(values[index..]);
            values[_n - 1] = default;
        }

        _n--;
        if (_n == 0)
        {
            _spill = null; // an empty group goes back to its inline slots (it may serve another key from the pool)
            _kept?.Spill = null;
        }

        return kept;
    }

    /// <summary>Empties the window (a pooled group made the group of another key).</summary>
    private void ClearEvents()
    {
        EventSlots.Clear();
        _spill = null;
        if (_kept is not null)
        {
            ValueSlots.Clear();
            _kept.Spill = null;
        }

        _n = 0;
    }

    private static int Compare(DataFact a, DataFact b)
    {
        var byTime = a.Time.CompareTo(b.Time);
        return byTime != 0 ? byTime : a.Sequence.CompareTo(b.Sequence);
    }
}

/// <summary>The partial matches and groups that share one equality join key of an aggregate node.</summary>
internal sealed class AggregateBucket(AggregateNode node, JoinKey key, AggregateGroup.PerKeyComparer groupComparer)
{
    /// <summary>The node whose memory holds the bucket (its groups read it from here: one reference per bucket, not per group).</summary>
    public AggregateNode Node { get; } = node;

    public JoinKey Key { get; } = key;

    public List<Token> Tokens { get; } = [];

    /// <summary>
    /// The groups by per key: a set of groups compared by their <see cref="AggregateGroup.PerKey"/> (the key is kept once, in its
    /// group; looked up through the node memory's probe group, see <see cref="AggregateGroup.PerKeyComparer"/>).
    /// </summary>
    public HashSet<AggregateGroup> Groups { get; } = new(groupComparer);
}

/// <summary>Incremental aggregate function state: values are added when events enter the window and removed when they leave.</summary>
internal interface IAccumulator
{
    void Add(RuleValue value);

    void Remove(RuleValue value);

    /// <summary>Back to the empty state, for a pooled group reused for another key.</summary>
    void Clear();

    RuleValue Result { get; }
}

internal static class Accumulators
{
    public static IAccumulator Create(AggregateFunctionKind function) => function switch
    {
        AggregateFunctionKind.Count => new CountAccumulator(),
        AggregateFunctionKind.Sum => new SumAccumulator(average: false),
        AggregateFunctionKind.Avg => new SumAccumulator(average: true),
        AggregateFunctionKind.Min => new ExtremeAccumulator(max: false),
        AggregateFunctionKind.Max => new ExtremeAccumulator(max: true),
        AggregateFunctionKind.Distinct => new DistinctAccumulator(),
        _ => new CountAccumulator(),
    };

    public static bool TryNumber(RuleValue value, out double number)
    {
        if (value.Kind == ValueKind.Number)
        {
            number = value.Number;
            return true;
        }

        if (value.IsJsonNumber && value.Element.TryGetDouble(out number) && double.IsFinite(number))
        {
            return true; // 1e999 reads as infinity: not a number to add (nor one to take back)
        }

        number = 0;
        return false;
    }
}

/// <summary><c>count</c>: the number of events in the window.</summary>
internal sealed class CountAccumulator : IAccumulator
{
    private long _count;

    public RuleValue Result => RuleValue.FromNumber(_count);

    public void Add(RuleValue value) => _count++;

    public void Remove(RuleValue value) => _count--;

    public void Clear() => _count = 0;
}

/// <summary>
/// <c>sum</c> and <c>avg</c> of the numeric values (others are skipped). Integers are summed exactly (as 64-bit integers while they
/// fit); fractions in floating point, so adding and removing them can leave rounding of the order of 1e-15 relative.
/// </summary>
internal sealed class SumAccumulator(bool average) : IAccumulator
{
    private long _integers;
    private double _fractions;
    private long _count;

    public RuleValue Result => average
        ? _count == 0 ? RuleValue.Missing : RuleValue.FromNumber((_integers + _fractions) / _count)
        : RuleValue.FromNumber(_integers + _fractions);

    public void Add(RuleValue value)
    {
        if (Accumulators.TryNumber(value, out var n))
        {
            _count++;
            if (n == Math.Floor(n) && Math.Abs(n) < 1e15)
            {
                _integers += (long)n;
            }
            else
            {
                _fractions += n;
            }
        }
    }

    public void Remove(RuleValue value)
    {
        if (Accumulators.TryNumber(value, out var n))
        {
            _count--;
            if (n == Math.Floor(n) && Math.Abs(n) < 1e15)
            {
                _integers -= (long)n;
            }
            else
            {
                _fractions -= n;
            }

            if (_count == 0)
            {
                _fractions = 0;
            }
        }
    }

    public void Clear()
    {
        _integers = 0;
        _fractions = 0;
        _count = 0;
    }
}

/// <summary><c>min</c> / <c>max</c> of the numeric values: a sorted multiset, O(log n) per change.</summary>
internal sealed class ExtremeAccumulator(bool max) : IAccumulator
{
    private readonly SortedDictionary<double, int> _values = [];

    public RuleValue Result => _values.Count == 0 ? RuleValue.Missing : RuleValue.FromNumber(max ? _values.Keys.Last() : _values.Keys.First());

    public void Add(RuleValue value)
    {
        if (Accumulators.TryNumber(value, out var n))
        {
            _values[n] = _values.GetValueOrDefault(n) + 1;
        }
    }

    public void Remove(RuleValue value)
    {
        if (Accumulators.TryNumber(value, out var n) && _values.TryGetValue(n, out var count))
        {
            if (count <= 1)
            {
                _values.Remove(n);
            }
            else
            {
                _values[n] = count - 1;
            }
        }
    }

    public void Clear() => _values.Clear();
}

/// <summary><c>distinct</c>: the number of different values (missing values are skipped).</summary>
internal sealed class DistinctAccumulator : IAccumulator
{
    private readonly Dictionary<RuleValue, int> _values = [];

    public RuleValue Result => RuleValue.FromNumber(_values.Count);

    public void Add(RuleValue value)
    {
        var key = value.IsMissing ? value : value.Detach();
        if (!key.IsMissing) // a number out of range detaches to missing: skipped, as its removal is
        {
            _values[key] = _values.GetValueOrDefault(key) + 1;
        }
    }

    public void Remove(RuleValue value)
    {
        if (!value.IsMissing)
        {
            var key = value.Detach();
            if (_values.TryGetValue(key, out var count))
            {
                if (count <= 1)
                {
                    _values.Remove(key);
                }
                else
                {
                    _values[key] = count - 1;
                }
            }
        }
    }

    public void Clear()
    {
        _values.Clear();
        if (_values.EnsureCapacity(0) > 64)
        {
            _values.TrimExcess(); // a pooled group keeps no table sized for the largest key it once held
        }
    }
}

/// <summary>Window kinds of an aggregate.</summary>
internal sealed record AggregateWindow(long? SlidingTicks, long? TumblingTicks, int? Last)
{
    /// <summary>Expiry due time of an event (ticks), or null when only a length window bounds it.</summary>
    public long? ExpiryDue(long time)
    {
        if (SlidingTicks is { } d)
        {
            return time + d;
        }

        if (TumblingTicks is { } t)
        {
            return BucketEnd(time, t) - 1; // runs when the clock reaches the bucket's end
        }

        return null;
    }

    public static long BucketEnd(long time, long size)
    {
        var bucket = Math.DivRem(time, size, out var remainder);
        if (remainder < 0)
        {
            bucket--;
        }

        return (bucket + 1) * size;
    }

    /// <summary>True when an event with time <paramref name="time"/> is outside the window at <paramref name="clock"/>.</summary>
    public bool IsOutside(long time, long clock) => ExpiryDue(time) is { } due && clock > due;
}

/// <summary>
/// An aggregate (accumulate) node: for each partial match of its parent (left), aggregates the events of an alpha memory (right) that
/// join it on the equality key, within a window on event time — sliding (<c>within D</c>: an event with time t is in at clock c while
/// c − t ≤ D), tumbling (<c>every D</c>: aligned buckets [kD, (k+1)D)) and/or a length window (<c>last N</c>: the N most recent) —,
/// optionally split into groups by <c>per</c> fields, and passes (partial match + group result) on while the group's value passes the
/// test (e.g. <c>&gt;= 5</c>). Sliding-window semantics follow Drools Fusion's <c>over window:time</c> on event time.
/// <para>
/// State is incremental and shared: one group per (join key, per key), updated in O(log n) when an event enters, leaves the window
/// (a timer at its expiry) or is retracted. When a group changes, only the partial matches of its join key are re-tested. An output
/// exists while the test holds: a value change that keeps the test true is the same activation (it does not fire again); a test
/// that turns false and true again makes a new activation. Without <c>per</c>, a partial match always has its group (possibly
/// empty: count 0); with <c>per</c>, only non-empty groups exist.
/// </para>
/// </summary>
internal sealed class AggregateNode(
    int id,
    AlphaMemoryNode right,
    KeyFn? leftKey,
    KeyFn? rightKey,
    KeyFn? perKey,
    AggregateFunctionKind function,
    ValueFn? value,
    AggregateWindow window,
    ComparisonOp? op,
    ValueFn? threshold,
    bool thresholdIsConstant,
    string canonical) : BetaNode(id), IRightInput, ITimerTarget
{
    public AlphaMemoryNode Right { get; } = right;

    public AggregateFunctionKind Function { get; } = function;

    public AggregateWindow Window { get; } = window;

    public string Canonical { get; } = canonical;

    /// <summary>True when the node itself holds its events in working memory (a length window without a time window).</summary>
    public bool HoldsEvents => Window.Last is not null && Window.SlidingTicks is null && Window.TumblingTicks is null;

    internal sealed class Memory
    {
        public Dictionary<JoinKey, AggregateBucket> Buckets { get; } = [];

        public int GroupCount { get; set; }

        /// <summary>Empty groups kept for reuse (at most <see cref="PoolSize"/>).</summary>
        public Stack<AggregateGroup> Pool { get; } = new();

        /// <summary>The comparer of every bucket's groups, with the probe group that stands for the key of a lookup.</summary>
        public AggregateGroup.PerKeyComparer GroupComparer { get; } = new();

        public RuleValue ConstantThreshold;

        public bool ThresholdReady;
    }

    public override IEnumerable<Token> LeftTokens(SessionState session) =>
        session.PeekMemory<Memory>(Id)?.Buckets.Values.SelectMany(b => b.Tokens) ?? [];

    private RuleValue ValueOf(SessionState session, DataFact fact) =>
        value is null ? RuleValue.Missing : value(session.Context.Set(null, fact));

    public RuleValue Collect(AggregateGroup group, EvalContext context)
    {
        var items = new RuleValue[group.Count];
        var saveMatch = context.Match;
        var saveCurrent = context.Current;
        for (var i = 0; i < items.Length; i++)
        {
            var e = group.Events[i];
            items[i] = value is null ? RuleValue.FromElementRaw(e.Data) : value(context.Set(null, e));
            if (items[i].IsMissing)
            {
                items[i] = RuleValue.Null;
            }
        }

        context.Set(saveMatch, saveCurrent);
        return RuleValue.FromList(items);
    }

    private bool Test(SessionState session, AggregateGroup group, Token token)
    {
        if (op is not { } o)
        {
            return true;
        }

        RuleValue limit;
        if (thresholdIsConstant)
        {
            var memory = session.MemoryOf<Memory>(Id);
            if (!memory.ThresholdReady)
            {
                memory.ConstantThreshold = threshold!(session.Context.Set(null, null));
                memory.ThresholdReady = true;
            }

            limit = memory.ConstantThreshold;
        }
        else
        {
            limit = threshold!(session.Context.Set(token, null));
        }

        return ValueOps.Compare(group.Value(session.Context), limit, o);
    }

    private AggregateBucket GetOrCreateBucket(Memory memory, JoinKey key)
    {
        if (!memory.Buckets.TryGetValue(key, out var bucket))
        {
            key = key.Detach(); // the bucket may outlive the event or partial match the key was read from
            bucket = new AggregateBucket(this, key, memory.GroupComparer);
            memory.Buckets.Add(key, bucket);
        }

        return bucket;
    }

    private const int PoolSize = 4096;

    private bool TryGetGroup(Memory memory, AggregateBucket bucket, JoinKey per, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out AggregateGroup group)
    {
        var comparer = memory.GroupComparer;
        var probe = comparer.Probe ??= new AggregateGroup(this, null!, JoinKey.Unit);
        comparer.ProbeKey = per;
        try
        {
            return bucket.Groups.TryGetValue(probe, out group);
        }
        finally
        {
            comparer.ProbeKey = JoinKey.Unit; // keeps no reference to the event the key was read from
        }
    }

    private AggregateGroup GetOrCreateGroup(Memory memory, AggregateBucket bucket, JoinKey per)
    {
        if (!TryGetGroup(memory, bucket, per, out var group))
        {
            per = per.Detach(); // the group outlives the event its key was read from (held events keep no JSON document)
            if (memory.Pool.TryPop(out group))
            {
                group.Reuse(bucket, per);
            }
            else
            {
                group = new AggregateGroup(this, bucket, per);
            }

            bucket.Groups.Add(group);
            memory.GroupCount++;
        }

        return group;
    }

    public override void LeftActivate(SessionState session, Token token)
    {
        var memory = session.MemoryOf<Memory>(Id);
        var key = leftKey is null ? JoinKey.Unit : leftKey(session.Context.Set(token, null));
        if (key.HasMissing)
        {
            return;
        }

        var bucket = GetOrCreateBucket(memory, key);
        bucket.Tokens.Add(token);
        if (perKey is null)
        {
            Evaluate(session, GetOrCreateGroup(memory, bucket, JoinKey.Unit), token);
        }
        else
        {
            foreach (var group in bucket.Groups.ToArray())
            {
                Evaluate(session, group, token);
            }
        }
    }

    public override void LeftRetract(SessionState session, Token token)
    {
        var memory = session.MemoryOf<Memory>(Id);
        var key = leftKey is null ? JoinKey.Unit : leftKey(session.Context.Set(token, null));
        if (key.HasMissing || !memory.Buckets.TryGetValue(key, out var bucket))
        {
            return;
        }

        var i = bucket.Tokens.LastIndexOf(token);
        if (i >= 0)
        {
            bucket.Tokens.RemoveAt(i);
        }

        foreach (var group in bucket.Groups)
        {
            if (group.RemoveOutput(token, out var output))
            {
                session.DeleteToken(output);
            }
        }

        Cleanup(memory, bucket, null);
    }

    public void RightActivate(SessionState session, DataFact fact)
    {
        if (Window.IsOutside(fact.Time, session.ClockTicks))
        {
            return; // already outside the window
        }

        var context = session.Context.Set(null, fact);
        var key = rightKey is null ? JoinKey.Unit : rightKey(context);
        var per = perKey is null ? JoinKey.Unit : perKey(context);
        if (key.HasMissing || per.HasMissing)
        {
            return; // a missing join or group field matches nothing
        }

        var memory = session.MemoryOf<Memory>(Id);
        var bucket = GetOrCreateBucket(memory, key);
        var group = GetOrCreateGroup(memory, bucket, per);
        group.Add(fact, ValueOf(session, fact));
        fact.Group ??= group;
        if (Window.ExpiryDue(fact.Time) is { } due && !(fact.RetentionHold && Window.TumblingTicks is null && due == fact.Time + fact.Type.RetentionTicks))
        {
            // (When the event's retention ends exactly when it leaves this window, its release removes it: no timer of our own.)
            session.Timers.Schedule(due, Id, fact.Sequence, 0, this, fact.Keep());
        }

        if (HoldsEvents)
        {
            session.Hold(fact);
        }

        if (session.DeferGroupTests)
        {
            // A fact replacing another of its key: the old version leaves in the same change, so the group is tested (and a `last N`
            // window trimmed) once it has, and no other entry is pushed out for it.
            session.DeferReevaluation(group);
            return;
        }

        EvictBeyondLast(session, group);
        Reevaluate(session, group);
        if (group.Count == 0)
        {
            Cleanup(memory, bucket, group);
        }
    }

    public void RightRetract(SessionState session, DataFact fact) => Remove(session, fact, release: false);

    /// <summary>
    /// The event's retention ended while something else still holds it: take it out of this window if it leaves it now (the case
    /// where no timer of our own was scheduled).
    /// </summary>
    public void RetentionEnded(SessionState session, DataFact fact, long due)
    {
        if (Window.TumblingTicks is null && Window.ExpiryDue(fact.Time) == due)
        {
            Remove(session, fact, release: false);
        }
    }

    /// <summary>The window expiry of an event.</summary>
    public void OnTimer(SessionState session, object? payload, long due)
    {
        var fact = (DataFact)payload!;
        if (!fact.Retracted)
        {
            Remove(session, fact, release: false);
        }
    }

    private void Remove(SessionState session, DataFact fact, bool release)
    {
        var memory = session.MemoryOf<Memory>(Id);
        AggregateBucket bucket;
        AggregateGroup? group;
        if (fact.Group is { } known && ReferenceEquals(known.Node, this))
        {
            // The group the event entered (it is still in it: a group is reused only once empty): no key to read again.
            fact.Group = null;
            group = known;
            bucket = known.Bucket;
            if (!group.Remove(fact))
            {
                return;
            }
        }
        else
        {
            var context = session.Context.Set(null, fact);
            var key = rightKey is null ? JoinKey.Unit : rightKey(context);
            var per = perKey is null ? JoinKey.Unit : perKey(context);
            if (key.HasMissing || per.HasMissing)
            {
                return;
            }

            if (!memory.Buckets.TryGetValue(key, out bucket!) || !TryGetGroup(memory, bucket, per, out group)
                || !group.Remove(fact))
            {
                return;
            }
        }

        if (release && HoldsEvents)
        {
            session.Release(fact);
        }

        if (session.DeferGroupTests)
        {
            // Events that leave at one due time leave together: the group is tested once all of them have gone, so a value that
            // passes through a state on the way (a count of 4 going to 1 through 2, a sum going 1 → 6 → 1) makes no activation.
            session.DeferReevaluation(group);
            return;
        }

        Reevaluate(session, group);
        Cleanup(memory, bucket, group);
    }

    /// <summary>A <c>last N</c> window holding more than N: its oldest entries leave (released, not retracted, if they are facts).</summary>
    private void EvictBeyondLast(SessionState session, AggregateGroup group)
    {
        while (Window.Last is { } last && group.Count > last)
        {
            var oldest = group.Oldest;
            group.Remove(oldest);
            if (ReferenceEquals(oldest.Group, group))
            {
                oldest.Group = null;
            }

            if (HoldsEvents)
            {
                session.Release(oldest);
            }
        }
    }

    /// <summary>
    /// Tests <paramref name="group"/> once the change that deferred it is over: every event that left it in the timers of one due time
    /// has gone, or a replaced fact's new version is in and its old one out (a <c>last N</c> window is trimmed first, as the new
    /// version may not have had an old one in it). Called by the session before the agenda fires. Nothing when its bucket went
    /// meanwhile (its last partial match was retracted).
    /// </summary>
    internal void ReevaluateDeferred(SessionState session, AggregateGroup group)
    {
        var memory = session.MemoryOf<Memory>(Id);
        var bucket = group.Bucket;
        if (!memory.Buckets.TryGetValue(bucket.Key, out var current) || !ReferenceEquals(current, bucket)
            || !bucket.Groups.TryGetValue(group, out var same) || !ReferenceEquals(same, group))
        {
            return;
        }

        EvictBeyondLast(session, group);
        Reevaluate(session, group);
        Cleanup(memory, bucket, group);
    }

    private void Reevaluate(SessionState session, AggregateGroup group)
    {
        var tokens = group.Bucket.Tokens;
        for (var i = 0; i < tokens.Count; i++)
        {
            Evaluate(session, group, tokens[i]);
        }
    }

    private void Evaluate(SessionState session, AggregateGroup group, Token token)
    {
        if (token.Deleted)
        {
            return;
        }

        var pass = (perKey is null || group.Count > 0) && Test(session, group, token);
        var has = group.TryGetOutput(token, out var output);
        if (pass && !has)
        {
            group.SetOutput(token, Emit(session, token, group));
        }
        else if (!pass && has)
        {
            group.RemoveOutput(token, out _);
            session.DeleteToken(output);
        }
    }

    private void Cleanup(Memory memory, AggregateBucket bucket, AggregateGroup? changed)
    {
        if (perKey is not null && changed is not null && changed.Count == 0 && changed.OutputCount == 0)
        {
            // An empty per-group never passes, so it has no outputs left: forget it (and keep the object for another key).
            bucket.Groups.Remove(changed);
            memory.GroupCount--;
            if (memory.Pool.Count < PoolSize)
            {
                memory.Pool.Push(changed);
            }
        }

        if (bucket.Tokens.Count == 0)
        {
            var empty = true;
            foreach (var group in bucket.Groups)
            {
                if (group.Count > 0)
                {
                    empty = false;
                    break;
                }
            }

            if (empty)
            {
                memory.GroupCount -= bucket.Groups.Count;
                memory.Buckets.Remove(bucket.Key);
            }
        }
    }
}
