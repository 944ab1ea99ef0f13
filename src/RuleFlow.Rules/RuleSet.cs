using RuleFlow.Rules.Compilation;
using RuleFlow.Rules.Engine;
using RuleFlow.Rules.Language;

namespace RuleFlow.Rules;

/// <summary>
/// A compiled, immutable rule set: the declared event and fact types, the rules, and their Rete network (C. L. Forgy, "Rete: A
/// Fast Algorithm for the Many Pattern/Many Object Pattern Match Problem", Artificial Intelligence 19(1):17–37, 1982; memories,
/// negation and tree-based removal after R. B. Doorenbos, "Production Matching for Large Learning Systems", CMU 1995; temporal
/// semantics after Drools Fusion). Create one with <see cref="RuleSetLoader"/>; create any number of independent
/// <see cref="RuleSession"/>s from it. Thread-safe: the network is shared, each session keeps its own memories.
/// </summary>
public sealed class RuleSet
{
    private readonly IReadOnlyList<BoundEventType> _types;
    private string? _fingerprint;

    internal RuleSet(IReadOnlyList<BoundEventType> types, IReadOnlyList<RuleInfo> rules, ReteNetwork network)
    {
        _types = types;
        EventTypes = [.. types.Select(t => t.ToInfo())];
        Rules = rules;
        Network = network;
    }

    /// <summary>An empty rule set: no types, no rules (its sessions only advance their clock).</summary>
    public static RuleSet Empty { get; } = new([], [], ReteNetwork.Empty);

    /// <summary>Declared event and fact types, in load order (files sorted by path, then source order).</summary>
    public IReadOnlyList<EventTypeInfo> EventTypes { get; }

    /// <summary>Rules, enabled or not (see <see cref="RuleInfo.Enabled"/>), in load order.</summary>
    public IReadOnlyList<RuleInfo> Rules { get; }

    /// <summary>
    /// Every <c>start workflow</c> action of the loaded rules with the input fields it gives and, where the expression's type is
    /// known when the rules load, the JSON type of each (for checking them against the workflow's input schema).
    /// </summary>
    public IReadOnlyList<WorkflowStartInfo> WorkflowStarts { get; init; } = [];

    /// <summary>
    /// How far back in event time events must be replayed into a new session to rebuild every window and storm-control state: the
    /// longest retention of an event type, and for each rule with storm control its window plus the longest retention of its event
    /// types. A snapshot (<see cref="RuleSession.SaveSnapshot"/>) plus the events after it is always exact.
    /// <see cref="TimeSpan.Zero"/> when no rule holds events.
    /// </summary>
    public TimeSpan RetentionHorizon => TimeSpan.FromTicks(Network.RetentionHorizonTicks);

    /// <summary>
    /// A stable hash (32 hex digits) of the compiled rule set: the structure of every type and rule (conditions, windows, storm
    /// control, actions), not file names, comments or formatting. Equal fingerprints mean equal behaviour.
    /// </summary>
    public string Fingerprint => _fingerprint ??= Hashing.Long(
        string.Join("\n", _types.Select(t => t.FingerprintText).Order(StringComparer.Ordinal)) + "\n--\n" +
        string.Join("\n", Network.Plans.Values.Select(p => p.Rule.Canonical + " enabled " + p.Rule.Enabled).Order(StringComparer.Ordinal)));

    internal ReteNetwork Network { get; }

    /// <summary>
    /// True when <paramref name="type"/> is a declared fact type: inserting one does not move the clock, so a tool that knows when it
    /// arrived (a test step's <c>at</c>, a line's <c>time</c>) lets the clock pass to then first (<see cref="RuleSession.AdvanceTo"/>).
    /// </summary>
    public bool IsFactType(string type) => Network.Types.TryGetValue(type, out var t) && t.IsFact;

