using Microsoft.EntityFrameworkCore;
using RuleFlow.Storage.Blocklist;
using RuleFlow.Storage.Ingest;

namespace RuleFlow.Storage.Tests;

public sealed class EventJournalTests
{
    private static StoredEvent Event(string id, string type = "ssh.auth", int second = 0) => new()
    {
        EventId = id, Type = type, Time = new DateTimeOffset(2017, 12, 10, 6, 55, second, TimeSpan.Zero),
        ReceivedAt = DateTimeOffset.UtcNow, Source = "amqp:security.events/ssh.auth", Payload = $$"""{"id":"{{id}}"}""",
    };

    private static RuleFiringRecord Firing(string activation) => new()
    {
        ActivationId = activation, Rule = "ssh-bruteforce", Time = DateTimeOffset.UtcNow, FiredAt = DateTimeOffset.UtcNow,
        EventIds = "[\"a\"]", Actions = "[]", Status = FiringStatus.Pending,
    };

    [Theory]
    [InlineData(StoreProvider.Sqlite)]
    [InlineData(StoreProvider.Postgres)]
    public async Task Append_keeps_order_and_links_firings_to_their_event(StoreProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var journal = store.Get<EventJournal>();

        Assert.True(await journal.AppendAsync(Event("e1", second: 1), [], default));
        Assert.True(await journal.AppendAsync(Event("e2", second: 2), [Firing("act-1"), Firing("act-2")], default));
        Assert.True(await journal.AppendAsync(Event("e3", second: 3), [], default));

        var all = new List<StoredEvent>();
        await foreach (var e in journal.ReadAllAsync(batchSize: 2))
        {
            all.Add(e);
        }

        Assert.Equal(["e1", "e2", "e3"], all.Select(e => e.EventId));
        Assert.True(all[0].Sequence < all[1].Sequence && all[1].Sequence < all[2].Sequence);
        Assert.Equal(new DateTimeOffset(2017, 12, 10, 6, 55, 2, TimeSpan.Zero), all[1].Time);

        var pending = await journal.PendingFiringsAsync(default);
        Assert.Equal(["act-1", "act-2"], pending.Select(f => f.ActivationId));
        Assert.All(pending, f => Assert.Equal(all[1].Sequence, f.EventSequence));
        Assert.True(await journal.ContainsAsync("e2", default));
        Assert.False(await journal.ContainsAsync("e4", default));
    }

