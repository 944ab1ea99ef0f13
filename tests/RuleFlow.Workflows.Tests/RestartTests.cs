using System.Text.Json.Nodes;
using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Workflows.Tests;

public sealed class RestartTests
{
    private static readonly string[] Definitions = [RuntimeTests.SagaThree, RuntimeTests.ApproveAfterTwo];

    private static ManualTimeProvider NewClock() => new(new DateTimeOffset(2017, 12, 10, 7, 0, 0, TimeSpan.Zero));

    private static JsonObject Input(string ip) => new() { ["ip"] = ip, ["host"] = "LabSZ", ["attempts"] = 5, ["evidence"] = new JsonArray() };

    private static async Task<TestHost> OpenAsync(TempDirectory dir, ManualTimeProvider clock, IMessageTransport transport, TestBlocklistModule blocklist, bool run = true)
    {
        var host = new TestHost(dir, clock, transport, blocklist, new FlakyModule(0));
        await host.InitializeAsync(Definitions);
        if (run)
        {
            host.Start();
        }

        return host;
    }

    private static async Task DecideAsync(TestHost host, Guid instanceId, ApprovalOutcome outcome)
    {
        var details = await host.WaitForStateAsync(instanceId, InstanceState.Waiting);
        var approval = Assert.Single(details.Approvals, a => a.State == "pending");
        await host.Runtime.DecideAsync(approval.Id, outcome, TestHost.Approver, "after restart", CancellationToken.None);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Restart_loses_no_instance_duplicates_none_and_delivers_each_message_once(TestStore store)
    {
        using var dir = new TempDirectory(store);
        var clock = NewClock();
        var blocklist = new TestBlocklistModule();
        string[] ips = ["183.62.140.253", "112.95.230.3", "103.99.0.122", "5.188.10.180"];
        var ids = new List<Guid>();
        var brokerDown = new RecordingTransport(failures: int.MaxValue);

        // Process 1: four instances wait for approval; one is approved while the broker is down (its message stays in the outbox).
        await using (var first = await OpenAsync(dir, clock, brokerDown, blocklist))
        {
            foreach (var ip in ips)
            {
                ids.Add((await first.StartAsync("block-source-ip", Input(ip), ip)).InstanceId);
            }

            foreach (var id in ids)
            {
                await first.WaitForStateAsync(id, InstanceState.Waiting);
            }

            await DecideAsync(first, ids[0], ApprovalOutcome.Approved);
            await first.WaitForStateAsync(ids[0], InstanceState.Completed);
        }

        // Process 1b: an instance is started but the process stops before running it (a crash right after the start was committed).
        Guid notRun;
        await using (var crashed = await OpenAsync(dir, clock, brokerDown, blocklist, run: false))
        {
            notRun = (await crashed.StartAsync("block-source-ip", Input("60.2.12.12"), "60.2.12.12")).InstanceId;
            Assert.Equal(InstanceState.Running, (await crashed.Queries.GetInstanceAsync(notRun, CancellationToken.None))!.Summary.State);
        }

        // Process 2, same SQLite file: resumes the running instance, keeps the waiting ones, delivers the outbox.
        var broker = new RecordingTransport();
        await using var second = await OpenAsync(dir, clock, broker, blocklist);
        await second.WaitForStateAsync(notRun, InstanceState.Waiting);
        for (var i = 1; i < ips.Length; i++)
        {
            var again = await second.StartAsync("block-source-ip", Input(ips[i]), ips[i]);
            Assert.Equal((ids[i], false), (again.InstanceId, again.Created));
        }

        await DecideAsync(second, ids[1], ApprovalOutcome.Approved);
        await DecideAsync(second, ids[2], ApprovalOutcome.Approved);
        await DecideAsync(second, ids[3], ApprovalOutcome.Rejected);
        await DecideAsync(second, notRun, ApprovalOutcome.Approved);
        foreach (var id in new[] { ids[0], ids[1], ids[2], notRun })
        {
            await second.WaitForStateAsync(id, InstanceState.Completed);
        }

        await second.WaitForStateAsync(ids[3], InstanceState.Compensated);

        var all = await second.Queries.ListInstancesAsync(new InstanceQuery("block-source-ip", null, null), CancellationToken.None);
        Assert.Equal(5, all.Total);
        Assert.Equal(5, (await second.Queries.ListApprovalsAsync(null, 100, CancellationToken.None)).Count);
        Assert.Empty(await second.Queries.ListApprovalsAsync("pending", 100, CancellationToken.None));
        Assert.Equal(["103.99.0.122", "112.95.230.3", "183.62.140.253", "60.2.12.12"], blocklist.Ips.Order(StringComparer.Ordinal));
        Assert.Equal(4, blocklist.Calls.Count(c => c.StartsWith("add", StringComparison.Ordinal)));

        var expected = new[] { ids[0], ids[1], ids[2], notRun }
            .Select(id => IdempotencyKeys.ToGuid($"{id:D}:announce").ToString("D")).Order(StringComparer.Ordinal).ToList();
        // The message that failed in process 1 keeps its backoff (at most OutboxMaxRetryDelay, 5 min) across the restart.
        clock.Advance(TimeSpan.FromMinutes(6));
        await RuntimeTests.WaitUntilAsync(() => broker.Messages.Count >= 4);
        await Task.Delay(300);
        Assert.Equal(expected, broker.Messages.Select(m => m.Id).Order(StringComparer.Ordinal));
        Assert.Empty(brokerDown.Messages);
        Assert.Empty(await second.Store.GetPendingOutboxAsync(clock.GetUtcNow().AddDays(1), 10, CancellationToken.None));

        foreach (var id in ids.Append(notRun))
        {
            var details = (await second.Queries.GetInstanceAsync(id, CancellationToken.None))!;
            Assert.Equal(1, details.Journal.Count(j => j.Kind == "step.waiting"));
            Assert.Equal(details.Journal.Count, details.Journal.Select(j => j.Sequence).Distinct().Count());
        }
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Timer_that_fell_due_while_down_fires_at_start(TestStore store)
    {
        using var dir = new TempDirectory(store);
        var clock = NewClock();
        var blocklist = new TestBlocklistModule();
        Guid id;
        await using (var first = await OpenAsync(dir, clock, new RecordingTransport(), blocklist))
        {
            id = (await first.StartAsync("block-source-ip", Input("185.190.58.151"), "185.190.58.151")).InstanceId;
            await first.WaitForStateAsync(id, InstanceState.Waiting);
        }

        clock.Advance(TimeSpan.FromHours(25));
        await using var second = await OpenAsync(dir, clock, new RecordingTransport(), blocklist);
        var done = await second.WaitForStateAsync(id, InstanceState.Compensated);
        var approval = Assert.Single(done.Approvals);
        Assert.Equal(("timed_out", "system"), (approval.State, approval.DecidedBy));
        Assert.Empty(blocklist.Ips);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Running_instances_finish_on_the_version_they_started_with(TestStore store)
    {
        using var dir = new TempDirectory(store);
        var clock = NewClock();
        var blocklist = new TestBlocklistModule();
        const string v1 = """
            id: versioned
            steps:
              - id: ask
                kind: approval
                assignees: [role:approver]
                message: "v1"
              - id: old-step
                kind: script
                script: "return 'v1';"
            """;
        const string v2 = """
            id: versioned
            steps:
              - id: ask
                kind: approval
                assignees: [role:approver]
                message: "v2"
              - id: new-step
                kind: script
                script: "return 'v2';"
            """;
        Guid id;
        await using (var first = new TestHost(dir, clock, new RecordingTransport(), blocklist))
        {
            await first.InitializeAsync(v1);
            first.Start();
            id = (await first.StartAsync("versioned", [])).InstanceId;
            await first.WaitForStateAsync(id, InstanceState.Waiting);
            Assert.Equal(1, first.Registry.Find("versioned")!.Version);
        }

        await using var second = new TestHost(dir, clock, new RecordingTransport(), blocklist);
        await second.InitializeAsync(v2);
        second.Start();
        Assert.Equal(2, second.Registry.Find("versioned")!.Version);
        await DecideAsync(second, id, ApprovalOutcome.Approved);
        var done = await second.WaitForStateAsync(id, InstanceState.Completed);
        Assert.Equal(1, done.Summary.Version);
        Assert.Contains(done.Journal, j => j.Kind == "step.completed" && j.StepId == "old-step");

        var fresh = (await second.StartAsync("versioned", [])).InstanceId;
        var waiting = await second.WaitForStateAsync(fresh, InstanceState.Waiting);
        Assert.Equal((2, "v2"), (waiting.Summary.Version, waiting.Approvals[0].Message));
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    public async Task Registry_is_ready_only_after_definitions_are_registered(TestStore store)
    {
        using var dir = new TempDirectory(store);
        var host = new TestHost(dir, NewClock(), new RecordingTransport(), new TestBlocklistModule());
        await using (host)
        {
            Assert.False(host.Registry.IsReady);
            await host.InitializeAsync();
            Assert.True(host.Registry.IsReady);
            Assert.Equal(["block-source-ip"], host.Registry.Current.Select(d => d.Id));
            Assert.Equal(1, host.Registry.Current[0].Version);
            var stored = await host.Store.GetDefinitionAsync("block-source-ip", host.Registry.Current[0].ContentHash, CancellationToken.None);
            Assert.Equal(DefinitionFormat.Yaml, stored!.Format);
        }
    }
}
