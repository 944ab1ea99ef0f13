using RuleFlow.Rules.Compilation;

namespace RuleFlow.Rules.Engine;

/// <summary>
/// Absence after a match: <c>not pattern within D</c> (Drools Fusion's <c>not ... over window</c> after an event, timer-driven). For
/// each partial match, with reference time r = the latest time of its events and facts, it waits until r + D on event time; if no
/// fact of the pattern joining the match comes after it (time in (r, r + D], or time r and inserted after the match's last fact) by
/// then, the match passes on
/// (with no fact of its own) when the clock passes r + D. A matching event that arrives later than that does not undo it. Events
/// of the pattern that arrive before the match are seen only while working memory holds them (their type's retention, or the
/// allowed lateness).
/// </summary>
internal sealed class AbsenceNode(int id, AlphaMemoryNode right, KeyFn? leftKey, KeyFn? rightKey, CondFn? residual, long windowTicks, string canonical)
    : BetaNode(id), IRightInput, ITimerTarget
{
    public AlphaMemoryNode Right { get; } = right;

    public long WindowTicks { get; } = windowTicks;

    public string Canonical { get; } = canonical;

    internal sealed class Pending(Token token, long reference, long deadline)
    {
        public Token Token { get; } = token;

        /// <summary>Start of the wait (ticks); <see cref="long.MinValue"/> while it waits for the clock to start (facts only).</summary>
        public long Reference { get; set; } = reference;

        public long Deadline { get; set; } = deadline;

        public bool Resolved { get; set; }

        public Token? Output { get; set; }

        /// <summary>True while the node holds the match's events in working memory (so the match lives until it is decided).</summary>
        public bool Holding { get; set; }
    }

    /// <summary>Timer payload: release the events of a decided match one tick after its deadline (after it fired).</summary>
    private sealed record Release(Pending Pending);

    private static void Hold(SessionState session, Pending pending)
    {
        pending.Holding = true;
        for (var t = pending.Token; t is not null; t = t.Parent)
        {
            if (t.Fact is DataFact { IsFact: false } e)
            {
                session.Hold(e);
            }
        }
    }

    private static void Unhold(SessionState session, Pending pending)
    {
        if (!pending.Holding)
        {
            return;
        }

        pending.Holding = false;
        var events = new List<DataFact>();
        for (var t = pending.Token; t is not null; t = t.Parent)
        {
            if (t.Fact is DataFact { IsFact: false } e)
            {
                events.Add(e);
            }
        }

        foreach (var e in events)
        {
            session.Release(e);
        }
    }

    internal sealed class Memory
    {
        public Dictionary<JoinKey, List<Pending>> Left { get; } = [];

        public Dictionary<Token, Pending> Entries { get; } = [];

        public Dictionary<JoinKey, List<DataFact>> Right { get; } = [];
    }

    public override IEnumerable<Token> LeftTokens(SessionState session) => (IEnumerable<Token>?)session.PeekMemory<Memory>(Id)?.Entries.Keys ?? [];

    /// <summary>
    /// An event resolves a pending match when it comes after the match — later in event time, or at the same time but inserted after
    /// the match's last fact (the order of sequences) — no later than the deadline, and joins it.
    /// </summary>
    private bool Resolves(SessionState session, Pending pending, DataFact fact) =>
        (fact.Time > pending.Reference || (fact.Time == pending.Reference && fact.Sequence > pending.Token.MaxSequence()))
        && fact.Time <= pending.Deadline && !pending.Token.Contains(fact)
        && (residual is null || residual(session.Context.Set(pending.Token, fact)));

    public override void LeftActivate(SessionState session, Token token)
    {
        var key = leftKey is null ? JoinKey.Unit : leftKey(session.Context.Set(token, null));
        if (key.HasMissing)
        {
            return;
        }

        // A match of facts only has no time: the wait starts at the clock, or, before the clock has started, at its first value.
        var waitsForClock = token.Time == long.MinValue && !session.ClockStarted;
        var reference = token.Time == long.MinValue ? session.ClockTicks : token.Time;
        var pending = waitsForClock ? new Pending(token, long.MinValue, long.MaxValue) : new Pending(token, reference, reference + WindowTicks);
        var memory = session.MemoryOf<Memory>(Id);
        AddTo(memory.Left, key, pending);
        memory.Entries[token] = pending;
        if (memory.Right.TryGetValue(key, out var facts))
        {
            foreach (var fact in facts)
            {
                if (Resolves(session, pending, fact))
                {
                    pending.Resolved = true;
                    return;
                }
            }
        }

        if (!waitsForClock)
        {
            Hold(session, pending);
            session.Timers.Schedule(pending.Deadline, Id, token.MaxSequence(), token.OrderKey(), this, pending);
        }
    }

    /// <summary>The clock's first value: the waits of matches made before it (facts only) start at <paramref name="clock"/>.</summary>
    public void StartClock(SessionState session, long clock)
    {
        if (session.PeekMemory<Memory>(Id) is not { } memory)
        {
            return;
        }

        foreach (var pending in memory.Entries.Values)
        {
            if (pending.Reference == long.MinValue && !pending.Resolved && pending.Output is null && !pending.Token.Deleted)
            {
                pending.Reference = clock;
                pending.Deadline = clock + WindowTicks;
                Hold(session, pending);
                session.Timers.Schedule(pending.Deadline, Id, pending.Token.MaxSequence(), pending.Token.OrderKey(), this, pending);
            }
        }
    }

    public override void LeftRetract(SessionState session, Token token)
    {
        var memory = session.MemoryOf<Memory>(Id);
        if (!memory.Entries.Remove(token, out var pending))
        {
            return;
        }

        var key = leftKey is null ? JoinKey.Unit : leftKey(session.Context.Set(token, null));
        if (!key.HasMissing)
        {
            RemoveFrom(memory.Left, key, pending);
        }

        Unhold(session, pending);
    }

    public void RightActivate(SessionState session, DataFact fact)
    {
        var key = rightKey is null ? JoinKey.Unit : rightKey(session.Context.Set(null, fact));
        if (key.HasMissing)
        {
            return;
        }

        var memory = session.MemoryOf<Memory>(Id);
        if (fact.Holds > 0 || fact.IsFact)
        {
            AddTo(memory.Right, key, fact);
        }

        if (memory.Left.TryGetValue(key, out var entries))
        {
            List<Pending>? resolved = null;
            foreach (var pending in entries)
            {
                if (!pending.Resolved && pending.Output is null && !pending.Token.Deleted && Resolves(session, pending, fact))
                {
                    pending.Resolved = true;
                    (resolved ??= []).Add(pending);
                }
            }

            foreach (var pending in resolved ?? [])
            {
                Unhold(session, pending);
            }
        }
    }

    public void RightRetract(SessionState session, DataFact fact)
    {
        var key = rightKey is null ? JoinKey.Unit : rightKey(session.Context.Set(null, fact));
        if (!key.HasMissing)
        {
            RemoveFrom(session.MemoryOf<Memory>(Id).Right, key, fact);
        }
    }

    public void OnTimer(SessionState session, object? payload, long due)
    {
        if (payload is Release release)
        {
            Unhold(session, release.Pending);
            return;
        }

        var pending = (Pending)payload!;
        if (!pending.Resolved && pending.Output is null && !pending.Token.Deleted
            && session.MemoryOf<Memory>(Id).Entries.TryGetValue(pending.Token, out var current) && ReferenceEquals(current, pending))
        {
            pending.Output = Emit(session, pending.Token, null);
            session.Timers.Schedule(pending.Deadline + 1, Id, pending.Token.MaxSequence(), pending.Token.OrderKey(), this, new Release(pending));
        }
    }

    /// <summary>Identities of the matches an event has resolved (not derivable from working memory: kept in snapshots).</summary>
    public IEnumerable<string> ResolvedIdentities(SessionState session) =>
        session.MemoryOf<Memory>(Id).Entries.Values.Where(p => p.Resolved).Select(p => p.Token.Identity());

    /// <summary>Marks restored matches as resolved.</summary>
    public void Resolve(SessionState session, IReadOnlySet<string> identities)
    {
        foreach (var pending in session.MemoryOf<Memory>(Id).Entries.Values.ToArray())
        {
            if (!pending.Resolved && identities.Contains(pending.Token.Identity()))
            {
                pending.Resolved = true;
                Unhold(session, pending);
            }
        }
    }
}

