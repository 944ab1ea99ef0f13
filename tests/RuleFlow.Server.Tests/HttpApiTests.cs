using System.Net;
using System.Text;
using RuleFlow.Server.Tests.Infrastructure;

namespace RuleFlow.Server.Tests;

/// <summary>One server with no broker (in-memory transport), shared by the tests of <see cref="HttpApiTests"/>.</summary>
public sealed class InMemoryServerFixture : IAsyncLifetime
{
    /// <summary>A workflow that publishes to the ingest queue's own exchange: with no broker the loopback brings it back as an event.</summary>
    public const string Loopback = """
        id: loopback
        description: Test workflow - publishes one event back into ingest.
        steps:
          - id: announce
            kind: publish
            exchange: ruleflow.events
            routing_key: loop.test
            body:
              timestamp: "2020-01-01T00:00:00Z"
              n: "{{input.n}}"
        """;

    public ServerProcess Server { get; } = new(ServerProcess.NewContentRoot(), new Dictionary<string, string>
    {
        ["RuleFlow__Ingest__MaxEventBytes"] = "65536",
    });

    public Task InitializeAsync()
    {
        File.WriteAllText(Path.Combine(Server.ContentRoot, "workflows", "loopback.yaml"), Loopback);
        return Server.StartAndWaitReadyAsync();
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>The HTTP API on a server with no broker (in-memory transport): the webhook path and wrong calls.</summary>
public sealed class HttpApiTests(InMemoryServerFixture fixture) : IClassFixture<InMemoryServerFixture>
{
    private readonly ServerProcess _server = fixture.Server;

    private async Task<(HttpStatusCode Status, System.Text.Json.Nodes.JsonNode? Body)> PostRawAsync(string path, string body, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        using var response = await _server.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : System.Text.Json.Nodes.JsonNode.Parse(text));
    }

    [Fact]
    public async Task Health_says_ready_and_which_transport()
    {
        var health = await _server.GetJsonAsync("health");
        Assert.Equal("ready", health["status"]!.GetValue<string>());
        Assert.Equal("in-memory", health["transport"]!.GetValue<string>());
        Assert.Contains("No broker configured", _server.Log, StringComparison.Ordinal);
        Assert.Contains("No authentication configured", _server.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_alertmanager_webhook_is_accepted_journaled_and_deduplicated_by_idempotency_key()
    {
        var body = await File.ReadAllTextAsync(Path.Combine(Paths.Datasets, "alertmanager_webhooks", "alertmonitor_webhook_firing.json"));

        var (status, answer) = await PostRawAsync("api/events/alertmanager.alert", body, "am-1");
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal("am-1", answer!["id"]!.GetValue<string>());
        Assert.False(answer["duplicate"]!.GetValue<bool>());

        (status, answer) = await PostRawAsync("api/events/alertmanager.alert", body, "am-1");
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.True(answer!["duplicate"]!.GetValue<bool>());

        var events = await _server.GetJsonAsync("api/events?type=alertmanager.alert");
        Assert.Equal(1, events["total"]!.GetValue<int>());
        var data = events["items"]![0]!["data"]!;
        Assert.Equal("firing", data["status"]!.GetValue<string>());
        Assert.Equal("http", events["items"]![0]!["source"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("{\"a\":", HttpStatusCode.BadRequest, "RF5001", "at line 1")]
    [InlineData("[{\"a\":1}]", HttpStatusCode.BadRequest, "RF5002", "JSON array")]
    [InlineData("\"text\"", HttpStatusCode.BadRequest, "RF5002", "JSON string")]
    [InlineData("{\"timestamp\":true}", HttpStatusCode.BadRequest, "RF5005", "field 'timestamp' is true")]
    [InlineData("{\"timestamp\":\"12/10/2017 06:55:46\"}", HttpStatusCode.BadRequest, "RF5005", "field 'timestamp' is \"12/10/2017")] // not ISO-8601: as the engine reads it
    [InlineData("{\"timestamp\":\"2017-12-10+5\"}", HttpStatusCode.BadRequest, "RF5005", "an event time must be an ISO-8601 string")]
    public async Task Malformed_events_are_refused_with_a_code_and_where(string body, HttpStatusCode expected, string code, string detail)
    {
        var (status, problem) = await PostRawAsync("api/events/ssh.auth", body);
        Assert.Equal(expected, status);
        Assert.Equal(code, problem!["code"]!.GetValue<string>());
        Assert.Contains(detail, problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Oversized_bodies_and_bad_type_names_are_refused_and_counted()
    {
        var before = (await _server.GetJsonAsync("api/stats"))["ingest"]!["deadLettered"]!.GetValue<long>();
        var (status, problem) = await PostRawAsync("api/events/ssh.auth", "{\"pad\":\"" + new string('x', 70_000) + "\"}");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("RF5003", problem!["code"]!.GetValue<string>());
        Assert.Contains("the limit is 65,536 bytes", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);

        (status, problem) = await PostRawAsync("api/events/bad%20type!", "{}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("RF5006", problem!["code"]!.GetValue<string>());

        // Valid JSON nested too deep for an event is said to be that, not "not JSON".
        (status, problem) = await PostRawAsync("api/events/ssh.auth", "{\"a\":" + new string('[', 70) + new string(']', 70) + "}");
        Assert.Equal((HttpStatusCode.BadRequest, "RF5001"), (status, problem!["code"]!.GetValue<string>()));
        Assert.StartsWith("body nests arrays and objects more than 64 levels deep at line 1, byte ", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);

        var after = (await _server.GetJsonAsync("api/stats"))["ingest"]!["deadLettered"]!.GetValue<long>();
        Assert.Equal(before + 3, after);
        var letters = await _server.GetJsonAsync("api/events/dead-letters?code=RF5003");
        Assert.True(letters["total"]!.GetValue<int>() >= 1);
        Assert.Contains(letters["items"]!.AsArray(), l => l!["source"]!.GetValue<string>() == "http:ssh.auth"); // the type it was POSTed as
        letters = await _server.GetJsonAsync("api/events/dead-letters?code=RF5006");
        Assert.Contains(letters["items"]!.AsArray(), l => l!["source"]!.GetValue<string>() == "http:bad type!");
    }

    [Fact]
    public async Task Wrong_api_calls_get_problem_details_with_codes()
    {
        async Task Expect(HttpResponseMessage response, HttpStatusCode status, string code)
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status, $"{response.RequestMessage!.RequestUri}: {(int)response.StatusCode} {text}");
            Assert.Equal(code, System.Text.Json.Nodes.JsonNode.Parse(text)!["code"]!.GetValue<string>());
        }

        await Expect(await _server.Http.GetAsync("api/instances?state=sleeping"), HttpStatusCode.BadRequest, "RF6003");
        await Expect(await _server.Http.GetAsync("api/instances?page=0"), HttpStatusCode.BadRequest, "RF6001");
        await Expect(await _server.Http.GetAsync("api/instances?pageSize=9999"), HttpStatusCode.BadRequest, "RF6002");
        await Expect(await _server.Http.GetAsync($"api/instances/{Guid.NewGuid()}"), HttpStatusCode.NotFound, "WF4040");
        await Expect(await _server.Http.PostAsync($"api/approvals/{Guid.NewGuid()}/approve", new StringContent("{}", Encoding.UTF8, "application/json")),
            HttpStatusCode.NotFound, "WF4041");
        await Expect(await _server.Http.PostAsync($"api/approvals/{Guid.NewGuid()}/approve", new StringContent("{not json", Encoding.UTF8, "application/json")),
            HttpStatusCode.BadRequest, "RF6400");
        await Expect(await _server.Http.PostAsync("api/instances", new StringContent("{}", Encoding.UTF8, "application/json")),
            HttpStatusCode.BadRequest, "RF6004");

        // A request that cannot be bound is described in JSON's words, where it went wrong, never with .NET type names.
        async Task<string> Detail(HttpResponseMessage response)
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
            var problem = System.Text.Json.Nodes.JsonNode.Parse(text)!;
            Assert.Equal("RF6400", problem["code"]!.GetValue<string>());
            var detail = problem["detail"]!.GetValue<string>();
            Assert.DoesNotMatch(@"System\.|`1|Int32|IReadOnlyList|CheckRequest|Nullable|\bint\b", detail);
            return detail;
        }

        Assert.Equal("the request body is not the JSON this endpoint takes: expected an array at $.files (line 1, near byte 13)",
            await Detail(await _server.Http.PostAsync("api/rules/check", new StringContent("{\"files\": \"x\"}", Encoding.UTF8, "application/json"))));
        Assert.Equal("the request body is not the JSON this endpoint takes: a value of the wrong type at $.files[0].path (line 1, near byte 21)",
            await Detail(await _server.Http.PostAsync("api/rules/check", new StringContent("{\"files\": [{\"path\": 7}]}", Encoding.UTF8, "application/json"))));
        Assert.StartsWith("the request body is not the JSON this endpoint takes: ",
            await Detail(await _server.Http.PostAsync("api/rules/check", new StringContent("{not json", Encoding.UTF8, "application/json"))));
        Assert.Equal("parameter 'page' must be an integer, not \"abc\"", await Detail(await _server.Http.GetAsync("api/rules/firings?page=abc")));
        await Expect(await _server.Http.PostAsync("api/instances", new StringContent("{\"workflow\":\"no-such-flow\"}", Encoding.UTF8, "application/json")),
            HttpStatusCode.NotFound, "WF4040");
    }

    [Fact]
    public async Task With_no_broker_a_published_message_that_an_ingest_binding_routes_comes_back_as_an_event()
    {
        var (status, started) = await _server.PostJsonAsync("api/instances", new { workflow = "loopback", input = new { n = 7 } });
        Assert.True(status == HttpStatusCode.Created, started?.ToJsonString());

        await _server.WaitUntilAsync(async () => (await _server.GetJsonAsync("api/events?type=loop.test"))["total"]!.GetValue<int>() == 1,
            "the published message to come back through the in-memory transport");
        var evt = (await _server.GetJsonAsync("api/events?type=loop.test"))["items"]![0]!;
        Assert.Equal("amqp:ruleflow.events/loop.test", evt["source"]!.GetValue<string>());
        Assert.Equal(7, evt["data"]!["n"]!.GetValue<int>()); // a body value that is one expression keeps its JSON type
        Assert.Equal(new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero), evt["time"]!.GetValue<DateTimeOffset>());
    }

    [Fact]
    public async Task Replay_over_http_feeds_the_same_pipeline()
    {
        var lines = File.ReadLines(Paths.OpenSshLog).Take(120).ToList();
        var file = Path.Combine(_server.ContentRoot, "first-120.log");
        await File.WriteAllLinesAsync(file, lines);

        var (exit, stdout, stderr) = await CliProcess.RunAsync("replay", file, "--http", $"http://127.0.0.1:{_server.Port}/", "--type", "ssh.auth",
            "--year", "2017", "--no-progress");

        Assert.True(exit == 0, $"{stdout}\n{stderr}");
        Assert.Contains("120 lines, 120 published", stdout, StringComparison.Ordinal);
        var events = await _server.GetJsonAsync("api/events?type=ssh.auth&pageSize=500");
        Assert.Equal(120, events["total"]!.GetValue<int>());
        Assert.Equal("2017-12-10T06:55:46Z", events["items"]!.AsArray()[^1]!["data"]!["timestamp"]!.GetValue<string>());
    }
}
