using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RabbitMQ.Client;
using RuleFlow.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace RuleFlow.Server.Tests;

/// <summary>
/// The acceptance test of the real-data demo: loghub's OpenSSH_2k.log replayed by <c>ruleflow replay</c> into a real
/// RabbitMQ, consumed by a real server process on a real SQLite file.
/// </summary>
public sealed partial class OpenSshDemoTests(ITestOutputHelper output)
{
    /// <summary>The 10 firings of rules/ssh-bruteforce.rules on the log (year 2017), in order.</summary>
    public static readonly (string Time, string Ip)[] ExpectedFirings =
    [
        ("2017-12-10T07:28:03Z", "112.95.230.3"), ("2017-12-10T07:34:23Z", "123.235.32.19"), ("2017-12-10T08:25:11Z", "5.188.10.180"),
        ("2017-12-10T09:10:19Z", "185.190.58.151"), ("2017-12-10T09:11:34Z", "103.99.0.122"), ("2017-12-10T09:13:10Z", "187.141.143.180"),
        ("2017-12-10T10:05:22Z", "60.2.12.12"), ("2017-12-10T10:14:10Z", "119.4.203.64"), ("2017-12-10T10:54:37Z", "183.62.140.253"),
        ("2017-12-10T11:03:56Z", "103.99.0.122"),
    ];

    public static readonly string[] ExpectedIps =
        ["183.62.140.253", "112.95.230.3", "103.99.0.122", "5.188.10.180", "187.141.143.180", "119.4.203.64", "185.190.58.151", "123.235.32.19", "60.2.12.12"];

    [Fact]
    public async Task The_log_fires_ten_times_starts_nine_waiting_instances_and_approval_rejection_and_a_kill_behave()
    {
        await using var broker = await TestBroker.CreateAsync();
        await using var server = broker.NewServer();
        await server.StartAndWaitReadyAsync();

        // An observer of what the workflows announce.
        await using var connection = await broker.ConnectAsync();
        await using var channel = await connection.CreateChannelAsync();
        await channel.ExchangeDeclareAsync("security.actions", ExchangeType.Topic, durable: true);
        var observer = (await channel.QueueDeclareAsync("test.observer", durable: false, exclusive: false, autoDelete: false)).QueueName;
        await channel.QueueBindAsync(observer, "security.actions", "#");

        var (exit, stdout, stderr) = await CliProcess.RunAsync("replay", Paths.OpenSshLog, "--format", "syslog", "--exchange", "security.events",
            "--routing-key", "ssh.auth", "--year", "2017", "--url", broker.Url.ToString(), "--no-progress");
        output.WriteLine(stdout);
        Assert.True(exit == 0, $"replay exited {exit}: {stdout}\n{stderr}");
        Assert.Contains("2,000 lines, 2,000 published, 0 skipped, 0 unroutable", stdout, StringComparison.Ordinal);
        output.WriteLine($"replay of 2,000 lines: {ReplaySeconds().Match(stdout).Groups[1].Value} s");

        await WaitForDemoOutcomeAsync(server);
        var firings = (await server.GetJsonAsync("api/rules/firings?rule=ssh-bruteforce&pageSize=100"))["items"]!.AsArray()
            .OrderBy(f => f!["id"]!.GetValue<long>()).ToList();
        Assert.Equal(ExpectedFirings.Select(f => f.Time), firings.Select(f => f!["time"]!.GetValue<DateTimeOffset>().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)));
        Assert.Equal(ExpectedFirings.Select(f => f.Ip), firings.Select(f => f!["actions"]![0]!["correlationKey"]!.GetValue<string>()));
        Assert.All(firings, f => Assert.Equal("done", f!["status"]!.GetValue<string>()));
        // The second firing for 103.99.0.122 found its instance still waiting: it started nothing.
        var first = firings[4]!["results"]![0]!;
        var second = firings[9]!["results"]![0]!;
        Assert.True(first["created"]!.GetValue<bool>());
        Assert.False(second["created"]!.GetValue<bool>());
        Assert.Equal(first["instanceId"]!.GetValue<string>(), second["instanceId"]!.GetValue<string>());

        var instances = await InstancesAsync(server);
        Assert.Equal(9, instances.Count);
        Assert.Equal(ExpectedIps.Order(StringComparer.Ordinal), instances.Select(i => i.Key).Order(StringComparer.Ordinal));
        Assert.All(instances, i => Assert.Equal("waiting", i.State));
        var detail = await server.GetJsonAsync($"api/instances/{instances.Single(i => i.Key == "103.99.0.122").Id}");
        Assert.Equal("103.99.0.122", detail["input"]!["ip"]!.GetValue<string>());
        Assert.True(detail["input"]!["evidence"]!.AsArray().Count >= 5);
        Assert.Equal("ssh-bruteforce", detail["lineage"]!["rule"]!.GetValue<string>());

