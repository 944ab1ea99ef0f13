using System.Text.Json.Nodes;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Workflows.Tests;

/// <summary>
/// The contract of <see cref="IWorkflowStore"/> and <see cref="IWorkflowQueries"/>, the same tests against a SQLite file,
/// PostgreSQL and the in-memory store: start deduplication, revision checks (also inside a group commit), every part of a
/// commit, the outbox, timers, bookmarks, incidents, definitions and the read side.
/// </summary>
public sealed class WorkflowStoreTests
{
    private static readonly DateTimeOffset T0 = new(2017, 12, 10, 7, 0, 0, TimeSpan.Zero);

    private static async Task<TestHost> OpenAsync(TempDirectory dir)
    {
        var host = new TestHost(dir, new ManualTimeProvider(T0), new RecordingTransport());
        await host.InitializeAsync();
        return host;
    }

    private static InstanceRecord NewInstance(string workflow = "wf", string? correlationKey = null, string? idempotencyKey = null, DateTimeOffset? at = null) => new()
    {
        Id = Guid.CreateVersion7(at ?? T0),
        WorkflowId = workflow,
        Version = 1,
        DefinitionHash = "hash",
        State = InstanceState.Running,
        CorrelationKey = correlationKey,
        IdempotencyKey = idempotencyKey,
        Input = new JsonObject { ["ip"] = "10.0.0.1" },
        Variables = [],
        StepOutputs = [],
        Execution = ExecutionState.Start(),
        Lineage = new Lineage("rule-a", "act-1", ["e1", "e2"]),
        StartedBy = "system",
        CreatedAt = at ?? T0,
        UpdatedAt = at ?? T0,
        JournalSequence = 1,
    };

    private static JournalRecord Entry(InstanceRecord instance, long sequence, string kind, string? step = null) =>
        new(instance.Id, sequence, T0, step, kind, 1, new JsonObject { ["n"] = sequence });

