using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RuleFlow.Rules.Compilation;
using RuleFlow.Rules.Language;

namespace RuleFlow.Rules.Engine;

/// <summary>
/// The mutable state of one rule session over a shared <see cref="ReteNetwork"/>: node memories, working memory (held events and
/// facts), agenda, timers on event time, storm-control state and counters. One thread at a time.
/// </summary>
internal sealed class SessionState : ITimerTarget
{
    /// <summary>Most firings one call may make (a rule that keeps re-activating itself through fact changes is stopped there).</summary>
    public const int MaxFiringsPerCall = 10_000;

    /// <summary>Timer order of retention releases: after every node's timer of the same due time (which may still need the event).</summary>
    private const int RetentionOrder = int.MaxValue;

    private const int DedupOrder = int.MaxValue - 1;

    private readonly ReteNetwork _network;
    private readonly object?[] _memories;
    private readonly List<AlphaMemoryNode> _reached = [];
    private readonly Stack<AlphaNode> _alphaWork = new();
    private readonly List<DataFact> _transients = [];
    private readonly List<DataFact> _justHeld = [];

    /// <summary>The session's shared strings of detached keys (entered by <see cref="RuleSession"/> for each insertion).</summary>
    internal KeyStrings KeyStrings { get; } = new();

    /// <summary>Event objects whose retention ended, for reuse by later events (at most <see cref="ReleasedPoolSize"/>).</summary>
    private readonly Stack<DataFact> _released = new();

    /// <summary>Bound of the pool of released event objects (a window that shrinks leaves the rest to the collector).</summary>
    internal const int ReleasedPoolSize = 4096;
    private readonly Dictionary<TypeRuntime, HeldEventBytes> _heldBytes = [];
    private readonly Dictionary<TypeRuntime, FactIndex> _facts = [];
    private readonly Dictionary<TypeRuntime, Dictionary<JoinKey, long>> _dedup = [];
    private List<RuleFiring>? _firings;
    private long _sequence;
    private long _activationSequence;
    private long _high = long.MinValue;
    private bool _deferFire;
    private int _firedThisCall;
    private (TerminalNode Terminal, IMatch Match, DataFact Old)? _noLoop;
    private long? _factTime;

    public SessionState(ReteNetwork network, RuleSessionOptions options)
    {
        _network = network;
        Options = options;
        LatenessTicks = Math.Max(0, options.AllowedLateness.Ticks);
        _memories = new object?[network.NodeCount];
        TokensByNode = new int[network.NodeCount];
        RootToken = new Token(null, null, network.Root);
        foreach (var child in network.Root.Children)
        {
            child.LeftActivate(this, RootToken);
        }
    }

    public RuleSessionOptions Options { get; }

    public long LatenessTicks { get; }

    public Token RootToken { get; }

    public EvalContext Context { get; } = new();

    public Agenda Agenda { get; } = new();

    public TimerQueue Timers { get; } = new();

    public ReteNetwork Network => _network;

    /// <summary>Session clock (the watermark): the latest event time seen minus the allowed lateness, in UTC ticks (0 = none yet).</summary>
    public long ClockTicks { get; private set; }

    /// <summary>The latest event time seen (ticks).</summary>
    public long HighWaterTicks => _high;

    /// <summary>
    /// False until the clock first moves (an event, or <see cref="AdvanceTo"/>): event time is unknown before, so a fact inserted
    /// then has no time (<see cref="long.MinValue"/>), and the silences and absences that start at such a fact wait for the clock's
    /// first value (<see cref="StartClock"/>) instead of measuring from year 1.
    /// </summary>
    public bool ClockStarted => _high != long.MinValue;

    /// <summary>Event time of the working-memory change in progress (the clock, or the due time of the timer being run).</summary>
    public long ChangeTime { get; private set; }

    /// <summary>True while timers run (activations made then carry their due time in their id).</summary>
    public bool InTimer { get; private set; }

    /// <summary>True while a session is rebuilt from a snapshot: re-derived activations count as fired.</summary>
    public bool Restoring { get; set; }

    public InsertStatus LastInsertStatus { get; private set; } = InsertStatus.Applied;

    public long EventsInserted { get; private set; }

    public long LateEvents { get; private set; }

    public long Firings { get; private set; }

    public long SuppressedByThrottle { get; private set; }

    public long Batched { get; private set; }

    public long ActivationsCreated { get; set; }

    public long UnknownTypeEvents { get; private set; }

    public long InvalidEvents { get; private set; }

    public long InvalidTimestamps { get; private set; }

    public long DuplicateEvents { get; private set; }

    public long SchemaViolations { get; private set; }

    public long MissingFieldEvents { get; private set; }

    public long UnmatchedEvents { get; private set; }

    public long LoopAborts { get; private set; }

    public int EventsHeld { get; private set; }

    public int TokenCount { get; set; }

    /// <summary>Partial matches made by each beta node (index = node id), for explanations.</summary>
    public int[] TokensByNode { get; }

    public int FactCount => _facts.Values.Sum(f => f.Count);

    public T MemoryOf<T>(int nodeId)
        where T : class, new() => (T)(_memories[nodeId] ??= new T());

    public T? PeekMemory<T>(int nodeId)
        where T : class => _memories[nodeId] as T;

    public long NextSequence() => ++_sequence;

    public long NextActivationSequence() => ++_activationSequence;

    public long Sequence => _sequence;

    public long ActivationSequence => _activationSequence;

    public int ThrottleEntries => _network.Terminals.Sum(t => PeekMemory<TerminalNode.Memory>(t.Id)?.Storm.Count ?? 0);

