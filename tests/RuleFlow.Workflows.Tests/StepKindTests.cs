using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Workflows.Tests;

/// <summary>Every step kind against a real SQLite file, through the runtime's public API.</summary>
public sealed class StepKindTests
{
    private const string Branching = """
        id: branching
        steps:
          - id: init
            kind: set
            values: { count: "{{input.n}}", label: "n={{input.n}}" }
          - id: big
            kind: if
            condition: "vars.count > 10"
            then:
              - id: mark-big
                kind: set
                values: { size: big }
            else:
              - id: mark-small
                kind: set
                values: { size: small }
          - id: route
            kind: switch
            value: "vars.size"
            cases:
              - when: big
                steps:
                  - id: big-path
                    kind: script
                    script: "return 'B' + vars.count;"
            default:
              - id: small-path
                kind: script
                script: "return 'S' + vars.count;"
          - id: maybe-fail
            kind: fail
            message: "count {{vars.count}} is odd"
            on_error: continue
          - id: jump
            kind: fail
            message: "skip ahead"
            on_error: { goto: last }
          - id: skipped
            kind: script
            script: "return 'never';"
          - id: last
            kind: script
            script: "return { big: steps['big-path'] ? steps['big-path'].output : null, small: steps['small-path'] ? steps['small-path'].output : null, err: steps['maybe-fail'].output.error.code };"
        output: { result: "{{steps.last.output}}", label: "{{vars.label}}" }
        """;

    private const string Fanout = """
        id: fanout
        steps:
          - id: each
            kind: foreach
            items: "input.ips"
            concurrency: 2
            do:
              - id: add
                kind: script
                script: "return blocklist.add(item, 'loop ' + index);"
                compensate:
                  script: "blocklist.remove(item);"
          - id: race
            kind: parallel
            join: any
            branches:
              - name: fast
                steps:
                  - id: fast-done
                    kind: script
                    script: "return 'fast';"
              - name: slow
                steps:
                  - id: slow-add
                    kind: script
                    script: "return blocklist.add('9.9.9.9', 'slow');"
                    compensate:
                      script: "blocklist.remove('9.9.9.9');"
                  - id: slow-wait
                    kind: delay
                    duration: 1h
          - id: check
            kind: validate
            value: input
            expression: "input.ok === true"
        """;

    private const string Timers = """
        id: timers
        steps:
          - id: pause
            kind: delay
            duration: 10m
          - id: until
            kind: wait_until
            until: "{{input.at}}"
          - id: ack
            kind: wait_for_event
            event: firewall.ack
            correlation: { path: data.ip, value: "{{input.ip}}" }
            condition: "event.data.status == 'ok'"
            timeout: 1h
          - id: go
            kind: wait_for_event
            signal: proceed
          - id: done
            kind: script
            script: "return { ack: steps.ack.output.data.status, signal: steps.go.output.payload.who };"
        """;

    private const string Parent = """
        id: parent
        steps:
          - id: sub
            kind: call
            workflow: child
            input: { x: "{{input.x}}" }
          - id: use
            kind: script
            script: "return steps.sub.output.doubled + 1;"
        """;

    private const string Child = """
        id: child
        steps:
          - id: twice
            kind: script
            script: "return input.x * 2;"
        output: { doubled: "{{steps.twice.output}}" }
        """;

    private const string Retrying = """
        id: retrying
        steps:
          - id: undoable
            kind: script
            script: "return blocklist.add('7.7.7.7', 'r');"
            compensate:
              script: "blocklist.remove('7.7.7.7');"
          - id: flaky
            kind: script
            script: "return flaky.run();"
            retry: { max_attempts: 2, backoff: 1s }
        """;

    private const string TwoOfThree = """
        id: two-of-three
        steps:
          - id: vote
            kind: approval
            assignees: [user:ann, user:ben, user:cid]
            required: 2
            message: "vote"
          - id: esc
            kind: approval
            assignees: [user:ann]
            message: "escalating"
            timeout: 1h
            on_timeout: escalate
            escalate: { assignees: [role:lead], timeout: 2h, on_timeout: approve }
        """;

    private static ManualTimeProvider Clock() => new(new DateTimeOffset(2026, 1, 5, 8, 0, 0, TimeSpan.Zero));

