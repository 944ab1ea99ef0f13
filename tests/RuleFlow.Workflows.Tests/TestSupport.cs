using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RuleFlow.Scripting;
using RuleFlow.Storage;
using RuleFlow.Storage.Workflows;
using RuleFlow.Workflows;
using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Workflows.Tests;

/// <summary>A clock the test moves by hand; timers created from it still tick in real time (used only for poll loops).</summary>
public sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private long ticks = start.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref ticks), TimeSpan.Zero);

    public void Advance(TimeSpan by) => Interlocked.Add(ref ticks, by.Ticks);
}

/// <summary>Where a test's workflow state lives: the same suite runs against each.</summary>
public enum TestStore
{
    /// <summary>A SQLite file in the test's directory (WAL, synchronous=NORMAL), like the server's default.</summary>
    Sqlite,

    /// <summary>A fresh database on the PostgreSQL server tools/test.sh starts (RULEFLOW_TEST_POSTGRES), dropped at the end.</summary>
    Postgres,

    /// <summary>The in-memory store (one instance per test, shared by the hosts a test opens one after the other).</summary>
    Memory,
}

/// <summary>
/// A test's place for state: a temp directory (deleted at the end, SQLite pools cleared first) and, by
/// <see cref="TestStore"/>, the SQLite file in it, a fresh PostgreSQL database, or an in-memory store. Hosts opened on the
/// same instance one after the other see the same state (a restart).
/// </summary>
public sealed class TempDirectory : IDisposable
{
    private readonly string? postgresServer;

    public TempDirectory(TestStore store = TestStore.Sqlite)
    {
        Store = store;
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ruleflow-wf-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
        switch (store)
        {
            case TestStore.Postgres:
                postgresServer = Environment.GetEnvironmentVariable("RULEFLOW_TEST_POSTGRES")
                    ?? throw new InvalidOperationException("RULEFLOW_TEST_POSTGRES is not set: run the tests through tools/test.sh, which starts PostgreSQL on 127.0.0.1");
                DatabaseName = "ruleflow_wf_" + Guid.NewGuid().ToString("N")[..12];
                using (var connection = new Npgsql.NpgsqlConnection(postgresServer))
                {
                    connection.Open();
                    using var create = new Npgsql.NpgsqlCommand($"CREATE DATABASE {DatabaseName}", connection);
                    create.ExecuteNonQuery();
                }

                StoreOptions = new StoreOptions
                {
                    Provider = StoreProvider.Postgres,
                    ConnectionString = new Npgsql.NpgsqlConnectionStringBuilder(postgresServer) { Database = DatabaseName }.ConnectionString,
                };
                break;
            case TestStore.Memory:
                MemoryStore = new InMemoryWorkflowStore();
                break;
            default:
                StoreOptions = new StoreOptions { ConnectionString = "Data Source=" + System.IO.Path.Combine(Path, "ruleflow.db") };
                break;
        }
    }

    public TestStore Store { get; }

    public string Path { get; }

    /// <summary>The SQL store's settings, or null for <see cref="TestStore.Memory"/>.</summary>
    public StoreOptions? StoreOptions { get; }

    /// <summary>The in-memory store, or null.</summary>
    public InMemoryWorkflowStore? MemoryStore { get; }

    public string? DatabaseName { get; }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }

        if (postgresServer is not null)
        {
            Npgsql.NpgsqlConnection.ClearAllPools();
            using var connection = new Npgsql.NpgsqlConnection(postgresServer);
            connection.Open();
            using var drop = new Npgsql.NpgsqlCommand($"DROP DATABASE IF EXISTS {DatabaseName} WITH (FORCE)", connection);
            drop.ExecuteNonQuery();
        }
    }
}

/// <summary>The test's <c>blocklist</c> host module: an in-test set, with every call recorded.</summary>
public sealed class TestBlocklistModule : IScriptHostModule
{
    private readonly ConcurrentDictionary<string, string> entries = new(StringComparer.Ordinal);

    public ConcurrentQueue<string> Calls { get; } = new();

    public IReadOnlyCollection<string> Ips => entries.Keys.ToList();

    public string Name => "blocklist";

    public IReadOnlyDictionary<string, Delegate> CreateFunctions(ScriptCallContext context) => new Dictionary<string, Delegate>
    {
        ["add"] = new Func<string, string?, bool>((ip, reason) =>
        {
            Calls.Enqueue($"add {ip} {context.IdempotencyKey}");
            return entries.TryAdd(ip, reason ?? string.Empty);
        }),
        ["remove"] = new Func<string, bool>(ip =>
        {
            Calls.Enqueue($"remove {ip} {context.IdempotencyKey}");
            return entries.TryRemove(ip, out _);
        }),
        ["contains"] = new Func<string, bool>(entries.ContainsKey),
    };
}

/// <summary>A host module that fails the first N calls of <c>flaky.run()</c>, then succeeds; <c>flaky.fail()</c> always throws.</summary>
public sealed class FlakyModule(int failures) : IScriptHostModule
{
    private int calls;

    public string Name => "flaky";

    public int Calls => Volatile.Read(ref calls);

    public IReadOnlyDictionary<string, Delegate> CreateFunctions(ScriptCallContext context) => new Dictionary<string, Delegate>
    {
        ["run"] = new Func<bool>(() => Interlocked.Increment(ref calls) > failures ? true : throw new InvalidOperationException("flaky failure")),
        ["fail"] = new Func<bool>(() => throw new InvalidOperationException("always fails")),
    };
}