        var approvals = (await server.GetJsonAsync("api/approvals?state=pending"))["items"]!.AsArray();
        Assert.Equal(9, approvals.Count);
        string ApprovalFor(string ip) => approvals.Single(a => a!["instanceId"]!.GetValue<string>() == instances.Single(i => i.Key == ip).Id)!["id"]!.GetValue<string>();
        Assert.Contains("183.62.140.253", approvals.Single(a => a!["id"]!.GetValue<string>() == ApprovalFor("183.62.140.253"))!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        // Approve one: it completes, the IP is blocklisted and announced.
        var (status, body) = await server.PostJsonAsync($"api/approvals/{ApprovalFor("183.62.140.253")}/approve", new { comment = "confirmed brute force" });
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
        await WaitForStateAsync(server, "183.62.140.253", "completed");
        Assert.Equal(["183.62.140.253"], await BlocklistAsync(server));
        var announced = await ReceiveAsync(channel, observer, 1);
        Assert.Equal("ip.blocked", announced[0].RoutingKey);
        Assert.Equal("183.62.140.253", JsonNode.Parse(announced[0].Body)!["ip"]!.GetValue<string>());

        // Reject one: compensated, nothing left behind (no blocklist entry, no announcement).
        (status, body) = await server.PostJsonAsync($"api/approvals/{ApprovalFor("112.95.230.3")}/reject", new { comment = "our scanner" });
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
        await WaitForStateAsync(server, "112.95.230.3", "compensated");
        Assert.Equal(["183.62.140.253"], await BlocklistAsync(server));

        // Kill -9 while seven instances wait; start again on the same content root and database.
        var before = await InstancesAsync(server);
        await server.KillAsync();
        server.Start();
        await server.WaitReadyAsync();
        var after = await InstancesAsync(server);
        Assert.Equal(before.OrderBy(i => i.Id).Select(i => (i.Id, i.State)), after.OrderBy(i => i.Id).Select(i => (i.Id, i.State)));
        Assert.Equal(7, after.Count(i => i.State == "waiting"));

        // The waiting ones still work after the restart.
        approvals = (await server.GetJsonAsync("api/approvals?state=pending"))["items"]!.AsArray();
        Assert.Equal(7, approvals.Count);
        (status, body) = await server.PostJsonAsync($"api/approvals/{ApprovalFor("5.188.10.180")}/approve", new { comment = "after restart" });
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
        await WaitForStateAsync(server, "5.188.10.180", "completed");
        Assert.Equal(["183.62.140.253", "5.188.10.180"], await BlocklistAsync(server));
        var announcedAfter = await ReceiveAsync(channel, observer, 1);
        Assert.Equal("5.188.10.180", JsonNode.Parse(announcedAfter[0].Body)!["ip"]!.GetValue<string>());

        // Replaying the same file again changes nothing: every message id is already journaled.
        (exit, stdout, stderr) = await CliProcess.RunAsync("replay", Paths.OpenSshLog, "--exchange", "security.events", "--routing-key", "ssh.auth",
            "--year", "2017", "--url", broker.Url.ToString(), "--no-progress");
        Assert.True(exit == 0, stderr);
        await server.WaitUntilAsync(async () => (await server.GetJsonAsync("api/stats"))["ingest"]!["duplicates"]!.GetValue<long>() == 2000, "2,000 duplicates");
        Assert.Equal(10, (await server.GetJsonAsync("api/rules/firings?pageSize=1"))["total"]!.GetValue<int>());
        Assert.Equal(9, (await InstancesAsync(server)).Count);
        Assert.Empty(await ReceiveAsync(channel, observer, 0));
    }

