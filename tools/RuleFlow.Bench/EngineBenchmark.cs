using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using RuleFlow.Rules;
using RuleFlow.Rules.Testing;

namespace RuleFlow.Bench;

/// <summary>The rule-engine benchmarks: <c>engine</c> (the netops-correlation workload) and <c>fuzz-rules</c> (the parser fuzz run).</summary>
public static partial class Benchmarks
{
    static partial void AddEngine(RootCommand root)
    {
        var events = new Option<int>("--events") { Description = "Events per mode (default 1,000,000: the size the answers are given for)", DefaultValueFactory = _ => 1_000_000 };
        var json = new Option<string?>("--json") { Description = "Also write the rows as a JSON array to this file" };
        var mode = new Option<string?>("--mode") { Description = "Run one mode in this process: W1, W2, W1+W2, \"W1+W2 bulk\" or compile (used for the child processes)" };
        var warmup = new Option<int>("--warmup")
        {
            Description = "Events run through a throwaway session first (JIT warm-up), then on in rounds of 50,000 until a round compiles no new method; default 50,000; 0: none",
            DefaultValueFactory = _ => 50_000,
        };
        var gen0 = new Option<int>("--gen0-mb") { Description = "Run the modes with this GC gen0 budget in MB (DOTNET_GCgen0size); default: the runtime's", DefaultValueFactory = _ => 0 };
        var engine = new Command("engine", "Rule engine on the netops-correlation workload: W1, W2, W1+W2 one event at a time, W1+W2 in batches of 1,000, " +
                                           "and compiling 1,000 W1-shaped rules. Each mode runs in its own process, so its peak working set is its own.");
        engine.Options.Add(events);
        engine.Options.Add(json);
        engine.Options.Add(mode);
        engine.Options.Add(warmup);
        engine.Options.Add(gen0);
        engine.SetAction(result => EngineBenchmark.Run(result.GetValue(events), result.GetValue(json), result.GetValue(mode), result.GetValue(warmup), result.GetValue(gen0)));
        root.Subcommands.Add(engine);

        var cases = new Option<int>("--cases") { Description = "Number of fuzz cases (default 100,000)", DefaultValueFactory = _ => 100_000 };
        var seed = new Option<int>("--seed") { Description = "Random seed (default 1)", DefaultValueFactory = _ => 1 };
        var corpus = new Option<string?>("--corpus") { Description = "A directory of rule files to mutate too (default: rules/ when it exists)" };
        var fuzz = new Command("fuzz-rules", "Random and mutated rule files through the loader and a session: no exception may escape, every diagnostic " +
                                             "has a code and a location inside the text, no internal error; exit code 1 on any failure");
        fuzz.Options.Add(cases);
        fuzz.Options.Add(seed);
        fuzz.Options.Add(corpus);
        fuzz.SetAction(result => EngineFuzz.Run(result.GetValue(cases), result.GetValue(seed), result.GetValue(corpus)));
        root.Subcommands.Add(fuzz);
    }
}

/// <summary>Runs the netops-correlation workload; see docs/performance.md.</summary>
internal static class EngineBenchmark
{
    private static readonly string[] Modes = ["W1", "W2", "W1+W2", "W1+W2 bulk", "compile"];

    private static readonly string[] Columns =
    [
        "mode", "events", "events_per_s", "p50_us", "p99_us", "p999_us", "peak_ws_mb", "w1_firings", "w2_firings", "w1_id_sum", "compile_ms",
        "engine_alloc_b_per_event", "cpu_us_per_event", "gc_pause_ms", "check", "gc", "load_avg",
    ];

    public static int Run(int events, string? jsonPath, string? mode, int warmup, int gen0Mb)
    {
        if (mode is not null)
        {
            var row = RunMode(mode, events, warmup);
            Console.WriteLine("RESULT " + row.ToJsonString());
            return 0;
        }

        var problems = NetopsWorkload.CheckGenerator();
        if (problems.Count > 0)
        {
            Console.Error.WriteLine("The generator does not give the workload's check values:");
            problems.ForEach(p => Console.Error.WriteLine("  " + p));
            return 1;
        }

        Console.WriteLine("Generator check values: OK (devices 982/2,955/6,063; events 0 and 4; 299,707 down, 29,592 on core; severities).");
        var report = new BenchReport();
        foreach (var m in Modes)
        {
            Console.WriteLine($"Running {m} ({events:N0} events) in a child process...");
            var row = RunChild(m, events, warmup, gen0Mb);
            if (row is null)
            {
                return 1;
            }

            report.Add(row);
        }

        report.PrintTable(Console.Out, Columns);
        if (jsonPath is not null)
        {
            report.WriteJson(jsonPath);
            Console.WriteLine($"Wrote {jsonPath}");
        }

        return report.Rows.Any(r => r["check"]?.GetValue<string>() is "MISMATCH") ? 1 : 0;
    }