    public int AggregateGroups => _memories.Sum(m => m is AggregateNode.Memory a ? a.GroupCount : m is SilenceNode.Memory s ? s.GroupCount : 0);

    public IReadOnlyDictionary<TypeRuntime, FactIndex> Facts => _facts;

    public IReadOnlyDictionary<TypeRuntime, Dictionary<JoinKey, long>> Dedup => _dedup;

    // ---- inputs ----------------------------------------------------------------------------------------------------

    /// <summary>Applies one event (see <see cref="RuleSession.Insert"/>).</summary>
    public IReadOnlyList<RuleFiring> Insert(RuleEvent evt)
    {
        ArgumentNullException.ThrowIfNull(evt);
        _firings = null;
        _firedThisCall = 0;
        try
        {
            InsertOne(evt, ClockTicks);
        }
        finally
        {
            CompactHeld();
        }

        return Done();
    }

    /// <summary>Applies a batch of events with one firing at the end (see <see cref="RuleSession.InsertBatch"/>).</summary>
    public IReadOnlyList<RuleFiring> InsertBatch(IReadOnlyList<RuleEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        _firings = null;
        _firedThisCall = 0;
        var clockBefore = ClockTicks;
        _deferFire = true;
        try
        {
            var max = long.MinValue;
            foreach (var evt in events)
            {
                ArgumentNullException.ThrowIfNull(evt, nameof(events));
                if (_network.Types.TryGetValue(evt.Type ?? "", out var type) && !type.IsFact && evt.Data.ValueKind == JsonValueKind.Object)
                {
                    max = Math.Max(max, ReadTime(evt, type, count: false));
                }
            }

            if (max != long.MinValue)
            {
                Advance(max);
            }

            foreach (var evt in events)
            {
                InsertOne(evt, clockBefore);
            }
        }
        finally
        {
            _deferFire = false;
        }

        try
        {
            ChangeTime = ClockTicks;
            Fire();
            ReleaseTransients();
        }
        finally
        {
            CompactHeld();
        }

        return Done();
    }

    /// <summary>Moves the clock (see <see cref="RuleSession.AdvanceTo"/>).</summary>
    public IReadOnlyList<RuleFiring> AdvanceTo(long ticks)
    {
        _firings = null;
        _firedThisCall = 0;
        try
        {
            Advance(ticks);
        }
        finally
        {
            CompactHeld(); // timers fire rules, whose actions may insert and update facts
        }

        return Done();
    }

    /// <summary>
    /// The insertion is over: the events it left in working memory, and the facts it inserted, keep their UTF-8 text instead of a
    /// JSON document (the caller's document, or its clone, is no longer referenced by them; keys kept longer than the event are
    /// detached from it). A fact gets an array of its own (facts live as long as nothing replaces them: in a shared chunk, one
    /// long-lived fact would keep the text of all its replaced neighbours). A fact or event read back later (a rule reading a
    /// fact's field in a join or an action) keeps the document that read made: a fact read for every event is parsed once.
    /// </summary>
    internal void CompactHeld()
    {
        if (_justHeld.Count == 0)
        {
            return;
        }

        foreach (var fact in _justHeld)
        {
            if (fact.Retracted || (fact.Holds == 0 && !fact.IsFact))
            {
                continue;
            }

            if (!_heldBytes.TryGetValue(fact.Type, out var store))
            {
                store = new HeldEventBytes();
                _heldBytes.Add(fact.Type, store);
            }

            fact.Compact(store, packed: fact.Holds == 1 && fact.RetentionHold);
        }

        _justHeld.Clear();
    }

    private IReadOnlyList<RuleFiring> Done()
    {
        var result = (IReadOnlyList<RuleFiring>?)_firings ?? [];
        _firings = null;
        return result;
    }

    private void InsertOne(RuleEvent evt, long lateBase)
    {
        EventsInserted++;
        _network.Types.TryGetValue(evt.Type ?? "", out var type);
        var isObject = evt.Data.ValueKind == JsonValueKind.Object;
        if (type is null)
        {
            UnknownTypeEvents++;
            LastInsertStatus = InsertStatus.UnknownType;
            if (!_deferFire)
            {
                Advance(evt.Time.UtcTicks);
            }

            return;
        }

        if (!isObject)
        {
            InvalidEvents++;
            LastInsertStatus = InsertStatus.Invalid;
            if (!_deferFire && !type.IsFact)
            {
                Advance(evt.Time.UtcTicks);
            }

            return;
        }

        if (type.IsFact)
        {
            var factCheck = type.CheckSchema(evt.Data);
            if (factCheck == SchemaCheck.WrongType)
            {
                SchemaViolations++; // as for an event (below): a fact that breaks its declaration is not held
                LastInsertStatus = InsertStatus.Invalid;
                return;
            }

            LastInsertStatus = UpsertFact(type, evt.Data, evt.Id) ? InsertStatus.Applied : InsertStatus.Invalid;
            if (factCheck == SchemaCheck.MissingField && LastInsertStatus == InsertStatus.Applied)
            {
                MissingFieldEvents++; // a fact without its key field is refused (InvalidEvents), not counted here
            }

            if (!_deferFire)
            {
                Fire();
            }

            return;
        }

        var time = ReadTime(evt, type, count: true);
        if (!_deferFire)
        {
            Advance(time);
            lateBase = ClockTicks;
        }

        if (time < lateBase - type.RetentionTicks)
        {
            LateEvents++;
            LastInsertStatus = InsertStatus.Late;
            return;
        }

        if (type.DedupPaths is { } dedupPaths && IsDuplicate(type, dedupPaths, evt.Data, time))
        {
            DuplicateEvents++;
            LastInsertStatus = InsertStatus.Deduplicated;
            return;
        }

        var check = type.CheckSchema(evt.Data);
        if (check == SchemaCheck.WrongType)
        {
            // A declared field of another JSON type: the producer broke the contract, so the event matches nothing (a rule that does
            // not read that field would otherwise count it, join it, or put its wrong value in an action). Counted; it moved the clock.
            SchemaViolations++;
            LastInsertStatus = InsertStatus.Invalid;
            return;
        }

        if (check == SchemaCheck.MissingField)
        {
            MissingFieldEvents++; // applied: the conditions that read the missing field are false, the others hold
        }

        LastInsertStatus = InsertStatus.Applied;
        if (type.Root is null)
        {
            return;
        }

        var hold = type.RetentionTicks + LatenessTicks > 0;
        var data = hold ? evt.Data.Clone() : evt.Data;
        var fact = hold && _released.TryPop(out var reused)
            ? reused.Reuse(evt.Id, data, time, type, NextSequence())
            : new DataFact(evt.Id, data, time, type, NextSequence());

        if (hold)
        {
            fact.RetentionHold = true;
            Hold(fact);
            Timers.ScheduleInLane(type, time + type.RetentionTicks, RetentionOrder, fact.Sequence, 0, this, fact);
            _justHeld.Add(fact);
        }

        ChangeTime = ClockTicks;
        if (!Propagate(fact))
        {
            UnmatchedEvents++;
        }

        if (!hold)
        {
            _transients.Add(fact);
        }

        if (!_deferFire)
        {
            Fire();
            ReleaseTransients();
        }
    }