    [Theory]
    [InlineData(10_000)] // no snapshot before the kills: the whole journal is replayed
    [InlineData(150)] // snapshots every 150 events: restore the newest, replay the rest
    public async Task A_server_killed_in_the_middle_of_the_replay_ends_with_the_same_firings_and_instances(int snapshotEvery)
    {
        await using var broker = await TestBroker.CreateAsync();
        await using var server = new ServerProcess(ServerProcess.NewContentRoot(), new Dictionary<string, string>
        {
            ["RuleFlow__RabbitMq__Url"] = broker.Url.ToString(),
            ["RuleFlow__Rules__SnapshotEvery"] = snapshotEvery.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        await server.StartAndWaitReadyAsync();

        var replay = CliProcess.RunAsync("replay", Paths.OpenSshLog, "--exchange", "security.events", "--routing-key", "ssh.auth",
            "--year", "2017", "--url", broker.Url.ToString(), "--no-progress", "--rate", "800");
        // Kill it twice while the events flow in (the broker keeps what is not acknowledged).
        for (var kill = 0; kill < 2; kill++)
        {
            await server.WaitUntilAsync(async () => (await server.GetJsonAsync("api/events?pageSize=1"))["total"]!.GetValue<int>() > 400 * (kill + 1),
                $"{400 * (kill + 1)} events journaled");
            await server.KillAsync();
            await Task.Delay(300);
            server.Start();
            await server.WaitReadyAsync();
        }

        var (exit, stdout, stderr) = await replay;
        Assert.True(exit == 0, $"{stdout}\n{stderr}");
        await WaitForDemoOutcomeAsync(server);
        var firings = (await server.GetJsonAsync("api/rules/firings?pageSize=100"))["items"]!.AsArray();
        Assert.Equal(ExpectedFirings.Select(f => f.Ip).Order(StringComparer.Ordinal),
            firings.Select(f => f!["actions"]![0]!["correlationKey"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.Equal(2000, (await server.GetJsonAsync("api/events?pageSize=1"))["total"]!.GetValue<int>());
        var instances = await InstancesAsync(server);
        Assert.Equal(ExpectedIps.Order(StringComparer.Ordinal), instances.Select(i => i.Key).Order(StringComparer.Ordinal));
        if (snapshotEvery < 2000)
        {
            Assert.Contains("Working memory restored from the snapshot", server.Log, StringComparison.Ordinal);
        }
    }

    internal static async Task WaitForDemoOutcomeAsync(ServerProcess server)
    {
        var seen = "nothing read yet";
        try
        {
            await server.WaitUntilAsync(async () =>
            {
                var firings = (await server.GetJsonAsync("api/rules/firings?pageSize=1"))["total"]!.GetValue<int>();
                var events = (await server.GetJsonAsync("api/events?pageSize=1"))["total"]!.GetValue<int>();
                var waiting = (await server.GetJsonAsync("api/instances?workflow=block-source-ip&state=waiting&pageSize=1"))["total"]!.GetValue<int>();
                seen = $"{events} events, {firings} firings, {waiting} waiting instances";
                return events == 2000 && firings == 10 && waiting == 9;
            }, "2,000 events, 10 firings and 9 waiting instances", TimeSpan.FromMinutes(3));
        }
        catch (TimeoutException e)
        {
            var firings = (await server.GetJsonAsync("api/rules/firings?pageSize=100"))["items"]!.ToJsonString();
            var instances = (await server.GetJsonAsync("api/instances?workflow=block-source-ip&pageSize=100"))["items"]!.ToJsonString();
            throw new TimeoutException($"last seen: {seen}\nfirings: {firings}\ninstances: {instances}\n{e.Message}", e);
        }
    }

    internal static async Task<List<(string Id, string Key, string State)>> InstancesAsync(ServerProcess server)
    {
        var page = await server.GetJsonAsync("api/instances?workflow=block-source-ip&pageSize=100");
        return page["items"]!.AsArray().Select(i => (i!["id"]!.GetValue<string>(), i["correlationKey"]!.GetValue<string>(), i["state"]!.GetValue<string>())).ToList();
    }

    private static async Task WaitForStateAsync(ServerProcess server, string ip, string state) =>
        await server.WaitUntilAsync(async () =>
            (await InstancesAsync(server)).Single(i => i.Key == ip).State == state, $"instance for {ip} to be {state}");

    private static async Task<List<string>> BlocklistAsync(ServerProcess server) =>
        (await server.GetJsonAsync("api/blocklist")).AsArray().Select(e => e!["ip"]!.GetValue<string>()).ToList();

    /// <summary>Takes exactly <paramref name="count"/> messages (waiting up to 10 s), then checks nothing more arrives within 1 s.</summary>
    private static async Task<List<(string RoutingKey, string Body)>> ReceiveAsync(IChannel channel, string queue, int count)
    {
        var list = new List<(string, string)>();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (list.Count < count && DateTime.UtcNow < deadline)
        {
            if (await channel.BasicGetAsync(queue, autoAck: true) is { } got)
            {
                list.Add((got.RoutingKey, Encoding.UTF8.GetString(got.Body.Span)));
            }
            else
            {
                await Task.Delay(100);
            }
        }

        await Task.Delay(1000);
        var extra = await channel.BasicGetAsync(queue, autoAck: true);
        Assert.True(extra is null, $"unexpected extra message: {(extra is null ? "" : Encoding.UTF8.GetString(extra.Body.Span))}");
        Assert.Equal(count, list.Count);
        return list;
    }

    [GeneratedRegex(@"in (\d+\.\d+) s")]
    private static partial Regex ReplaySeconds();
}
