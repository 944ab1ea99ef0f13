using RuleFlow.Rules.Compilation;
using RuleFlow.Rules.Engine;
using RuleFlow.Rules.Language;

namespace RuleFlow.Rules;

/// <summary>
/// A compiled, immutable rule set: the declared event types, the rules, and their Rete network (C. L. Forgy, "Rete: A Fast
/// Algorithm for the Many Pattern/Many Object Pattern Match Problem", Artificial Intelligence 19(1):17–37, 1982; memories and
/// tree-based removal after R. B. Doorenbos, "Production Matching for Large Learning Systems", CMU 1995). Create one with
/// <see cref="RuleSetLoader"/>; create any number of independent <see cref="RuleSession"/>s from it. Thread-safe: the network is
/// shared, each session keeps its own memories.
/// </summary>
public sealed class RuleSet
{
    private readonly IReadOnlyList<BoundEventType> _types;

    internal RuleSet(IReadOnlyList<BoundEventType> types, IReadOnlyList<RuleInfo> rules, ReteNetwork network)
    {
        _types = types;
        EventTypes = [.. types.Select(t => t.ToInfo())];
        Rules = rules;
        Network = network;
    }

    /// <summary>An empty rule set: no types, no rules (its sessions only advance their clock).</summary>
    public static RuleSet Empty { get; } = new([], [], ReteNetwork.Empty);

    /// <summary>Declared event types, in load order (files sorted by path, then source order).</summary>
    public IReadOnlyList<EventTypeInfo> EventTypes { get; }

    /// <summary>Rules in force, in load order.</summary>
    public IReadOnlyList<RuleInfo> Rules { get; }

    /// <summary>
    /// How far back in event time events must be replayed into a new session to rebuild every window and throttle: the longest
    /// retention of an event type (its longest window), and for each throttled rule its throttle window plus the longest retention
    /// of its event types. Replaying the events of this horizon rebuilds every window exactly; a throttle entry is rebuilt
    /// exactly unless the original run suppressed a firing inside the horizon because of a firing before it (replaying from the
    /// start of the journal, or a snapshot (issue 3), is exact). <see cref="TimeSpan.Zero"/> when no rule holds events.
    /// </summary>
    public TimeSpan RetentionHorizon => TimeSpan.FromTicks(Network.RetentionHorizonTicks);

    internal ReteNetwork Network { get; }

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

    /// <summary>A new session with empty working memory and its clock at <see cref="DateTimeOffset.MinValue"/>.</summary>
    public RuleSession CreateSession() => new(new SessionState(Network));
}

/// <summary>
/// A rule session: working memory, agenda and clock over a <see cref="RuleSet"/>. Feed it events in order with
/// <see cref="Insert"/>; it returns what fired. The same events in the same order always give the same firings (with the same
/// activation ids), so state is rebuilt by replaying journaled events.
/// <para>
/// Time is event time: the clock is the latest event time seen (a watermark). An event with time t is in a window of length D
/// while clock - t &lt;= D (inclusive); events are held only as long as some window needs them, and throttle entries expire, so
/// memory stays flat on an endless stream.
/// </para>
/// <para>Not thread-safe: use a session from one thread at a time (the server applies events on one session thread).</para>
/// </summary>
public sealed class RuleSession
{
    private readonly SessionState _state;

    internal RuleSession(SessionState state) => _state = state;

    internal SessionState State => _state;

    /// <summary>
    /// Applies one event: advances the clock to the event's time when it is later (expiring what leaves windows and throttles),
    /// matches the event, then fires the agenda (salience, then recency; refraction; throttle).
    /// <para>
    /// The event's time is its type's <c>time</c> field (an ISO-8601 string, or a number of Unix milliseconds) when present and
    /// valid, else <see cref="RuleEvent.Time"/>. An event older than (clock - its type's retention) cannot join anything: it is
    /// counted in <see cref="RuleSessionStatistics.LateEvents"/> and not matched. Events of undeclared types, and data that is not a
    /// JSON object, only advance the clock (and are counted). A missing field makes its condition false. Bad data never throws.
    /// </para>
    /// </summary>
    /// <param name="evt">The event.</param>
    /// <returns>The firings (after throttling), in firing order; empty when nothing fired.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="evt"/> is null.</exception>
    public IReadOnlyList<RuleFiring> Insert(RuleEvent evt) => _state.Insert(evt);

    /// <summary>The session clock: the latest event time seen (UTC), <see cref="DateTimeOffset.MinValue"/> before the first event.</summary>
    public DateTimeOffset Clock => new(_state.ClockTicks, TimeSpan.Zero);

    /// <summary>A snapshot of the session's counters and sizes.</summary>
    public RuleSessionStatistics Statistics => new(
        _state.EventsInserted, _state.LateEvents, _state.Firings, _state.SuppressedByThrottle, _state.EventsHeld)
    {
        ActivationsCreated = _state.ActivationsCreated,
        UnknownTypeEvents = _state.UnknownTypeEvents,
        InvalidEvents = _state.InvalidEvents,
        InvalidTimestamps = _state.InvalidTimestamps,
        PartialMatches = _state.TokenCount,
        AggregateGroups = _state.AggregateGroups,
        ThrottleEntries = _state.ThrottleEntries,
        PendingTimers = _state.Timers.Count,
    };
}

/// <summary>Counters and sizes of a <see cref="RuleSession"/> (a snapshot).</summary>
/// <param name="EventsInserted">Events passed to <see cref="RuleSession.Insert"/>.</param>
/// <param name="LateEvents">Events older than (clock - their type's retention): not matched.</param>
/// <param name="Firings">Activations fired (after throttling).</param>
/// <param name="SuppressedByThrottle">Activations a throttle suppressed.</param>
/// <param name="WorkingMemoryEvents">Events held in working memory now (events kept for windows).</param>
public sealed record RuleSessionStatistics(long EventsInserted, long LateEvents, long Firings, long SuppressedByThrottle, int WorkingMemoryEvents)
{
    /// <summary>Activations put on the agenda (fired, suppressed, or retracted before firing).</summary>
    public long ActivationsCreated { get; init; }

    /// <summary>Events whose type no loaded file declares (they only advance the clock).</summary>
    public long UnknownTypeEvents { get; init; }

    /// <summary>Events whose data is not a JSON object (they only advance the clock).</summary>
    public long InvalidEvents { get; init; }

    /// <summary>Events whose declared time field held something that is not a timestamp (their caller time was used).</summary>
    public long InvalidTimestamps { get; init; }

    /// <summary>Partial matches (tokens) held in beta memories now.</summary>
    public int PartialMatches { get; init; }

    /// <summary>Aggregate groups held now.</summary>
    public int AggregateGroups { get; init; }

    /// <summary>Throttle entries held now (each expires when its window has passed).</summary>
    public int ThrottleEntries { get; init; }

    /// <summary>Timers pending on event time (window expiries, event retention, throttle releases).</summary>
    public int PendingTimers { get; init; }
}
