using System.Net;
using RuleFlow.Server.Tests.Infrastructure;

namespace RuleFlow.Server.Tests;

/// <summary>A workflow whose third step fails, started through the API of a real server.</summary>
public sealed class CompensationTests
{
    private const string ThreeSteps = """
        id: three-steps-third-fails
        description: Test workflow - step 3 fails, steps 2 and 1 are compensated in that order.
        input:
          schema:
            type: object
            required: [ip]
            properties:
              ip: { type: string }
        steps:
          - id: one
            kind: script
            script: |
              blocklist.add(input.ip, "step one");
              return { step: 1 };
            compensate:
              script: |
                blocklist.remove(input.ip);
                return { undone: 1 };
          - id: two
            kind: publish
            exchange: test.actions
            routing_key: step.two
            body:
              ip: "{{input.ip}}"
            compensate:
              publish:
                exchange: test.actions
                routing_key: step.two.undone
                body:
                  ip: "{{input.ip}}"
          - id: three
            kind: script
            script: |
              throw new Error("step three failed on purpose");
        """;

    [Fact]
    public async Task A_failing_third_step_compensates_step_two_then_step_one_and_leaves_nothing_behind()
    {
        var root = ServerProcess.NewContentRoot();
        await File.WriteAllTextAsync(Path.Combine(root, "workflows", "three-steps-third-fails.yaml"), ThreeSteps);
        await using var server = new ServerProcess(root);
        await server.StartAndWaitReadyAsync();

        var (status, started) = await server.PostJsonAsync("api/instances", new { workflow = "three-steps-third-fails", input = new { ip = "10.9.8.7" }, correlationKey = "10.9.8.7" });
        Assert.True(status == HttpStatusCode.Created, started?.ToJsonString());
        var id = started!["id"]!.GetValue<string>();

        await server.WaitUntilAsync(async () => (await server.GetJsonAsync($"api/instances/{id}"))["state"]!.GetValue<string>() == "compensated",
            "the instance to be compensated");
        var instance = await server.GetJsonAsync($"api/instances/{id}");
        var journal = instance["journal"]!.AsArray().Select(e => (Step: e!["stepId"]?.GetValue<string>(), Kind: e["kind"]!.GetValue<string>())).ToList();

        var failed = journal.FindIndex(e => e == ("three", "step.failed"));
        var twoStarted = journal.FindIndex(e => e == ("two", "compensation.completed"));
        var twoDone = journal.FindIndex(e => e == ("two", "compensation.completed"));
        var oneStarted = journal.FindIndex(e => e == ("one", "compensation.completed"));
        var oneDone = journal.FindIndex(e => e == ("one", "compensation.completed"));
        Assert.True(failed >= 0 && failed < twoStarted && twoStarted <= twoDone && twoDone < oneStarted && oneStarted <= oneDone,
            "journal order: " + string.Join(", ", journal.Select(e => $"{e.Step}:{e.Kind}")));
        Assert.DoesNotContain(journal, e => e == ("three", "compensation.completed"));
        Assert.Contains("step three failed on purpose", instance["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Empty((await server.GetJsonAsync("api/blocklist")).AsArray());
    }
}
