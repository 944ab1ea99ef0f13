namespace RuleFlow.Rules.Engine;

/// <summary>
/// The incremental state of one aggregate group: the events of its sliding window ordered by (event time, recency), the
/// accumulated value, and the partial matches it currently extends. Issue 3's other functions (sum, avg, min, max, distinct,
/// collect) plug in as <see cref="IAccumulator"/>s.
/// </summary>
internal sealed class AggregateGroup
{
    private readonly List<EventFact> _events = [];

    public AggregateGroup(AggregateBucket bucket, JoinKey perKey, IAccumulator accumulator, long sequence)
    {
        Bucket = bucket;
        PerKey = perKey;
        Accumulator = accumulator;
        Fact = new AggregateFact(this, sequence);
    }

    public AggregateBucket Bucket { get; }

    public JoinKey PerKey { get; }

    public IAccumulator Accumulator { get; }

    public AggregateFact Fact { get; }

    /// <summary>Events in the window, oldest first.</summary>
    public IReadOnlyList<EventFact> Events => _events;

    public RuleValue Value => Accumulator.Result;

    /// <summary>Left token → the output token (left token + this group's fact) made for it while the test holds.</summary>
    public Dictionary<Token, Token> Outputs { get; } = [];

    public void Add(EventFact fact)
    {
        // Events mostly arrive in time order: search from the end.
        var i = _events.Count;
        while (i > 0 && Compare(_events[i - 1], fact) > 0)
        {
            i--;
        }

        _events.Insert(i, fact);
        Accumulator.Add(fact);
    }