    /// <summary>
    /// The declared event type whose <c>from</c> clause matches a message: the exchange equals the declared exchange (when one is
    /// declared) and the routing key matches the declared AMQP topic pattern (when one is declared; <c>*</c> one word, <c>#</c> zero
    /// or more). A declaration without a <c>from</c> clause matches nothing. When several match, the first in load order wins.
    /// </summary>
    /// <param name="exchange">Exchange the message came from.</param>
    /// <param name="routingKey">Its routing key, e.g. <c>ssh.auth</c>.</param>
    /// <returns>The type name, or null.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public string? ResolveEventType(string exchange, string routingKey)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        ArgumentNullException.ThrowIfNull(routingKey);
        foreach (var type in _types)
        {
            if (type.Exchange is null && type.Routing is null)
            {
                continue;
            }

            if ((type.Exchange is null || string.Equals(type.Exchange, exchange, StringComparison.Ordinal))
                && (type.Routing is null || type.Routing.IsMatch(routingKey)))
            {
                return type.Name;
            }
        }

        return null;
    }

    /// <summary>A new session with empty working memory, default options, and its clock at <see cref="DateTimeOffset.MinValue"/>.</summary>
    public RuleSession CreateSession() => CreateSession(new RuleSessionOptions());

    /// <summary>A new session with empty working memory and its clock at <see cref="DateTimeOffset.MinValue"/>.</summary>
    /// <param name="options">Session options (allowed lateness).</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A negative <see cref="RuleSessionOptions.AllowedLateness"/>.</exception>
    public RuleSession CreateSession(RuleSessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.AllowedLateness, TimeSpan.Zero, nameof(options));
        return new RuleSession(this, new SessionState(Network, options));
    }

    /// <summary>
    /// A session of this rule set that takes over the working memory of <paramref name="previous"/> (a session of this or another
    /// rule set: a reload): its clock, its retained events and facts whose type this rule set declares, the dedup state of those
    /// types, the storm-control state (throttles, open batches) of every rule whose identity — name, conditions, storm control and
    /// actions — is unchanged, and the state of absence and silence conditions that are unchanged. Partial matches and windows are
    /// re-derived in this rule set's network; nothing fires while doing so (activations that exist after the reload are considered
    /// fired). An event the old rule set did not retain cannot be recovered: a window that became longer fills up from now on.
    /// <paramref name="previous"/> is not changed.
    /// </summary>
    /// <param name="previous">The session to take over.</param>
    /// <param name="options">Options of the new session.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public RuleSession CreateSession(RuleSession previous, RuleSessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(previous);
        ArgumentNullException.ThrowIfNull(options);
        using var buffer = new MemoryStream();
        previous.SaveSnapshot(buffer);
        buffer.Position = 0;
        return RestoreSession(buffer, options);
    }

    /// <summary>
    /// A session rebuilt from a snapshot written by <see cref="RuleSession.SaveSnapshot"/> (of this or another rule set: what is
    /// carried over is as for <see cref="CreateSession(RuleSession, RuleSessionOptions)"/>). Feeding it the events that came after the
    /// snapshot gives the same firings, with the same activation ids, as the session that wrote it.
    /// </summary>
    /// <param name="snapshot">A readable stream positioned at the start of the snapshot; read to its end.</param>
    /// <param name="options">Options of the new session.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="RuleSnapshotException">The stream is not a RuleFlow snapshot, is of an unknown version, or is corrupt.</exception>
    public RuleSession RestoreSession(Stream snapshot, RuleSessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(options);
        var session = CreateSession(options);
        SnapshotReader.Restore(snapshot, session.State);
        return session;
    }

    /// <summary>
    /// Which conditions of a rule's patterns one event meets, judged on the event alone (conditions that compare with earlier
    /// bindings, and windows, depend on the session: see <see cref="RuleSession.Explain"/>). For tools such as <c>ruleflow explain</c>.
    /// </summary>
    /// <param name="ruleName">A rule of this set.</param>
    /// <param name="evt">The event.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">No rule has that name.</exception>
    public EventExplanation ExplainEvent(string ruleName, RuleEvent evt)
    {
        ArgumentNullException.ThrowIfNull(ruleName);
        ArgumentNullException.ThrowIfNull(evt);
        return Explainer.ExplainEvent(Network, ruleName, evt);
    }
}

