using System.Globalization;

namespace RuleFlow.Bench;

/// <summary>
/// Diagnostics (Linux, <c>RULEFLOW_BENCH_PEAK=1</c>): a background thread reads the resident set every 2 ms from
/// <c>/proc/self/statm</c> and, each time it reaches a new high, records the phase of the run (warm-up or timed) and what the GC
/// reported at its last collection (committed bytes, heap size, each generation's size and fragmentation in MB: g3 is the large-object
/// heap, g4 the pinned-object heap). <see cref="Print"/> writes the record of the highest sample: where the peak working set is.
/// </summary>
internal static class PeakSampler
{
    private static long _maxRss;
    private static string _atMax = "";

    /// <summary>The phase the run is in, for the record (<c>warmup</c>, <c>timed</c>, <c>after</c>).</summary>
    public static string Phase { get; set; } = "setup";

    public static void StartIfAsked()
    {
        if (Environment.GetEnvironmentVariable("RULEFLOW_BENCH_PEAK") is not "1" || !File.Exists("/proc/self/statm"))
        {
            return;
        }

        var thread = new Thread(Sample) { IsBackground = true, Name = "peak sampler" };
        thread.Start();
    }

    private static void Sample()
    {
        var pageSize = Environment.SystemPageSize;
        while (true)
        {
            var rss = long.Parse(File.ReadAllText("/proc/self/statm").Split(' ')[1], CultureInfo.InvariantCulture) * pageSize;
            if (rss > Volatile.Read(ref _maxRss))
            {
                var info = GC.GetGCMemoryInfo(GCKind.Any);
                var generations = string.Join(" ", info.GenerationInfo.ToArray().Select((g, i) =>
                    string.Create(CultureInfo.InvariantCulture, $"g{i} {g.SizeAfterBytes / 1048576.0:F1}/{g.FragmentationAfterBytes / 1048576.0:F1}")));
                Volatile.Write(ref _atMax, string.Create(CultureInfo.InvariantCulture,
                    $"resident {rss / 1048576.0:F1} MB in phase {Phase}; at the last GC (#{info.Index}, gen{info.Generation}): committed {info.TotalCommittedBytes / 1048576.0:F1} MB, " +
                    $"heap {info.HeapSizeBytes / 1048576.0:F1} MB, size/fragmentation MB {generations}"));
                Volatile.Write(ref _maxRss, rss);
            }

            Thread.Sleep(2);
        }
    }

    public static void Print()
    {
        if (Volatile.Read(ref _atMax) is { Length: > 0 } record)
        {
            Console.WriteLine("peak: " + record);
        }
    }
}
