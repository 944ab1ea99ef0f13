using RuleFlow.Storage.Ingest;

namespace RuleFlow.Storage.Tests;

/// <summary>The record of the ingest queue's bindings, on both providers.</summary>
public sealed class IngestBindingStoreTests
{
    [Theory]
    [InlineData(StoreProvider.Sqlite)]
    [InlineData(StoreProvider.Postgres)]
    public async Task The_record_of_a_queue_is_replaced_whole_and_other_queues_keep_theirs(StoreProvider provider)
    {
        await using var store = await TestStore.CreateAsync(provider);
        var bindings = store.Get<IngestBindingStore>();
        Assert.Empty(await bindings.ListAsync("ruleflow.events", CancellationToken.None));

        await bindings.ReplaceAsync("ruleflow.events", [("security.events", "ssh.#"), ("firewall.events", "fw.deny"), ("security.events", "ssh.#")],
            CancellationToken.None);
        await bindings.ReplaceAsync("other.queue", [("security.events", "")], CancellationToken.None);
        Assert.Equal([("firewall.events", "fw.deny"), ("security.events", "ssh.#")], await bindings.ListAsync("ruleflow.events", CancellationToken.None));

        await bindings.ReplaceAsync("ruleflow.events", [("security.events", "ssh.#")], CancellationToken.None);
        Assert.Equal([("security.events", "ssh.#")], await bindings.ListAsync("ruleflow.events", CancellationToken.None));
        Assert.Equal([("security.events", "")], await bindings.ListAsync("other.queue", CancellationToken.None));

        await bindings.ReplaceAsync("ruleflow.events", [], CancellationToken.None);
        Assert.Empty(await bindings.ListAsync("ruleflow.events", CancellationToken.None));
    }
}