/// <summary>Options of a <see cref="RuleSession"/>.</summary>
public sealed record RuleSessionOptions
{
    /// <summary>
    /// How far behind the latest event time an event may arrive and still be applied as if in order (default 0). The session clock
    /// (the watermark) is the latest event time minus this: windows expire, timers fire (absence, silence, batches) and firings are
    /// stamped on that clock, so a larger value tolerates more disorder at the cost of later decisions. An event older than
    /// (clock − its type's retention) is late: it is counted (<see cref="RuleSessionStatistics.LateEvents"/>), reported by
    /// <see cref="RuleSession.LastInsertStatus"/>, and not applied. Must not be negative.
    /// </summary>
    public TimeSpan AllowedLateness { get; init; }
}

/// <summary>What happened to the last input of <see cref="RuleSession.Insert"/>.</summary>
public enum InsertStatus
{
    /// <summary>Applied to working memory (an event matched or not; a fact inserted, replaced, or equal to the one held).</summary>
    Applied,

    /// <summary>Older than the clock minus its type's retention: counted, not applied (the host should log it).</summary>
    Late,

    /// <summary>Not a JSON object, a fact without its key field, or a declared field of another JSON type: counted, not applied.</summary>
    Invalid,

    /// <summary>Its type is not declared: it only advanced the clock.</summary>
    UnknownType,

    /// <summary>Dropped by its type's <c>dedup by ... within</c>: an equal event was accepted within the window.</summary>
    Deduplicated,
}

/// <summary>Thrown by <see cref="RuleSet.RestoreSession"/> for a stream that is not a readable RuleFlow snapshot.</summary>
public sealed class RuleSnapshotException : Exception
{
    /// <summary>Creates the exception.</summary>
    public RuleSnapshotException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What is wrong with the snapshot.</param>
    public RuleSnapshotException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error that revealed it.</summary>
    /// <param name="message">What is wrong with the snapshot.</param>
    /// <param name="inner">The underlying error.</param>
    public RuleSnapshotException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>
/// A rule session: working memory, agenda and clock over a <see cref="RuleSet"/>. Feed it events in order with
/// <see cref="Insert"/>; it returns what fired. The same inputs in the same order always give the same firings (with the same
/// activation ids), so state is rebuilt by replaying journaled events after the latest snapshot.
/// <para>
/// Time is event time: the clock is the latest event time seen minus the allowed lateness (a watermark). An event with time t is in
/// a sliding window of length D while clock − t ≤ D (inclusive); events are held only as long as some window needs them, and
/// storm-control entries expire, so memory stays flat on an endless stream.
/// </para>
/// <para>Not thread-safe: use a session from one thread at a time (the server applies events on one session thread).</para>
/// </summary>
public sealed class RuleSession
{
    private readonly SessionState _state;

    internal RuleSession(RuleSet ruleSet, SessionState state)
    {
        RuleSet = ruleSet;
        _state = state;
    }

    internal SessionState State => _state;

    /// <summary>The rule set this session runs.</summary>
    public RuleSet RuleSet { get; }

    /// <summary>The session's options.</summary>
    public RuleSessionOptions Options => _state.Options;

    /// <summary>
    /// Applies one event: first, when its time moves the clock, every timer due before the new clock runs (window expiries,
    /// absences, silences, batches), one due time at a time, and their firings come first in the result; then the event is matched and
    /// the agenda fires (salience, then recency; refraction; storm control), and fact changes made by firings are matched in turn.
    /// <para>
    /// The event's time is its type's <c>time</c> field (an ISO-8601 string, or a number of Unix milliseconds) when present and valid,
    /// else <see cref="RuleEvent.Time"/>. An event of a fact type inserts the fact or replaces the one with the same key (it does not
    /// move the clock). See <see cref="LastInsertStatus"/> for late, invalid, unknown and duplicate inputs: they never throw. A
    /// missing field, or one of the wrong type, makes its condition false.
    /// </para>
    /// </summary>
    /// <param name="evt">The event.</param>
    /// <returns>The firings, in firing order; empty when nothing fired.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="evt"/> is null.</exception>
    public IReadOnlyList<RuleFiring> Insert(RuleEvent evt)
    {
        using var keys = _state.KeyStrings.Enter();
        return _state.Insert(evt);
    }