    [Theory]
    [InlineData(StoreProvider.Sqlite)]
    [InlineData(StoreProvider.Postgres)]
    public async Task Events_are_counted_per_type_with_the_last_arrival(StoreProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var journal = store.Get<EventJournal>();
        Assert.True(await journal.AppendAsync(Event("a1", "ssh.auth", 1), [], default));
        var last = Event("a2", "ssh.auth", 2);
        last.ReceivedAt = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        Assert.True(await journal.AppendAsync(last, [], default));
        Assert.True(await journal.AppendAsync(Event("k1", "k8s.event", 3), [], default));
        Assert.True(await journal.AppendAsync(Event("c1", "ruleflow.clock", 4), [], default));

        var counts = await journal.CountByTypeAsync("ruleflow.clock", default);

        Assert.Equal(["k8s.event", "ssh.auth"], counts.Select(c => c.Type));
        var ssh = counts[1];
        Assert.Equal(2, ssh.Count);
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero), ssh.LastAt);
        Assert.Equal(new DateTimeOffset(2017, 12, 10, 6, 55, 2, TimeSpan.Zero), ssh.LastEventTime);
        Assert.Equal(1, counts[0].Count);
    }

    [Theory]
    [InlineData(StoreProvider.Sqlite)]
    [InlineData(StoreProvider.Postgres)]
    public async Task A_duplicate_event_id_writes_nothing_not_even_its_firings(StoreProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var journal = store.Get<EventJournal>();
        Assert.True(await journal.AppendAsync(Event("same"), [], default));

        Assert.False(await journal.AppendAsync(Event("same"), [Firing("would-be-lost")], default));

        Assert.Empty(await journal.PendingFiringsAsync(default));
        var page = await journal.ListEventsAsync(null, 1, 10, default);
        Assert.Equal(1, page.Total);
    }

    [Theory]
    [InlineData(StoreProvider.Sqlite)]
    [InlineData(StoreProvider.Postgres)]
    public async Task Completing_a_firing_takes_it_out_of_pending_and_keeps_its_results(StoreProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var journal = store.Get<EventJournal>();
        await journal.AppendAsync(Event("e1"), [Firing("a1"), Firing("a2")], default);
        var pending = await journal.PendingFiringsAsync(default);

        await journal.CompleteFiringAsync(pending[0].Id, FiringStatus.Done, "[{\"instanceId\":\"x\"}]", null, default);
        await journal.CompleteFiringAsync(pending[1].Id, FiringStatus.Failed, "[]", "WF4040: no workflow", default);

        Assert.Empty(await journal.PendingFiringsAsync(default));
        var firings = await journal.ListFiringsAsync("ssh-bruteforce", 1, 10, default);
        Assert.Equal(2, firings.Total);
        var failed = Assert.Single(firings.Items, f => f.Status == FiringStatus.Failed);
        Assert.Equal("WF4040: no workflow", failed.Error);
        Assert.Equal("[{\"instanceId\":\"x\"}]", Assert.Single(firings.Items, f => f.Status == FiringStatus.Done).Results);
    }

    [Theory]
    [InlineData(StoreProvider.Sqlite)]
    [InlineData(StoreProvider.Postgres)]
    public async Task Events_and_dead_letters_page_newest_first_with_filters(StoreProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var journal = store.Get<EventJournal>();
        for (var i = 0; i < 7; i++)
        {
            await journal.AppendAsync(Event($"e{i}", i % 2 == 0 ? "ssh.auth" : "k8s.event", i), [], default);
        }

        var page = await journal.ListEventsAsync("ssh.auth", 2, 3, default);
        Assert.Equal(4, page.Total);
        Assert.Equal(["e0"], page.Items.Select(e => e.EventId));

        var deadLetters = store.Get<DeadLetterStore>();
        await deadLetters.AddAsync(new DeadLetter { At = DateTimeOffset.UtcNow, Source = "http", Code = "RF5001", Reason = "not JSON", BodyPreview = "x" }, default);
        await deadLetters.AddAsync(new DeadLetter { At = DateTimeOffset.UtcNow, Source = "http", Code = "RF5002", Reason = "array", BodyPreview = "[]" }, default);
        var letters = await deadLetters.ListAsync("RF5002", 1, 10, default);
        Assert.Equal("array", Assert.Single(letters.Items).Reason);
    }

    [Theory]
    [InlineData(StoreProvider.Sqlite)]
    [InlineData(StoreProvider.Postgres)]
    public async Task Blocklist_add_and_remove_are_idempotent_and_canonical(StoreProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var blocklist = store.Get<BlocklistStore>();

        Assert.True(blocklist.Add("103.99.0.122", "ssh brute force", "instance:block"));
        Assert.False(blocklist.Add(" 103.99.0.122 ", "again", "instance:block"));
        Assert.True(blocklist.Add("2001:0db8:0000:0000:0000:0000:0000:0001", null, null));
        Assert.True(blocklist.Contains("2001:db8::1"));

        var list = await blocklist.ListAsync(default);
        Assert.Equal(["103.99.0.122", "2001:db8::1"], list.Select(e => e.Ip));
        Assert.Equal("ssh brute force", list[0].Reason);

        Assert.True(blocklist.Remove("103.99.0.122"));
        Assert.False(blocklist.Remove("103.99.0.122"));
        Assert.False(blocklist.Contains("103.99.0.122"));
        Assert.Throws<ArgumentException>(() => blocklist.Add("103.99.0", null, null));
        Assert.Throws<ArgumentException>(() => blocklist.Add("not an ip", null, null));
    }

    [Theory]
    [InlineData(StoreProvider.Sqlite)]
    [InlineData(StoreProvider.Postgres)]
    public async Task A_batch_is_one_transaction_in_order_and_a_firing_journaled_before_is_skipped_not_fatal(StoreProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var journal = store.Get<EventJournal>();
        Assert.True(await journal.AppendAsync(Event("e0"), [Firing("timer-1")], default));

        var again = Firing("timer-1");
        var fresh = Firing("act-9");
        Assert.True(await journal.AppendBatchAsync([(Event("e1", second: 1), []), (Event("e2", second: 2), [again, fresh]), (Event("e3", second: 3), [])], default));

        Assert.Equal(0, again.Id);
        Assert.NotEqual(0, fresh.Id);
        var all = new List<StoredEvent>();
        await foreach (var e in journal.ReadAllAsync())
        {
            all.Add(e);
        }

        Assert.Equal(["e0", "e1", "e2", "e3"], all.Select(e => e.EventId));
        Assert.Equal(all[2].Sequence, fresh.EventSequence);
        Assert.Equal(["e2"], await journal.ExistingIdsAsync(["e2", "e7"], default));

        // A batch holding one journaled event id writes nothing at all.
        Assert.False(await journal.AppendBatchAsync([(Event("e4"), []), (Event("e1"), [])], default));
        Assert.False(await journal.ContainsAsync("e4", default));
    }

    [Theory]
    [InlineData(StoreProvider.Sqlite)]
    [InlineData(StoreProvider.Postgres)]
    public async Task Snapshots_bound_replay_and_pruning_never_reuses_a_sequence(StoreProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var journal = store.Get<EventJournal>();
        for (var i = 1; i <= 5; i++)
        {
            Assert.True(await journal.AppendAsync(Event($"e{i}", second: i), [], default));
        }

        Assert.Equal(0, await journal.PruneAsync(DateTimeOffset.UtcNow.AddDays(1), default)); // no snapshot: nothing may go
        for (var n = 1; n <= 3; n++)
        {
            await journal.SaveSnapshotAsync(new RuleSnapshot { JournalSequence = 4, Fingerprint = "f", CreatedAt = DateTimeOffset.UtcNow, Data = [(byte)n] }, keep: 2, default);
        }

        var latest = await journal.LatestSnapshotAsync(default);
        Assert.Equal([(byte)3], latest!.Data);
        var after = new List<string>();
        await foreach (var e in journal.ReadAfterAsync(latest.JournalSequence))
        {
            after.Add(e.EventId);
        }

        Assert.Equal(["e5"], after);
        Assert.Equal(4, await journal.PruneAsync(DateTimeOffset.UtcNow.AddDays(1), default));
        Assert.Equal(5, await journal.LastSequenceAsync(default));

        // With the journal pruned to one event, the next one still gets sequence 6, after the snapshot's 4.
        await using (var db = await store.Factory.CreateDbContextAsync())
        {
            await db.Set<StoredEvent>().ExecuteDeleteAsync();
            Assert.Equal(2, await db.Set<RuleSnapshot>().CountAsync());
        }

        var next = Event("e6", second: 6);
        Assert.True(await journal.AppendAsync(next, [], default));
        Assert.True(next.Sequence > 4, $"sequence {next.Sequence} reuses one the snapshot covers");
    }

    [Fact]
    public async Task Every_sqlite_connection_runs_in_wal_mode_with_synchronous_normal()
    {
        await using var store = await TestStore.CreateAsync(StoreProvider.Sqlite);
        for (var i = 0; i < 3; i++)
        {
            await using var db = await store.Factory.CreateDbContextAsync();
            await db.Database.OpenConnectionAsync();
            Assert.Equal(1L, await db.Database.SqlQueryRaw<long>("SELECT synchronous AS Value FROM pragma_synchronous").SingleAsync()); // 1 = NORMAL
            Assert.Equal("wal", await db.Database.SqlQueryRaw<string>("SELECT journal_mode AS Value FROM pragma_journal_mode").SingleAsync());
        }
    }
}
