using System.Text;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using RuleFlow.Server.Tests.Infrastructure;

namespace RuleFlow.Server.Tests;

/// <summary>Ingest over a real RabbitMQ: raw JSON from a plain AMQP publisher, bad input to the dead-letter queue with its reason.</summary>
public sealed class AmqpIngestTests
{
    [Fact]
    public async Task Bad_messages_are_dead_lettered_with_their_reason_and_the_consumer_keeps_going()
    {
        await using var broker = await TestBroker.CreateAsync();
        await using var server = new ServerProcess(ServerProcess.NewContentRoot(), new Dictionary<string, string>
        {
            ["RuleFlow__RabbitMq__Url"] = broker.Url.ToString(),
            ["RuleFlow__RabbitMq__Bindings__0__Exchange"] = "test.events",
            ["RuleFlow__RabbitMq__Bindings__0__RoutingKey"] = "#",
            ["RuleFlow__Ingest__MaxEventBytes"] = "2000",
            ["RuleFlow__Ingest__RefuseUnknownTypes"] = "true",
        });
        await server.StartAndWaitReadyAsync();

        await using var connection = await broker.ConnectAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        await channel.ExchangeDeclareAsync("test.events", ExchangeType.Topic, durable: true);

        async Task Publish(string exchange, string routingKey, byte[] body, string? id = null) =>
            await channel.BasicPublishAsync(exchange, routingKey, mandatory: true, new BasicProperties { MessageId = id }, body);
        byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

        await Publish("security.events", "ssh.auth", Utf8("""{"timestamp":"2017-12-10T06:55:46Z","message":"first good one"}"""), "good-1");
        await Publish("security.events", "ssh.auth", Utf8("this is not json"), "bad-json");
        await Publish("security.events", "ssh.auth", Utf8("[1,2,3]"), "bad-array");
        await Publish("security.events", "ssh.auth", Utf8("42"), "bad-number");
        await Publish("security.events", "ssh.auth", Utf8("{\"pad\":\"" + new string('x', 3000) + "\"}"), "bad-size");
        await Publish("test.events", "nobody.declares.this", Utf8("""{"a":1}"""), "bad-type");
        await Publish("security.events", "ssh.auth", Utf8("""{"timestamp":"yesterday-ish"}"""), "bad-time");
        await Publish("security.events", "ssh.auth", [0xff, 0xfe, 0x7b], "bad-utf8");
        await Publish("security.events", "ssh.auth", [.. Utf8("{\"timestamp\":\""), 0xff, .. Utf8("\"}")], "bad-utf8-in-string"); // the JSON reader lets it through
        await Publish("security.events", "ssh.auth", Utf8("""{"timestamp":"2017-12-10T06:55:47Z","message":"second good one"}"""), "good-2");
        await Publish("security.events", "ssh.auth", Utf8("""{"timestamp":"2017-12-10T06:55:47Z","message":"second good one"}"""), "good-2"); // redelivery

        await server.WaitUntilAsync(async () =>
        {
            var stats = (await server.GetJsonAsync("api/stats"))["ingest"]!;
            return stats["accepted"]!.GetValue<long>() == 2 && stats["deadLettered"]!.GetValue<long>() == 8 && stats["duplicates"]!.GetValue<long>() == 1;
        }, "2 accepted, 8 dead-lettered, 1 duplicate");

        var events = (await server.GetJsonAsync("api/events?type=ssh.auth"))["items"]!.AsArray();
        Assert.Equal(["good-2", "good-1"], events.Select(e => e!["id"]!.GetValue<string>()));
        Assert.Equal("2017-12-10T06:55:47+00:00", events[0]!["time"]!.GetValue<DateTimeOffset>().ToString("yyyy-MM-dd'T'HH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture));

        var letters = (await server.GetJsonAsync("api/events/dead-letters?pageSize=50"))["items"]!.AsArray()
            .ToDictionary(d => d!["messageId"]!.GetValue<string>(), d => (Code: d!["code"]!.GetValue<string>(), Reason: d["reason"]!.GetValue<string>()));
        Assert.Equal("RF5001", letters["bad-json"].Code);
        Assert.Contains("not JSON", letters["bad-json"].Reason, StringComparison.Ordinal);
        Assert.Contains("at line 1, byte 2", letters["bad-json"].Reason, StringComparison.Ordinal);
        Assert.Equal(("RF5002", "body is a JSON array; an event must be a JSON object ({ ... })"), letters["bad-array"]);
        Assert.Equal("RF5002", letters["bad-number"].Code);
        Assert.Equal("RF5003", letters["bad-size"].Code);
        Assert.Contains("the limit is 2,000 bytes", letters["bad-size"].Reason, StringComparison.Ordinal);
        Assert.Equal("RF5004", letters["bad-type"].Code);
        Assert.Contains("'nobody.declares.this'", letters["bad-type"].Reason, StringComparison.Ordinal);
        Assert.Equal("RF5005", letters["bad-time"].Code);
        Assert.Contains("field 'timestamp'", letters["bad-time"].Reason, StringComparison.Ordinal);
        Assert.Equal("RF5001", letters["bad-utf8"].Code);
        Assert.Equal(("RF5001", "body is not JSON: it is not valid UTF-8 at byte 15 (0xFF)"), letters["bad-utf8-in-string"]);

        // The messages themselves are in the dead-letter queue, with the reason in headers.
        var dlq = new Dictionary<string, (string Code, string Reason, byte[] Body)>();
        while (await channel.BasicGetAsync("ruleflow.events_error", autoAck: true) is { } got)
        {
            var headers = got.BasicProperties.Headers!;
            dlq[got.BasicProperties.MessageId!] = (Encoding.UTF8.GetString((byte[])headers["x-ruleflow-reason-code"]!),
                Encoding.UTF8.GetString((byte[])headers["x-ruleflow-reason"]!), got.Body.ToArray());
        }

        Assert.Equal(["bad-array", "bad-json", "bad-number", "bad-size", "bad-time", "bad-type", "bad-utf8", "bad-utf8-in-string"], dlq.Keys.Order(StringComparer.Ordinal));
        Assert.All(dlq, d => Assert.Equal(letters[d.Key].Code, d.Value.Code));
        Assert.Equal("this is not json", Encoding.UTF8.GetString(dlq["bad-json"].Body));
        var main = await channel.QueueDeclarePassiveAsync("ruleflow.events");
        Assert.Equal(0u, main.MessageCount);
        Assert.Equal(0u, (await channel.QueueDeclarePassiveAsync("ruleflow.events_error")).MessageCount);
    }

    [Fact]
    public async Task Bindings_come_from_the_rules_event_declarations_without_any_configuration()
    {
        await using var broker = await TestBroker.CreateAsync();
        await using var server = broker.NewServer();
        await server.StartAndWaitReadyAsync();
        await using var connection = await broker.ConnectAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));

        // rules/ssh-bruteforce.rules declares `event ssh.auth from exchange "security.events" routing "ssh.#"`.
        await channel.BasicPublishAsync("security.events", "ssh.auth", mandatory: true, new BasicProperties(), Encoding.UTF8.GetBytes("""{"message":"hello"}"""));
        // A routing key outside the pattern reaches no queue: the broker returns it.
        await Assert.ThrowsAsync<PublishException>(async () =>
            await channel.BasicPublishAsync("security.events", "http.access", mandatory: true, new BasicProperties(), Encoding.UTF8.GetBytes("{}")));
        // The queue's own exchange takes anything; the type is the routing key.
        await channel.BasicPublishAsync("ruleflow.events", "k8s.event", mandatory: true, new BasicProperties(), Encoding.UTF8.GetBytes("""{"reason":"BackOff"}"""));

        await server.WaitUntilAsync(async () => (await server.GetJsonAsync("api/events"))["total"]!.GetValue<int>() == 2, "two events");
        var items = (await server.GetJsonAsync("api/events"))["items"]!.AsArray();
        Assert.Equal(["k8s.event", "ssh.auth"], items.Select(e => e!["type"]!.GetValue<string>()));
        Assert.StartsWith("sha256:", items[0]!["id"]!.GetValue<string>(), StringComparison.Ordinal); // no message_id: a hash of the body
        Assert.Equal("amqp:security.events/ssh.auth", items[1]!["source"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_backlog_is_journaled_in_queue_order_with_no_late_event()
    {
        // Windows, sequences and lateness depend on order, so the session must see the queue's order. A backlog (here
        // 3,000 messages published while the server is down) is delivered in full batches as fast as the broker pushes
        // it: the case where a dispatcher that runs deliveries concurrently can put one behind its successors.
        await using var broker = await TestBroker.CreateAsync();
        await using var server = broker.NewServer();
        await server.StartAndWaitReadyAsync(); // declares the queue and its bindings
        await server.KillAsync();

        const int count = 3000;
        var published = new List<string>(count);
        await using (var connection = await broker.ConnectAsync())
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true)))
        {
            var start = new DateTimeOffset(2017, 12, 10, 0, 0, 0, TimeSpan.Zero);
            for (var i = 0; i < count; i++)
            {
                var id = $"order-{i:D5}";
                var time = start.AddSeconds(i).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
                await channel.BasicPublishAsync("security.events", "ssh.auth", mandatory: true, new BasicProperties { MessageId = id },
                    Encoding.UTF8.GetBytes($$"""{"timestamp":"{{time}}","message":"Failed password for root from 10.0.{{i % 7}}.1","src_ip":"10.0.{{i % 7}}.1"}"""));
                published.Add(id);
            }
        }

        server.Start();
        await server.WaitReadyAsync();
        await server.WaitUntilAsync(async () => (await server.GetJsonAsync("api/events?pageSize=1"))["total"]!.GetValue<int>() == count,
            $"{count} events journaled", TimeSpan.FromMinutes(2));

        var journaled = new List<(long Sequence, string Id)>(count);
        for (var page = 1; journaled.Count < count; page++)
        {
            var items = (await server.GetJsonAsync($"api/events?pageSize=500&page={page}"))["items"]!.AsArray();
            Assert.NotEmpty(items);
            journaled.AddRange(items.Select(e => (e!["sequence"]!.GetValue<long>(), e["id"]!.GetValue<string>())));
        }

        var inJournalOrder = journaled.OrderBy(e => e.Sequence).Select(e => e.Id).ToList();
        var firstOutOfOrder = inJournalOrder.Zip(published).Select((pair, index) => (pair, index)).FirstOrDefault(x => x.pair.First != x.pair.Second);
        Assert.True(firstOutOfOrder.pair.First is null,
            $"journal position {firstOutOfOrder.index}: {firstOutOfOrder.pair.First} where the queue had {firstOutOfOrder.pair.Second}");
        Assert.Equal(published, inJournalOrder);
        Assert.DoesNotContain("Late event", server.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_second_server_on_the_queue_is_refused_until_the_first_stops_and_a_deleted_queue_is_declared_again()
    {
        await using var broker = await TestBroker.CreateAsync();
        var settings = new Dictionary<string, string> { ["RuleFlow__RabbitMq__Url"] = broker.Url.ToString() };
        await using var first = new ServerProcess(ServerProcess.NewContentRoot(), settings);
        await first.StartAndWaitReadyAsync();

        // Two consumers would share the queue's messages and break their order: the second is refused and not ready.
        await using var second = new ServerProcess(ServerProcess.NewContentRoot(), settings);
        second.Start();
        await second.WaitUntilAsync(async () =>
        {
            var (status, body) = await second.GetAsync("health");
            return status == System.Net.HttpStatusCode.ServiceUnavailable && body?["checks"]?["ingest"]?.GetValue<bool>() == false
                && second.Log.Contains("Ingest from RabbitMQ stopped", StringComparison.Ordinal);
        }, "the second server refused and not ready");
        Assert.Contains("ACCESS_REFUSED", second.Log, StringComparison.Ordinal);

        await first.KillAsync();
        await second.WaitReadyAsync(TimeSpan.FromSeconds(30)); // it tries again every 5 s

        // Deleting the queue cancels the consumer; it declares the queue and its bindings again and consumes.
        await using var connection = await broker.ConnectAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        await channel.QueueDeleteAsync("ruleflow.events");
        await second.WaitUntilAsync(() => Task.FromResult(second.Log.Contains("the broker cancelled the consumer", StringComparison.Ordinal)),
            "the consumer to notice");
        await second.WaitReadyAsync(TimeSpan.FromSeconds(30));
        await channel.BasicPublishAsync("security.events", "ssh.auth", mandatory: true, new BasicProperties { MessageId = "after-delete" },
            Encoding.UTF8.GetBytes("""{"timestamp":"2017-12-10T06:55:46Z","message":"after the queue came back"}"""));
        await second.WaitUntilAsync(async () => (await second.GetJsonAsync("api/events?pageSize=1"))["total"]!.GetValue<int>() == 1, "the event journaled");
        Assert.Equal("after-delete", (await second.GetJsonAsync("api/events"))["items"]![0]!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_reloaded_rule_set_binds_the_queue_to_its_new_exchanges_and_unbinds_the_ones_it_dropped()
    {
        await using var broker = await TestBroker.CreateAsync();
        await using var server = broker.NewServer();
        await server.StartAndWaitReadyAsync();
        await using var connection = await broker.ConnectAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        await channel.ExchangeDeclareAsync("firewall.events", ExchangeType.Topic, durable: true);
        async Task Publish(string id) => await channel.BasicPublishAsync("firewall.events", "fw.deny", mandatory: true, new BasicProperties { MessageId = id },
            Encoding.UTF8.GetBytes("""{"timestamp":"2024-05-01T10:00:00Z","src":"203.0.113.9"}"""));

        // Nothing is bound to the new exchange yet: the broker returns the message.
        var unroutable = await Assert.ThrowsAsync<PublishException>(() => Publish("before"));
        Assert.True(unroutable.IsReturn);

        var file = Path.Combine(server.ContentRoot, "rules", "firewall.rules");
        await File.WriteAllTextAsync(file, """
            event fw.deny
                from exchange "firewall.events" routing "fw.deny"
                time timestamp
            rule "deny" when d: fw.deny() then log "denied {{d.src}}" end
            """);
        await server.WaitUntilAsync(() => Task.FromResult(server.Log.Contains("Ingest queue ruleflow.events bound to exchange firewall.events", StringComparison.Ordinal)),
            "the queue bound to the new exchange");
        await server.WaitReadyAsync();
        await Publish("after-reload");
        await server.WaitUntilAsync(async () => (await server.GetJsonAsync("api/events?type=fw.deny"))["total"]!.GetValue<int>() == 1, "the event journaled");
        Assert.Equal("deny", (await server.GetJsonAsync("api/rules/firings?pageSize=1"))["items"]![0]!["rule"]!.GetValue<string>());

        // Only where a declaration sits changed (its origin): the queue stays bound, no reconnect.
        static int Rebinds(string log) => log.Split("changed the ingest bindings").Length - 1;
        Assert.Equal(1, Rebinds(server.Log));
        await File.WriteAllTextAsync(file, "# moved down a line\n" + await File.ReadAllTextAsync(file));
        await server.WaitUntilAsync(() => Task.FromResult(server.Log.Split("Rule set in force").Length - 1 >= 3), "the reload");
        await Task.Delay(500);
        Assert.Equal(1, Rebinds(server.Log));

        // An exchange that exists with another type is bound as it is (with a warning), instead of stopping every event.
        await channel.ExchangeDeclareAsync("legacy.events", ExchangeType.Fanout, durable: true);
        await File.WriteAllTextAsync(Path.Combine(server.ContentRoot, "rules", "legacy.rules"), """
            event legacy.alarm
                from exchange "legacy.events" routing "#"
                time timestamp
            rule "legacy" when a: legacy.alarm() then log "alarm" end
            """);
        await server.WaitUntilAsync(() => Task.FromResult(server.Log.Contains("Exchange legacy.events exists with another type", StringComparison.Ordinal)),
            "the warning");
        await server.WaitReadyAsync();
        await channel.BasicPublishAsync("legacy.events", "", mandatory: true, new BasicProperties { MessageId = "legacy-1" },
            Encoding.UTF8.GetBytes("""{"timestamp":"2024-05-01T10:00:01Z"}"""));
        await server.WaitUntilAsync(async () => (await server.GetJsonAsync("api/events?type=legacy.alarm"))["total"]!.GetValue<int>() == 1,
            "the legacy event journaled");

        File.Delete(file);
        await server.WaitUntilAsync(() => Task.FromResult(server.Log.Contains("unbound from exchange firewall.events", StringComparison.Ordinal)),
            "the queue unbound from the dropped exchange");
        unroutable = await Assert.ThrowsAsync<PublishException>(() => Publish("after-removal"));
        Assert.True(unroutable.IsReturn);
    }

    [Fact]
    public async Task A_server_started_after_a_declaration_was_removed_unbinds_it_even_when_its_exchange_is_gone()
    {
        await using var broker = await TestBroker.CreateAsync();
        var settings = new Dictionary<string, string> { ["RuleFlow__RabbitMq__Url"] = broker.Url.ToString() };
        var root = ServerProcess.NewContentRoot();
        var file = Path.Combine(root, "rules", "sources.rules");
        await File.WriteAllTextAsync(file, """
            event fw.deny
                from exchange "firewall.events" routing "fw.deny"
                time timestamp
            event old.alarm
                from exchange "old.events" routing "alarm.#"
                time timestamp
            rule "deny" when d: fw.deny() then log "denied" end
            rule "alarm" when a: old.alarm() then log "alarm" end
            """);
        await using (var first = new ServerProcess(root, settings))
        {
            await first.StartAndWaitReadyAsync(); // binds both, recording them first (in a store migrated before: a new database)
            Assert.DoesNotContain("Ingest from RabbitMQ stopped", first.Log, StringComparison.Ordinal);
            await first.KillAsync();
        }

        await using var connection = await broker.ConnectAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        async Task Publish(string exchange, string routingKey, string id) => await channel.BasicPublishAsync(exchange, routingKey, mandatory: true,
            new BasicProperties { MessageId = id }, Encoding.UTF8.GetBytes("""{"timestamp":"2024-05-01T10:00:00Z"}"""));
        await Publish("firewall.events", "fw.deny", "routed-while-down"); // bound: the queue takes it while no server runs

        // While no server runs, both declarations go and someone deletes one of the exchanges (its bindings go with it).
        await File.WriteAllTextAsync(file, """
            event fw.allow
                from exchange "firewall.allow" routing "fw.allow"
                time timestamp
            rule "allow" when a: fw.allow() then log "allowed" end
            """);
        await channel.ExchangeDeleteAsync("old.events");

        await using var second = new ServerProcess(root, settings);
        await second.StartAndWaitReadyAsync();
        Assert.Contains("Ingest queue ruleflow.events unbound from exchange firewall.events with routing key fw.deny", second.Log, StringComparison.Ordinal);
        // (Whether the broker answers an unbind from a deleted exchange with NOT_FOUND depends on its version: either way it is done.)
        Assert.True(second.Log.Contains("unbound from exchange old.events", StringComparison.Ordinal)
                    || second.Log.Contains("Exchange old.events no longer exists", StringComparison.Ordinal), "the binding to old.events is not reported gone");
        Assert.DoesNotContain("Ingest from RabbitMQ stopped", second.Log, StringComparison.Ordinal);
        var unroutable = await Assert.ThrowsAsync<PublishException>(() => Publish("firewall.events", "fw.deny", "after-removal"));
        Assert.True(unroutable.IsReturn);
        await Publish("firewall.allow", "fw.allow", "allowed-1");
        await second.WaitUntilAsync(async () => (await second.GetJsonAsync("api/events?type=fw.allow"))["total"]!.GetValue<int>() == 1, "the new source's event");
        Assert.Equal(1, (await second.GetJsonAsync("api/events?pageSize=10"))["total"]!.GetValue<int>() - 1); // and the one queued while down

        // The record now holds only what is declared: a third start unbinds nothing.
        await second.KillAsync();
        await using var third = new ServerProcess(root, settings);
        await third.StartAndWaitReadyAsync();
        Assert.DoesNotContain("unbound from exchange", third.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("no longer exists", third.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_refused_the_queue_does_not_unbind_what_the_consuming_server_still_declares()
    {
        // A rolling deploy: the new server (its rules dropped a source) starts on the same store and queue while the old one still
        // consumes. Only the server that holds the queue unbinds; the new one does once the old one has stopped.
        await using var broker = await TestBroker.CreateAsync();
        var oldRoot = ServerProcess.NewContentRoot();
        await File.WriteAllTextAsync(Path.Combine(oldRoot, "rules", "sources.rules"), """
            event fw.deny
                from exchange "firewall.events" routing "fw.deny"
                time timestamp
            rule "deny" when d: fw.deny() then log "denied" end
            """);
        var database = Path.Combine(oldRoot, "data", "ruleflow.db");
        var settings = new Dictionary<string, string>
        {
            ["RuleFlow__RabbitMq__Url"] = broker.Url.ToString(),
            ["RuleFlow__Store__ConnectionString"] = "Data Source=" + database,
        };
        await using var old = new ServerProcess(oldRoot, settings);
        await old.StartAndWaitReadyAsync();

        await using var connection = await broker.ConnectAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        async Task Publish(string id) => await channel.BasicPublishAsync("firewall.events", "fw.deny", mandatory: true,
            new BasicProperties { MessageId = id }, Encoding.UTF8.GetBytes("""{"timestamp":"2024-05-01T10:00:00Z"}"""));

        await using var next = new ServerProcess(ServerProcess.NewContentRoot(), settings); // the shipped rules only: no firewall source
        next.Start();
        await next.WaitUntilAsync(() => Task.FromResult(next.Log.Contains("ACCESS_REFUSED", StringComparison.Ordinal)), "the new server refused the queue");
        await Publish("while-both-run"); // still bound: the broker routes it to the queue (a return would throw)
        await old.WaitUntilAsync(async () => (await old.GetJsonAsync("api/events?type=fw.deny"))["total"]!.GetValue<int>() == 1, "the old server's event");
        Assert.DoesNotContain("unbound from exchange", next.Log, StringComparison.Ordinal);

        await old.KillAsync();
        await next.WaitReadyAsync(TimeSpan.FromSeconds(30));
        await next.WaitUntilAsync(() => Task.FromResult(next.Log.Contains("unbound from exchange firewall.events", StringComparison.Ordinal)),
            "the new server, now consuming, unbinds the dropped source");
        var unroutable = await Assert.ThrowsAsync<PublishException>(() => Publish("after-takeover"));
        Assert.True(unroutable.IsReturn);
    }
}