    /// <summary>
    /// Applies several events with one firing at the end (bulk mode): the clock moves to the latest time of the batch first (timers
    /// due before it run), then every event is inserted (lateness is judged against the clock before the batch), then the agenda fires
    /// once. Activations made and removed inside the batch never fire, so the result may differ from inserting one at a time.
    /// <see cref="LastInsertStatus"/> is the status of the last event.
    /// </summary>
    /// <param name="events">The events, in order.</param>
    /// <returns>The firings, in firing order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="events"/> or one of them is null.</exception>
    public IReadOnlyList<RuleFiring> InsertBatch(IReadOnlyList<RuleEvent> events)
    {
        using var keys = _state.KeyStrings.Enter();
        return _state.InsertBatch(events);
    }

    /// <summary>
    /// Moves the clock forward to <paramref name="time"/> minus the allowed lateness (never back), as an event with that time would,
    /// and runs every timer due before the new clock, one due time at a time. Call it when the stream is idle so absences, silences
    /// and batches fire on time. A timer's firing has the timer's due time as <see cref="RuleFiring.Time"/> and in its activation id,
    /// so it is the same whichever call runs it. Note that the clock it sets also judges lateness: an event older than the clock minus
    /// its type's retention that arrives afterwards is late, so a host that replays events must replay these calls too (journal them).
    /// </summary>
    /// <param name="time">The time the stream has reached.</param>
    /// <returns>The firings of the timers that ran.</returns>
    public IReadOnlyList<RuleFiring> AdvanceTo(DateTimeOffset time)
    {
        using var keys = _state.KeyStrings.Enter();
        return _state.AdvanceTo(time.UtcTicks);
    }

    /// <summary>What happened to the last event given to <see cref="Insert"/> or <see cref="InsertBatch"/>.</summary>
    public InsertStatus LastInsertStatus => _state.LastInsertStatus;

    /// <summary>
    /// Why <paramref name="evt"/> is <see cref="InsertStatus.Invalid"/>, in words naming the field (for a host to report to the
    /// sender: <c>field 'host' is declared string, but the event has a number</c>), or null when it is not invalid. Stateless, and not
    /// for the hot path: call it when <see cref="LastInsertStatus"/> says <see cref="InsertStatus.Invalid"/>.
    /// </summary>
    public string? DescribeInvalid(RuleEvent evt)
    {
        ArgumentNullException.ThrowIfNull(evt);
        if (!_state.Network.Types.TryGetValue(evt.Type ?? "", out var type))
        {
            return null;
        }

        if (evt.Data.ValueKind != System.Text.Json.JsonValueKind.Object)
        {
            return $"the {(type.IsFact ? "fact" : "event")}'s data is not a JSON object";
        }

        if (type.CheckSchema(evt.Data) == SchemaCheck.WrongType)
        {
            return type.DescribeWrongType(evt.Data);
        }

        return type.IsFact && type.KeyPath is { } key && key.Read(evt.Data) is { } value && (value.IsMissing || value.Kind == ValueKind.Null)
            ? "the fact has no value for its key field"
            : null;
    }

    /// <summary>The session clock: the latest event time seen minus the allowed lateness (UTC), <see cref="DateTimeOffset.MinValue"/> before the first event.</summary>
    public DateTimeOffset Clock => new(Math.Max(0, _state.ClockTicks), TimeSpan.Zero);

    /// <summary>
    /// Writes the session's working memory to <paramref name="destination"/> (a versioned binary format, "RFSNAP" version 1): the
    /// clock, the counters, every retained event and fact with its sequence number, the dedup entries, and, by rule and node identity,
    /// the storm-control state and the absence and silence state. Partial matches are not written: they are re-derived on restore.
    /// Restoring it (<see cref="RuleSet.RestoreSession"/>) and applying the events that came after gives the same firings as this session.
    /// </summary>
    /// <param name="destination">A writable stream.</param>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is null.</exception>
    public void SaveSnapshot(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        SnapshotWriter.Write(destination, _state);
    }

    /// <summary>
    /// Explains a rule on the live session: for each condition element, how many partial matches reach it; for aggregates, their groups
    /// with value and window contents and when each event expires; pending absences and silences with their due times; storm-control
    /// entries; the activations that exist; and a one-line summary of why the rule does or does not fire.
    /// </summary>
    /// <param name="ruleName">The rule's name.</param>
    /// <exception cref="ArgumentNullException"><paramref name="ruleName"/> is null.</exception>
    /// <exception cref="ArgumentException">No rule has that name.</exception>
    public RuleMatchesReport Explain(string ruleName)
    {
        ArgumentNullException.ThrowIfNull(ruleName);
        return Explainer.Explain(_state, ruleName);
    }

