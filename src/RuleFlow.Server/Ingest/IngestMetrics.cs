using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace RuleFlow.Server.Ingest;

/// <summary>
/// Ingest counters, published as the <c>RuleFlow.Ingest</c> meter (for OpenTelemetry or <c>dotnet-counters</c>) and
/// as a snapshot at <c>GET /api/stats</c>.
/// </summary>
public sealed class IngestMetrics : IDisposable
{
    private readonly Meter _meter = new("RuleFlow.Ingest", "1.0");
    private readonly Counter<long> _accepted;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _deadLettered;
    private readonly Counter<long> _firings;
    private readonly ConcurrentDictionary<string, long> _deadLetteredByCode = new(StringComparer.Ordinal);
    private long _acceptedTotal;
    private long _duplicateTotal;
    private long _firingTotal;

    /// <summary>Creates the instruments.</summary>
    public IngestMetrics()
    {
        _accepted = _meter.CreateCounter<long>("ruleflow.events.accepted", "{event}", "Events journaled and applied to the rule session");
        _duplicates = _meter.CreateCounter<long>("ruleflow.events.duplicates", "{event}", "Redelivered or repeated events ignored by id");
        _deadLettered = _meter.CreateCounter<long>("ruleflow.events.dead_lettered", "{message}", "Messages refused at ingest, by reason code");
        _firings = _meter.CreateCounter<long>("ruleflow.rules.firings", "{firing}", "Rule activations fired (after throttling)");
    }

    /// <summary>Counts an accepted event.</summary>
    public void Accepted() { Interlocked.Increment(ref _acceptedTotal); _accepted.Add(1); }

    /// <summary>Counts a duplicate.</summary>
    public void Duplicate() { Interlocked.Increment(ref _duplicateTotal); _duplicates.Add(1); }

    /// <summary>Counts firings.</summary>
    public void Fired(int count)
    {
        if (count == 0)
        {
            return;
        }

        Interlocked.Add(ref _firingTotal, count);
        _firings.Add(count);
    }

    /// <summary>Counts a refused message by reason code.</summary>
    public void DeadLettered(string code)
    {
        _deadLetteredByCode.AddOrUpdate(code, 1, (_, n) => n + 1);
        _deadLettered.Add(1, new KeyValuePair<string, object?>("code", code));
    }

    /// <summary>Counts since the process started.</summary>
    public IngestStatistics Snapshot() => new(
        Interlocked.Read(ref _acceptedTotal),
        Interlocked.Read(ref _duplicateTotal),
        Interlocked.Read(ref _firingTotal),
        _deadLetteredByCode.Values.Sum(),
        new SortedDictionary<string, long>(_deadLetteredByCode, StringComparer.Ordinal));

    /// <inheritdoc />
    public void Dispose() => _meter.Dispose();
}

/// <summary>Ingest counts since the process started.</summary>
public sealed record IngestStatistics(long Accepted, long Duplicates, long Firings, long DeadLettered, IReadOnlyDictionary<string, long> DeadLetteredByCode);