/// <summary>A transport that fails its first N publishes, then records messages.</summary>
public sealed class RecordingTransport(int failures = 0) : IMessageTransport
{
    private int attempts;

    public ConcurrentQueue<OutboundMessage> Messages { get; } = new();

    public Task PublishAsync(OutboundMessage message, CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref attempts) <= failures)
        {
            throw new InvalidOperationException("broker unavailable");
        }

        Messages.Enqueue(message);
        return Task.CompletedTask;
    }
}

/// <summary>
/// A runtime over a real SQLite file: the services a server would build (store, runtime, registry, sandbox), a manual
/// clock, the test blocklist, a recording transport; <see cref="StartAsync"/> runs <see cref="IWorkflowRuntime.RunAsync"/>
/// in the background, <see cref="DisposeAsync"/> stops it.
/// </summary>
public sealed class TestHost : IAsyncDisposable
{
    private readonly ServiceProvider provider;
    private readonly CancellationTokenSource stop = new();
    private Task? loop;

    private readonly bool sql;

    public TestHost(TempDirectory directory, ManualTimeProvider clock, IMessageTransport transport, params IScriptHostModule[] modules)
    {
        Clock = clock;
        Transport = transport;
        var services = new ServiceCollection();
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        if (directory.MemoryStore is { } memory)
        {
            services.AddSingleton(memory);
            services.AddRuleFlowInMemoryWorkflowStore();
        }
        else
        {
            sql = true;
            services.AddRuleFlowStorage(directory.StoreOptions!, directory.Path);
            services.AddRuleFlowWorkflowStore();
        }

        services.AddSingleton<TimeProvider>(clock);
        services.AddSingleton(transport);
        foreach (var module in modules)
        {
            services.AddSingleton(module);
        }

        services.AddRuleFlowWorkflows(new WorkflowOptions
        {
            PollInterval = TimeSpan.FromMilliseconds(50),
            CompensationRetryDelay = TimeSpan.FromMilliseconds(10),
            OutboxRetryDelay = TimeSpan.FromMilliseconds(10),
            MaxConcurrency = 4,
        });
        provider = services.BuildServiceProvider();
    }

    public ManualTimeProvider Clock { get; }

    public IMessageTransport Transport { get; }

    public WorkflowRuntime Runtime => provider.GetRequiredService<WorkflowRuntime>();

    public IWorkflowQueries Queries => provider.GetRequiredService<IWorkflowQueries>();

    public IWorkflowStore Store => provider.GetRequiredService<IWorkflowStore>();

    public IWorkflowDefinitionRegistry Registry => provider.GetRequiredService<IWorkflowDefinitionRegistry>();

    public static Actor Approver { get; } = new("alice", ["approver"]);

    public async Task InitializeAsync(params string[] yamlDefinitions)
    {
        if (sql)
        {
            await provider.GetRequiredService<StoreInitializer>().InitializeAsync(CancellationToken.None);
        }

        var definitions = new List<WorkflowDefinition>();
        foreach (var yaml in yamlDefinitions)
        {
            var result = WorkflowDefinitionLoader.LoadText(yaml, "test.yaml", DefinitionFormat.Yaml);
            Assert.True(result.Definition is not null, string.Join("\n", result.Diagnostics));
            definitions.Add(result.Definition!);
        }

        definitions.Add(LoadShipped("block-source-ip.yaml"));
        await Registry.RegisterAsync(definitions, CancellationToken.None);
    }

    public void Start() => loop = Runtime.RunAsync(stop.Token);

    public Task<StartWorkflowResult> StartAsync(string workflow, JsonObject input, string? correlationKey = null, string? idempotencyKey = null) =>
        Runtime.StartAsync(new StartWorkflowRequest(workflow, input, correlationKey, idempotencyKey, Lineage.Manual, Actor.System), CancellationToken.None);

    public async Task<InstanceDetails> WaitForAsync(Guid id, Func<InstanceDetails, bool> condition, int timeoutMs = 15000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        InstanceDetails? details = null;
        while (DateTime.UtcNow < deadline)
        {
            details = await Queries.GetInstanceAsync(id, CancellationToken.None);
            if (details is not null && condition(details))
            {
                return details;
            }

            await Task.Delay(20);
        }

        Assert.Fail($"instance {id} did not reach the expected condition; last state {details?.Summary.State}, error {details?.Error}, journal: "
            + string.Join(", ", details?.Journal.Select(j => $"{j.Kind}({j.StepId})") ?? []));
        return null!;
    }

    public Task<InstanceDetails> WaitForStateAsync(Guid id, InstanceState state, int timeoutMs = 15000) =>
        WaitForAsync(id, d => d.Summary.State == state, timeoutMs);

    public static WorkflowDefinition LoadShipped(string file)
    {
        var result = WorkflowDefinitionLoader.LoadFile(System.IO.Path.Combine(RepositoryRoot(), "workflows", file));
        Assert.True(result.Definition is not null, string.Join("\n", result.Diagnostics));
        return result.Definition!;
    }

    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(System.IO.Path.Combine(directory.FullName, "RuleFlow.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("repository root not found");
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        if (loop is not null)
        {
            await loop;
        }

        await provider.DisposeAsync();
        stop.Dispose();
    }
}