    /// <summary>A snapshot of the session's counters and sizes.</summary>
    public RuleSessionStatistics Statistics => new(
        _state.EventsInserted, _state.LateEvents, _state.Firings, _state.SuppressedByThrottle, _state.EventsHeld)
    {
        ActivationsCreated = _state.ActivationsCreated,
        UnknownTypeEvents = _state.UnknownTypeEvents,
        InvalidEvents = _state.InvalidEvents,
        InvalidTimestamps = _state.InvalidTimestamps,
        DuplicateEvents = _state.DuplicateEvents,
        SchemaViolations = _state.SchemaViolations,
        MissingFieldEvents = _state.MissingFieldEvents,
        UnmatchedEvents = _state.UnmatchedEvents,
        BatchedMatches = _state.Batched,
        LoopAborts = _state.LoopAborts,
        Facts = _state.FactCount,
        PartialMatches = _state.TokenCount,
        AggregateGroups = _state.AggregateGroups,
        ThrottleEntries = _state.ThrottleEntries,
        PendingTimers = _state.Timers.Count,
    };
}

/// <summary>Counters and sizes of a <see cref="RuleSession"/> (a snapshot).</summary>
/// <param name="EventsInserted">Inputs passed to <see cref="RuleSession.Insert"/> (events and facts).</param>
/// <param name="LateEvents">Events older than (clock − their type's retention): not applied.</param>
/// <param name="Firings">Activations fired (after storm control), including batch firings.</param>
/// <param name="SuppressedByThrottle">Activations a throttle suppressed.</param>
/// <param name="WorkingMemoryEvents">Events held in working memory now (events kept for windows).</param>
public sealed record RuleSessionStatistics(long EventsInserted, long LateEvents, long Firings, long SuppressedByThrottle, int WorkingMemoryEvents)
{
    /// <summary>Activations put on the agenda (fired, suppressed, batched, or retracted before firing).</summary>
    public long ActivationsCreated { get; init; }

    /// <summary>Events whose type no loaded file declares (they only advance the clock).</summary>
    public long UnknownTypeEvents { get; init; }

    /// <summary>Inputs whose data is not a JSON object, and facts without their key field.</summary>
    public long InvalidEvents { get; init; }

    /// <summary>Events whose declared time field held something that is not a timestamp (their caller time was used).</summary>
    public long InvalidTimestamps { get; init; }

    /// <summary>Events dropped by their type's <c>dedup</c>.</summary>
    public long DuplicateEvents { get; init; }

    /// <summary>Events with a declared field of the wrong JSON type: counted and not applied (they match nothing; they move the clock).</summary>
    public long SchemaViolations { get; init; }

    /// <summary>
    /// Events and facts applied although a top-level field declared without <c>?</c> was absent or null: the conditions that read
    /// it were false, the others held (an event with a wrongly typed field is counted in <see cref="SchemaViolations"/> instead).
    /// </summary>
    public long MissingFieldEvents { get; init; }

    /// <summary>Events of a declared type that passed no pattern's constant tests (including those with missing or wrong fields).</summary>
    public long UnmatchedEvents { get; init; }

    /// <summary>Matches collected into <c>group by</c> / <c>throttle once after</c> batches.</summary>
    public long BatchedMatches { get; init; }

    /// <summary>Calls stopped after <c>10,000</c> firings (a rule set that keeps re-activating itself through fact changes).</summary>
    public long LoopAborts { get; init; }

    /// <summary>Facts held now.</summary>
    public int Facts { get; init; }

    /// <summary>Partial matches (tokens) held in beta memories now.</summary>
    public int PartialMatches { get; init; }

    /// <summary>Aggregate and silence groups held now.</summary>
    public int AggregateGroups { get; init; }

    /// <summary>Storm-control entries held now (throttle keys and open batches; each expires with its window).</summary>
    public int ThrottleEntries { get; init; }

    /// <summary>Timers pending on event time (window expiries, event retention, absences, silences, storm control).</summary>
    public int PendingTimers { get; init; }
}
