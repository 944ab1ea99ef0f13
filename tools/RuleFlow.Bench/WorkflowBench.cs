using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RuleFlow.Storage;
using RuleFlow.Storage.Workflows;
using RuleFlow.Workflows;
using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Bench;

/// <summary>
/// <c>workflows</c>: instances per second of a 5-step workflow without waits (script, set, if, publish, script) on the
/// in-memory store ("memory"), a SQLite file (WAL, synchronous=NORMAL) and PostgreSQL (when <c>--postgres</c> or
/// RULEFLOW_TEST_POSTGRES gives a server), with group commit and with one commit per step; and the latency of a 10-step
/// sequential workflow, one instance at a time. The runtime runs as in the server (<see cref="WorkflowRuntime.RunAsync"/>:
/// workers, outbox dispatcher to a transport that drops the messages); the clock stops when every instance has completed
/// and every outbox message was sent. Checks <c>journal_rows == steps × instances</c> (journal rows of step executions,
/// kind <c>step.*</c>) and that every message was sent once.
/// </summary>
public static partial class Benchmarks
{
    private const string FiveSteps = """
        id: bench-five
        steps:
          - id: s1
            kind: script
            script: "return { n: input.n * 2 };"
          - id: s2
            kind: set
            values: { n: "{{steps.s1.output.n}}" }
          - id: s3
            kind: if
            condition: "vars.n > 1000000"
            then:
              - id: s3-big
                kind: set
                values: { big: true }
          - id: s4
            kind: publish
            exchange: bench
            routing_key: done
            body: { n: "{{vars.n}}" }
          - id: s5
            kind: script
            script: "return vars.n + 1;"
        """;

    static partial void AddWorkflows(RootCommand root)
    {
        var instances = new Option<int>("--instances") { Description = "instances per throughput scenario (after a warm-up of a quarter as many, at least 1,000)", DefaultValueFactory = _ => 20000 };
        var latencyInstances = new Option<int>("--latency-instances") { Description = "instances of the 10-step latency scenario (after as many for warm-up)", DefaultValueFactory = _ => 1000 };
        var concurrency = new Option<int>("--concurrency") { Description = "instances in flight (and runtime workers)", DefaultValueFactory = _ => 64 };
        var only = new Option<string?>("--store") { Description = "only this store: memory, sqlite or postgresql" };
        var json = new Option<string?>("--json") { Description = "write the rows as a JSON array to this file" };
        var postgres = new Option<string?>("--postgres") { Description = "PostgreSQL server connection string (default RULEFLOW_TEST_POSTGRES)" };
        var observe = new Option<bool>("--observe") { Description = "attach a live-feed observer as GET /api/stream does with a client connected (queue per commit, frames built on another thread)" };
        var command = new Command("workflows", "workflow runtime throughput and latency") { instances, latencyInstances, concurrency, json, postgres, only, observe };
        command.SetAction(async (result, ct) =>
        {
            observing = result.GetValue(observe);
            var report = new BenchReport();
            var pg = result.GetValue(postgres) ?? Environment.GetEnvironmentVariable("RULEFLOW_TEST_POSTGRES");
            var n = result.GetValue(instances);
            var c = result.GetValue(concurrency);
            var stores = new[] { "memory", "sqlite", "postgresql" }.Where(s => result.GetValue(only) is not { } o || o == s).ToList();

            // Process warm-up, not measured: the runtime, the sandbox and Jint reach their optimized (tier-1, PGO) code
            // before the first measured scenario, so the first row does not pay for the JIT the others do not.
            Console.Error.WriteLine("warm-up: 10,000 five-step and 2,000 ten-step instances on the in-memory store");
            await MeasureAsync("warm-up", "bench-five", 5, "memory", null, 10_000, c, groupCommit: true, ct).ConfigureAwait(false);
            await MeasureAsync("warm-up", "bench-ten", 10, "memory", null, 2_000, 1, groupCommit: true, ct).ConfigureAwait(false);
            foreach (var store in stores)
            {
                if (store == "postgresql" && string.IsNullOrEmpty(pg))
                {
                    Console.Error.WriteLine("postgresql skipped: no --postgres and no RULEFLOW_TEST_POSTGRES");
                    continue;
                }

                report.Add(await ThroughputAsync(store, pg, n, c, groupCommit: true, ct).ConfigureAwait(false));
                report.Add(await ThroughputAsync(store, pg, n, c, groupCommit: false, ct).ConfigureAwait(false));
            }

            foreach (var store in stores)
            {
                if (store != "postgresql" || !string.IsNullOrEmpty(pg))
                {
                    report.Add(await LatencyAsync(store, pg, result.GetValue(latencyInstances), ct).ConfigureAwait(false));
                }
            }

            Console.WriteLine(BenchReport.Machine());
            report.PrintTable(Console.Out, "scenario", "store", "instances", "instances_per_s", "commits_per_s", "writes_per_commit", "journal_rows", "journal_ok",
                "outbox_sent", "cpu_us_per_instance", "p50_ms", "p99_ms");
            if (result.GetValue(json) is { } path)
            {
                report.WriteJson(path);
            }

            return report.Rows.All(r => r["journal_ok"]!.GetValue<bool>()) ? 0 : 1;
        });
        root.Add(command);
    }