    public bool Remove(EventFact fact)
    {
        var lo = 0;
        var hi = _events.Count - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var c = Compare(_events[mid], fact);
            if (c == 0)
            {
                _events.RemoveAt(mid);
                Accumulator.Remove(fact);
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

    private static int Compare(EventFact a, EventFact b)
    {
        var byTime = a.Time.CompareTo(b.Time);
        return byTime != 0 ? byTime : a.Sequence.CompareTo(b.Sequence);
    }
}

/// <summary>The partial matches and groups that share one equality join key of an aggregate node.</summary>
internal sealed class AggregateBucket(JoinKey key)
{
    public JoinKey Key { get; } = key;

    public List<Token> Tokens { get; } = [];

    public Dictionary<JoinKey, AggregateGroup> Groups { get; } = [];
}

/// <summary>Incremental aggregate function state: events are added when they enter the window and removed when they leave.</summary>
internal interface IAccumulator
{
    void Add(EventFact fact);

    void Remove(EventFact fact);

    RuleValue Result { get; }
}

/// <summary><c>count</c>: the number of events in the window.</summary>
internal sealed class CountAccumulator : IAccumulator
{
    private long _count;

    public RuleValue Result => RuleValue.FromNumber(_count);

    public void Add(EventFact fact) => _count++;

    public void Remove(EventFact fact) => _count--;
}

/// <summary>
/// An aggregate (accumulate) node: for each partial match of its parent (left), aggregates the events of an alpha memory (right)
/// that join it on the equality key, within a sliding window on event time, optionally split into groups by <c>per</c> fields,
/// and passes (partial match + group result) on while the group's value passes the test (e.g. <c>&gt;= 5</c>).
/// <para>
/// State is incremental and shared: one group per (join key, per key), updated in O(log n) when an event enters, leaves the window
/// (a timer due at event time + window: an event with time t is in the window at clock c while c - t &lt;= window, inclusive) or is
/// retracted. When a group changes, only the partial matches of its join key are re-tested. An output exists while the test holds:
/// a value change that keeps the test true is the same activation (it does not fire again); a test that turns false and true
/// again makes a new activation. Without <c>per</c>, a partial match always has its group (possibly empty: count 0); with
/// <c>per</c>, only non-empty groups exist.
/// </para>
/// </summary>
internal sealed class AggregateNode(
    int id,
    AlphaMemoryNode right,
    Func<Token, JoinKey>? leftKey,
    Func<EventFact, JoinKey>? rightKey,
    Func<EventFact, JoinKey>? perKey,
    long windowTicks,
    Func<IAccumulator> createAccumulator,
    ComparisonOp? op,
    RuleValue threshold,
    string canonical) : BetaNode(id), IRightInput, ITimerTarget
{
    public AlphaMemoryNode Right { get; } = right;

    public long WindowTicks { get; } = windowTicks;

    public string Canonical { get; } = canonical;

    internal sealed class Memory
    {
        public Dictionary<JoinKey, AggregateBucket> Buckets { get; } = [];

        public int GroupCount { get; set; }
    }

    private bool Test(AggregateGroup group) => op is not { } o || ValueOps.Compare(group.Value, threshold, o);

    private AggregateBucket GetOrCreateBucket(Memory memory, JoinKey key)
    {
        if (!memory.Buckets.TryGetValue(key, out var bucket))
        {
            bucket = new AggregateBucket(key);
            memory.Buckets.Add(key, bucket);
        }

        return bucket;
    }

    private AggregateGroup GetOrCreateGroup(SessionState session, Memory memory, AggregateBucket bucket, JoinKey per)
    {
        if (!bucket.Groups.TryGetValue(per, out var group))
        {
            group = new AggregateGroup(bucket, per, createAccumulator(), session.NextSequence());
            bucket.Groups.Add(per, group);
            memory.GroupCount++;
        }

        return group;
    }

    public override void LeftActivate(SessionState session, Token token)
    {
        var memory = session.MemoryOf<Memory>(Id);
        var key = leftKey is null ? JoinKey.Unit : leftKey(token);
        var bucket = GetOrCreateBucket(memory, key);
        bucket.Tokens.Add(token);
        if (perKey is null)
        {
            Evaluate(session, GetOrCreateGroup(session, memory, bucket, JoinKey.Unit), token);
        }
        else
        {
            foreach (var group in bucket.Groups.Values)
            {
                Evaluate(session, group, token);
            }
        }
    }

    public override void LeftRetract(SessionState session, Token token)
    {
        var memory = session.MemoryOf<Memory>(Id);
        var key = leftKey is null ? JoinKey.Unit : leftKey(token);
        if (!memory.Buckets.TryGetValue(key, out var bucket))
        {
            return;
        }

        bucket.Tokens.Remove(token);
        foreach (var group in bucket.Groups.Values)
        {
            if (group.Outputs.Remove(token, out var output))
            {
                session.DeleteToken(output);
            }
        }

        Cleanup(memory, bucket, null);
    }

    public void RightActivate(SessionState session, EventFact fact)
    {
        if (session.ClockTicks - fact.Time > WindowTicks)
        {
            return; // already outside the window
        }

        var key = rightKey is null ? JoinKey.Unit : rightKey(fact);
        var per = perKey is null ? JoinKey.Unit : perKey(fact);
        if (key.HasMissing || per.HasMissing)
        {
            return; // a missing join or group field matches nothing
        }

        var memory = session.MemoryOf<Memory>(Id);
        var bucket = GetOrCreateBucket(memory, key);
        var group = GetOrCreateGroup(session, memory, bucket, per);
        group.Add(fact);
        session.Timers.Schedule(fact.Time + WindowTicks, this, fact);
        Reevaluate(session, group);
    }

    public void RightRetract(SessionState session, EventFact fact) => Remove(session, fact);

    /// <summary>The window expiry of an event (due = its time + window).</summary>
    public void OnTimer(SessionState session, object? payload, long due)
    {
        var fact = (EventFact)payload!;
        if (!fact.Retracted)
        {
            Remove(session, fact);
        }
    }

    private void Remove(SessionState session, EventFact fact)
    {
        var key = rightKey is null ? JoinKey.Unit : rightKey(fact);
        var per = perKey is null ? JoinKey.Unit : perKey(fact);
        if (key.HasMissing || per.HasMissing)
        {
            return;
        }

        var memory = session.MemoryOf<Memory>(Id);
        if (!memory.Buckets.TryGetValue(key, out var bucket) || !bucket.Groups.TryGetValue(per, out var group) || !group.Remove(fact))
        {
            return;
        }

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

        var pass = (perKey is null || group.Events.Count > 0) && Test(group);
        var has = group.Outputs.TryGetValue(token, out var output);
        if (pass && !has)
        {
            group.Outputs[token] = Emit(session, token, group.Fact);
        }
        else if (!pass && has)
        {
            group.Outputs.Remove(token);
            session.DeleteToken(output!);
        }
    }

    private void Cleanup(Memory memory, AggregateBucket bucket, AggregateGroup? changed)
    {
        if (perKey is not null && changed is not null && changed.Events.Count == 0)
        {
            // An empty per-group never passes, so it has no outputs left: forget it.
            bucket.Groups.Remove(changed.PerKey);
            memory.GroupCount--;
        }

        if (bucket.Tokens.Count == 0 && bucket.Groups.Values.All(g => g.Events.Count == 0))
        {
            memory.GroupCount -= bucket.Groups.Count;
            memory.Buckets.Remove(bucket.Key);
        }
    }
}
