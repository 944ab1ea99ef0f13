using System.Text;
using System.Text.Json.Nodes;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Workflows.Tests;

public sealed class RuntimeTests
{
    internal const string SagaThree = """
        id: saga-three
        steps:
          - id: one
            kind: script
            script: |
              log('adding one');
              return blocklist.add('10.0.0.1', 'one');
            compensate:
              script: "return blocklist.remove('10.0.0.1');"
          - id: two
            kind: script
            script: "vars.two = true; return blocklist.add('10.0.0.2', 'two');"
            compensate:
              - script: "return blocklist.remove('10.0.0.2');"
              - publish: { exchange: audit, routing_key: two.undone, body: { ip: "10.0.0.2", instance: "{{instance.id}}" } }
          - id: three
            kind: script
            script: |
              var x = 1;
              throw new Error('third step fails');
        """;

    internal const string ApproveAfterTwo = """
        id: approve-after-two
        steps:
          - id: one
            kind: script
            script: "return blocklist.add(input.ip, 'one');"
            compensate:
              script: "blocklist.remove(input.ip);"
          - id: two
            kind: script
            script: "vars.two = true; return blocklist.add(input.ip + '-2', 'two');"
            compensate:
              script: "blocklist.remove(input.ip + '-2');"
          - id: ask
            kind: approval
            assignees: [role:approver, user:bob]
            message: "Approve {{input.ip}}? ({{vars.two}})"
            timeout: 1h
            on_timeout: approve
          - id: done
            kind: script
            script: "return { fromVars: vars.two, fromStep: steps.one.output, decision: steps.ask.output.outcome };"
        """;

    internal const string CompensationFails = """
        id: compensation-fails
        steps:
          - id: one
            kind: script
            script: "return 1;"
            compensate:
              script: "flaky.fail();"
          - id: two
            kind: script
            script: "throw new Error('boom');"
        """;

    internal const string CompensationFlaky = """
        id: compensation-flaky
        steps:
          - id: one
            kind: script
            script: "return 1;"
            compensate:
              script: "return flaky.run();"
          - id: two
            kind: validate
            value: input.n
            schema: { type: integer, minimum: 10 }
        """;

    internal const string PublishComputedKey = """
        id: publish-computed-key
        steps:
          - id: one
            kind: script
            script: "return blocklist.add(input.ip, 'one');"
            compensate:
              script: "blocklist.remove(input.ip);"
          - id: announce
            kind: publish
            exchange: audit
            routing_key: "blocked.{{input.key}}"
            body: { ip: "{{input.ip}}" }
            retry: { max_attempts: 3, backoff: 1s }
        """;

    private static JsonObject IpInput(string ip) => new()
    {
        ["ip"] = ip,
        ["host"] = "LabSZ",
        ["attempts"] = 6,
        ["first_seen"] = "2017-12-10T06:55:46Z",
        ["evidence"] = new JsonArray(
            new JsonObject { ["timestamp"] = "2017-12-10T06:55:46Z", ["host"] = "LabSZ", ["program"] = "sshd", ["pid"] = 24200, ["message"] = "Failed password for root from " + ip },
            new JsonObject { ["timestamp"] = "2017-12-10T06:55:48Z", ["host"] = "LabSZ", ["program"] = "sshd", ["pid"] = 24201, ["message"] = "Failed password for admin from " + ip }),
    };

    private static ManualTimeProvider NewClock() => new(new DateTimeOffset(2017, 12, 10, 7, 0, 0, TimeSpan.Zero));

    private static async Task<TestHost> HostAsync(TempDirectory dir, IMessageTransport? transport = null, ManualTimeProvider? clock = null, params Tests.TestBlocklistModule[] blocklist)
    {
        var host = new TestHost(dir, clock ?? NewClock(), transport ?? new RecordingTransport(),
            blocklist.Length > 0 ? blocklist[0] : new TestBlocklistModule(), new FlakyModule(2));
        await host.InitializeAsync(SagaThree, ApproveAfterTwo, CompensationFails, CompensationFlaky, PublishComputedKey);
        host.Start();
        return host;
    }

    private static ApprovalInfo PendingApproval(InstanceDetails details) => Assert.Single(details.Approvals, a => a.State == "pending");

