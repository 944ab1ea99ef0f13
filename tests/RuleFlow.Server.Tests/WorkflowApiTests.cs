using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using RabbitMQ.Client;
using RuleFlow.Server.Tests.Infrastructure;

namespace RuleFlow.Server.Tests;

/// <summary>
/// The workflow API over HTTP on a real server process: JWT bearer tokens minted here and API keys, the approvals inbox,
/// cancel / retry / incidents, decisions over RabbitMQ (with refusals dead-lettered), and events reaching a
/// <c>wait_for_event</c> step through the real ingest paths (HTTP and AMQP).
/// </summary>
public sealed class WorkflowApiTests
{
    private const string SigningKey = "ruleflow-test-signing-key-of-at-least-32-bytes!";
    private const string Issuer = "https://issuer.test";
    private const string Audience = "ruleflow";

    private static string Token(string user, string[] roles, string audience = Audience, string issuer = Issuer, DateTime? expires = null, string key = SigningKey)
    {
        var now = DateTime.UtcNow;
        var claims = new Dictionary<string, object> { ["sub"] = user, ["role"] = roles };
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = claims,
            IssuedAt = (expires ?? now.AddHours(1)).AddHours(-2),
            NotBefore = (expires ?? now.AddHours(1)).AddHours(-2),
            Expires = expires ?? now.AddHours(1),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)), SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>How a request authenticates: <c>bearer:&lt;token&gt;</c>, <c>key:&lt;api key&gt;</c> or null for none.</summary>
    private static async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(ServerProcess server, HttpMethod method, string path, string? credentials, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (credentials?.StartsWith("bearer:", StringComparison.Ordinal) == true)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credentials[7..]);
        }
        else if (credentials?.StartsWith("key:", StringComparison.Ordinal) == true)
        {
            request.Headers.Add("X-Api-Key", credentials[4..]);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body is string text ? text : System.Text.Json.JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        }

        using var response = await server.Http.SendAsync(request);
        var content = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, content.Length == 0 ? null : JsonNode.Parse(content));
    }

    private static async Task<JsonNode> GetAsync(ServerProcess server, string path, string credentials)
    {
        var (status, body) = await SendAsync(server, HttpMethod.Get, path, credentials);
        Assert.True(status == HttpStatusCode.OK, $"GET {path} → {(int)status} {body?.ToJsonString()}");
        return body!;
    }

    private static async Task<string> StartAsync(ServerProcess server, string credentials, string workflow, object input, string? correlationKey = null)
    {
        var (status, body) = await SendAsync(server, HttpMethod.Post, "api/instances", credentials, new { workflow, input, correlationKey });
        Assert.True(status == HttpStatusCode.Created, $"start {workflow} → {(int)status} {body?.ToJsonString()}");
        return body!["id"]!.GetValue<string>();
    }

    private static async Task<JsonNode> WaitForStateAsync(ServerProcess server, string id, string credentials, string state)
    {
        JsonNode? last = null;
        await server.WaitUntilAsync(async () =>
        {
            last = await GetAsync(server, $"api/instances/{id}", credentials);
            return last["state"]!.GetValue<string>() == state;
        }, $"instance {id} to be {state} (last: {last?["state"]}, error {last?["error"]})");
        return last!;
    }

    [Fact]
    public async Task Jwt_bearer_tokens_are_checked_and_their_roles_decide_who_may_approve()
    {
        var bobSecret = "bob-key-" + Guid.NewGuid().ToString("N");
        await using var server = new ServerProcess(ServerProcess.NewContentRoot(), new Dictionary<string, string>
        {
            ["RuleFlow__Auth__Jwt__SigningKey"] = SigningKey,
            ["RuleFlow__Auth__Jwt__Issuer"] = Issuer,
            ["RuleFlow__Auth__Jwt__Audience"] = Audience,
            ["RuleFlow__Auth__ApiKeys__0__Key"] = bobSecret,
            ["RuleFlow__Auth__ApiKeys__0__User"] = "bob",
            ["RuleFlow__Auth__ApiKeys__0__Roles__0"] = "approver",
        });
        await server.StartAndWaitReadyAsync();
        var bobKey = "key:" + bobSecret;
        var alice = "bearer:" + Token("alice", ["approver"]);
        var oscar = "bearer:" + Token("oscar", ["operator"]);

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(server, HttpMethod.Get, "health", null)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(server, HttpMethod.Get, "api/instances", null)).Status);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(server, HttpMethod.Get, "api/instances", alice)).Status);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(server, HttpMethod.Get, "api/instances", bobKey)).Status);
        foreach (var (what, token) in new[]
        {
            ("expired", Token("alice", ["approver"], expires: DateTime.UtcNow.AddMinutes(-5))),
            ("wrong audience", Token("alice", ["approver"], audience: "someone-else")),
            ("wrong issuer", Token("alice", ["approver"], issuer: "https://evil.test")),
            ("wrong signing key", Token("alice", ["approver"], key: "another-signing-key-of-at-least-32-bytes!!")),
            ("not a token", "abc.def.ghi"),
        })
        {
            var (status, _) = await SendAsync(server, HttpMethod.Get, "api/instances", "bearer:" + token);
            Assert.True(status == HttpStatusCode.Unauthorized, $"{what}: {(int)status}");
        }

        // Roles come from the token: an approver may not start, an operator may.
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(server, HttpMethod.Post, "api/instances", alice,
            new { workflow = "block-source-ip", input = new { ip = "198.51.100.9" } })).Status);
        var id = await StartAsync(server, oscar, "block-source-ip", new { ip = "198.51.100.9", host = "test", attempts = 5 }, "198.51.100.9");
        await WaitForStateAsync(server, id, oscar, "waiting");

        // The inbox: alice (role approver) sees it, oscar (operator) does not.
        var mine = await GetAsync(server, "api/approvals/mine", alice);
        Assert.Equal("alice", mine["user"]!.GetValue<string>());
        var approvalId = Assert.Single(mine["items"]!.AsArray())!["id"]!.GetValue<string>();
        Assert.Empty((await GetAsync(server, "api/approvals/mine", oscar))["items"]!.AsArray());

        var refused = await SendAsync(server, HttpMethod.Post, $"api/approvals/{approvalId}/approve", oscar, new { comment = "not mine" });
        Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
        Assert.Equal("WF4030", refused.Body!["code"]!.GetValue<string>());
        var approved = await SendAsync(server, HttpMethod.Post, $"api/approvals/{approvalId}/approve", alice, new { comment = "looks bad, block it" });
        Assert.True(approved.Status == HttpStatusCode.OK, approved.Body?.ToJsonString());
        Assert.Equal("alice", approved.Body!["decidedBy"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Conflict, (await SendAsync(server, HttpMethod.Post, $"api/approvals/{approvalId}/approve", bobKey, new { comment = "me too" })).Status);
        var done = await WaitForStateAsync(server, id, alice, "completed");
        var decision = Assert.Single(done["approvals"]![0]!["decisions"]!.AsArray())!;
        Assert.Equal(("alice", "http", "looks bad, block it"), (decision["by"]!.GetValue<string>(), decision["via"]!.GetValue<string>(), decision["comment"]!.GetValue<string>()));
        Assert.Empty((await GetAsync(server, "api/approvals/mine", alice))["items"]!.AsArray());
    }

    private const string FlakyHttp = """
        id: flaky-http
        input:
          schema: { type: object, required: [ip, endpoint] }
        steps:
          - id: block
            kind: script
            script: "return blocklist.add(input.ip, 'flaky');"
            compensate:
              script: "return blocklist.remove(input.ip);"
          - id: notify
            kind: http
            method: POST
            url: "{{input.endpoint}}/notify"
            body: { ip: "{{input.ip}}" }
            attempts: 1
            retry: { max_attempts: 2, backoff: 100ms }
        """;

    [Fact]
    public async Task Cancel_retry_and_incident_resolution_work_over_http_for_operators_only()
    {
        await using var endpoint = new EffectEndpoint(7, 1, 5) { Failing = true };
        var root = ServerProcess.NewContentRoot();
        await File.WriteAllTextAsync(Path.Combine(root, "workflows", "flaky-http.yaml"), FlakyHttp);
        var operatorKey = "key:op-" + Guid.NewGuid().ToString("N");
        var approverKey = "key:ap-" + Guid.NewGuid().ToString("N");
        await using var server = new ServerProcess(root, new Dictionary<string, string>
        {
            ["RuleFlow__Auth__ApiKeys__0__Key"] = operatorKey[4..],
            ["RuleFlow__Auth__ApiKeys__0__User"] = "oscar",
            ["RuleFlow__Auth__ApiKeys__0__Roles__0"] = "operator",
            ["RuleFlow__Auth__ApiKeys__1__Key"] = approverKey[4..],
            ["RuleFlow__Auth__ApiKeys__1__User"] = "alice",
            ["RuleFlow__Auth__ApiKeys__1__Roles__0"] = "approver",
            ["RuleFlow__Workflows__PollInterval"] = "00:00:00.100",
        });
        await server.StartAndWaitReadyAsync();

        // An exhausted retry halts the instance with an incident.
        var first = await StartAsync(server, operatorKey, "flaky-http", new { ip = "203.0.113.1", endpoint = endpoint.BaseUrl });
        var failed = await WaitForStateAsync(server, first, operatorKey, "failed");
        var incidents = (await GetAsync(server, $"api/incidents?instance={first}", operatorKey))["items"]!.AsArray();
        var incident = Assert.Single(incidents)!;
        Assert.Equal(("retry.exhausted", "notify"), (incident["kind"]!.GetValue<string>(), incident["stepId"]!.GetValue<string>()));
        Assert.Contains("503", failed["error"]!.GetValue<string>(), StringComparison.Ordinal);

        // Retry: only operators; once the endpoint is back, the instance completes and the incident is resolved.
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(server, HttpMethod.Post, $"api/instances/{first}/retry", approverKey)).Status);
        endpoint.Failing = false;
        var retried = await SendAsync(server, HttpMethod.Post, $"api/instances/{first}/retry", operatorKey);
        Assert.True(retried.Status == HttpStatusCode.Accepted, retried.Body?.ToJsonString());
        var completed = await WaitForStateAsync(server, first, operatorKey, "completed");
        Assert.Equal("oscar", Assert.Single(completed["incidents"]!.AsArray())!["resolvedBy"]!.GetValue<string>());
        Assert.Empty((await GetAsync(server, $"api/incidents?instance={first}", operatorKey))["items"]!.AsArray());
        var again = await SendAsync(server, HttpMethod.Post, $"api/instances/{first}/retry", operatorKey);
        Assert.Equal((HttpStatusCode.Conflict, "WF4091"), (again.Status, again.Body!["code"]!.GetValue<string>()));

        // Resolving an incident with "compensate" undoes what was done.
        endpoint.Failing = true;
        var second = await StartAsync(server, operatorKey, "flaky-http", new { ip = "203.0.113.2", endpoint = endpoint.BaseUrl });
        await WaitForStateAsync(server, second, operatorKey, "failed");
        var secondIncident = Assert.Single((await GetAsync(server, $"api/incidents?instance={second}", operatorKey))["items"]!.AsArray())!["id"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(server, HttpMethod.Post, $"api/incidents/{secondIncident}/resolve", approverKey, new { action = "compensate" })).Status);
        var badAction = await SendAsync(server, HttpMethod.Post, $"api/incidents/{secondIncident}/resolve", operatorKey, new { action = "explode" });
        Assert.Equal((HttpStatusCode.BadRequest, "WF4001"), (badAction.Status, badAction.Body!["code"]!.GetValue<string>()));
        var unknown = await SendAsync(server, HttpMethod.Post, $"api/incidents/{Guid.NewGuid()}/resolve", operatorKey, new { action = "retry" });
        Assert.Equal((HttpStatusCode.NotFound, "WF4043"), (unknown.Status, unknown.Body!["code"]!.GetValue<string>()));
        var resolved = await SendAsync(server, HttpMethod.Post, $"api/incidents/{secondIncident}/resolve", operatorKey, new { action = "compensate", comment = "downstream is gone" });
        Assert.True(resolved.Status == HttpStatusCode.OK, resolved.Body?.ToJsonString());
        var compensated = await WaitForStateAsync(server, second, operatorKey, "compensated");
        Assert.Contains(compensated["journal"]!.AsArray(), e => e!["kind"]!.GetValue<string>() == "compensation.completed" && e["stepId"]!.GetValue<string>() == "block");
        var blocked = (await GetAsync(server, "api/blocklist", operatorKey)).AsArray().Select(e => e!["ip"]!.GetValue<string>()).ToList();
        Assert.Equal(["203.0.113.1"], blocked);
        var resolvedAgain = await SendAsync(server, HttpMethod.Post, $"api/incidents/{secondIncident}/resolve", operatorKey, new { action = "acknowledge" });
        Assert.Equal((HttpStatusCode.Conflict, "WF4090"), (resolvedAgain.Status, resolvedAgain.Body!["code"]!.GetValue<string>()));

        // Cancel a waiting instance: its approval is withdrawn; a second cancel conflicts; an unknown instance is 404.
        var waiting = await StartAsync(server, operatorKey, "block-source-ip", new { ip = "203.0.113.3", host = "test", attempts = 5 }, "203.0.113.3");
        await WaitForStateAsync(server, waiting, operatorKey, "waiting");
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(server, HttpMethod.Post, $"api/instances/{waiting}/cancel", approverKey, new { reason = "no" })).Status);
        var cancel = await SendAsync(server, HttpMethod.Post, $"api/instances/{waiting}/cancel", operatorKey, new { reason = "false positive" });
        Assert.True(cancel.Status == HttpStatusCode.Accepted, cancel.Body?.ToJsonString());
        var cancelled = await WaitForStateAsync(server, waiting, operatorKey, "cancelled");
        Assert.Equal("cancelled", cancelled["approvals"]![0]!["state"]!.GetValue<string>());
        Assert.Contains("false positive", cancelled["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Conflict, (await SendAsync(server, HttpMethod.Post, $"api/instances/{waiting}/cancel", operatorKey, new { reason = "again" })).Status);
        var missing = await SendAsync(server, HttpMethod.Post, $"api/instances/{Guid.NewGuid()}/cancel", operatorKey, new { reason = "?" });
        Assert.Equal((HttpStatusCode.NotFound, "WF4042"), (missing.Status, missing.Body!["code"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Decisions_over_rabbitmq_continue_the_instance_and_refused_ones_are_dead_lettered_with_their_reason()
    {
        await using var broker = await TestBroker.CreateAsync();
        var operatorKey = "op-" + Guid.NewGuid().ToString("N");
        var approverKey = "ap-" + Guid.NewGuid().ToString("N");
        await using var server = new ServerProcess(ServerProcess.NewContentRoot(), new Dictionary<string, string>
        {
            ["RuleFlow__RabbitMq__Url"] = broker.Url.ToString(),
            ["RuleFlow__Auth__ApiKeys__0__Key"] = operatorKey,
            ["RuleFlow__Auth__ApiKeys__0__User"] = "oscar",
            ["RuleFlow__Auth__ApiKeys__0__Roles__0"] = "operator",
            ["RuleFlow__Auth__ApiKeys__1__Key"] = approverKey,
            ["RuleFlow__Auth__ApiKeys__1__User"] = "alice",
            ["RuleFlow__Auth__ApiKeys__1__Roles__0"] = "approver",
        });
        await server.StartAndWaitReadyAsync();
        var asOperator = "key:" + operatorKey;
        var id = await StartAsync(server, asOperator, "block-source-ip", new { ip = "192.0.2.44", host = "test", attempts = 7 }, "192.0.2.44");
        var waiting = await WaitForStateAsync(server, id, asOperator, "waiting");
        var approvalId = waiting["approvals"]![0]!["id"]!.GetValue<string>();

        await using var connection = await broker.ConnectAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        await server.WaitUntilAsync(async () =>
        {
            try
            {
                await using var probe = await connection.CreateChannelAsync();
                await probe.QueueDeclarePassiveAsync("ruleflow.approval-decisions_error");
                return true;
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
            {
                return false;
            }
        }, "the decision consumer to declare its queues");

        async Task Publish(string body, string messageId) => await channel.BasicPublishAsync("ruleflow.approvals", "approval.decision", mandatory: true,
            new BasicProperties { MessageId = messageId, ContentType = "application/json" }, Encoding.UTF8.GetBytes(body));

        await Publish("this is not a decision", "bad-json");
        await Publish($$"""{"approvalId":"{{approvalId}}","decision":"approve","comment":"I run things","apiKey":"{{operatorKey}}"}""", "not-assignee");
        await Publish($$"""{"approvalId":"{{approvalId}}","decision":"approve","apiKey":"wrong-key"}""", "bad-key");
        await Publish($$"""{"approvalId":"{{Guid.NewGuid()}}","decision":"approve","apiKey":"{{approverKey}}"}""", "unknown-approval");
        await Task.Delay(500);
        Assert.Equal("waiting", (await GetAsync(server, $"api/instances/{id}", asOperator))["state"]!.GetValue<string>());

        await Publish($$"""{"approvalId":"{{approvalId}}","decision":"approve","comment":"via the bus","apiKey":"{{approverKey}}"}""", "good");
        var done = await WaitForStateAsync(server, id, asOperator, "completed");
        var decision = Assert.Single(done["approvals"]![0]!["decisions"]!.AsArray())!;
        Assert.Equal(("alice", "amqp", "via the bus"), (decision["by"]!.GetValue<string>(), decision["via"]!.GetValue<string>(), decision["comment"]!.GetValue<string>()));
        await Publish($$"""{"approvalId":"{{approvalId}}","decision":"reject","apiKey":"{{approverKey}}"}""", "too-late");

        // Every refusal is in the dead-letter queue with its reason, in order, and recorded by the server.
        var dead = new List<(string? Id, string Code, string Reason)>();
        await server.WaitUntilAsync(async () =>
        {
            while (await channel.BasicGetAsync("ruleflow.approval-decisions_error", autoAck: true) is { } message)
            {
                var headers = message.BasicProperties.Headers!;
                dead.Add((message.BasicProperties.MessageId, Encoding.UTF8.GetString((byte[])headers["x-ruleflow-reason-code"]!),
                    Encoding.UTF8.GetString((byte[])headers["x-ruleflow-reason"]!)));
            }

            return dead.Count >= 5;
        }, "five dead-lettered decisions");
        Assert.Equal(
            [("bad-json", "RF6010"), ("not-assignee", "WF4030"), ("bad-key", "RF6011"), ("unknown-approval", "WF4041"), ("too-late", "WF4090")],
            dead.Select(d => (d.Id!, d.Code)));
        Assert.Contains("may not decide", dead[1].Reason, StringComparison.Ordinal);
        var letters = (await GetAsync(server, "api/events/dead-letters?pageSize=50", asOperator))["items"]!.AsArray();
        Assert.Equal(5, letters.Count(l => l!["source"]!.GetValue<string>() == "amqp:ruleflow.approvals/approval.decision"));
    }

    private const string WaitsForAck = """
        id: wait-ack
        input:
          schema: { type: object, required: [ip] }
        steps:
          - id: ack
            kind: wait_for_event
            event: firewall.ack
            correlation: { path: data.ip, value: "{{input.ip}}" }
            condition: "event.data.status == 'ok'"
            timeout: 10m
          - id: report
            kind: script
            script: "return { by: steps.ack.output.data.firewall, id: steps.ack.output.id };"
        """;

    [Fact]
    public async Task Events_reach_a_waiting_instance_through_the_http_and_the_amqp_ingest_paths()
    {
        await using var broker = await TestBroker.CreateAsync();
        var root = ServerProcess.NewContentRoot();
        await File.WriteAllTextAsync(Path.Combine(root, "workflows", "wait-ack.yaml"), WaitsForAck);
        await using var server = new ServerProcess(root, new Dictionary<string, string>
        {
            ["RuleFlow__RabbitMq__Url"] = broker.Url.ToString(),
            ["RuleFlow__RabbitMq__Bindings__0__Exchange"] = "firewall.events",
            ["RuleFlow__RabbitMq__Bindings__0__RoutingKey"] = "firewall.#",
        });
        await server.StartAndWaitReadyAsync();
        const string none = "key:unused"; // no auth configured: every request is the development user
        var overHttp = await StartAsync(server, none, "wait-ack", new { ip = "10.20.30.1" });
        var overAmqp = await StartAsync(server, none, "wait-ack", new { ip = "10.20.30.2" });
        await WaitForStateAsync(server, overHttp, none, "waiting");
        await WaitForStateAsync(server, overAmqp, none, "waiting");

        // Not ok yet (the condition), and another address (the correlation): both still wait.
        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(server, HttpMethod.Post, "api/events/firewall.ack", none, new { ip = "10.20.30.1", status = "pending", firewall = "fw1" })).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await SendAsync(server, HttpMethod.Post, "api/events/firewall.ack", none, new { ip = "10.20.30.9", status = "ok", firewall = "fw1" })).Status);
        await Task.Delay(300);
        Assert.Equal("waiting", (await GetAsync(server, $"api/instances/{overHttp}", none))["state"]!.GetValue<string>());

        var (status, accepted) = await SendAsync(server, HttpMethod.Post, "api/events/firewall.ack", none, new { ip = "10.20.30.1", status = "ok", firewall = "fw-http" });
        Assert.Equal(HttpStatusCode.Accepted, status);
        var httpDone = await WaitForStateAsync(server, overHttp, none, "completed");
        Assert.Equal("fw-http", httpDone["journal"]!.AsArray().Last(e => e!["kind"]!.GetValue<string>() == "step.completed")!["data"]!["output"]!["by"]!.GetValue<string>());
        Assert.Equal(accepted!["id"]!.GetValue<string>(), httpDone["journal"]!.AsArray().Last(e => e!["kind"]!.GetValue<string>() == "step.completed")!["data"]!["output"]!["id"]!.GetValue<string>());
        Assert.Equal("waiting", (await GetAsync(server, $"api/instances/{overAmqp}", none))["state"]!.GetValue<string>());

        await using var connection = await broker.ConnectAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        await channel.ExchangeDeclareAsync("firewall.events", ExchangeType.Topic, durable: true);
        await channel.BasicPublishAsync("firewall.events", "firewall.ack", mandatory: true, new BasicProperties { MessageId = "ack-over-amqp" },
            Encoding.UTF8.GetBytes("""{"ip":"10.20.30.2","status":"ok","firewall":"fw-amqp"}"""));
        var amqpDone = await WaitForStateAsync(server, overAmqp, none, "completed");
        var output = amqpDone["journal"]!.AsArray().Last(e => e!["kind"]!.GetValue<string>() == "step.completed")!["data"]!["output"]!;
        Assert.Equal(("fw-amqp", "ack-over-amqp"), (output["by"]!.GetValue<string>(), output["id"]!.GetValue<string>()));
    }
}
