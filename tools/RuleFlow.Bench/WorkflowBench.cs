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
/// <c>workflows</c>: instances per second of a 5-step workflow without waits (script, set, if, publish, script) on an
/// in-memory SQLite database ("memory"), a SQLite file (WAL, synchronous=NORMAL) and PostgreSQL (when
/// <c>--postgres</c> or RULEFLOW_TEST_POSTGRES gives a server), with group commit and with one commit per step; and the
/// latency of a 10-step sequential workflow, one instance at a time. Checks <c>journal_rows == steps × instances</c>
/// (journal rows of step executions, kind <c>step.*</c>).
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
        var instances = new Option<int>("--instances") { Description = "instances per throughput scenario", DefaultValueFactory = _ => 2000 };
        var latencyInstances = new Option<int>("--latency-instances") { Description = "instances of the 10-step latency scenario", DefaultValueFactory = _ => 300 };
        var concurrency = new Option<int>("--concurrency") { Description = "instances in flight", DefaultValueFactory = _ => 64 };
        var json = new Option<string?>("--json") { Description = "write the rows as a JSON array to this file" };
        var postgres = new Option<string?>("--postgres") { Description = "PostgreSQL server connection string (default RULEFLOW_TEST_POSTGRES)" };
        var command = new Command("workflows", "workflow runtime throughput and latency") { instances, latencyInstances, concurrency, json, postgres };
        command.SetAction(async (result, ct) =>
        {
            var report = new BenchReport();
            var pg = result.GetValue(postgres) ?? Environment.GetEnvironmentVariable("RULEFLOW_TEST_POSTGRES");
            var n = result.GetValue(instances);
            var c = result.GetValue(concurrency);
            foreach (var store in new[] { "memory", "sqlite", "postgresql" })
            {
                if (store == "postgresql" && string.IsNullOrEmpty(pg))
                {
                    Console.Error.WriteLine("postgresql skipped: no --postgres and no RULEFLOW_TEST_POSTGRES");
                    continue;
                }

                report.Add(await ThroughputAsync(store, pg, n, c, groupCommit: true, ct).ConfigureAwait(false));
                report.Add(await ThroughputAsync(store, pg, n, c, groupCommit: false, ct).ConfigureAwait(false));
            }

            foreach (var store in new[] { "memory", "sqlite" })
            {
                report.Add(await LatencyAsync(store, result.GetValue(latencyInstances), ct).ConfigureAwait(false));
            }

            Console.WriteLine(BenchReport.Machine());
            report.PrintTable(Console.Out, "scenario", "store", "instances", "instances_per_s", "commits_per_s", "journal_rows", "journal_ok", "p50_ms", "p99_ms");
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

    private sealed class BenchTransport : IMessageTransport
    {
        public Task PublishAsync(OutboundMessage message, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private static async Task<(ServiceProvider Provider, Func<Task> Cleanup, SqliteConnection? Keep)> OpenAsync(string store, string? pg, bool groupCommit, CancellationToken ct)
    {
        StoreOptions options;
        Func<Task> cleanup;
        SqliteConnection? keep = null;
        switch (store)
        {
            case "memory":
                var name = "bench" + Guid.NewGuid().ToString("N");
                var cs = $"Data Source=file:{name}?mode=memory&cache=shared";
                keep = new SqliteConnection(cs);
                await keep.OpenAsync(ct).ConfigureAwait(false);
                options = new StoreOptions { Provider = StoreProvider.Sqlite, ConnectionString = cs };
                cleanup = () => Task.CompletedTask;
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
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddSingleton(TimeProvider.System);
        services.AddRuleFlowStorage(options, AppContext.BaseDirectory);
        services.AddRuleFlowWorkflowStore();
        services.AddSingleton<IMessageTransport>(new BenchTransport());
        services.AddRuleFlowWorkflows(new WorkflowOptions { GroupCommit = groupCommit, MaxConcurrency = 4 });
        var provider = services.BuildServiceProvider();
        await provider.GetRequiredService<StoreInitializer>().InitializeAsync(ct).ConfigureAwait(false);
        var definitions = new[] { FiveSteps, TenSteps() }
            .Select(t => WorkflowDefinitionLoader.LoadText(t, "bench.yaml", DefinitionFormat.Yaml).Definition ?? throw new InvalidOperationException("bench definition does not load"))
            .ToList();
        await provider.GetRequiredService<IWorkflowDefinitionRegistry>().RegisterAsync(definitions, ct).ConfigureAwait(false);
        return (provider, cleanup, keep);
    }

    private static async Task<long> StepRowsAsync(ServiceProvider provider, CancellationToken ct)
    {
        await using var db = await provider.GetRequiredService<IDbContextFactory<RuleFlowDbContext>>().CreateDbContextAsync(ct).ConfigureAwait(false);
        return await db.Set<WorkflowJournalEntity>().LongCountAsync(j => j.Kind.StartsWith("step."), ct).ConfigureAwait(false);
    }

    private static async Task<JsonObject> ThroughputAsync(string store, string? pg, int count, int concurrency, bool groupCommit, CancellationToken ct)
    {
        var (provider, cleanup, keep) = await OpenAsync(store, pg, groupCommit, ct).ConfigureAwait(false);
        try
        {
            var runtime = provider.GetRequiredService<WorkflowRuntime>();
            var latencies = new LatencyHistogram();
            await RunManyAsync(runtime, "bench-five", Math.Min(200, count), concurrency, null, ct).ConfigureAwait(false); // warm-up
            var warmRows = await StepRowsAsync(provider, ct).ConfigureAwait(false);
            var commitsBefore = runtime.CommitTransactions;
            var stopwatch = Stopwatch.StartNew();
            await RunManyAsync(runtime, "bench-five", count, concurrency, latencies, ct).ConfigureAwait(false);
            stopwatch.Stop();
            var rows = await StepRowsAsync(provider, ct).ConfigureAwait(false) - warmRows;
            var commits = runtime.CommitTransactions - commitsBefore + count; // + one transaction per start
            return Row(groupCommit ? "five-step" : "five-step-commit-per-step", store, count, count / stopwatch.Elapsed.TotalSeconds,
                commits / stopwatch.Elapsed.TotalSeconds, rows, rows == 5L * count, latencies);
        }
        finally
        {
            await provider.DisposeAsync().ConfigureAwait(false);
            keep?.Dispose();
            await cleanup().ConfigureAwait(false);
        }
    }

    private static async Task<JsonObject> LatencyAsync(string store, int count, CancellationToken ct)
    {
        var (provider, cleanup, keep) = await OpenAsync(store, null, groupCommit: true, ct).ConfigureAwait(false);
        try
        {
            var runtime = provider.GetRequiredService<WorkflowRuntime>();
            await RunManyAsync(runtime, "bench-ten", 50, 1, null, ct).ConfigureAwait(false);
            var warmRows = await StepRowsAsync(provider, ct).ConfigureAwait(false);
            var latencies = new LatencyHistogram();
            var commitsBefore = runtime.CommitTransactions;
            var stopwatch = Stopwatch.StartNew();
            await RunManyAsync(runtime, "bench-ten", count, 1, latencies, ct).ConfigureAwait(false);
            stopwatch.Stop();
            var rows = await StepRowsAsync(provider, ct).ConfigureAwait(false) - warmRows;
            var commits = runtime.CommitTransactions - commitsBefore + count;
            return Row("ten-step-latency", store, count, count / stopwatch.Elapsed.TotalSeconds, commits / stopwatch.Elapsed.TotalSeconds, rows, rows == 10L * count, latencies);
        }
        finally
        {
            await provider.DisposeAsync().ConfigureAwait(false);
            keep?.Dispose();
            await cleanup().ConfigureAwait(false);
        }
    }

    /// <summary>Starts and runs <paramref name="count"/> instances, <paramref name="concurrency"/> at a time; records start→completed latency.</summary>
    private static async Task RunManyAsync(WorkflowRuntime runtime, string workflow, int count, int concurrency, LatencyHistogram? latencies, CancellationToken ct)
    {
        var next = -1;
        var gate = new object();
        var workers = Enumerable.Range(0, Math.Max(1, concurrency)).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) < count)
            {
                var started = Stopwatch.GetTimestamp();
                var result = await runtime.StartAsync(new StartWorkflowRequest(workflow, new JsonObject { ["n"] = next }, null, null, Lineage.Manual, Actor.System), ct).ConfigureAwait(false);
                await runtime.RunInstanceAsync(result.InstanceId, ct).ConfigureAwait(false);
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