    private static string TenSteps()
    {
        var steps = string.Join("\n", Enumerable.Range(1, 10).Select(i => i % 2 == 0
            ? $"  - id: s{i}\n    kind: set\n    values: {{ v{i}: {i} }}"
            : $"  - id: s{i}\n    kind: script\n    script: \"return {i};\""));
        return "id: bench-ten\nsteps:\n" + steps + "\n";
    }

    /// <summary>Writes errors (with their exception) to standard error and drops everything else: a benchmark must not fail silently.</summary>
    private sealed class ErrorLogger<T> : ILogger<T>
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                Console.Error.WriteLine($"{logLevel} {typeof(T).Name}: {formatter(state, exception)} {exception}");
            }
        }
    }

    /// <summary>Counts the messages and drops them (a broker that takes everything at once).</summary>
    private sealed class BenchTransport : IMessageTransport
    {
        private int count;

        public int Count => Volatile.Read(ref count);

        public Task PublishAsync(OutboundMessage message, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref count);
            return Task.CompletedTask;
        }
    }

    private static bool observing;

    /// <summary>
    /// What the server's live feed does with one client connected: the committing thread queues the commit (bounded,
    /// drop-oldest); another thread turns it into SSE frames (JSON per instance change and journal entry).
    /// </summary>
    private sealed class FeedObserver : IWorkflowObserver
    {
        private readonly System.Threading.Channels.Channel<InstanceCommit> queue = System.Threading.Channels.Channel.CreateBounded<InstanceCommit>(
            new System.Threading.Channels.BoundedChannelOptions(10_000) { FullMode = System.Threading.Channels.BoundedChannelFullMode.DropOldest, SingleReader = true });

        public FeedObserver() => _ = Task.Run(async () =>
        {
            long bytes = 0;
            await foreach (var commit in queue.Reader.ReadAllAsync().ConfigureAwait(false))
            {
                var i = commit.Instance;
                bytes += System.Text.Json.JsonSerializer.Serialize(new { id = i.Id, workflow = i.WorkflowId, version = i.Version, state = i.State.ToString(), currentStep = i.CurrentStep, updatedAt = i.UpdatedAt }).Length;
                foreach (var entry in commit.Journal)
                {
                    bytes += System.Text.Json.JsonSerializer.Serialize(new { instanceId = i.Id, stepId = entry.StepId, status = entry.Kind, at = entry.At }).Length;
                }
            }

            GC.KeepAlive(bytes);
        });

        public void Committed(InstanceCommit commit) => queue.Writer.TryWrite(commit);
    }

    private static async Task<(ServiceProvider Provider, Func<Task> Cleanup)> OpenAsync(string store, string? pg, bool groupCommit, int workers, CancellationToken ct)
    {
        StoreOptions? options = null;
        Func<Task> cleanup = () => Task.CompletedTask;
        switch (store)
        {
            case "memory":
                break;
            case "sqlite":
                var dir = Directory.CreateTempSubdirectory("ruleflow-bench-");
                options = new StoreOptions { Provider = StoreProvider.Sqlite, ConnectionString = "Data Source=" + Path.Combine(dir.FullName, "bench.db") + ";Pooling=True" };
                cleanup = () =>
                {
                    SqliteConnection.ClearAllPools();
                    dir.Delete(true);
                    return Task.CompletedTask;
                };
                break;
            default:
                var db = "ruleflow_bench_" + Guid.NewGuid().ToString("N")[..10];
                await using (var conn = new Npgsql.NpgsqlConnection(pg))
                {
                    await conn.OpenAsync(ct).ConfigureAwait(false);
                    await using var create = new Npgsql.NpgsqlCommand($"CREATE DATABASE {db}", conn);
                    await create.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                }

                options = new StoreOptions { Provider = StoreProvider.Postgres, ConnectionString = new Npgsql.NpgsqlConnectionStringBuilder(pg) { Database = db }.ConnectionString };
                cleanup = async () =>
                {
                    Npgsql.NpgsqlConnection.ClearAllPools();
                    await using var conn = new Npgsql.NpgsqlConnection(pg);
                    await conn.OpenAsync(CancellationToken.None).ConfigureAwait(false);
                    await using var drop = new Npgsql.NpgsqlCommand($"DROP DATABASE IF EXISTS {db} WITH (FORCE)", conn);
                    await drop.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
                };
                break;
        }

        var services = new ServiceCollection();
        services.AddSingleton(typeof(ILogger<>), typeof(ErrorLogger<>));
        services.AddSingleton(TimeProvider.System);
        if (options is null)
        {
            services.AddRuleFlowInMemoryWorkflowStore();
        }
        else
        {
            services.AddRuleFlowStorage(options, AppContext.BaseDirectory);
            services.AddRuleFlowWorkflowStore();
        }

        services.AddSingleton<BenchTransport>();
        services.AddSingleton<IMessageTransport>(sp => sp.GetRequiredService<BenchTransport>());
        if (observing)
        {
            services.AddSingleton<IWorkflowObserver, FeedObserver>();
        }

        services.AddRuleFlowWorkflows(new WorkflowOptions { GroupCommit = groupCommit, MaxConcurrency = workers, PollInterval = TimeSpan.FromMilliseconds(200) });
        var provider = services.BuildServiceProvider();
        if (options is not null)
        {
            await provider.GetRequiredService<StoreInitializer>().InitializeAsync(ct).ConfigureAwait(false);
        }

        var definitions = new[] { FiveSteps, TenSteps() }
            .Select(t => WorkflowDefinitionLoader.LoadText(t, "bench.yaml", DefinitionFormat.Yaml).Definition ?? throw new InvalidOperationException("bench definition does not load"))
            .ToList();
        await provider.GetRequiredService<IWorkflowDefinitionRegistry>().RegisterAsync(definitions, ct).ConfigureAwait(false);
        return (provider, cleanup);
    }

    private static Task<long> StepRowsAsync(ServiceProvider provider, CancellationToken ct) =>
        provider.GetRequiredService<IWorkflowQueries>().CountJournalEntriesAsync("step.", ct);

    private static Task<JsonObject> ThroughputAsync(string store, string? pg, int count, int concurrency, bool groupCommit, CancellationToken ct) =>
        MeasureAsync(groupCommit ? "five-step" : "five-step-commit-per-step", "bench-five", 5, store, pg, count, concurrency, groupCommit, ct);

    private static Task<JsonObject> LatencyAsync(string store, string? pg, int count, CancellationToken ct) =>
        MeasureAsync("ten-step-latency", "bench-ten", 10, store, pg, count, 1, groupCommit: true, ct);

    private static async Task<JsonObject> MeasureAsync(string scenario, string workflow, int steps, string store, string? pg, int count, int concurrency, bool groupCommit,
        CancellationToken ct)
    {
        var (provider, cleanup) = await OpenAsync(store, pg, groupCommit, Math.Max(4, concurrency), ct).ConfigureAwait(false);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var runtime = provider.GetRequiredService<WorkflowRuntime>();
        var transport = provider.GetRequiredService<BenchTransport>();
        var ended = new System.Collections.Concurrent.ConcurrentDictionary<Guid, TaskCompletionSource<InstanceState>>();
        runtime.InstanceEnded += (_, e) =>
        {
            if (e.State != InstanceState.Completed)
            {
                Console.Error.WriteLine($"instance {e.InstanceId} ended {e.State}: {e.Error}");
            }

            ended.GetOrAdd(e.InstanceId, _ => new TaskCompletionSource<InstanceState>(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult(e.State);
        };
        var loop = runtime.RunAsync(stop.Token);
        try
        {
            var store0 = provider.GetRequiredService<IWorkflowStore>();
            var publishes = workflow == "bench-five" ? 1 : 0;
            // Warm-up (tiered JIT, pools, caches): a quarter of the measured count, at least 1,000 (as many as measured for latency).
            var warmUp = concurrency == 1 ? count : Math.Max(1000, count / 4);
            await RunManyAsync(runtime, ended, workflow, warmUp, concurrency, null, ct).ConfigureAwait(false);
            await WaitForAsync(() => transport.Count >= warmUp * publishes, ct).ConfigureAwait(false);
            var warmRows = await StepRowsAsync(provider, ct).ConfigureAwait(false);
            var sentBefore = transport.Count;
            var before = store0.Counters;
            var latencies = new LatencyHistogram();
            using var process = Process.GetCurrentProcess();
            var cpuBefore = process.TotalProcessorTime;
            var stopwatch = Stopwatch.StartNew();
            await RunManyAsync(runtime, ended, workflow, count, concurrency, latencies, ct).ConfigureAwait(false);
            await WaitForAsync(() => transport.Count - sentBefore >= count * publishes, ct).ConfigureAwait(false);
            stopwatch.Stop();
            process.Refresh();
            var cpu = process.TotalProcessorTime - cpuBefore;
            var after = store0.Counters;
            var rows = await StepRowsAsync(provider, ct).ConfigureAwait(false) - warmRows;
            var transactions = after.Transactions - before.Transactions;
            var row = Row(scenario, store, count, count / stopwatch.Elapsed.TotalSeconds, transactions / stopwatch.Elapsed.TotalSeconds, rows, rows == (long)steps * count, latencies);
            row["transactions"] = transactions;
            row["writes_per_commit"] = Math.Round((after.Writes - before.Writes) / (double)Math.Max(1, transactions), 2);
            row["outbox_sent"] = transport.Count - sentBefore;
            row["outbox_ok"] = transport.Count - sentBefore == count * publishes;
            row["cpu_us_per_instance"] = Math.Round(cpu.TotalMicroseconds / count, 1);
            row["concurrency"] = concurrency;
            row["group_commit"] = groupCommit;
            return row;
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await loop.ConfigureAwait(false);
            await provider.DisposeAsync().ConfigureAwait(false);
            await cleanup().ConfigureAwait(false);
        }
    }

    private static async Task WaitForAsync(Func<bool> condition, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            if (deadline.Elapsed > TimeSpan.FromMinutes(2))
            {
                throw new TimeoutException("the outbox was not drained within 2 minutes");
            }

            await Task.Delay(1, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Starts <paramref name="count"/> instances, <paramref name="concurrency"/> in flight; records start→completed latency.</summary>
    private static async Task RunManyAsync(WorkflowRuntime runtime, System.Collections.Concurrent.ConcurrentDictionary<Guid, TaskCompletionSource<InstanceState>> ended,
        string workflow, int count, int concurrency, LatencyHistogram? latencies, CancellationToken ct)
    {
        var next = -1;
        var gate = new object();
        var workers = Enumerable.Range(0, Math.Max(1, concurrency)).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) < count)
            {
                var started = Stopwatch.GetTimestamp();
                var result = await runtime.StartAsync(new StartWorkflowRequest(workflow, new JsonObject { ["n"] = next }, null, null, Lineage.Manual, Actor.System), ct).ConfigureAwait(false);
                var done = ended.GetOrAdd(result.InstanceId, _ => new TaskCompletionSource<InstanceState>(TaskCreationOptions.RunContinuationsAsynchronously));
                var state = await done.Task.WaitAsync(TimeSpan.FromMinutes(2), ct).ConfigureAwait(false);
                ended.TryRemove(result.InstanceId, out TaskCompletionSource<InstanceState>? _);
                if (state != InstanceState.Completed)
                {
                    throw new InvalidOperationException($"bench instance {result.InstanceId} ended {state}");
                }

                lock (gate)
                {
                    latencies?.RecordTicks(Stopwatch.GetTimestamp() - started);
                }
            }
        }).ToList();
        await Task.WhenAll(workers).ConfigureAwait(false);
    }

    private static JsonObject Row(string scenario, string store, int instances, double perSecond, double commitsPerSecond, long journalRows, bool ok, LatencyHistogram latencies) => new()
    {
        ["scenario"] = scenario,
        ["store"] = store,
        ["instances"] = instances,
        ["instances_per_s"] = Math.Round(perSecond, 1),
        ["commits_per_s"] = Math.Round(commitsPerSecond, 1),
        ["journal_rows"] = journalRows,
        ["journal_ok"] = ok,
        ["p50_ms"] = Math.Round(latencies.PercentileMicroseconds(50) / 1000.0, 3),
        ["p99_ms"] = Math.Round(latencies.PercentileMicroseconds(99) / 1000.0, 3),
    };
}
