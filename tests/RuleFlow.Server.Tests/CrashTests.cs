using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RuleFlow.Server.Tests.Infrastructure;
using RuleFlow.Workflows.Runtime;
using Xunit.Abstractions;

namespace RuleFlow.Server.Tests;

/// <summary>
/// Crash tests: the real server process is killed with SIGKILL at seeded random moments while workflows with side-effect
/// steps run (a blocklist row from a script, an HTTP call with an Idempotency-Key, a durable delay, a publish through the
/// outbox to RabbitMQ, and for some instances a failure and the compensation of all of that), and started again on the same
/// SQLite file. Afterwards it counts: every instance exists once and ended once, every step and compensation completed once
/// in the journal, and every effect happened once — the HTTP endpoint applies each idempotency key once, each published
/// message id arrives (duplicates of an id are the outbox's at-least-once, deduplicated by the id), the blocklist holds exactly
/// the addresses of the completed instances.
/// </summary>
public sealed class CrashTests(ITestOutputHelper output)
{
    private const string Completes = """
        id: crash-effects
        description: Crash test - side effects that must each happen once.
        input:
          schema:
            type: object
            required: [ip, endpoint]
            properties:
              ip: { type: string }
              endpoint: { type: string }
        steps:
          - id: block
            kind: script
            script: "return blocklist.add(input.ip, 'crash test');"
            compensate:
              script: "return blocklist.remove(input.ip);"
          - id: notify
            kind: http
            method: POST
            url: "{{input.endpoint}}/effects"
            body: { ip: "{{input.ip}}", instance: "{{instance.id}}" }
            attempts: 5
            backoff: 50ms
            request_timeout: 5s
            compensate:
              kind: http
              method: DELETE
              url: "{{input.endpoint}}/effects/{{input.ip}}"
              attempts: 5
              backoff: 50ms
          - id: pause
            kind: delay
            duration: 200ms
          - id: announce
            kind: publish
            exchange: crash.effects
            routing_key: ip.blocked
            body: { ip: "{{input.ip}}", instance: "{{instance.id}}" }
            compensate:
              publish:
                exchange: crash.effects
                routing_key: ip.unblocked
                body: { ip: "{{input.ip}}", instance: "{{instance.id}}" }
          - id: done
            kind: script
            script: "return { ip: input.ip, blocked: blocklist.contains(input.ip) };"
        """;

    // The same side effects, then a failure: everything is compensated, last first.
    private static readonly string Undoes = Completes.Replace("id: crash-effects", "id: crash-undo", StringComparison.Ordinal)
        .Replace("""
          - id: done
            kind: script
            script: "return { ip: input.ip, blocked: blocklist.contains(input.ip) };"
        """, """
          - id: done
            kind: fail
            message: "failing {{input.ip}} on purpose"
        """, StringComparison.Ordinal);

    private static readonly string[] ForwardSteps = ["block", "notify", "pause", "announce", "done"];