    private static async Task<InstanceRecord> CreateAsync(IWorkflowStore store, InstanceRecord instance)
    {
        var (stored, created) = await store.CreateInstanceAsync(instance, [Entry(instance, 1, "instance.started")], CancellationToken.None);
        Assert.True(created);
        return stored;
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Starts_are_deduplicated_by_idempotency_key_and_by_an_active_correlation_key(TestStore kind)
    {
        using var dir = new TempDirectory(kind);
        await using var host = await OpenAsync(dir);
        var store = host.Store;

        var first = await CreateAsync(store, NewInstance(correlationKey: "1.2.3.4", idempotencyKey: "act-1:0"));
        var byKey = await store.CreateInstanceAsync(NewInstance(idempotencyKey: "act-1:0"), [], CancellationToken.None);
        Assert.Equal((first.Id, false), (byKey.Instance.Id, byKey.Created));
        var byCorrelation = await store.CreateInstanceAsync(NewInstance(correlationKey: "1.2.3.4"), [], CancellationToken.None);
        Assert.Equal((first.Id, false), (byCorrelation.Instance.Id, byCorrelation.Created));
        var otherWorkflow = await store.CreateInstanceAsync(NewInstance("other", correlationKey: "1.2.3.4"), [], CancellationToken.None);
        Assert.True(otherWorkflow.Created);

        // Once finished, the correlation key is free again; the idempotency key stays taken.
        await store.CommitAsync(new InstanceCommit(first with { State = InstanceState.Completed, EndedAt = T0 }), CancellationToken.None);
        var again = await store.CreateInstanceAsync(NewInstance(correlationKey: "1.2.3.4"), [], CancellationToken.None);
        Assert.True(again.Created);
        Assert.Equal(first.Id, (await store.CreateInstanceAsync(NewInstance(idempotencyKey: "act-1:0"), [], CancellationToken.None)).Instance.Id);

        // Concurrent starts with one key: exactly one is created.
        var racers = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() =>
            store.CreateInstanceAsync(NewInstance(correlationKey: "5.6.7.8"), [], CancellationToken.None))));
        Assert.Single(racers, r => r.Created);
        Assert.Single(racers.Select(r => r.Instance.Id).Distinct());
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task A_stale_commit_writes_nothing_and_fails_alone_while_the_commits_beside_it_are_written(TestStore kind)
    {
        using var dir = new TempDirectory(kind);
        await using var host = await OpenAsync(dir);
        var store = host.Store;
        var instances = new List<InstanceRecord>();
        for (var i = 0; i < 40; i++)
        {
            instances.Add(await CreateAsync(store, NewInstance(at: T0.AddMilliseconds(i))));
        }

        // Instance 7 moves on first, so the commit below made from revision 0 is stale.
        var moved = await store.CommitAsync(new InstanceCommit(instances[7] with { StepIndex = 1, JournalSequence = 2 }) { Journal = [Entry(instances[7], 2, "step.completed", "a")] },
            CancellationToken.None);
        Assert.Equal(1, moved);

        var before = store.Counters;
        var commits = instances.Select((instance, i) => Task.Run(async () =>
        {
            var next = instance with { StepIndex = 5, JournalSequence = 2, Variables = new JsonObject { ["i"] = i } };
            return await store.CommitAsync(new InstanceCommit(next)
            {
                Journal = [Entry(instance, 2, "step.completed", "b")],
                Outbox = [new OutboxRecord($"m-{i}", instance.Id, "b", "ex", "rk", "{}", new Dictionary<string, string> { ["h"] = "v" }, T0, 0, T0, null, null)],
            }, CancellationToken.None);
        })).ToList();
        await Task.WhenAll(commits.Select(c => c.ContinueWith(_ => { }, TaskScheduler.Default)));

        for (var i = 0; i < instances.Count; i++)
        {
            if (i == 7)
            {
                Assert.IsType<WorkflowConcurrencyException>(commits[i].Exception?.InnerException);
                continue;
            }

            Assert.Equal(1, await commits[i]);
            var stored = (await store.GetInstanceAsync(instances[i].Id, CancellationToken.None))!;
            Assert.Equal((5, 1, i), (stored.StepIndex, stored.Revision, stored.Variables["i"]!.GetValue<int>()));
        }

        var stale = (await store.GetInstanceAsync(instances[7].Id, CancellationToken.None))!;
        Assert.Equal((1, 1), (stale.StepIndex, stale.Revision));
        var journal = (await host.Queries.GetInstanceAsync(instances[7].Id, CancellationToken.None))!.Journal;
        Assert.Equal(["instance.started", "step.completed:a"], journal.Select(j => j.StepId is null ? j.Kind : j.Kind + ":" + j.StepId));
        var pending = await store.GetPendingOutboxAsync(T0, 100, CancellationToken.None);
        Assert.Equal(39, pending.Count);
        Assert.DoesNotContain(pending, m => m.Id == "m-7");
        Assert.Equal(40 + 1 + 39, await host.Queries.CountJournalEntriesAsync("", CancellationToken.None));
        var after = store.Counters;
        Assert.InRange(after.Writes - before.Writes, 39, 40); // the stale one counts where it took part in a transaction
        Assert.True(after.Transactions - before.Transactions <= 40);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Every_part_of_a_commit_is_written_and_read_back(TestStore kind)
    {
        using var dir = new TempDirectory(kind);
        await using var host = await OpenAsync(dir);
        var store = host.Store;
        var instance = await CreateAsync(store, NewInstance(correlationKey: "k"));
        var approval = new ApprovalInfo(Guid.NewGuid(), instance.Id, "wf", "ask", "pending", ["role:approver", "user:bob"], "Block 10.0.0.1?", T0, T0.AddHours(1),
            null, null, null, 2, [], 0);
        var cancelled = approval with { Id = Guid.NewGuid(), StepId = "ask2" };
        var timer = new TimerRecord(Guid.NewGuid(), instance.Id, "approval.timeout", "ask", T0.AddHours(1), new JsonObject { ["frame"] = "0" });
        var oldTimer = new TimerRecord(Guid.NewGuid(), instance.Id, "delay", "wait", T0.AddMinutes(-1), null);
        var bookmark = new BookmarkRecord(Guid.NewGuid(), instance.Id, "0", "ack", "firewall.ack", "data.ip", "10.0.0.1", T0);
        var incident = new IncidentRecord(Guid.NewGuid(), instance.Id, "undo", "compensation.failed", "it kept failing", T0, null);
        var child = NewInstance("child", at: T0.AddSeconds(1)) with { ParentInstanceId = instance.Id, ParentFrame = "0" };
        var execution = ExecutionState.Start();
        execution.Frames[0].Status = FrameStatus.Waiting;
        execution.Frames[0].Wait = new WaitInfo { Kind = "approval", Id = approval.Id.ToString("D"), TimerId = timer.Id, Describe = "approval:" + approval.Id };
        execution.Stack.Add(new CompensationEntry { StepId = "one", Frame = "0", Ancestry = ["0"], Locals = new JsonObject { ["item"] = "x" } });
        var waiting = instance with
        {
            State = InstanceState.Waiting, StepIndex = 2, CurrentStep = "ask", WaitingFor = "approval:" + approval.Id, JournalSequence = 3, UpdatedAt = T0.AddSeconds(1),
            Variables = new JsonObject { ["two"] = true }, StepOutputs = new JsonObject { ["one"] = new JsonObject { ["added"] = true } }, Execution = execution,
        };
        Assert.Equal(1, await store.CommitAsync(new InstanceCommit(waiting)
        {
            PreviousState = InstanceState.Running,
            Journal = [Entry(instance, 2, "step.completed", "one"), Entry(instance, 3, "step.waiting", "ask")],
            NewApprovals = [approval, cancelled],
            NewTimers = [timer, oldTimer],
            NewBookmarks = [bookmark],
            Incidents = [incident],
            NewInstances = [(child, [Entry(child, 1, "instance.started")])],
            Outbox = [new OutboxRecord("msg-1", instance.Id, "one", "security.actions", "ip.blocked", "{\"ip\":\"10.0.0.1\"}", new Dictionary<string, string>(), T0, 0, T0, null, null)],
        }, CancellationToken.None));

        var read = (await store.GetInstanceAsync(instance.Id, CancellationToken.None))!;
        Assert.Equal((InstanceState.Waiting, 2, "ask", 3L, 1), (read.State, read.StepIndex, read.CurrentStep, read.JournalSequence, read.Revision));
        Assert.True(read.Variables["two"]!.GetValue<bool>());
        Assert.Equal("approval", read.Execution.Frames[0].Wait!.Kind);
        Assert.Equal("x", read.Execution.Stack[0].Locals!["item"]!.GetValue<string>());
        Assert.Equal(new Lineage("rule-a", "act-1", ["e1", "e2"]).EventIds, read.Lineage.EventIds);
        Assert.Equal(T0.AddSeconds(1), read.UpdatedAt);
        Assert.Equal(read.Id, (await store.FindActiveInstanceAsync("wf", "k", CancellationToken.None))!.Id);
        Assert.Equal(approval.Assignees, (await store.GetApprovalAsync(approval.Id, CancellationToken.None))!.Assignees);
        Assert.Equal([bookmark], await store.GetBookmarksAsync("firewall.ack", CancellationToken.None));
        Assert.Equal(1, (await store.CountBookmarksAsync(CancellationToken.None))["firewall.ack"]);
        Assert.Equal([oldTimer.Id], (await store.GetDueTimersAsync(T0, 10, CancellationToken.None)).Select(t => t.Id));
        Assert.Equal("0", (await store.GetDueTimersAsync(T0.AddHours(2), 10, CancellationToken.None)).Single(t => t.Id == timer.Id).Payload!["frame"]!.GetValue<string>());
        Assert.Equal([incident.Id], (await store.ListIncidentsAsync(instance.Id, 10, CancellationToken.None)).Select(i => i.Id));
        var storedChild = (await store.GetInstanceAsync(child.Id, CancellationToken.None))!;
        Assert.Equal((instance.Id, "0"), (storedChild.ParentInstanceId!.Value, storedChild.ParentFrame));
        Assert.Contains(storedChild.Id, await store.ListInstancesToResumeAsync(CancellationToken.None));

        // Decided, cancelled, deleted, resolved; then the instance ends and its correlation key is no longer active.
        var decided = approval with
        {
            State = "approved", DecidedBy = "bob", DecidedAt = T0.AddMinutes(5), Comment = "ok", Decisions = [new ApprovalDecision("bob", T0.AddMinutes(5), "approved", "ok", "http")],
        };
        await store.DeleteTimerAsync(oldTimer.Id, CancellationToken.None);
        Assert.Equal(2, await store.CommitAsync(new InstanceCommit(read with { State = InstanceState.Completed, EndedAt = T0.AddMinutes(5), JournalSequence = 4 })
        {
            PreviousState = InstanceState.Waiting,
            Journal = [Entry(instance, 4, "instance.completed")],
            UpdatedApprovals = [decided],
            CancelledApprovals = [cancelled.Id, approval.Id],
            DeletedTimers = [timer.Id, Guid.NewGuid()],
            DeletedBookmarks = [bookmark],
            ResolvedIncidents = [incident with { ResolvedAt = T0.AddMinutes(5), ResolvedBy = "oscar", Resolution = "skip: done" }],
        }, CancellationToken.None));
        var approvals = (await host.Queries.GetInstanceAsync(instance.Id, CancellationToken.None))!.Approvals;
        Assert.Equal(["approved", "cancelled"], approvals.OrderBy(a => a.StepId).Select(a => a.State));
        var decision = Assert.Single(approvals.Single(a => a.Id == approval.Id).AllDecisions);
        Assert.Equal(("bob", "http", "ok"), (decision.By, decision.Via, decision.Comment));
        Assert.Empty(await store.GetDueTimersAsync(T0.AddDays(1), 10, CancellationToken.None));
        Assert.Empty(await store.GetBookmarksAsync("firewall.ack", CancellationToken.None));
        Assert.Empty(await store.ListIncidentsAsync(instance.Id, 10, CancellationToken.None));
        Assert.Equal("oscar", (await store.GetIncidentAsync(incident.Id, CancellationToken.None))!.ResolvedBy);
        Assert.Null(await store.FindActiveInstanceAsync("wf", "k", CancellationToken.None));

        var details = (await host.Queries.GetInstanceAsync(instance.Id, CancellationToken.None))!;
        Assert.Equal([1L, 2, 3, 4], details.Journal.Select(j => j.Sequence));
        Assert.Equal(2, details.Journal[1].Data!["n"]!.GetValue<int>());
        Assert.Equal("msg-1", Assert.Single(details.Messages).Id);
        Assert.Equal("oscar", Assert.Single(details.Incidents).ResolvedBy);
        var page = await host.Queries.ListInstancesAsync(new InstanceQuery("wf", InstanceState.Completed, "k"), CancellationToken.None);
        Assert.Equal(instance.Id, Assert.Single(page.Items).Id);
        Assert.Equal(1, page.Total);
        Assert.Equal(2, (await host.Queries.ListInstancesAsync(new InstanceQuery(null, null, null), CancellationToken.None)).Total);

        // Creation time bounds: from inclusive, to exclusive.
        var created = await host.Queries.ListInstancesAsync(new InstanceQuery("wf", null, "k") { From = instance.CreatedAt, To = instance.CreatedAt.AddMilliseconds(1) }, CancellationToken.None);
        Assert.Equal(instance.Id, Assert.Single(created.Items).Id);
        Assert.Empty((await host.Queries.ListInstancesAsync(new InstanceQuery("wf", null, "k") { To = instance.CreatedAt }, CancellationToken.None)).Items);
        Assert.Empty((await host.Queries.ListInstancesAsync(new InstanceQuery("wf", null, "k") { From = instance.CreatedAt.AddMilliseconds(1) }, CancellationToken.None)).Items);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Outbox_rows_are_pending_until_marked_sent_and_a_failure_defers_them(TestStore kind)
    {
        using var dir = new TempDirectory(kind);
        await using var host = await OpenAsync(dir);
        var store = host.Store;
        var headers = new Dictionary<string, string> { ["x-ruleflow-instance"] = "i" };
        for (var i = 0; i < 5; i++)
        {
            await store.EnqueueOutboxAsync(new OutboxRecord($"m{i}", null, null, "ex", "rk", "{\"i\":" + i + "}", headers, T0.AddSeconds(i), 0, T0.AddSeconds(i), null, null),
                CancellationToken.None);
        }

        await store.EnqueueOutboxAsync(new OutboxRecord("m0", null, null, "ex", "rk", "{\"dup\":true}", headers, T0, 0, T0, null, null), CancellationToken.None);
        var pending = await store.GetPendingOutboxAsync(T0.AddSeconds(10), 3, CancellationToken.None);
        Assert.Equal(["m0", "m1", "m2"], pending.Select(m => m.Id));
        Assert.Equal("{\"i\":0}", pending[0].Body);
        Assert.Equal("i", pending[0].Headers["x-ruleflow-instance"]);

        await store.MarkOutboxSentAsync(["m0", "m2"], T0.AddSeconds(11), CancellationToken.None);
        await store.MarkOutboxFailedAsync("m1", 1, T0.AddMinutes(1), "broker unavailable", CancellationToken.None);
        Assert.Equal(["m3", "m4"], (await store.GetPendingOutboxAsync(T0.AddSeconds(12), 10, CancellationToken.None)).Select(m => m.Id));
        var retried = (await store.GetPendingOutboxAsync(T0.AddMinutes(2), 10, CancellationToken.None)).Single(m => m.Id == "m1");
        Assert.Equal((1, "broker unavailable"), (retried.Attempts, retried.LastError));
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task An_outbox_message_whose_routing_key_AMQP_cannot_carry_is_parked_with_the_reason_not_retried(TestStore kind)
    {
        // Written by a version that did not check names where messages are made: every publish would fail, for good. 200 characters
        // (PostgreSQL's column holds 255) but 400 bytes in UTF-8 (AMQP carries 255).
        using var dir = new TempDirectory(kind);
        var transport = new RecordingTransport();
        await using var host = new TestHost(dir, new ManualTimeProvider(T0), transport);
        await host.InitializeAsync();
        var headers = new Dictionary<string, string>();
        await host.Store.EnqueueOutboxAsync(new OutboxRecord("long", null, null, "ex", new string('é', 200), "{}", headers, T0, 0, T0, null, null), CancellationToken.None);
        await host.Store.EnqueueOutboxAsync(new OutboxRecord("ok", null, null, "ex", "rk", "{}", headers, T0, 0, T0, null, null), CancellationToken.None);
        var longHeader = new Dictionary<string, string> { [new string('h', 256)] = "v" };
        await host.Store.EnqueueOutboxAsync(new OutboxRecord("header", null, null, "ex", "rk", "{}", longHeader, T0, 0, T0, null, null), CancellationToken.None);
        await host.Runtime.DispatchOutboxAsync(CancellationToken.None);
        Assert.Equal(["ok"], transport.Messages.Select(m => m.Id));
        Assert.Empty(await host.Store.GetPendingOutboxAsync(T0.AddYears(100), 10, CancellationToken.None));
        await host.Runtime.DispatchOutboxAsync(CancellationToken.None);
        Assert.Single(transport.Messages);
    }

    [Theory]
    [InlineData(TestStore.Sqlite)]
    [InlineData(TestStore.Postgres)]
    [InlineData(TestStore.Memory)]
    public async Task Definitions_get_a_version_per_content_and_keep_old_versions(TestStore kind)
    {
        using var dir = new TempDirectory(kind);
        await using var host = await OpenAsync(dir);
        static Definitions.WorkflowDefinition Load(string message) => Definitions.WorkflowDefinitionLoader.LoadText(
            $"id: versioned\nsteps:\n  - id: s\n    kind: script\n    script: \"return '{message}';\"\n", "v.yaml", Definitions.DefinitionFormat.Yaml).Definition!;
        var v1 = await host.Store.RegisterDefinitionAsync(Load("one"), T0, CancellationToken.None);
        var v1Again = await host.Store.RegisterDefinitionAsync(Load("one"), T0.AddDays(1), CancellationToken.None);
        var v2 = await host.Store.RegisterDefinitionAsync(Load("two"), T0.AddDays(2), CancellationToken.None);
        Assert.Equal((1, 1, 2), (v1.Version, v1Again.Version, v2.Version));
        Assert.Equal(T0, v1Again.RegisteredAt);
        Assert.Equal([2, 1], (await host.Store.ListDefinitionsAsync("versioned", CancellationToken.None)).Select(d => d.Version));
        Assert.Contains("'one'", (await host.Store.GetDefinitionAsync("versioned", v1.ContentHash, CancellationToken.None))!.SourceText, StringComparison.Ordinal);
    }
}