    private void ReleaseTransients()
    {
        if (_transients.Count == 0)
        {
            return;
        }

        foreach (var fact in _transients)
        {
            if (fact.Holds == 0)
            {
                Retract(fact);
            }
        }

        _transients.Clear();
        if (!_deferFire)
        {
            Fire();
        }
    }

    /// <summary>Raises the high-water mark and runs every timer the new clock passes, firing after each group of equal due time.</summary>
    private void Advance(long time)
    {
        if (time <= _high)
        {
            return;
        }

        var starting = !ClockStarted;
        _high = time;
        var target = Math.Max(ClockTicks, time - LatenessTicks);
        if (target <= ClockTicks && !starting)
        {
            return;
        }

        ClockTicks = target;
        Context.Clock = target; // now() in conditions reads the clock of this insertion
        if (starting)
        {
            ChangeTime = target;
            StartClock(target);
            if (!_deferFire && !Restoring)
            {
                Fire(); // what the facts' first time made (a window over them) fires at it, before any timer
            }
        }

        RunTimers(target);
    }

    /// <summary>
    /// The clock's first value: facts inserted before it (with no time) and the activations waiting since then take it as their
    /// time, and the silences and absences that began at them start now.
    /// </summary>
    private void StartClock(long clock)
    {
        Agenda.StartClock(clock);
        List<DataFact>? timed = null;
        foreach (var byKey in _facts.Values)
        {
            foreach (var fact in byKey.Values)
            {
                if (fact.Time == long.MinValue)
                {
                    fact.TimeFromClockStart(clock);
                    (timed ??= []).Add(fact);
                }
            }
        }

        // A time window refused those facts while they had no time (outside any window): they enter it now, at the clock's first
        // value, as a fact inserted then would (other nodes took them already; nothing else reads a fact's time on insertion).
        foreach (var fact in timed ?? [])
        {
            for (var m = 0; m < fact.MemoryCount; m++)
            {
                foreach (var successor in fact.MemoryAt(m).Successors)
                {
                    if (successor is AggregateNode { Window: { SlidingTicks: not null } or { TumblingTicks: not null } } aggregate && !fact.Retracted)
                    {
                        aggregate.RightActivate(this, fact);
                    }
                }
            }
        }

        foreach (var node in _network.Nodes)
        {
            switch (node)
            {
                case SilenceNode silence:
                    silence.StartClock(this, clock);
                    break;
                case AbsenceNode absence:
                    absence.StartClock(this, clock);
                    break;
            }
        }
    }

    // Aggregate groups that events left in the timers of the current due time (or that a fact replacement changed), tested once
    // those have all run.
    private readonly List<AggregateGroup> _deferredGroups = [];

    // True while a fact replaces another of its key (the new version in, then the old out): one change for the aggregates.
    private bool _replacing;

    /// <summary>True while aggregate groups are tested at the end of the change, not at each entry or exit (timers, a fact replacement).</summary>
    internal bool DeferGroupTests => InTimer || _replacing;

    private void TestDeferredGroups()
    {
        for (var i = 0; i < _deferredGroups.Count; i++) // (a test may retract more events, adding groups: Count is read each time)
        {
            var group = _deferredGroups[i];
            group.ReevaluationPending = false;
            group.Node.ReevaluateDeferred(this, group);
        }

        _deferredGroups.Clear();
    }

    /// <summary>Has <paramref name="group"/> tested at the end of the current change (<see cref="DeferGroupTests"/>), once.</summary>
    internal void DeferReevaluation(AggregateGroup group)
    {
        if (!group.ReevaluationPending)
        {
            group.ReevaluationPending = true;
            _deferredGroups.Add(group);
        }
    }

    /// <summary>Runs due timers (due before <paramref name="clock"/>), one due time at a time.</summary>
    public void RunTimers(long clock)
    {
        while (Timers.TryPeekDue(out var due) && due < clock)
        {
            InTimer = true;
            ChangeTime = due;
            Timers.RunNextGroup(this, clock, out _);
            TestDeferredGroups();
            InTimer = false;
            if (!_deferFire && !Restoring)
            {
                Fire();
            }
        }

        ChangeTime = ClockTicks;
    }

