using RuleFlow.Storage.Ingest;

namespace RuleFlow.Storage.Tests;

/// <summary>The record of the ingest queue's bindings, on both providers.</summary>
public sealed class IngestBindingStoreTests
{
    [Theory]
    [InlineData(StoreProvider.Sqlite)]
    [InlineData(StoreProvider.Postgres)]
    public async Task Bindings_are_added_and_removed_row_by_row_and_other_queues_keep_theirs(StoreProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var bindings = store.Get<IngestBindingStore>();
        Assert.Empty(await bindings.ListAsync("ruleflow.events", CancellationToken.None));

        await bindings.AddAsync("ruleflow.events", [("security.events", "ssh.#"), ("firewall.events", "fw.deny"), ("security.events", "ssh.#")],
            CancellationToken.None);
        await bindings.AddAsync("other.queue", [("security.events", "")], CancellationToken.None);
        Assert.Equal([("firewall.events", "fw.deny"), ("security.events", "ssh.#")], await bindings.ListAsync("ruleflow.events", CancellationToken.None));

        // Adding what is there already (another server recorded it) is not an error; adding more keeps the rest.
        await bindings.AddAsync("ruleflow.events", [("security.events", "ssh.#"), ("audit.events", "#")], CancellationToken.None);
        Assert.Equal([("audit.events", "#"), ("firewall.events", "fw.deny"), ("security.events", "ssh.#")],
            await bindings.ListAsync("ruleflow.events", CancellationToken.None));

        await bindings.RemoveAsync("ruleflow.events", [("firewall.events", "fw.deny"), ("never.recorded", "x")], CancellationToken.None);
        Assert.Equal([("audit.events", "#"), ("security.events", "ssh.#")], await bindings.ListAsync("ruleflow.events", CancellationToken.None));
        Assert.Equal([("security.events", "")], await bindings.ListAsync("other.queue", CancellationToken.None));

        // Two servers adding at once both succeed and record each row once.
        await Task.WhenAll(
            bindings.AddAsync("ruleflow.events", [("race.events", "a"), ("race.events", "b")], CancellationToken.None),
            bindings.AddAsync("ruleflow.events", [("race.events", "b"), ("race.events", "c")], CancellationToken.None));
        Assert.Equal(["a", "b", "c"], (await bindings.ListAsync("ruleflow.events", CancellationToken.None))
            .Where(b => b.Exchange == "race.events").Select(b => b.RoutingKey));
    }
}