/// <summary>The state of one silence group: the last matching event and when it was seen.</summary>
internal sealed class SilenceGroup(SilenceNode node, Token left, JoinKey per) : SilenceResult
{
    public SilenceNode Node { get; } = node;

    public Token Left { get; } = left;

    public JoinKey Per { get; } = per;

    public override JoinKey PerKey => Per;

    /// <summary>The last event seen (kept after it leaves working memory: a silence is broken by it until a later one).</summary>
    public DataFact? LastEvent
    {
        get;
        set => field = value?.Keep();
    }

    public override DataFact? Last => LastEvent;

    /// <summary>Start of the current silence (ticks); <see cref="long.MinValue"/> = not armed (nothing to measure from yet).</summary>
    public long Since { get; set; } = long.MinValue;

    public long TimerDue { get; set; } = long.MinValue;

    public Token? Output { get; set; }
}

/// <summary>
/// Silence: <c>[h:] no pattern for D [per fields]</c> — "no such event for D". For each partial match (and each <c>per</c> group), the
/// silence starts at the later of the match's time and the last matching event; when the clock passes start + D with no new matching
/// event, the match passes on with the group (bound to <c>h</c>: the last event, or nothing). A new matching event ends the silence
/// (the activation is retracted) and starts a new one. Without earlier patterns, a group is armed by its first event. The node keeps
/// only the last event of each group, not the stream: memory is one entry per group.
/// </summary>
internal sealed class SilenceNode(int id, AlphaMemoryNode right, KeyFn? leftKey, KeyFn? rightKey, KeyFn? perKey, CondFn? residual, long durationTicks,
    string canonical) : BetaNode(id), IRightInput, ITimerTarget
{
    public AlphaMemoryNode Right { get; } = right;

    public long DurationTicks { get; } = durationTicks;

    public string Canonical { get; } = canonical;

    public bool HasPer => perKey is not null;

    public override IEnumerable<Token> LeftTokens(SessionState session) => (IEnumerable<Token>?)session.PeekMemory<Memory>(Id)?.Groups.Keys ?? [];

    internal sealed class Memory
    {
        public Dictionary<JoinKey, List<Token>> Left { get; } = [];

        public Dictionary<Token, Dictionary<JoinKey, SilenceGroup>> Groups { get; } = [];

        public int GroupCount => Groups.Values.Sum(g => g.Count);
    }

    public override void LeftActivate(SessionState session, Token token)
    {
        var key = leftKey is null ? JoinKey.Unit : leftKey(session.Context.Set(token, null));
        if (key.HasMissing)
        {
            return;
        }

        var memory = session.MemoryOf<Memory>(Id);
        AddTo(memory.Left, key, token);
        var groups = new Dictionary<JoinKey, SilenceGroup>();
        memory.Groups[token] = groups;
        if (perKey is null)
        {
            var group = new SilenceGroup(this, token, JoinKey.Unit);
            groups[JoinKey.Unit] = group;
            if (token.Time != long.MinValue)
            {
                Arm(session, group, token.Time);
            }
        }
    }

    /// <summary>
    /// The clock's first value: the silences of matches made before it (facts inserted with no time) start at
    /// <paramref name="clock"/>. Without earlier patterns a silence still waits for its first event.
    /// </summary>
    public void StartClock(SessionState session, long clock)
    {
        if (session.PeekMemory<Memory>(Id) is not { } memory)
        {
            return;
        }

        foreach (var (token, groups) in memory.Groups)
        {
            if (token.Length > 0 && !token.Deleted && groups.TryGetValue(JoinKey.Unit, out var group) && perKey is null
                && group.Since == long.MinValue && group.LastEvent is null && group.Output is null)
            {
                Arm(session, group, clock);
            }
        }
    }

    public override void LeftRetract(SessionState session, Token token)
    {
        var memory = session.MemoryOf<Memory>(Id);
        if (!memory.Groups.Remove(token))
        {
            return;
        }

        var key = leftKey is null ? JoinKey.Unit : leftKey(session.Context.Set(token, null));
        if (!key.HasMissing)
        {
            RemoveFrom(memory.Left, key, token);
        }
    }

    private void Arm(SessionState session, SilenceGroup group, long since)
    {
        group.Since = since;
        group.TimerDue = since + DurationTicks;
        session.Timers.Schedule(group.TimerDue, Id, group.Left.MaxSequence(), group.Left.OrderKey() ^ SessionState.StableHash(group.Per), this, group);
    }

    public void RightActivate(SessionState session, DataFact fact)
    {
        var context = session.Context.Set(null, fact);
        var key = rightKey is null ? JoinKey.Unit : rightKey(context);
        var per = perKey is null ? JoinKey.Unit : perKey(context);
        if (key.HasMissing || per.HasMissing)
        {
            return;
        }

        var memory = session.MemoryOf<Memory>(Id);
        if (!memory.Left.TryGetValue(key, out var tokens))
        {
            return;
        }

        foreach (var token in tokens.ToArray())
        {
            if (token.Deleted || (residual is not null && !residual(session.Context.Set(token, fact))))
            {
                continue;
            }

            var groups = memory.Groups[token];
            if (!groups.TryGetValue(per, out var group))
            {
                group = new SilenceGroup(this, token, per.Detach());
                groups[group.Per] = group;
            }

            if (group.Since != long.MinValue && fact.Time < group.Since)
            {
                continue; // older than the current silence's start: it changes nothing
            }

            group.LastEvent = fact;
            if (group.Output is { } output)
            {
                group.Output = null;
                session.DeleteToken(output);
            }

            Arm(session, group, fact.Time);
        }
    }

    public void RightRetract(SessionState session, DataFact fact)
    {
        // History: a silence is broken by an event even when the event later leaves working memory.
    }

    public void OnTimer(SessionState session, object? payload, long due)
    {
        var group = (SilenceGroup)payload!;
        if (group.TimerDue != due || group.Output is not null || group.Left.Deleted)
        {
            return;
        }

        var memory = session.MemoryOf<Memory>(Id);
        if (!memory.Groups.TryGetValue(group.Left, out var groups) || !groups.TryGetValue(group.Per, out var current) || !ReferenceEquals(current, group))
        {
            return;
        }

        group.Output = Emit(session, group.Left, group);
    }

    /// <summary>Every group with state (for snapshots and explanations).</summary>
    public IEnumerable<SilenceGroup> AllGroups(SessionState session) => session.MemoryOf<Memory>(Id).Groups.Values.SelectMany(g => g.Values);

    /// <summary>Restores a group's state on the match with the given identity (snapshots).</summary>
    public void Restore(SessionState session, string tokenIdentity, JoinKey per, DataFact? last, long since, bool emitted)
    {
        var memory = session.MemoryOf<Memory>(Id);
        foreach (var (token, groups) in memory.Groups)
        {
            if (token.Identity() != tokenIdentity)
            {
                continue;
            }

            if (!groups.TryGetValue(per, out var group))
            {
                group = new SilenceGroup(this, token, per);
                groups[per] = group;
            }

            group.LastEvent = last;
            if (group.Output is { } output)
            {
                group.Output = null;
                session.DeleteToken(output);
            }

            if (since == long.MinValue)
            {
                group.Since = long.MinValue;
                group.TimerDue = long.MinValue;
            }
            else if (emitted)
            {
                group.Since = since;
                group.TimerDue = since + DurationTicks;
                group.Output = Emit(session, token, group);
            }
            else
            {
                Arm(session, group, since);
            }

            return;
        }
    }
}