    /// <summary>Sets the clock directly (restoring a snapshot).</summary>
    public void SetClock(long high, long clock)
    {
        _high = high;
        ClockTicks = clock;
        Context.Clock = clock;
        ChangeTime = clock;
    }

    public void SetCounters(long sequence, long activationSequence)
    {
        _sequence = sequence;
        _activationSequence = activationSequence;
    }

    internal void RestoreCounters(long[] values)
    {
        EventsInserted = values[0];
        LateEvents = values[1];
        Firings = values[2];
        SuppressedByThrottle = values[3];
        Batched = values[4];
        ActivationsCreated = values[5];
        UnknownTypeEvents = values[6];
        InvalidEvents = values[7];
        InvalidTimestamps = values[8];
        DuplicateEvents = values[9];
        SchemaViolations = values[10];
        UnmatchedEvents = values[11];
        LoopAborts = values[12];
        MissingFieldEvents = values.Length > 13 ? values[13] : 0; // snapshots before this counter have 13
    }

    /// <summary>
    /// False until the agenda first runs (the first call that fires): until then it holds the matches the empty session made (an
    /// empty window, rules with only <c>not</c>), which have not fired. A snapshot keeps this, so a restored session fires them too.
    /// </summary>
    public bool AgendaRun { get; internal set; }

    /// <summary>The flag <see cref="SaveCounters"/> writes after the counters: 1 while the agenda has not run (see <see cref="AgendaRun"/>).</summary>
    internal const int AgendaPendingIndex = 14;

    /// <summary>
    /// After a restore of a snapshot taken before the agenda first ran: the activations the restore re-derived (and counted as
    /// fired, as it does for every match) go back on the agenda, as they were when the snapshot was taken.
    /// </summary>
    internal void RequeueNeverFired()
    {
        foreach (var terminal in Network.Terminals)
        {
            foreach (var activation in (IEnumerable<Activation>?)PeekMemory<TerminalNode.Memory>(terminal.Id)?.Activations.Values ?? [])
            {
                if (!activation.Cancelled)
                {
                    activation.Fired = false;
                    Agenda.Add(activation);
                }
            }
        }
    }

    internal long[] SaveCounters() =>
    [
        EventsInserted, LateEvents, Firings, SuppressedByThrottle, Batched, ActivationsCreated, UnknownTypeEvents, InvalidEvents,
        InvalidTimestamps, DuplicateEvents, SchemaViolations, UnmatchedEvents, LoopAborts, MissingFieldEvents, AgendaRun ? 0 : 1,
    ];

    private long ReadTime(RuleEvent evt, TypeRuntime type, bool count)
    {
        if (type.TimePath is not { } path)
        {
            return evt.Time.UtcTicks;
        }

        var value = path.Read(evt.Data);
        if (value.IsMissing || value.Kind == ValueKind.Null)
        {
            return evt.Time.UtcTicks;
        }

        if (ValueOps.TryGetTimeTicks(value, out var ticks))
        {
            return ticks;
        }

        if (count)
        {
            InvalidTimestamps++;
        }

        return evt.Time.UtcTicks;
    }

    private bool IsDuplicate(TypeRuntime type, FieldPath[] paths, JsonElement data, long time)
    {
        var values = new RuleValue[paths.Length];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = paths[i].Read(data);
        }

        var key = new JoinKey(values);
        if (!_dedup.TryGetValue(type, out var seen))
        {
            seen = [];
            _dedup.Add(type, seen);
        }

        if (seen.TryGetValue(key, out var start) && Math.Abs(time - start) <= type.DedupTicks)
        {
            return true;
        }

