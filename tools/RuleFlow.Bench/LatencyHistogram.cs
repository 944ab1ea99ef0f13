namespace RuleFlow.Bench;

/// <summary>
/// A log-linear latency histogram (like HdrHistogram with 2 significant digits): values in nanoseconds from 1 ns to
/// about 68 s, with a relative error under 1 %. Recording is allocation-free; not thread-safe.
/// </summary>
public sealed class LatencyHistogram
{
    private const int SubBuckets = 128; // per power of two: 1/128 < 1 % resolution
    private const int Magnitudes = 36;
    private readonly long[] _counts = new long[Magnitudes * SubBuckets];

    /// <summary>Number of recorded values.</summary>
    public long Count { get; private set; }

    /// <summary>Largest recorded value (ns).</summary>
    public long Max { get; private set; }

    /// <summary>Records one value in nanoseconds (values below 1 count as 1).</summary>
    public void Record(long nanoseconds)
    {
        var value = Math.Max(1, nanoseconds);
        _counts[Index(value)]++;
        Count++;
        if (value > Max)
        {
            Max = value;
        }
    }

    /// <summary>Records a <see cref="System.Diagnostics.Stopwatch"/> tick interval.</summary>
    public void RecordTicks(long stopwatchTicks) =>
        Record((long)(stopwatchTicks * (1_000_000_000.0 / System.Diagnostics.Stopwatch.Frequency)));

    /// <summary>The value at <paramref name="percentile"/> (0..100), in nanoseconds (upper edge of its bucket).</summary>
    public long Percentile(double percentile)
    {
        if (Count == 0)
        {
            return 0;
        }

        var rank = (long)Math.Ceiling(percentile / 100.0 * Count);
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= Math.Max(1, rank))
            {
                return Math.Min(UpperEdge(i), Max);
            }
        }

        return Max;
    }

    /// <summary>The value at <paramref name="percentile"/> in microseconds.</summary>
    public double PercentileMicroseconds(double percentile) => Percentile(percentile) / 1000.0;

    private static int Index(long value)
    {
        if (value < SubBuckets)
        {
            return (int)value;
        }

        var magnitude = 63 - (int)long.LeadingZeroCount(value) - 6; // value >> magnitude is in [64, 128)
        var sub = (int)(value >> magnitude);
        return Math.Min((magnitude + 1) * SubBuckets / 2 + sub, Magnitudes * SubBuckets - 1);
    }

    private static long UpperEdge(int index)
    {
        if (index < SubBuckets)
        {
            return index;
        }

        var magnitude = index / (SubBuckets / 2) - 2; // Index puts magnitude m at [(m + 2) * 64, (m + 3) * 64)
        var sub = index - (magnitude + 1) * SubBuckets / 2;
        return ((long)(sub + 1) << magnitude) - 1;
    }
}