    [Fact]
    public async Task Killing_the_server_at_random_points_loses_no_instance_and_repeats_no_effect()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("RULEFLOW_CRASH_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var s) ? s : 20171210;
        var random = new Random(seed);
        const int completing = 30;
        const int undoing = 10;
        const int kills = 5;
        var log = new ConcurrentQueue<string>();
        void Note(string line)
        {
            log.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {line}");
            output.WriteLine(line);
        }

        Note($"seed {seed} (set RULEFLOW_CRASH_SEED to repeat another run)");

        await using var broker = await TestBroker.CreateAsync();
        await using var endpoint = new EffectEndpoint(seed);
        await using var connection = await broker.ConnectAsync();
        await using var channel = await connection.CreateChannelAsync();
        await channel.ExchangeDeclareAsync("crash.effects", ExchangeType.Topic, durable: true);
        await channel.QueueDeclareAsync("crash.observer", durable: true, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync("crash.observer", "crash.effects", "#");
        var published = new ConcurrentQueue<(string Id, string RoutingKey)>();
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            published.Enqueue((delivery.BasicProperties.MessageId ?? "(none)", delivery.RoutingKey));
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync("crash.observer", autoAck: true, consumer);

        var root = ServerProcess.NewContentRoot();
        await File.WriteAllTextAsync(Path.Combine(root, "workflows", "crash-effects.yaml"), Completes);
        await File.WriteAllTextAsync(Path.Combine(root, "workflows", "crash-undo.yaml"), Undoes);
        await using var server = new ServerProcess(root, new Dictionary<string, string>
        {
            ["RuleFlow__RabbitMq__Url"] = broker.Url.ToString(),
            ["RuleFlow__Workflows__PollInterval"] = "00:00:00.200",
            ["RuleFlow__Workflows__OutboxRetryDelay"] = "00:00:00.200",
        });
        await server.StartAndWaitReadyAsync();

        // Starts at a steady pace; a start that meets a dead server is repeated with the same idempotency key.
        var started = new ConcurrentDictionary<int, string>();
        var inputs = Enumerable.Range(0, completing + undoing)
            .Select(i => (Index: i, Workflow: i < completing ? "crash-effects" : "crash-undo", Ip: $"198.51.{i / 200}.{i % 200 + 1}"))
            .OrderBy(_ => random.Next()).ToList();
        var starter = Task.Run(async () =>
        {
            foreach (var (index, workflow, ip) in inputs)
            {
                while (true)
                {
                    try
                    {
                        var (status, body) = await server.PostJsonAsync("api/instances", new
                        {
                            workflow, input = new { ip, endpoint = endpoint.BaseUrl }, correlationKey = ip, idempotencyKey = "crash-start-" + index,
                        });
                        if (status is HttpStatusCode.Created or HttpStatusCode.OK)
                        {
                            started[index] = body!["id"]!.GetValue<string>();
                            break;
                        }

                        if (status != HttpStatusCode.ServiceUnavailable)
                        {
                            Note($"start {index} answered {(int)status}: {body?.ToJsonString()}; retrying");
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
                    {
                        // The server is down or was killed mid-request: the same idempotency key makes the retry safe.
                    }

                    await Task.Delay(100);
                }

                await Task.Delay(random.Next(80, 250));
            }
        });

        for (var k = 1; k <= kills; k++)
        {
            var wait = random.Next(150, 1200);
            await Task.Delay(wait);
            await server.KillAsync();
            Note($"kill {k} after {wait} ms ({started.Count} starts answered)");
            server.Start();
            await server.WaitReadyAsync();
            Note($"restart {k} ready");
        }

        await starter;
        var ids = inputs.ToDictionary(i => i.Index, i => started[i.Index]);
        await server.WaitUntilAsync(async () =>
        {
            foreach (var id in ids.Values)
            {
                var state = (await server.GetJsonAsync($"api/instances/{id}"))["state"]!.GetValue<string>();
                if (state is "running" or "waiting" or "compensating")
                {
                    return false;
                }
            }

            return true;
        }, "every crash-test instance to end", TimeSpan.FromMinutes(2));
        var expectedMessages = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in ids.Values)
        {
            expectedMessages.Add(IdempotencyKeys.ToGuid($"{id}:announce").ToString("D"));
        }

        foreach (var (index, _, _) in inputs.Where(i => i.Workflow == "crash-undo"))
        {
            expectedMessages.Add(IdempotencyKeys.ToGuid($"{ids[index]}:announce:compensate:0").ToString("D"));
        }

        await server.WaitUntilAsync(() => Task.FromResult(expectedMessages.IsSubsetOf(published.Select(p => p.Id))), "every published message to arrive",
            TimeSpan.FromSeconds(60));

        // Count.
        var problems = new List<string>();
        if (ids.Values.Distinct(StringComparer.Ordinal).Count() != ids.Count)
        {
            problems.Add("two starts share an instance id");
        }

        foreach (var workflow in new[] { ("crash-effects", completing), ("crash-undo", undoing) })
        {
            var total = (await server.GetJsonAsync($"api/instances?workflow={workflow.Item1}&pageSize=500"))["total"]!.GetValue<int>();
            if (total != workflow.Item2)
            {
                problems.Add($"{workflow.Item1}: {total} instances exist, expected {workflow.Item2}");
            }
        }

        foreach (var (index, workflow, ip) in inputs)
        {
            var id = ids[index];
            var instance = await server.GetJsonAsync($"api/instances/{id}");
            var state = instance["state"]!.GetValue<string>();
            var journal = instance["journal"]!.AsArray().Select(e => (Step: e!["stepId"]?.GetValue<string>(), Kind: e["kind"]!.GetValue<string>())).ToList();
            var sequences = instance["journal"]!.AsArray().Select(e => e!["sequence"]!.GetValue<long>()).ToList();
            var completes = workflow == "crash-effects";
            var expectedState = completes ? "completed" : "compensated";
            if (state != expectedState)
            {
                problems.Add($"instance {id} ({workflow}, {ip}) ended {state}, expected {expectedState}: {instance["error"]}");
            }

            var ends = journal.Count(e => e.Kind == "instance." + expectedState);
            if (ends != 1)
            {
                problems.Add($"instance {id} ({ip}): {ends} journal entries instance.{expectedState}, expected 1");
            }

            foreach (var step in ForwardSteps.Where(step => completes || step != "done"))
            {
                var count = journal.Count(e => e.Step == step && e.Kind == "step.completed");
                if (count != 1)
                {
                    problems.Add($"instance {id} ({ip}): step '{step}' completed {count} times in the journal, expected 1");
                }
            }

            if (!completes)
            {
                foreach (var step in new[] { "announce", "notify", "block" })
                {
                    var count = journal.Count(e => e.Step == step && e.Kind == "compensation.completed");
                    if (count != 1)
                    {
                        problems.Add($"instance {id} ({ip}): compensation of '{step}' completed {count} times in the journal, expected 1");
                    }
                }

                var order = journal.Where(e => e.Kind == "compensation.completed").Select(e => e.Step).ToList();
                if (!order.SequenceEqual(["announce", "notify", "block"]))
                {
                    problems.Add($"instance {id} ({ip}): compensations ran in the order {string.Join(", ", order)}, expected announce, notify, block");
                }
            }

            if (sequences.Distinct().Count() != sequences.Count || sequences.Zip(sequences.Skip(1)).Any(p => p.Second != p.First + 1))
            {
                problems.Add($"instance {id} ({ip}): journal sequences are not 1, 2, 3, … without gaps or repeats");
            }

            if (!endpoint.Calls.ContainsKey($"POST {id}:notify"))
            {
                problems.Add($"instance {id} ({ip}): the HTTP effect (POST with key {id}:notify) never happened");
            }

            if (!completes && !endpoint.Calls.ContainsKey($"DELETE {id}:notify:compensate:0"))
            {
                problems.Add($"instance {id} ({ip}): the HTTP compensation (DELETE with key {id}:notify:compensate:0) never happened");
            }
        }

        var expectedEffects = completing + undoing + undoing;
        var effects = endpoint.Effects.ToList();
        if (effects.Count != expectedEffects || effects.Distinct(StringComparer.Ordinal).Count() != effects.Count)
        {
            problems.Add($"HTTP: {effects.Count} distinct effects applied, expected {expectedEffects}");
        }

        if (endpoint.WithoutKey > 0)
        {
            problems.Add($"HTTP: {endpoint.WithoutKey} calls came without an Idempotency-Key");
        }

        var received = published.Select(p => p.Id).ToList();
        var unexpected = received.Where(m => !expectedMessages.Contains(m)).Distinct(StringComparer.Ordinal).ToList();
        if (unexpected.Count > 0)
        {
            problems.Add($"RabbitMQ: unexpected message ids {string.Join(", ", unexpected)}");
        }

        var blocklist = (await server.GetJsonAsync("api/blocklist")).AsArray().Select(e => e!["ip"]!.GetValue<string>()).Order(StringComparer.Ordinal).ToList();
        var expectedBlocked = inputs.Where(i => i.Workflow == "crash-effects").Select(i => i.Ip).Order(StringComparer.Ordinal).ToList();
        if (!blocklist.SequenceEqual(expectedBlocked))
        {
            problems.Add($"blocklist: {blocklist.Count} rows [{string.Join(", ", blocklist.Except(expectedBlocked))} extra; {string.Join(", ", expectedBlocked.Except(blocklist))} missing]");
        }

        var repeatedCalls = endpoint.Calls.Where(c => c.Value > 1).Sum(c => c.Value - 1);
        var repeatedMessages = received.Count - received.Distinct(StringComparer.Ordinal).Count();
        Note($"{kills} kills; {ids.Count} instances; HTTP effects {effects.Count} from {endpoint.Calls.Values.Sum()} calls ({repeatedCalls} repeated after a crash, deduplicated by key); " +
            $"messages {received.Distinct(StringComparer.Ordinal).Count()} ids from {received.Count} deliveries ({repeatedMessages} re-sent with the same id)");
        Assert.True(problems.Count == 0,
            $"seed {seed}: {problems.Count} problems:\n" + string.Join("\n", problems) + "\n\nrun log:\n" + string.Join("\n", log) + "\n\nlast server log:\n" + Tail(server.Log, 60));
    }

    private static string Tail(string text, int lines)
    {
        var all = text.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }
}
