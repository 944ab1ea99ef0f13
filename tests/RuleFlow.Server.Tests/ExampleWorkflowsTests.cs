using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using RuleFlow.Server.Tests.Infrastructure;

namespace RuleFlow.Server.Tests;

/// <summary>The shipped example rules start the shipped example workflows, which run to the end.</summary>
public sealed class ExampleWorkflowsTests
{
    private static string At(double minutesFromNow) =>
        DateTimeOffset.UtcNow.AddMinutes(minutesFromNow).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static async Task Post(ServerProcess server, string type, object body)
    {
        var (status, answer) = await server.PostJsonAsync($"api/events/{type}", body);
        Assert.True(status == HttpStatusCode.Accepted, $"{type}: {(int)status} {answer?.ToJsonString()}");
    }

    private static async Task<JsonNode> InstanceAsync(ServerProcess server, string workflow, string key, string state)
    {
        JsonNode? found = null;
        await server.WaitUntilAsync(async () =>
        {
            var page = await server.GetJsonAsync($"api/instances?workflow={workflow}&correlationKey={Uri.EscapeDataString(key)}");
            found = page["items"]!.AsArray().FirstOrDefault();
            return found?["state"]!.GetValue<string>() == state;
        }, $"{workflow} {key} to be {state}");
        return await server.GetJsonAsync($"api/instances/{found!["id"]!.GetValue<string>()}");
    }

    [Fact]
    public async Task A_core_link_down_opens_a_ticket_waits_for_the_link_and_closes_the_ticket_when_it_is_back()
    {
        await using var server = new ServerProcess(ServerProcess.NewContentRoot());
        await server.StartAndWaitReadyAsync();

        await Post(server, "net.interface", new { host = "core1", @interface = "xe-0/0/1", error = "INTERFACE_DOWN", os = "junos", timestamp = At(-10) });
        await Post(server, "NetDevice", new { host = "core1", role = "core", site = "ams" });
        await Post(server, "net.interface", new { host = "edge9", @interface = "ge-0/0/0", error = "INTERFACE_UP", os = "junos", timestamp = At(-1) });

        var waiting = await InstanceAsync(server, "core-link-down", "core1/xe-0/0/1", "waiting");
        Assert.Equal("ams", waiting["input"]!["site"]!.GetValue<string>());
        Assert.Equal("event:net.interface=core1", waiting["waitingFor"]!.GetValue<string>());

        await Post(server, "net.interface", new { host = "core1", @interface = "xe-0/0/1", error = "INTERFACE_UP", os = "junos", timestamp = At(0) });
        var done = await InstanceAsync(server, "core-link-down", "core1/xe-0/0/1", "completed");
        var steps = done["journal"]!.AsArray().Select(e => e!["stepId"]?.GetValue<string>()).Where(s => s is not null).ToList();
        Assert.Contains("close-ticket", steps);
        Assert.DoesNotContain("escalate", steps);
    }

    [Fact]
    public async Task A_crash_looping_pod_opens_an_incident_that_an_operator_approves()
    {
        await using var server = new ServerProcess(ServerProcess.NewContentRoot());
        await server.StartAndWaitReadyAsync();

        await Post(server, "k8s.event", new
        {
            reason = "BackOff", type = "Warning", count = 7, message = "Back-off restarting failed container", lastTimestamp = At(0),
            involvedObject = new { kind = "Pod", name = "api-1", @namespace = "prod", uid = "uid-api-1" },
        });
        var waiting = await InstanceAsync(server, "k8s-incident", "uid-api-1", "waiting");
        var approval = waiting["approvals"]!.AsArray().Single()!;
        Assert.Contains("prod/api-1 keeps crashing (7 restarts)", approval["message"]!.GetValue<string>(), StringComparison.Ordinal);

        var (status, body) = await server.PostJsonAsync($"api/approvals/{approval["id"]!.GetValue<string>()}/approve", new { comment = "restart it" });
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
        await InstanceAsync(server, "k8s-incident", "uid-api-1", "completed");
    }
}