    private static JsonObject? RunChild(string mode, int events, int warmup, int gen0Mb)
    {
        var process = Environment.ProcessPath ?? "dotnet";
        var start = new ProcessStartInfo(process) { RedirectStandardOutput = true, UseShellExecute = false };
        if (gen0Mb > 0)
        {
            start.Environment["DOTNET_GCgen0size"] = "0x" + ((long)gen0Mb * 1024 * 1024).ToString("X", CultureInfo.InvariantCulture);
        }
        if (Path.GetFileNameWithoutExtension(process) == "dotnet")
        {
            start.ArgumentList.Add(typeof(EngineBenchmark).Assembly.Location);
        }

        foreach (var arg in new[] { "engine", "--mode", mode, "--events", events.ToString(CultureInfo.InvariantCulture), "--warmup", warmup.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(arg);
        }

        using var child = Process.Start(start)!;
        JsonObject? row = null;
        while (child.StandardOutput.ReadLine() is { } line)
        {
            if (line.StartsWith("RESULT ", StringComparison.Ordinal))
            {
                row = JsonNode.Parse(line["RESULT ".Length..])!.AsObject();
            }
            else
            {
                Console.WriteLine("  " + line);
            }
        }

        child.WaitForExit();
        if (child.ExitCode != 0 || row is null)
        {
            Console.Error.WriteLine($"mode {mode} failed (exit code {child.ExitCode})");
            return null;
        }

        row["gc"] = gen0Mb > 0 ? $"gen0 {gen0Mb} MB" : "default";
        row["load_avg"] = LoadAverage();
        return row;
    }

    /// <summary>The 1-minute load average (Linux), to show whether something else ran during a measurement; null elsewhere.</summary>
    private static double? LoadAverage()
    {
        try
        {
            var text = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            return double.Parse(text, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    private static JsonObject RunMode(string mode, int events, int warmup)
    {
        if (mode == "compile")
        {
            return RunCompile();
        }

        PeakSampler.StartIfAsked();
        var jit = JitSizeSampler.StartIfAsked();
        PeakSampler.Phase = "warmup";
        var w1 = mode.StartsWith("W1", StringComparison.Ordinal);
        var w2 = mode.Contains("W2", StringComparison.Ordinal);
        var bulk = mode.EndsWith("bulk", StringComparison.Ordinal);
        var source = NetopsWorkload.RuleText(w1, w2);
        var warmedUp = (Events: 0, Methods: 0L);
        if (warmup > 0)
        {
            warmedUp = WarmUp(source, warmup, bulk);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
        }

        var compile = Stopwatch.StartNew();
        var rules = RuleSetLoader.LoadSources([("netops.rules", source)]).RuleSet;
        compile.Stop();
        var session = rules.CreateSession();
        var workload = new NetopsWorkload();
        foreach (var device in workload.DeviceFacts())
        {
            session.Insert(device);
        }

        var histogram = new LatencyHistogram();
        using var sampler = AllocationSampler.StartIfAsked();
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var gcPauseBefore = GC.GetTotalPauseDuration();
        var total = Stopwatch.StartNew();
        PeakSampler.Phase = "timed";
        var run = Timed(session, workload, events, bulk, histogram);
        PeakSampler.Phase = "after";
        PeakSampler.Print();
        jit?.Print();
        total.Stop();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        var gcPause = GC.GetTotalPauseDuration() - gcPauseBefore;
        var check = "n/a";
        if (events == 1_000_000)
        {
            var ok = (!w1 || (run.W1Firings == 17_798 && run.IdSum == 8_938_204_286)) && (!w2 || run.W2Firings == (bulk ? 126_642 : 127_947));
            check = ok ? "OK" : "MISMATCH";
        }

        var beforeCollect = GC.GetGCMemoryInfo();
        var liveMb = Math.Round(GC.GetTotalMemory(forceFullCollection: true) / 1048576.0, 1);
        Console.WriteLine($"memory at the end: working set {Environment.WorkingSet / 1048576.0:F1} MB, GC heap {beforeCollect.HeapSizeBytes / 1048576.0:F1} MB " +
                          $"(committed {beforeCollect.TotalCommittedBytes / 1048576.0:F1} MB, fragmented {beforeCollect.FragmentedBytes / 1048576.0:F1} MB), live {liveMb} MB");
        sampler?.Print(Console.Out, events);
        if (Environment.GetEnvironmentVariable("RULEFLOW_BENCH_SMAPS") is "1")
        {
            BenchReport.PrintResidentByMapping(Console.Out);
        }

        var stats = session.Statistics;
        Console.WriteLine($"{mode}: {stats.WorkingMemoryEvents:N0} events held at the end, {stats.AggregateGroups:N0} groups, {stats.PartialMatches:N0} partial matches, " +
                          $"{stats.PendingTimers:N0} timers, GC gen0/1/2 = {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}");
        return new JsonObject
        {
            ["mode"] = mode,
            ["events"] = events,
            ["events_per_s"] = Math.Round(events / total.Elapsed.TotalSeconds),
            ["p50_us"] = Math.Round(histogram.PercentileMicroseconds(50), 2),
            ["p99_us"] = Math.Round(histogram.PercentileMicroseconds(99), 2),
            ["p999_us"] = Math.Round(histogram.PercentileMicroseconds(99.9), 2),
            ["max_us"] = Math.Round(histogram.Max / 1000.0, 1),
            ["peak_ws_mb"] = BenchReport.PeakWorkingSetMb(),
            ["w1_firings"] = run.W1Firings,
            ["w2_firings"] = run.W2Firings,
            ["w1_id_sum"] = run.IdSum,
            ["compile_ms"] = Math.Round(compile.Elapsed.TotalMilliseconds, 1),
            ["engine_alloc_b_per_event"] = Math.Round((double)run.EngineAllocated / events, 1),
            ["cpu_us_per_event"] = Math.Round(cpu.TotalMicroseconds / events, 2),
            ["gc_pause_ms"] = Math.Round(gcPause.TotalMilliseconds, 1),
            ["live_heap_mb"] = liveMb,
            ["gc_counts"] = $"{GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}",
            ["warmup_events"] = warmedUp.Events,
            ["jit_methods_warmup"] = warmedUp.Methods,
            ["check"] = check,
        };
    }

    /// <summary>The answers of a timed run: firings of W1 and W2, the sum of W1's event ids, the bytes the engine allocated.</summary>
    private readonly record struct TimedResult(long W1Firings, long W2Firings, long IdSum, long EngineAllocated);

    /// <summary>
    /// The timed loop: generates <paramref name="events"/> events, inserts them one at a time (or 1,000 per batch with
    /// <paramref name="bulk"/>) and records each insertion's latency. A method of its own, kept small: the runtime compiles a
    /// long-running loop again, optimized, while it runs (on-stack replacement), and the JIT's working memory for that compile grows
    /// with the method. Compiling the whole mode (set-up and report included) that way took ~11 MB of native heap that the C allocator
    /// then kept for the rest of the run.
    /// </summary>
    private static TimedResult Timed(RuleSession session, NetopsWorkload workload, int events, bool bulk, LatencyHistogram histogram)
    {
        long w1Firings = 0, w2Firings = 0, idSum = 0, engineAllocated = 0;
        var pending = new List<RuleEvent>(1000);
        for (var i = 0; i < events; i++)
        {
            var evt = workload.ToRuleEvent(workload.NextEvent(i));
            if (bulk)
            {
                pending.Add(evt);
                if (pending.Count < 1000 && i < events - 1)
                {
                    continue;
                }
            }

            var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            var t0 = Stopwatch.GetTimestamp();
            var firings = bulk ? session.InsertBatch(pending) : session.Insert(evt);
            var elapsed = Stopwatch.GetTimestamp() - t0;
            engineAllocated += GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            if (bulk)
            {
                for (var k = 0; k < pending.Count; k++)
                {
                    histogram.RecordTicks(elapsed / pending.Count);
                }

                pending.Clear();
            }
            else
            {
                histogram.RecordTicks(elapsed);
            }

            for (var f = 0; f < firings.Count; f++)
            {
                var firing = firings[f];
                if (firing.Rule[1] == '1')
                {
                    w1Firings++;
                    idSum += long.Parse(firing.EventIds[0], CultureInfo.InvariantCulture);
                }
                else
                {
                    w2Firings++;
                }
            }
        }

        return new TimedResult(w1Firings, w2Firings, idSum, engineAllocated);
    }

    /// <summary>
    /// Process warm-up, not measured: a session of its own runs <paramref name="minimum"/> events, then on in rounds of 50,000 until a
    /// round leaves the JIT with no new method compiled (so at least one round more; at most 2,000,000 events, or the minimum if larger). Tiered compilation takes a method through
    /// an unoptimized and an instrumented version before the optimized one, in the background and after a delay, so a fixed short
    /// warm-up measured partly unoptimized code: 50,000 events left the timed run ~15 % slower and its p99 ~40 % higher than a settled
    /// one. A 100 ms pause after each round lets the background compilations finish. Returns the events run and the methods compiled.
    /// </summary>
    private static (int Events, long Methods) WarmUp(string source, int minimum, bool bulk)
    {
        const int Round = 50_000;
        var most = Math.Max(2_000_000, minimum);
        var jitBefore = System.Runtime.JitInfo.GetCompiledMethodCount();
        var warm = RuleSetLoader.LoadSources([("warm.rules", source)]).RuleSet.CreateSession();
        var generator = new NetopsWorkload();
        foreach (var device in generator.DeviceFacts())
        {
            warm.Insert(device);
        }

        var batch = new List<RuleEvent>(1000);
        var done = 0;
        var compiledBefore = -1L;
        while (true)
        {
            var end = done < minimum ? minimum : done + Round;
            for (var i = done; i < end; i++)
            {
                var evt = generator.ToRuleEvent(generator.NextEvent(i));
                if (bulk)
                {
                    batch.Add(evt);
                    if (batch.Count == 1000)
                    {
                        warm.InsertBatch(batch);
                        batch.Clear();
                    }
                }
                else
                {
                    warm.Insert(evt);
                }
            }

            if (batch.Count > 0)
            {
                warm.InsertBatch(batch);
                batch.Clear();
            }

            done = end;
            Thread.Sleep(100);
            var compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
            if (compiled == compiledBefore || done >= most)
            {
                return (done, compiled - jitBefore);
            }

            compiledBefore = compiled;
        }
    }

    /// <summary>The "compile" mode: compiles W1 with 1,000 rules five times; the median and the first time.</summary>
    private static JsonObject RunCompile()
    {
        var text = NetopsWorkload.RuleText(w1: true, w2: false, rules: 1000);
        var times = new List<double>();
        for (var round = 0; round < 5; round++)
        {
            var sw = Stopwatch.StartNew();
            var loaded = RuleSetLoader.LoadSources([("w1-1000.rules", text)]);
            sw.Stop();
            if (loaded.HasErrors || loaded.RuleSet.Rules.Count != 1000)
            {
                throw new InvalidOperationException("the 1,000 rules did not compile: " + string.Join("\n", loaded.FormatDiagnostics().Take(5)));
            }

            times.Add(sw.Elapsed.TotalMilliseconds);
        }

        return new JsonObject
        {
            ["mode"] = "compile 1000 rules",
            ["compile_ms"] = Math.Round(times.Order().ElementAt(times.Count / 2), 1),
            ["compile_first_ms"] = Math.Round(times[0], 1),
            ["peak_ws_mb"] = BenchReport.PeakWorkingSetMb(),
            ["check"] = times.Order().ElementAt(times.Count / 2) <= 1000 ? "ok" : "slow",
        };
    }
}

/// <summary>The 100,000-case parser fuzz run (outside the test suite).</summary>
internal static class EngineFuzz
{
    public static int Run(int cases, int seed, string? corpusDirectory)
    {
        corpusDirectory ??= Directory.Exists("rules") ? "rules" : null;
        var corpus = corpusDirectory is null
            ? []
            : Directory.EnumerateFiles(corpusDirectory, "*.rules", SearchOption.AllDirectories).Select(File.ReadAllText).ToList();
        var fuzzer = new RuleFuzzer(seed, corpus);
        var failures = new List<FuzzFailure>();
        var stopwatch = Stopwatch.StartNew();
        for (var i = 0; i < cases; i++)
        {
            var text = fuzzer.Next();
            if (RuleFuzzer.Check(text) is { } failure)
            {
                failures.Add(failure);
                if (failures.Count <= 5)
                {
                    Console.Error.WriteLine($"case {i}: {failure.Problem}\n  input: {JsonSerializer.Serialize(failure.Input)}");
                }
            }

            if ((i + 1) % 10_000 == 0)
            {
                Console.WriteLine($"{i + 1:N0} cases, {failures.Count} failure(s), {stopwatch.Elapsed.TotalSeconds:F0} s");
            }
        }

        Console.WriteLine($"fuzz-rules: {cases:N0} cases (seed {seed}, corpus {corpus.Count} file(s)) in {stopwatch.Elapsed.TotalSeconds:F0} s: {failures.Count} failure(s)");
        return failures.Count == 0 ? 0 : 1;
    }
}