    private static List<string> Kinds(InstanceDetails details) => details.Journal.Select(j => j.StepId is null ? j.Kind : $"{j.Kind}:{j.StepId}").ToList();

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Approve_completes_block_source_ip_blocks_the_ip_and_publishes_once(TestStore store)
    {
        using var dir = new TempDirectory(store);
        var blocklist = new TestBlocklistModule();
        var transport = new RecordingTransport();
        await using var host = await HostAsync(dir, transport, null, blocklist);
        var started = await host.StartAsync("block-source-ip", IpInput("183.62.140.253"), "183.62.140.253");
        Assert.True(started.Created);

        var waiting = await host.WaitForStateAsync(started.InstanceId, InstanceState.Waiting);
        var approval = PendingApproval(waiting);
        Assert.Equal(["role:approver"], approval.Assignees);
        Assert.Contains("Block 183.62.140.253? 6 failed SSH logins on LabSZ", approval.Message, StringComparison.Ordinal);
        Assert.Contains("sshd[24201]: Failed password for admin from 183.62.140.253", approval.Message, StringComparison.Ordinal);
        Assert.Equal(new DateTimeOffset(2017, 12, 11, 7, 0, 0, TimeSpan.Zero), approval.DueAt);
        Assert.Equal("approval:" + approval.Id.ToString("D"), waiting.WaitingFor);
        Assert.Single(await host.Queries.ListApprovalsAsync("pending", 10, CancellationToken.None));

        await host.Runtime.DecideAsync(approval.Id, ApprovalOutcome.Approved, TestHost.Approver, "looks bad", CancellationToken.None);
        var done = await host.WaitForStateAsync(started.InstanceId, InstanceState.Completed);
        Assert.Equal(["183.62.140.253"], blocklist.Ips);
        Assert.Equal($"add 183.62.140.253 {started.InstanceId:D}:block", Assert.Single(blocklist.Calls));
        Assert.Equal(
            ["instance.started", "step.completed:check-ip", "step.waiting:approve",
             "approval.decided:approve", "step.completed:approve", "step.completed:block",
             "step.completed:announce", "instance.completed"],
            Kinds(done));
        Assert.Equal(Enumerable.Range(1, done.Journal.Count).Select(i => (long)i), done.Journal.Select(j => j.Sequence));
        var decided = Assert.Single(done.Approvals);
        Assert.Equal(("approved", "alice", "looks bad"), (decided.State, decided.DecidedBy, decided.Comment));
        var blockOutput = done.Journal.Single(j => j.Kind == "step.completed" && j.StepId == "block").Data!;
        Assert.Equal("""{"ip":"183.62.140.253","added":true}""", blockOutput["output"]!.ToJsonString());
        Assert.Equal("blocklist.add 183.62.140.253 true", blockOutput["log"]![0]!.GetValue<string>());

        await WaitUntilAsync(() => !transport.Messages.IsEmpty);
        var message = Assert.Single(transport.Messages);
        Assert.Equal(("security.actions", "ip.blocked"), (message.Exchange, message.RoutingKey));
        Assert.Equal(IdempotencyKeys.ToGuid($"{started.InstanceId:D}:announce").ToString("D"), message.Id);
        Assert.Equal($$"""{"ip":"183.62.140.253","host":"LabSZ","instance":"{{started.InstanceId:D}}"}""", Encoding.UTF8.GetString(message.Body.Span));
        Assert.Equal($"{started.InstanceId:D}:announce", message.Headers["x-ruleflow-idempotency-key"]);
        await WaitUntilAsync(() => host.Store.GetPendingOutboxAsync(host.Clock.GetUtcNow().AddDays(1), 10, CancellationToken.None).Result.Count == 0);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Reject_of_block_source_ip_leaves_nothing_behind(TestStore store)
    {
        using var dir = new TempDirectory(store);
        var blocklist = new TestBlocklistModule();
        var transport = new RecordingTransport();
        await using var host = await HostAsync(dir, transport, null, blocklist);
        var started = await host.StartAsync("block-source-ip", IpInput("5.188.10.180"), "5.188.10.180");
        var approval = PendingApproval(await host.WaitForStateAsync(started.InstanceId, InstanceState.Waiting));
        await host.Runtime.DecideAsync(approval.Id, ApprovalOutcome.Rejected, TestHost.Approver, "false positive", CancellationToken.None);
        var done = await host.WaitForStateAsync(started.InstanceId, InstanceState.Compensated);
        Assert.Empty(blocklist.Ips);
        Assert.Empty(blocklist.Calls);
        Assert.Empty(transport.Messages);
        Assert.Contains("rejected by alice: false positive", done.Error, StringComparison.Ordinal);
        Assert.Equal(["approval.decided:approve", "step.rejected:approve", "instance.compensated"], Kinds(done).TakeLast(3));
        Assert.Equal("rejected", Assert.Single(done.Approvals).State);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Reject_compensates_completed_steps_in_reverse_order(TestStore store)
    {
        using var dir = new TempDirectory(store);
        var blocklist = new TestBlocklistModule();
        await using var host = await HostAsync(dir, null, null, blocklist);
        var started = await host.StartAsync("approve-after-two", new JsonObject { ["ip"] = "10.1.1.1" });
        var approval = PendingApproval(await host.WaitForStateAsync(started.InstanceId, InstanceState.Waiting));
        Assert.Equal("Approve 10.1.1.1? (true)", approval.Message);
        Assert.Equal(2, blocklist.Ips.Count);

        await host.Runtime.DecideAsync(approval.Id, ApprovalOutcome.Rejected, new Actor("bob", []), "no", CancellationToken.None);
        var done = await host.WaitForStateAsync(started.InstanceId, InstanceState.Compensated);
        Assert.Empty(blocklist.Ips);
        Assert.Equal(
            ["step.rejected:ask", "instance.compensating",
             "compensation.completed:two",
             "compensation.completed:one", "instance.compensated"],
            Kinds(done).SkipWhile(k => k != "step.rejected:ask"));
        Assert.Equal(
            [$"remove 10.1.1.1-2 {started.InstanceId:D}:two:compensate:0", $"remove 10.1.1.1 {started.InstanceId:D}:one:compensate:0"],
            blocklist.Calls.Where(c => c.StartsWith("remove", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Third_step_failure_compensates_step_two_then_step_one(TestStore store)
    {
        using var dir = new TempDirectory(store);
        var blocklist = new TestBlocklistModule();
        var transport = new RecordingTransport();
        await using var host = await HostAsync(dir, transport, null, blocklist);
        var started = await host.StartAsync("saga-three", []);
        var done = await host.WaitForStateAsync(started.InstanceId, InstanceState.Compensated);
        var compensation = done.Journal.Where(j => j.Kind.StartsWith("compensation.", StringComparison.Ordinal)).Select(j => $"{j.Kind}:{j.StepId}").ToList();
        Assert.Equal(
            ["compensation.completed:two", "compensation.completed:two",
             "compensation.completed:one"],
            compensation);
        var failed = done.Journal.Single(j => j.Kind == "step.failed");
        Assert.Equal("three", failed.StepId);
        Assert.Equal("WF5100", failed.Data!["code"]!.GetValue<string>());
        Assert.Equal(2, failed.Data!["details"]!["line"]!.GetValue<int>());
        Assert.Contains("third step fails", done.Error, StringComparison.Ordinal);
        Assert.Empty(blocklist.Ips);
        Assert.Equal(done.Journal.Count, done.Journal.Select(j => j.Sequence).Distinct().Count());
        await WaitUntilAsync(() => !transport.Messages.IsEmpty);
        var undone = Assert.Single(transport.Messages);
        Assert.Equal("two.undone", undone.RoutingKey);
        Assert.Equal(IdempotencyKeys.ToGuid($"{started.InstanceId:D}:two:compensate:1").ToString("D"), undone.Id);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Validate_failure_names_the_failing_path_and_bad_input_is_refused(TestStore store)
    {
        using var dir = new TempDirectory(store);
        var blocklist = new TestBlocklistModule();
        await using var host = await HostAsync(dir, null, null, blocklist);
        var started = await host.StartAsync("block-source-ip", IpInput("999.62.140.253"));
        var done = await host.WaitForStateAsync(started.InstanceId, InstanceState.Compensated);
        var failed = done.Journal.Single(j => j.Kind == "step.failed");
        Assert.Equal("check-ip", failed.StepId);
        Assert.Equal("WF4220", failed.Data!["code"]!.GetValue<string>());
        var violation = Assert.Single(failed.Data!["details"]!["violations"]!.AsArray());
        Assert.Equal("$.ip", violation!["path"]!.GetValue<string>());
        Assert.Equal("PatternMismatch", violation["kind"]!.GetValue<string>());
        Assert.Contains("$.ip does not match the required pattern", done.Error, StringComparison.Ordinal);
        Assert.Empty(done.Approvals);
        Assert.Empty(blocklist.Calls);

        var missing = await Assert.ThrowsAsync<WorkflowException>(() => host.StartAsync("block-source-ip", new JsonObject { ["host"] = "x" }));
        Assert.Equal("WF4000", missing.Code);
        Assert.Contains("$.ip", missing.Message, StringComparison.Ordinal);
        var unknown = await Assert.ThrowsAsync<WorkflowException>(() => host.StartAsync("no-such-workflow", []));
        Assert.Equal("WF4040", unknown.Code);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Validate_on_a_given_value_and_flaky_compensation_is_retried(TestStore store)
    {
        using var dir = new TempDirectory(store);
        await using var host = await HostAsync(dir);
        var ok = await host.StartAsync("compensation-flaky", new JsonObject { ["n"] = 12 });
        await host.WaitForStateAsync(ok.InstanceId, InstanceState.Completed);

        var bad = await host.StartAsync("compensation-flaky", new JsonObject { ["n"] = 3 });
        var done = await host.WaitForStateAsync(bad.InstanceId, InstanceState.Compensated);
        Assert.True(done.Error!.Contains("input.n does not validate: $ is too small", StringComparison.Ordinal), done.Error);
        var attempts = done.Journal.Where(j => j.Kind.StartsWith("compensation.", StringComparison.Ordinal)).Select(j => $"{j.Kind}#{j.Attempt}").ToList();
        Assert.Equal(
            ["compensation.failed#1", "compensation.failed#2", "compensation.completed#3"],
            attempts);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Compensation_that_keeps_failing_ends_failed_with_an_incident(TestStore store)
    {
        using var dir = new TempDirectory(store);
        await using var host = await HostAsync(dir);
        var started = await host.StartAsync("compensation-fails", []);
        var done = await host.WaitForStateAsync(started.InstanceId, InstanceState.Failed);
        Assert.Equal(3, done.Journal.Count(j => j.Kind == "compensation.failed"));
        Assert.Equal("instance.failed", done.Journal[^1].Kind);
        Assert.Contains("compensation of step 'one' failed after 3 attempts", done.Error, StringComparison.Ordinal);
        var incident = Assert.Single(await host.Store.ListIncidentsAsync(started.InstanceId, 10, CancellationToken.None));
        Assert.Equal(("compensation.failed", "one"), (incident.Kind, incident.StepId));
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Approval_timeout_applies_on_timeout(TestStore store)
    {
        using var dir = new TempDirectory(store);
        var blocklist = new TestBlocklistModule();
        await using var host = await HostAsync(dir, null, null, blocklist);
        var reject = await host.StartAsync("block-source-ip", IpInput("112.95.230.3"), "112.95.230.3");
        var approveLater = await host.StartAsync("approve-after-two", new JsonObject { ["ip"] = "10.2.2.2" });
        await host.WaitForStateAsync(reject.InstanceId, InstanceState.Waiting);
        await host.WaitForStateAsync(approveLater.InstanceId, InstanceState.Waiting);

        host.Clock.Advance(TimeSpan.FromMinutes(59));
        Assert.Equal(0, await host.Runtime.ProcessDueTimersAsync(CancellationToken.None));
        host.Clock.Advance(TimeSpan.FromMinutes(2));
        var done = await host.WaitForStateAsync(approveLater.InstanceId, InstanceState.Completed);
        var timedOut = Assert.Single(done.Approvals);
        Assert.Equal(("timed_out", "system", "timed out after 1h"), (timedOut.State, timedOut.DecidedBy, timedOut.Comment));
        Assert.Equal("""{"fromVars":true,"fromStep":true,"decision":"approved"}""",
            done.Journal.Single(j => j.Kind == "step.completed" && j.StepId == "done").Data!["output"]!.ToJsonString());
        Assert.Equal(InstanceState.Waiting, (await host.Queries.GetInstanceAsync(reject.InstanceId, CancellationToken.None))!.Summary.State);

        host.Clock.Advance(TimeSpan.FromHours(23));
        var rejected = await host.WaitForStateAsync(reject.InstanceId, InstanceState.Compensated);
        Assert.Equal("timed_out", Assert.Single(rejected.Approvals).State);
        Assert.Contains("approval.timed_out:approve", Kinds(rejected));
        Assert.DoesNotContain("112.95.230.3", blocklist.Ips);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Same_correlation_key_starts_one_instance_while_it_is_active(TestStore store)
    {
        using var dir = new TempDirectory(store);
        await using var host = await HostAsync(dir);
        var first = await host.StartAsync("block-source-ip", IpInput("103.99.0.122"), "103.99.0.122");
        var again = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => host.StartAsync("block-source-ip", IpInput("103.99.0.122"), "103.99.0.122")));
        Assert.True(first.Created);
        Assert.All(again, r => Assert.Equal((first.InstanceId, false), (r.InstanceId, r.Created)));
        var other = await host.StartAsync("block-source-ip", IpInput("60.2.12.12"), "60.2.12.12");
        Assert.True(other.Created);
        var page = await host.Queries.ListInstancesAsync(new InstanceQuery("block-source-ip", null, "103.99.0.122"), CancellationToken.None);
        Assert.Equal(1, page.Total);

        var approval = PendingApproval(await host.WaitForStateAsync(first.InstanceId, InstanceState.Waiting));
        await host.Runtime.DecideAsync(approval.Id, ApprovalOutcome.Rejected, TestHost.Approver, null, CancellationToken.None);
        await host.WaitForStateAsync(first.InstanceId, InstanceState.Compensated);
        var afterEnd = await host.StartAsync("block-source-ip", IpInput("103.99.0.122"), "103.99.0.122");
        Assert.True(afterEnd.Created);
        Assert.NotEqual(first.InstanceId, afterEnd.InstanceId);

        var keyed = await host.StartAsync("saga-three", [], null, "activation-1:0");
        var keyedAgain = await host.StartAsync("saga-three", [], null, "activation-1:0");
        Assert.Equal((keyed.InstanceId, false), (keyedAgain.InstanceId, keyedAgain.Created));
        await host.WaitForStateAsync(keyed.InstanceId, InstanceState.Compensated);
        Assert.Equal((keyed.InstanceId, false), ((await host.StartAsync("saga-three", [], null, "activation-1:0")).InstanceId, false));
        Assert.Equal(3, (await host.Queries.ListInstancesAsync(new InstanceQuery("block-source-ip", null, null), CancellationToken.None)).Total);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Only_assignees_may_decide_not_even_an_admin(TestStore store)
    {
        using var dir = new TempDirectory(store);
        await using var host = await HostAsync(dir);
        var started = await host.StartAsync("block-source-ip", IpInput("187.141.143.180"), "187.141.143.180");
        var approval = PendingApproval(await host.WaitForStateAsync(started.InstanceId, InstanceState.Waiting));

        var refused = await Assert.ThrowsAsync<WorkflowException>(() =>
            host.Runtime.DecideAsync(approval.Id, ApprovalOutcome.Approved, new Actor("mallory", ["operator", "author"]), null, CancellationToken.None));
        Assert.Equal("WF4030", refused.Code);
        var stillWaiting = await host.Queries.GetInstanceAsync(started.InstanceId, CancellationToken.None);
        Assert.Equal(InstanceState.Waiting, stillWaiting!.Summary.State);
        Assert.Equal("pending", Assert.Single(stillWaiting.Approvals).State);
        Assert.DoesNotContain(stillWaiting.Journal, j => j.Kind == "approval.decided");

        Assert.True(WorkflowRuntime.MayDecide(new Actor("Bob", []), ["user:bob"]));
        Assert.False(WorkflowRuntime.MayDecide(new Actor("bob", ["operator"]), ["user:alice", "role:approver"]));
        Assert.False(WorkflowRuntime.MayDecide(new Actor("root", ["admin"]), ["user:alice"]));
        var admin = await Assert.ThrowsAsync<WorkflowException>(() =>
            host.Runtime.DecideAsync(approval.Id, ApprovalOutcome.Approved, new Actor("root", ["admin", "operator"]), "admin override", CancellationToken.None));
        Assert.Equal("WF4030", admin.Code);

        var unknown = await Assert.ThrowsAsync<WorkflowException>(() =>
            host.Runtime.DecideAsync(Guid.NewGuid(), ApprovalOutcome.Approved, TestHost.Approver, null, CancellationToken.None));
        Assert.Equal("WF4041", unknown.Code);

        await host.Runtime.DecideAsync(approval.Id, ApprovalOutcome.Approved, TestHost.Approver, "ok", CancellationToken.None);
        var twice = await Assert.ThrowsAsync<WorkflowException>(() =>
            host.Runtime.DecideAsync(approval.Id, ApprovalOutcome.Rejected, TestHost.Approver, null, CancellationToken.None));
        Assert.Equal("WF4090", twice.Code);
        await host.WaitForStateAsync(started.InstanceId, InstanceState.Completed);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Outbox_retries_failed_deliveries_with_the_same_message_id(TestStore store)
    {
        using var dir = new TempDirectory(store);
        var transport = new RecordingTransport(failures: 2);
        await using var host = await HostAsync(dir, transport);
        var started = await host.StartAsync("block-source-ip", IpInput("119.4.203.64"), "119.4.203.64");
        var approval = PendingApproval(await host.WaitForStateAsync(started.InstanceId, InstanceState.Waiting));
        await host.Runtime.DecideAsync(approval.Id, ApprovalOutcome.Approved, TestHost.Approver, null, CancellationToken.None);
        await host.WaitForStateAsync(started.InstanceId, InstanceState.Completed);
        for (var i = 0; i < 200 && transport.Messages.IsEmpty; i++)
        {
            host.Clock.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(25);
        }

        var message = Assert.Single(transport.Messages);
        Assert.Equal(IdempotencyKeys.ToGuid($"{started.InstanceId:D}:announce").ToString("D"), message.Id);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task A_publish_step_whose_routing_key_renders_longer_than_AMQP_allows_fails_without_a_message_and_compensates(TestStore store)
    {
        using var dir = new TempDirectory(store);
        var blocklist = new TestBlocklistModule();
        var transport = new RecordingTransport();
        await using var host = await HostAsync(dir, transport, null, blocklist);

        // 'é' is two bytes in UTF-8: "blocked." and 123 of them are 254 bytes, with "a" 255, the most AMQP allows; one 'é' more is 256.
        var fits = await host.StartAsync("publish-computed-key", new JsonObject { ["ip"] = "10.0.0.1", ["key"] = new string('é', 123) + "a" });
        await host.WaitForStateAsync(fits.InstanceId, InstanceState.Completed);
        await WaitUntilAsync(() => !transport.Messages.IsEmpty);
        Assert.Equal("blocked." + new string('é', 123) + "a", Assert.Single(transport.Messages).RoutingKey);

        var tooLong = await host.StartAsync("publish-computed-key", new JsonObject { ["ip"] = "10.0.0.2", ["key"] = new string('é', 124) });
        var done = await host.WaitForStateAsync(tooLong.InstanceId, InstanceState.Compensated);
        var failed = Assert.Single(done.Journal, j => j.Kind == "step.failed");
        Assert.Equal("announce", failed.StepId);
        Assert.Equal("WF4224", failed.Data!["code"]!.GetValue<string>());
        Assert.StartsWith("publish: the routing key is 256 bytes long in UTF-8; AMQP allows at most 255", failed.Data!["message"]!.GetValue<string>(),
            StringComparison.Ordinal);
        Assert.Contains("the routing key is 256 bytes", done.Error, StringComparison.Ordinal);
        Assert.Null(failed.Data!["retryAt"]); // not retried despite the step's retry: the same input renders the same key
        Assert.Empty(done.Messages);
        Assert.Equal(["10.0.0.1"], blocklist.Ips); // step one of the second instance was undone
        await Task.Delay(200);
        Assert.Single(transport.Messages);
        Assert.Empty(await host.Store.GetPendingOutboxAsync(host.Clock.GetUtcNow().AddDays(1), 10, CancellationToken.None));
    }

    internal static async Task WaitUntilAsync(Func<bool> condition, int timeoutMs = 10000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached in time");
            await Task.Delay(20);
        }
    }
}
