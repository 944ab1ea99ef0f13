using System.Diagnostics.Tracing;

namespace RuleFlow.Bench;

/// <summary>
/// Diagnostics (<c>RULEFLOW_BENCH_ALLOCS=1</c>): samples the runtime's allocation ticks (one event per ~100 KB allocated, naming the
/// type of the object that crossed the mark) and prints the types that took most of the samples. A sampling profile of what is
/// allocated, in-process and without tools.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private readonly Dictionary<string, long> _bytes = [];
    private bool _enabled;

    public static AllocationSampler? StartIfAsked() =>
        Environment.GetEnvironmentVariable("RULEFLOW_BENCH_ALLOCS") is "1" ? new AllocationSampler { _enabled = true } : null;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1); // GC keyword: AllocationTick
        }
    }

    private long _promoted0;
    private long _promoted1;

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (_enabled && eventData.EventName is { } name && name.StartsWith("GCHeapStats", StringComparison.Ordinal) && eventData.Payload is { } payload)
        {
            var names = eventData.PayloadNames!;
            Interlocked.Add(ref _promoted0, Convert.ToInt64(payload[names.IndexOf("TotalPromotedSize0")], System.Globalization.CultureInfo.InvariantCulture));
            Interlocked.Add(ref _promoted1, Convert.ToInt64(payload[names.IndexOf("TotalPromotedSize1")], System.Globalization.CultureInfo.InvariantCulture));
            return;
        }

        if (!_enabled || eventData.EventName is null || !eventData.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || eventData.Payload is null)
        {
            return;
        }

        var index = eventData.PayloadNames!.IndexOf("TypeName");
        var amountIndex = eventData.PayloadNames.IndexOf("AllocationAmount64");
        if (index < 0)
        {
            return;
        }

        var type = eventData.Payload[index] as string ?? "?";
        var amount = amountIndex >= 0 ? Convert.ToInt64(eventData.Payload[amountIndex], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
        lock (_bytes)
        {
            _bytes[type] = _bytes.GetValueOrDefault(type) + amount;
        }
    }

    public void Print(TextWriter output, long events)
    {
        _enabled = false;
        lock (_bytes)
        {
            var total = _bytes.Values.Sum();
            output.WriteLine($"promoted by the collections: out of gen0 {_promoted0 / 1048576.0:F0} MB ({(double)_promoted0 / events:F0} B/event), " +
                             $"out of gen1 {_promoted1 / 1048576.0:F0} MB ({(double)_promoted1 / events:F0} B/event)");
            output.WriteLine($"allocations sampled: {total / 1048576.0:F0} MB ({(double)total / events:F0} B/event), by type:");
            foreach (var (type, bytes) in _bytes.OrderByDescending(p => p.Value).Take(20))
            {
                output.WriteLine($"  {bytes * 100.0 / total,5:F1} %  {(double)bytes / events,7:F1} B/event  {type}");
            }
        }
    }
}