    private static async Task<TestHost> HostAsync(TempDirectory dir, ManualTimeProvider clock)
    {
        var blocklist = new TestBlocklistModule();
        var host = new TestHost(dir, clock, new RecordingTransport(), blocklist, new FlakyModule(0));
        await host.InitializeAsync(Branching, Fanout, Timers, Parent, Child, Retrying, TwoOfThree);
        host.Start();
        return host;
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Set_if_switch_fail_continue_goto_and_output(TestStore store)
    {
        using var dir = new TempDirectory(store);
        await using var host = await HostAsync(dir, Clock());
        var big = await host.StartAsync("branching", new JsonObject { ["n"] = 12 });
        var done = await host.WaitForStateAsync(big.InstanceId, InstanceState.Completed);
        Assert.Equal("""{"result":{"big":"B12","small":null,"err":"WF4222"},"label":"n=12"}""", done.Output!.ToJsonString());
        Assert.DoesNotContain(done.Journal, j => j.StepId == "skipped");
        Assert.Contains(done.Journal, j => j.StepId == "mark-big" && j.Kind == "step.completed");
        Assert.DoesNotContain(done.Journal, j => j.StepId == "mark-small");

        var small = await host.StartAsync("branching", new JsonObject { ["n"] = 3 });
        var smallDone = await host.WaitForStateAsync(small.InstanceId, InstanceState.Completed);
        Assert.Equal("S3", smallDone.Output!["result"]!["small"]!.GetValue<string>());
        Assert.Equal(12, done.Variables["count"]!.GetValue<int>());
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Foreach_with_concurrency_parallel_any_compensates_the_loser_and_a_failure_undoes_every_iteration(TestStore store)
    {
        using var dir = new TempDirectory(store);
        var blocklist = new TestBlocklistModule();
        await using var host = new TestHost(dir, Clock(), new RecordingTransport(), blocklist, new FlakyModule(0));
        await host.InitializeAsync(Fanout);
        host.Start();
        var ok = await host.StartAsync("fanout", new JsonObject { ["ips"] = new JsonArray("1.1.1.1", "2.2.2.2", "3.3.3.3"), ["ok"] = true });
        var done = await host.WaitForStateAsync(ok.InstanceId, InstanceState.Completed);
        Assert.Equal("[true,true,true]", done.Journal.Single(j => j.StepId == "each" && j.Kind == "step.completed").Data!["output"]!.ToJsonString());
        Assert.Equal("""{"fast":"fast"}""", done.Journal.Single(j => j.StepId == "race" && j.Kind == "step.completed").Data!["output"]!.ToJsonString());
        Assert.Contains(done.Journal, j => j.Kind == "compensation.completed" && j.StepId == "slow-add");
        Assert.Equal(["1.1.1.1", "2.2.2.2", "3.3.3.3"], blocklist.Ips.Order());
        var keys = done.Journal.Where(j => j.StepId == "add" && j.Kind == "step.completed").Select(j => j.Data!["idempotencyKey"]!.GetValue<string>()).ToList();
        Assert.Equal(3, keys.Distinct().Count());
        Assert.Contains($"{ok.InstanceId:D}:each[1]/add", keys);

        var bad = await host.StartAsync("fanout", new JsonObject { ["ips"] = new JsonArray("4.4.4.4", "5.5.5.5"), ["ok"] = false });
        var undone = await host.WaitForStateAsync(bad.InstanceId, InstanceState.Compensated);
        var order = undone.Journal.Where(j => j.Kind == "compensation.completed").Select(j => j.Data!["path"]?.GetValue<string>() ?? j.StepId).ToList();
        Assert.Equal(["slow-add", "each[1]", "each[0]"], order);
        Assert.DoesNotContain("4.4.4.4", blocklist.Ips);
        Assert.DoesNotContain("5.5.5.5", blocklist.Ips);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Delay_wait_until_wait_for_event_and_signal_resume_durably(TestStore store)
    {
        using var dir = new TempDirectory(store);
        var clock = Clock();
        await using var host = await HostAsync(dir, clock);
        var started = await host.StartAsync("timers", new JsonObject { ["ip"] = "10.1.1.1", ["at"] = "2026-01-05T09:00:00Z" }, "k1");
        var waiting = await host.WaitForStateAsync(started.InstanceId, InstanceState.Waiting);
        Assert.StartsWith("timer:2026-01-05T08:10:00", waiting.WaitingFor, StringComparison.Ordinal);
        clock.Advance(TimeSpan.FromMinutes(11));
        await host.WaitForAsync(started.InstanceId, d => d.WaitingFor?.StartsWith("timer:2026-01-05T09:00:00", StringComparison.Ordinal) == true);
        clock.Advance(TimeSpan.FromMinutes(50));
        await host.WaitForAsync(started.InstanceId, d => d.WaitingFor == "event:firewall.ack=10.1.1.1");

        Assert.Equal(0, await host.Runtime.DeliverEventAsync(new WorkflowEvent("e0", "other.type", clock.GetUtcNow(), new JsonObject()), CancellationToken.None));
        Assert.Equal(0, await host.Runtime.DeliverEventAsync(new WorkflowEvent("e1", "firewall.ack", clock.GetUtcNow(), new JsonObject { ["ip"] = "10.9.9.9", ["status"] = "ok" }), CancellationToken.None));
        Assert.Equal(0, await host.Runtime.DeliverEventAsync(new WorkflowEvent("e2", "firewall.ack", clock.GetUtcNow(), new JsonObject { ["ip"] = "10.1.1.1", ["status"] = "pending" }), CancellationToken.None));
        var notYet = await host.Runtime.SignalAsync("timers", "k1", "proceed", [], CancellationToken.None);
        Assert.Equal((false, "not-waiting"), (notYet.Delivered, notYet.Reason));
        Assert.Equal(1, await host.Runtime.DeliverEventAsync(new WorkflowEvent("e3", "firewall.ack", clock.GetUtcNow(), new JsonObject { ["ip"] = "10.1.1.1", ["status"] = "ok" }), CancellationToken.None));
        await host.WaitForAsync(started.InstanceId, d => d.WaitingFor == "signal:proceed");
        var none = await host.Runtime.SignalAsync("timers", "no-such-key", "proceed", [], CancellationToken.None);
        Assert.Equal((false, "no-instance"), (none.Delivered, none.Reason));
        var signal = await host.Runtime.SignalAsync("timers", "k1", "proceed", new JsonObject { ["who"] = "rule" }, CancellationToken.None);
        Assert.True(signal.Delivered);
        var done = await host.WaitForStateAsync(started.InstanceId, InstanceState.Completed);
        Assert.Equal("""{"ack":"ok","signal":"rule"}""", done.Journal.Single(j => j.StepId == "done" && j.Kind == "step.completed").Data!["output"]!.ToJsonString());
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Wait_for_event_times_out_and_fails(TestStore store)
    {
        using var dir = new TempDirectory(store);
        var clock = Clock();
        await using var host = await HostAsync(dir, clock);
        var started = await host.StartAsync("timers", new JsonObject { ["ip"] = "10.2.2.2", ["at"] = "2020-01-01T00:00:00Z" });
        await host.WaitForStateAsync(started.InstanceId, InstanceState.Waiting);
        clock.Advance(TimeSpan.FromMinutes(11));
        await host.WaitForAsync(started.InstanceId, d => d.WaitingFor?.StartsWith("event:", StringComparison.Ordinal) == true);
        clock.Advance(TimeSpan.FromHours(2));
        var done = await host.WaitForStateAsync(started.InstanceId, InstanceState.Compensated);
        Assert.Equal("WF4080", done.Journal.Single(j => j.Kind == "step.failed").Data!["code"]!.GetValue<string>());
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Call_waits_for_the_sub_workflow_result(TestStore store)
    {
        using var dir = new TempDirectory(store);
        await using var host = await HostAsync(dir, Clock());
        var started = await host.StartAsync("parent", new JsonObject { ["x"] = 20 });
        var done = await host.WaitForStateAsync(started.InstanceId, InstanceState.Completed);
        Assert.Equal("41", done.Journal.Single(j => j.StepId == "use" && j.Kind == "step.completed").Data!["output"]!.ToJsonString());
        var childId = Guid.Parse(done.Journal.Single(j => j.Kind == "step.waiting").Data!["childInstanceId"]!.GetValue<string>());
        var child = await host.Queries.GetInstanceAsync(childId, CancellationToken.None);
        Assert.Equal((InstanceState.Completed, started.InstanceId), (child!.Summary.State, child.ParentInstanceId));
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Exhausted_retry_opens_an_incident_retry_resumes_and_cancel_compensates(TestStore store)
    {
        using var dir = new TempDirectory(store);
        var clock = Clock();
        var flaky = new FlakyModule(2);
        var blocklist = new TestBlocklistModule();
        await using var host = new TestHost(dir, clock, new RecordingTransport(), blocklist, flaky);
        await host.InitializeAsync(Retrying, TwoOfThree);
        host.Start();
        var started = await host.StartAsync("retrying", []);
        await host.WaitForAsync(started.InstanceId, d => d.WaitingFor?.StartsWith("retry:flaky", StringComparison.Ordinal) == true);
        clock.Advance(TimeSpan.FromSeconds(2));
        var failed = await host.WaitForStateAsync(started.InstanceId, InstanceState.Failed);
        var incident = Assert.Single(failed.Incidents);
        Assert.Equal("retry.exhausted", incident.Kind);
        Assert.Equal([1, 2], failed.Journal.Where(j => j.Kind == "step.failed").Select(j => j.Attempt));
        Assert.Equal(["7.7.7.7"], blocklist.Ips);

        await host.Runtime.RetryAsync(started.InstanceId, new Actor("olga", ["operator"]), CancellationToken.None);
        var done = await host.WaitForStateAsync(started.InstanceId, InstanceState.Completed);
        Assert.NotNull(Assert.Single(done.Incidents).ResolvedAt);
        Assert.Equal("olga", done.Incidents[0].ResolvedBy);

        var second = await host.StartAsync("two-of-three", []);
        await host.WaitForStateAsync(second.InstanceId, InstanceState.Waiting);
        await host.Runtime.CancelAsync(second.InstanceId, new Actor("olga", ["operator"]), "not needed", CancellationToken.None);
        var cancelled = await host.WaitForStateAsync(second.InstanceId, InstanceState.Cancelled);
        Assert.Equal("cancelled", Assert.Single(cancelled.Approvals).State);
        var again = await Assert.ThrowsAsync<WorkflowException>(() => host.Runtime.CancelAsync(second.InstanceId, Actor.System, null, CancellationToken.None));
        Assert.Equal("WF4090", again.Code);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Two_of_three_approval_then_escalation_with_a_second_timeout(TestStore store)
    {
        using var dir = new TempDirectory(store);
        var clock = Clock();
        await using var host = await HostAsync(dir, clock);
        var started = await host.StartAsync("two-of-three", []);
        var waiting = await host.WaitForStateAsync(started.InstanceId, InstanceState.Waiting);
        var vote = Assert.Single(waiting.Approvals);
        var stranger = await Assert.ThrowsAsync<WorkflowException>(() => host.Runtime.DecideAsync(vote.Id, ApprovalOutcome.Approved, new Actor("dan", ["admin", "approver"]), null, CancellationToken.None));
        Assert.Equal("WF4030", stranger.Code);
        var first = await host.Runtime.DecideAsync(vote.Id, ApprovalOutcome.Approved, new Actor("ann", []), "one", "http", CancellationToken.None);
        Assert.Equal("pending", first.State);
        var twice = await Assert.ThrowsAsync<WorkflowException>(() => host.Runtime.DecideAsync(vote.Id, ApprovalOutcome.Approved, new Actor("Ann", []), null, CancellationToken.None));
        Assert.Equal("WF4090", twice.Code);
        var second = await host.Runtime.DecideAsync(vote.Id, ApprovalOutcome.Approved, new Actor("ben", []), "two", "amqp", CancellationToken.None);
        Assert.Equal("approved", second.State);
        Assert.Equal(["ann/http", "ben/amqp"], second.AllDecisions.Select(d => d.By + "/" + d.Via));

        var esc = await host.WaitForAsync(started.InstanceId, d => d.Approvals.Count == 2 && d.Summary.State == InstanceState.Waiting);
        var escId = esc.Approvals.Single(a => a.StepId == "esc").Id;
        clock.Advance(TimeSpan.FromMinutes(61));
        var escalated = await host.WaitForAsync(started.InstanceId, d => d.Approvals.Single(a => a.StepId == "esc").Level == 1);
        Assert.Equal(["role:lead"], escalated.Approvals.Single(a => a.Id == escId).Assignees);
        var ann = await Assert.ThrowsAsync<WorkflowException>(() => host.Runtime.DecideAsync(escId, ApprovalOutcome.Approved, new Actor("ann", []), null, CancellationToken.None));
        Assert.Equal("WF4030", ann.Code);
        clock.Advance(TimeSpan.FromHours(2.1));
        var done = await host.WaitForStateAsync(started.InstanceId, InstanceState.Completed);
        Assert.Equal("timed_out", done.Approvals.Single(a => a.Id == escId).State);
        Assert.Contains(done.Journal, j => j.Kind == "approval.escalated");
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Http_step_retries_with_backoff_sends_the_idempotency_key_and_fails_on_unexpected_status(TestStore store)
    {
        using var server = new CountingHttpServer(failFirst: 2);
        var definition = $$"""
            id: http-call
            steps:
              - id: call
                kind: http
                method: POST
                url: "{{server.Url}}block/{{"{{input.ip}}"}}"
                headers: { X-Test: "{{"{{input.ip}}"}}" }
                body: { ip: "{{"{{input.ip}}"}}" }
                attempts: 3
                backoff: 10ms
                expected_status: [200, 201]
              - id: missing
                kind: http
                url: "{{server.Url}}missing"
                attempts: 1
            """;
        using var dir = new TempDirectory(store);
        await using var host = new TestHost(dir, Clock(), new RecordingTransport());
        await host.InitializeAsync(definition);
        host.Start();
        var started = await host.StartAsync("http-call", new JsonObject { ["ip"] = "8.8.4.4" });
        var done = await host.WaitForStateAsync(started.InstanceId, InstanceState.Compensated);
        var call = done.Journal.Single(j => j.StepId == "call" && j.Kind == "step.completed").Data!;
        Assert.Equal(3, call["output"]!["tries"]!.GetValue<int>());
        Assert.Equal("8.8.4.4", call["output"]!["body"]!["ip"]!.GetValue<string>());
        Assert.Equal(3, server.Calls[$"{started.InstanceId:D}:call"]);
        var failed = done.Journal.Single(j => j.StepId == "missing" && j.Kind == "step.failed").Data!;
        Assert.Equal("WF5300", failed["code"]!.GetValue<string>());
        Assert.Equal(404, failed["details"]!["status"]!.GetValue<int>());
    }

    /// <summary>A real HTTP endpoint on 127.0.0.1 counting calls per Idempotency-Key; the first N calls get 503.</summary>
    internal sealed class CountingHttpServer : IDisposable
    {
        private readonly HttpListener listener = new();
        private readonly Task loop;
        private int failures;

        public CountingHttpServer(int failFirst)
        {
            failures = failFirst;
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            Url = $"http://127.0.0.1:{port}/";
            listener.Prefixes.Add(Url);
            listener.Start();
            loop = Task.Run(LoopAsync);
        }

        public string Url { get; }

        public ConcurrentDictionary<string, int> Calls { get; } = new();

        private async Task LoopAsync()
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }

                var key = context.Request.Headers["Idempotency-Key"] ?? "none";
                Calls.AddOrUpdate(key, 1, (_, c) => c + 1);
                if (context.Request.Url!.AbsolutePath.StartsWith("/missing", StringComparison.Ordinal))
                {
                    context.Response.StatusCode = 404;
                }
                else if (Interlocked.Decrement(ref failures) >= 0)
                {
                    context.Response.StatusCode = 503;
                }
                else
                {
                    using var reader = new StreamReader(context.Request.InputStream);
                    var body = await reader.ReadToEndAsync();
                    context.Response.StatusCode = 201;
                    context.Response.ContentType = "application/json";
                    var bytes = System.Text.Encoding.UTF8.GetBytes(body);
                    await context.Response.OutputStream.WriteAsync(bytes);
                }

                context.Response.Close();
            }
        }

        public void Dispose()
        {
            listener.Stop();
            listener.Close();
            try
            {
                loop.Wait(TimeSpan.FromSeconds(5));
            }
            catch (AggregateException)
            {
            }
        }
    }
}