        var detached = key.Detach();
        seen[detached] = time;
        Timers.Schedule(time + type.DedupTicks, DedupOrder, time, StableHash(detached), this, new DedupExpiry(type, detached, time));
        return false;
    }

    /// <summary>Restores a dedup entry (snapshots).</summary>
    public void RestoreDedup(TypeRuntime type, JoinKey key, long start)
    {
        if (!_dedup.TryGetValue(type, out var seen))
        {
            seen = [];
            _dedup.Add(type, seen);
        }

        seen[key] = start;
        Timers.Schedule(start + type.DedupTicks, DedupOrder, start, StableHash(key), this, new DedupExpiry(type, key, start));
    }

    // ---- working memory --------------------------------------------------------------------------------------------

    /// <summary>Passes a fact through the alpha network to the beta network; false when it reached no alpha memory.</summary>
    private bool Propagate(DataFact fact)
    {
        if (fact.Type.Root is null)
        {
            return false;
        }

        _reached.Clear();
        fact.Type.Root.Propagate(Context, fact, _reached, _alphaWork);
        if (_reached.Count == 0)
        {
            return false;
        }

        fact.Memory = _reached[0];
        fact.MoreMemories = _reached.Count > 1 ? SharedMemoryList() : null;
        for (var m = 0; m < fact.MemoryCount; m++)
        {
            var indexes = fact.MemoryAt(m).Indexes;
            for (var i = 0; i < indexes.Count; i++)
            {
                indexes[i].Add(this, fact);
            }
        }

        // Descendants first (Doorenbos 1995, §2.4.1): the fact is in every index already, so a node activated before its ancestors
        // finds no partial match made from the fact yet, and the ancestors' new matches then meet the fact once, on their way down.
        // A memory's successors are in the order they were made; a fact in several memories is ordered across all of them, or a
        // join of two patterns that both take it would meet it twice: once from each side.
        if (fact.MemoryCount == 1)
        {
            var successors = _reached[0].Successors;
            for (var i = successors.Count - 1; i >= 0 && !fact.Retracted; i--)
            {
                successors[i].RightActivate(this, fact);
            }

            return true;
        }

        var inputs = InputsByOrder(fact);
        for (var i = inputs.Count - 1; i >= 0 && !fact.Retracted; i--)
        {
            inputs[i].RightActivate(this, fact);
        }

        inputs.Clear();
        return true;
    }

    private readonly List<IRightInput> _inputs = [];

    /// <summary>The successors of every alpha memory <paramref name="fact"/> is in, by <see cref="IRightInput.ActivationOrder"/>, lowest first.</summary>
    private List<IRightInput> InputsByOrder(DataFact fact)
    {
        var inputs = _inputs.Count == 0 ? _inputs : [];
        for (var m = 0; m < fact.MemoryCount; m++)
        {
            inputs.AddRange(fact.MemoryAt(m).Successors);
        }

        inputs.Sort(static (a, b) => a.ActivationOrder.CompareTo(b.ActivationOrder));
        return inputs;
    }

    /// <summary>
    /// The alpha memories after the first of <see cref="_reached"/>, as an array shared by every event that reaches the same ones
    /// (never written once made): an event that enters several memories carries no array of its own. At most
    /// <see cref="MemoryListCacheSize"/> distinct lists are kept; others get their own array.
    /// </summary>
    private AlphaMemoryNode[] SharedMemoryList()
    {
        var hash = new HashCode();
        for (var i = 1; i < _reached.Count; i++)
        {
            hash.Add(_reached[i].Id);
        }

        var key = hash.ToHashCode();
        if (_memoryLists.TryGetValue(key, out var cached) && cached.Length == _reached.Count - 1)
        {
            var same = true;
            for (var i = 0; i < cached.Length && same; i++)
            {
                same = ReferenceEquals(cached[i], _reached[i + 1]);
            }

            if (same)
            {
                return cached;
            }
        }

        var list = new AlphaMemoryNode[_reached.Count - 1];
        for (var i = 1; i < _reached.Count; i++)
        {
            list[i - 1] = _reached[i];
        }

        if (_memoryLists.Count < MemoryListCacheSize)
        {
            _memoryLists.TryAdd(key, list);
        }

        return list;
    }

    private const int MemoryListCacheSize = 4096;

    private readonly Dictionary<int, AlphaMemoryNode[]> _memoryLists = [];

    /// <summary>Re-inserts a saved event or fact with its original identity (restoring a snapshot).</summary>
    public void Reinsert(DataFact fact, long retentionDue)
    {
        if (fact.IsFact)
        {
            if (!_facts.TryGetValue(fact.Type, out var byKey))
            {
                byKey = new FactIndex(fact.Type);
                _facts.Add(fact.Type, byKey);
            }

            byKey.Set(fact);
            _justHeld.Add(fact);
        }
        else
        {
            fact.RetentionHold = true;
            Hold(fact);
            Timers.ScheduleInLane(fact.Type, retentionDue, RetentionOrder, fact.Sequence, 0, this, fact);
            _justHeld.Add(fact);
        }

        Propagate(fact);
    }

    /// <summary>Re-inserts a saved event that no time retention holds (a length window may hold it again).</summary>
    public void ReinsertTransient(DataFact fact)
    {
        Propagate(fact);
        if (fact.Holds == 0)
        {
            Retract(fact);
        }
    }

    public void Hold(DataFact fact)
    {
        if (fact.Holds++ == 0 && !fact.IsFact)
        {
            EventsHeld++;
        }
    }

    public void Release(DataFact fact)
    {
        if (fact.Holds == 0)
        {
            return;
        }

        if (--fact.Holds == 0)
        {
            if (fact.IsFact)
            {
                return; // a fact stays until it is retracted or replaced: a window letting go of it does not take it out of memory
            }

            EventsHeld--;
            Retract(fact);
        }
    }

    /// <summary>Retention expiry of a held event, and the storm-control cleanups of the session (dedup).</summary>
    public void OnTimer(SessionState session, object? payload, long due)
    {
        switch (payload)
        {
            case DataFact fact when fact.RetentionHold:
                fact.RetentionHold = false;
                if (fact.Holds > 1)
                {
                    // It stays (a length window or an absence holds it), but it leaves the time windows that end with its retention.
                    for (var m = 0; m < fact.MemoryCount; m++)
                    {
                        foreach (var successor in fact.MemoryAt(m).Successors)
                        {
                            (successor as AggregateNode)?.RetentionEnded(this, fact, due);
                        }
                    }
                }

                Release(fact);
                if (fact.Retracted && fact.Holds == 0 && fact.FirstToken is null && !fact.Kept && !fact.IsFact && _released.Count < ReleasedPoolSize)
                {
                    // Out of working memory and referenced by nothing that outlives this: its object serves a later event.
                    fact.Clear();
                    _released.Push(fact);
                }

                break;
            case DedupExpiry expiry when _dedup.TryGetValue(expiry.Type, out var seen) && seen.TryGetValue(expiry.Key, out var start)
                                         && start == expiry.Start:
                seen.Remove(expiry.Key);
                break;
        }
    }

    /// <summary>Removes a fact from working memory: its partial matches (and their activations), then its right memories.</summary>
    public void Retract(DataFact fact)
    {
        if (fact.Retracted)
        {
            return;
        }

        fact.Retracted = true;
        while (fact.FirstToken is { } token)
        {
            DeleteToken(token);
        }

        if (fact.MemoryCount == 1)
        {
            var successors = fact.MemoryAt(0).Successors;
            for (var i = 0; i < successors.Count; i++)
            {
                successors[i].RightRetract(this, fact);
            }
        }
        else if (fact.MemoryCount > 1)
        {
            var inputs = InputsByOrder(fact); // lowest first: a forall loses the fact's "each" side before its satisfying side
            for (var i = 0; i < inputs.Count; i++)
            {
                inputs[i].RightRetract(this, fact);
            }

            inputs.Clear();
        }

        for (var m = 0; m < fact.MemoryCount; m++)
        {
            var memory = fact.MemoryAt(m);
            for (var i = 0; i < memory.Indexes.Count; i++)
            {
                memory.Indexes[i].Remove(this, fact);
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
        TokensByNode[token.Owner.Id]--;
        var child = token.FirstChild;
        token.FirstChild = null;
        while (child is not null)
        {
            var next = child.NextSibling;
            child.NextSibling = null;
            child.PreviousSibling = null;
            DeleteToken(child, fromParent: true);
            child = next;
        }

        var nodes = token.Owner.Children;
        for (var i = 0; i < nodes.Count; i++)
        {
            nodes[i].LeftRetract(this, token);
        }

        if (!fromParent && token.Parent is { Length: > 0 } parent)
        {
            parent.UnlinkChild(token);
        }

        if (token.Fact is DataFact e)
        {
            Token.UnlinkFromFact(e, token);
        }
    }

    // ---- facts -----------------------------------------------------------------------------------------------------

    /// <summary>Inserts a fact, or replaces the fact with the same key; an equal fact changes nothing. False when the key is missing.</summary>
    public bool UpsertFact(TypeRuntime type, JsonElement data, string id)
    {
        JoinKey key;
        if (type.KeyPath is { } keyPath)
        {
            var value = keyPath.Read(data);
            if (value.IsMissing || value.Kind == ValueKind.Null)
            {
                InvalidEvents++;
                return false;
            }

            key = new JoinKey(value).Detach();
        }
        else
        {
            key = new JoinKey(RuleValue.FromString(data.GetRawText()));
        }

        if (!_facts.TryGetValue(type, out var byKey))
        {
            byKey = new FactIndex(type);
            _facts.Add(type, byKey);
        }

        if (byKey.TryGetValue(key, out var existing))
        {
            // The same text again (a host re-sending its inventory) is seen without parsing the held fact back.
            if (existing.RawUtf8.SequenceEqual(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(data)))
            {
                return true; // no change: nothing to re-derive (loop protection)
            }

            if (ValueOps.JsonEquals(RuleValue.FromElement(existing.Data), RuleValue.FromElement(data)))
            {
                _justHeld.Add(existing); // the comparison parsed it back: text again at the end of the insertion
                return true;
            }

            byKey.Remove(existing);
        }

        // A fact takes the clock's time (or its match's, made by a firing); before the clock has started it has none.
        var fact = new DataFact(id, data.Clone(), _factTime ?? (ClockStarted ? ChangeTime : long.MinValue), type, NextSequence()) { FactKey = key };
        byKey.Set(fact);

        // The new version goes in before the old one goes out, and the aggregates are tested once both have: a replacement is one
        // change, so `exists F(...)`, `forall` and an aggregate over F that hold for both versions hold throughout (out first,
        // `exists` would fail on the way; tested at each step, `count(F) <= N` would, with both versions in).
        if (existing is null)
        {
            Propagate(fact);
        }
        else
        {
            _replacing = true; // Propagate and Retract fire nothing, so no other replacement can begin inside this one
            Propagate(fact);
            Retract(existing);
            _replacing = false;
            if (!DeferGroupTests)
            {
                TestDeferredGroups();
            }
        }

        _justHeld.Add(fact);
        return true;
    }

    public void RetractFact(DataFact fact)
    {
        if (_facts.TryGetValue(fact.Type, out var byKey) && byKey.TryGetValue(fact.FactKey, out var current) && ReferenceEquals(current, fact))
        {
            byKey.Remove(fact);
        }

        Retract(fact);
    }

    private void Apply(FactChange change)
    {
        switch (change)
        {
            case InsertFactChange insert:
                var element = JsonSerializer.SerializeToElement(insert.Value);
                UpsertFact(insert.Type, element, FactIds.Of(insert.Type, insert.Value));
                break;
            case UpdateFactChange update when !update.Fact.Retracted:
            {
                var after = ValueOps.CopyElement(update.Fact.Data) as JsonObject ?? [];
                foreach (var (name, value) in update.Changes)
                {
                    after[name] = value?.DeepClone();
                }

                UpsertFact(update.Fact.Type, JsonSerializer.SerializeToElement(after), update.Fact.Id);
                break;
            }

            case RetractFactChange retract when !retract.Fact.Retracted:
                RetractFact(retract.Fact);
                break;
        }
    }

    // ---- firing ----------------------------------------------------------------------------------------------------

    /// <summary>
    /// Fires the agenda: highest salience first, then the most recent match (LEX); refraction; storm control. Fact changes made
    /// by a firing are applied before the next activation is chosen (the recognize–act cycle). At most
    /// <see cref="MaxFiringsPerCall"/> firings per call: a rule set that keeps re-activating itself is stopped and counted.
    /// </summary>
    private void Fire()
    {
        AgendaRun = true;
        while (Agenda.TryPop(out var activation))
        {
            activation.Fired = true;
            if (_firedThisCall >= MaxFiringsPerCall)
            {
                LoopAborts++;
                Agenda.Clear();
                break;
            }

            var rule = activation.Rule;
            if (rule.Batches)
            {
                activation.Batched = true;
                AddToBatch(activation);
                continue;
            }

            if (!PassThrottle(activation.Terminal, activation.Token, activation.Time))
            {
                activation.Suppressed = true;
                SuppressedByThrottle++;
                continue;
            }

            var ids = MatchReader.EventIds(activation.Token);
            FireMatch(rule, activation.Token, activation.Time, ids, activation.FromTimer ? activation.Time : null, null);
        }
    }

    private void FireMatch(CompiledRule rule, IMatch match, long time, IReadOnlyList<string> ids, long? timerTime, IReadOnlyList<FrozenMatch>? group)
    {
        _firedThisCall++;
        Firings++;
        var context = Context;
        var actions = new RuleAction[rule.Actions.Count];
        List<FactChange>? changes = null;
        for (var i = 0; i < actions.Length; i++)
        {
            context.Set(match, null);
            context.Clock = time;
            context.Group = group;
            actions[i] = rule.Actions[i].Evaluate(context, out var change);
            if (change is not null)
            {
                (changes ??= []).Add(change);
            }
        }

        context.Group = null;
        context.Clock = ClockTicks;
        // A match that can end and come back with the same events and facts counts with the time it was made (a timer's firing and
        // a batch already count with their due time).
        (_firings ??= []).Add(new RuleFiring(rule.Name, new DateTimeOffset(time, TimeSpan.Zero), ids, actions, timerTime ?? (rule.MatchCanComeBack ? time : null),
            group is null ? MatchReader.IdentityIds(match, ids) : ids));
        if (changes is not null)
        {
            var saved = ChangeTime;
            ChangeTime = time;
            // A fact made by a firing takes the time of the match (its latest event), not the clock, which lags by the lateness.
            _factTime = match is Token { Time: not long.MinValue } token ? token.Time : match is FrozenMatch frozen ? frozen.Time : time;
            var terminal = _network.TerminalsByRule[rule.Name];
            foreach (var change in changes)
            {
                _noLoop = change is UpdateFactChange update ? (terminal, match, update.Fact) : null;
                Apply(change);
                _noLoop = null;
            }

            _factTime = null;
            ChangeTime = saved;
        }
    }

    /// <summary>
    /// No-loop: while a rule's <c>update</c> is applied, the rule is not re-activated on the same match with the updated fact
    /// (other rules, and other matches of the rule, see the change as usual).
    /// </summary>
    public bool IsNoLoop(TerminalNode terminal, Token token)
    {
        if (_noLoop is not { } guard || !ReferenceEquals(guard.Terminal, terminal) || guard.Match.Length != token.Length)
        {
            return false;
        }

        for (var i = 0; i < token.Length; i++)
        {
            var before = guard.Match.FactAt(i);
            var after = token.FactAt(i);
            if (ReferenceEquals(before, guard.Old))
            {
                if (after is not DataFact updated || updated.Type != guard.Old.Type || !updated.FactKey.Equals(guard.Old.FactKey))
                {
                    return false;
                }
            }
            else if (!ReferenceEquals(before, after) && !(before is AggregateResult a && after is AggregateResult b && a.PerKey.Equals(b.PerKey)))
            {
                return false;
            }
        }

        return true;
    }

    private void AddToBatch(Activation activation)
    {
        var rule = activation.Rule;
        var terminal = activation.Terminal;
        var window = rule.GroupBy?.WindowTicks ?? rule.Throttle!.WindowTicks;
        var keyFn = rule.GroupBy?.Key ?? rule.Throttle!.Key;
        var key = keyFn(Context.Set(activation.Token, null)).Detach();
        var storm = MemoryOf<TerminalNode.Memory>(terminal.Id).Storm;
        var frozen = FrozenMatch.Capture(activation.Token, activation.Time, terminal.BindingNames, Context);
        Batched++;
        if (storm.Batches.TryGetValue(key, out var batch))
        {
            batch.Matches.Add(frozen);
            return;
        }

        batch = new Batch(key, activation.Time, activation.Time + window);
        batch.Matches.Add(frozen);
        storm.Batches.Add(key, batch);
        ScheduleBatch(terminal, batch);
    }

    public void ScheduleBatch(TerminalNode terminal, Batch batch) =>
        Timers.Schedule(batch.Due, terminal.Id, batch.Opened, StableHash(batch.Key), terminal, new BatchDue(batch));

    /// <summary>Storm-control timers of a rule (called by its terminal node).</summary>
    public void OnStormTimer(TerminalNode terminal, StormTimer payload, long due)
    {
        var storm = MemoryOf<TerminalNode.Memory>(terminal.Id).Storm;
        switch (payload)
        {
            case BatchDue { Batch: var batch } when storm.Batches.TryGetValue(batch.Key, out var open) && ReferenceEquals(open, batch):
            {
                storm.Batches.Remove(batch.Key);
                if (Restoring)
                {
                    return;
                }

                var rule = terminal.Rule;
                var first = batch.Matches[0];
                if (rule.GroupBy is not null && rule.Throttle is not null && !PassThrottle(terminal, first, due))
                {
                    SuppressedByThrottle++;
                    return;
                }

                var ids = new List<string>();
                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var match in batch.Matches)
                {
                    foreach (var id in MatchReader.EventIds(match))
                    {
                        if (seen.Add(id))
                        {
                            ids.Add(id);
                        }
                    }
                }

                FireMatch(rule, first, due, ids, due, batch.Matches);
                break;
            }

            case OnceWithinExpiry expiry when storm.OnceWithin.TryGetValue(expiry.Key, out var firedAt) && firedAt == expiry.FiredAt:
                storm.OnceWithin.Remove(expiry.Key);
                break;
            case AtMostExpiry expiry when storm.AtMost.TryGetValue(expiry.Key, out var times):
                while (times.Count > 0 && due - times.Peek() > terminal.Rule.Throttle!.WindowTicks) // as PassThrottle: inclusive
                {
                    times.Dequeue();
                }

                if (times.Count == 0)
                {
                    storm.AtMost.Remove(expiry.Key);
                }

                break;
        }
    }

    /// <summary>
    /// <c>throttle once within D</c>: the first match of a key fires, and further matches of that key are suppressed while they are at
    /// most D after it (inclusive, on event time). <c>throttle at most N per D</c>: a match fires when fewer than N matches of its key
    /// fired in the D before it (inclusive). Suppressed matches are consumed: they do not fire later.
    /// </summary>
    private bool PassThrottle(TerminalNode terminal, IMatch match, long time)
    {
        if (terminal.Rule.Throttle is not { Mode: not ThrottleMode.OnceAfter } throttle)
        {
            return true;
        }

        var key = throttle.Key(Context.Set(match, null));
        var storm = MemoryOf<TerminalNode.Memory>(terminal.Id).Storm;
        if (throttle.Mode == ThrottleMode.OnceWithin)
        {
            if (storm.OnceWithin.TryGetValue(key, out var firedAt) && time - firedAt <= throttle.WindowTicks)
            {
                return false;
            }

            var detached = key.Detach();
            storm.OnceWithin[detached] = time;
            Timers.Schedule(ThrottleExpiry(time, throttle), terminal.Id, time, StableHash(detached), terminal, new OnceWithinExpiry(detached, time));
            return true;
        }

        if (!storm.AtMost.TryGetValue(key, out var times))
        {
            times = new Queue<long>();
            key = key.Detach();
            storm.AtMost[key] = times;
        }

        while (times.Count > 0 && time - times.Peek() > throttle.WindowTicks)
        {
            times.Dequeue();
        }

        if (times.Count >= throttle.Count)
        {
            return false;
        }

        times.Enqueue(time);
        Timers.Schedule(ThrottleExpiry(time, throttle), terminal.Id, time, StableHash(key), terminal, new AtMostExpiry(key));
        return true;
    }

    /// <summary>
    /// When a throttle's record of a firing at <paramref name="firedAt"/> may go: one tick after the last instant it suppresses
    /// (<c>time − firedAt &lt;= D</c>, inclusive). Timers run one due time at a time and the activations of a due time (a batch,
    /// an absence, a silence, a window expiry) are tested in it: a record removed at <c>firedAt + D</c> would be gone before them.
    /// </summary>
    private static long ThrottleExpiry(long firedAt, Compilation.CompiledThrottle throttle) => firedAt + throttle.WindowTicks + 1;

    /// <summary>Restores a rule's storm-control state and schedules its timers (snapshots).</summary>
    public void RestoreStorm(TerminalNode terminal, IEnumerable<(JoinKey Key, long FiredAt)> onceWithin, IEnumerable<(JoinKey Key, long[] Times)> atMost,
        IEnumerable<Batch> batches)
    {
        var storm = MemoryOf<TerminalNode.Memory>(terminal.Id).Storm;
        var throttle = terminal.Rule.Throttle;
        foreach (var (key, firedAt) in onceWithin)
        {
            if (throttle is { Mode: ThrottleMode.OnceWithin })
            {
                storm.OnceWithin[key] = firedAt;
                Timers.Schedule(ThrottleExpiry(firedAt, throttle), terminal.Id, firedAt, StableHash(key), terminal, new OnceWithinExpiry(key, firedAt));
            }
        }

        foreach (var (key, times) in atMost)
        {
            if (throttle is { Mode: ThrottleMode.AtMost } && times.Length > 0)
            {
                storm.AtMost[key] = new Queue<long>(times);
                foreach (var t in times)
                {
                    Timers.Schedule(ThrottleExpiry(t, throttle), terminal.Id, t, StableHash(key), terminal, new AtMostExpiry(key));
                }
            }
        }

        foreach (var batch in batches)
        {
            if (terminal.Rule.Batches && batch.Matches.Count > 0)
            {
                storm.Batches[batch.Key] = batch;
                ScheduleBatch(terminal, batch);
            }
        }
    }

    /// <summary>First 32 hex digits of SHA-256("rule name\nid1\nid2...[\n@ticks]"), lower case.</summary>
    internal static string ActivationId(string rule, IReadOnlyList<string> eventIds, long? idTime = null)
    {
        // Index loops: a foreach over the interface would box an enumerator twice per firing.
        var length = Encoding.UTF8.GetMaxByteCount(rule.Length) + 24;
        for (var i = 0; i < eventIds.Count; i++)
        {
            length += Encoding.UTF8.GetMaxByteCount(eventIds[i].Length) + 1;
        }

        var rented = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var n = Encoding.UTF8.GetBytes(rule, rented);
            for (var i = 0; i < eventIds.Count; i++)
            {
                rented[n++] = (byte)'\n';
                n += Encoding.UTF8.GetBytes(eventIds[i], rented.AsSpan(n));
            }

            if (idTime is { } t)
            {
                rented[n++] = (byte)'\n';
                rented[n++] = (byte)'@';
                t.TryFormat(rented.AsSpan(n), out var written, default, System.Globalization.CultureInfo.InvariantCulture);
                n += written;
            }

            Span<byte> hash = stackalloc byte[32];
            SHA256.HashData(rented.AsSpan(0, n), hash);
            return Convert.ToHexStringLower(hash[..16]);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>A hash of a key that is the same in every process (timer order must not depend on randomized hashing).</summary>
    public static long StableHash(JoinKey key)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in key.ToString())
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return (long)hash;
    }
}
