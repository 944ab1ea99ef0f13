using System.Net;
using System.Net.Sockets;
using RuleFlow.Server.Tests.Infrastructure;

namespace RuleFlow.Server.Tests;

/// <summary>Embedded defaults: the listen address, a broken rule file next to good ones, the SQLite file under data/.</summary>
public sealed class StartupTests
{
    [Fact]
    public async Task With_no_address_configured_it_listens_on_127_0_0_1_port_5080_and_keeps_its_data_under_the_content_root()
    {
        using (var probe = new TcpClient())
        {
            var busy = true;
            try
            {
                await probe.ConnectAsync(IPAddress.Loopback, 5080).WaitAsync(TimeSpan.FromMilliseconds(500));
            }
            catch (Exception e) when (e is SocketException or TimeoutException)
            {
                busy = false;
            }

            Assert.False(busy, "port 5080 is already taken on this machine; this test needs it free");
        }

        await using var server = new ServerProcess(ServerProcess.NewContentRoot(), port: 5080);
        await server.StartAndWaitReadyAsync();

        Assert.Contains("Now listening on: http://127.0.0.1:5080", server.Log, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(server.ContentRoot, "data", "ruleflow.db")));
    }

    [Fact]
    public async Task A_broken_rule_file_is_reported_and_the_others_still_load()
    {
        var root = ServerProcess.NewContentRoot();
        await File.WriteAllTextAsync(Path.Combine(root, "rules", "broken.rules"), """
            event web.request key client time timestamp

            rule "broken" priority 1
            when
                r: web.request(status >== 500)
            then
                start workflow "block-source-ip" with { ip: r.client }
            end
            """);
        await File.WriteAllTextAsync(Path.Combine(root, "workflows", "broken-flow.yaml"), "id: broken-flow\nsteps:\n  - id: s\n    kind: no-such-kind\n");
        await using var server = new ServerProcess(root);
        await server.StartAndWaitReadyAsync();

        // /health: up (200) but degraded, saying what is not as written and where to look; no server path.
        static async Task<(string Status, List<string> Warnings)> HealthAsync(ServerProcess server)
        {
            var health = await server.GetJsonAsync("health");
            return (health["status"]!.GetValue<string>(), [.. health["warnings"]!.AsArray().Select(w => w!.GetValue<string>())]);
        }

        var (status, warnings) = await HealthAsync(server);
        Assert.Equal("degraded", status);
        Assert.Contains(warnings, w => w.StartsWith("rule file rules/broken.rules is not loaded (1 error(s))", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.StartsWith("workflow file workflows/broken-flow.yaml failed to load at start", StringComparison.Ordinal));
        Assert.All(warnings, w => Assert.DoesNotContain(root, w, StringComparison.Ordinal));

        var rules = await server.GetJsonAsync("api/rules");
        var files = rules["files"]!.AsArray();
        var broken = files.Single(f => f!["path"]!.GetValue<string>().EndsWith("broken.rules", StringComparison.Ordinal))!;
        Assert.False(broken["loaded"]!.GetValue<bool>());
        var diagnostic = broken["diagnostics"]![0]!;
        Assert.Equal(5, diagnostic["line"]!.GetValue<int>());
        Assert.StartsWith("RF", diagnostic["code"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(files.Single(f => f!["path"]!.GetValue<string>().EndsWith("ssh-bruteforce.rules", StringComparison.Ordinal))!["loaded"]!.GetValue<bool>());
        Assert.Contains(rules["rules"]!.AsArray(), r => r!["name"]!.GetValue<string>() == "ssh-bruteforce");
        Assert.Contains("broken.rules failed to load", server.Log, StringComparison.Ordinal);

        // Fixed (the rule file on disk, the workflow through the Studio's save), the server is ready again.
        await File.WriteAllTextAsync(Path.Combine(root, "rules", "broken.rules"),
            (await File.ReadAllTextAsync(Path.Combine(root, "rules", "broken.rules"))).Replace(">==", ">=", StringComparison.Ordinal));
        await server.WaitUntilAsync(async () => (await HealthAsync(server)).Warnings.All(w => !w.Contains("broken.rules", StringComparison.Ordinal)),
            "the fixed rule file to leave the warnings");
        using (var request = new HttpRequestMessage(HttpMethod.Put, "api/workflows/broken-flow"))
        {
            request.Content = System.Net.Http.Json.JsonContent.Create(new { yaml = "id: broken-flow\nsteps:\n  - id: s\n    kind: set\n    values: { a: 1 }\n" });
            using var response = await server.Http.SendAsync(request);
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }

        (status, warnings) = await HealthAsync(server);
        Assert.Equal(("ready", 0), (status, warnings.Count));
    }

    [Theory]
    [InlineData("RuleFlow__RabbitMq__Url", "http://broker:5672", "RuleFlow:RabbitMq:Url is 'http://broker:5672'; it must be an amqp:// or amqps:// URL")]
    [InlineData("RuleFlow__RabbitMq__BatchSize", "lots", "'lots' at 'RuleFlow:RabbitMq:BatchSize'")]
    [InlineData("RuleFlow__Store__Provider", "Postgres", "RuleFlow:Store:ConnectionString is empty")]
    [InlineData("RuleFlow__Auth__ApiKeys__0__Key", "short", "RuleFlow:Auth:ApiKeys:0:Key is missing or shorter than 16 characters")]
    [InlineData("RuleFlow__Workflows__MaxConcurrency", "0", "RuleFlow:Workflows:MaxConcurrency is 0; it must be at least 1")]
    [InlineData("RuleFlow__Workflows__PollInterval", "-00:00:01", "RuleFlow:Workflows:PollInterval is -00:00:01; it must be a positive time")]
    [InlineData("RuleFlow__Workflows__Scripting__TimeoutInterval", "10000000.00:00:00", "RuleFlow:Workflows:Scripting:TimeoutInterval is 10000000.00:00:00; it must be at most 1.00:00:00")]
    [InlineData("RuleFlow__Auth__Jwt__SigningKey", "too-short", "RuleFlow:Auth:Jwt:SigningKey is not usable")]
    public async Task A_configuration_mistake_stops_the_start_with_exit_code_2_naming_the_key(string variable, string value, string message)
    {
        await using var server = new ServerProcess(ServerProcess.NewContentRoot(), new Dictionary<string, string> { [variable] = value });
        server.Start();
        Assert.Equal(2, await server.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        await Task.Delay(200); // let the output readers drain
        Assert.Contains("RuleFlow cannot start: ", server.Log, StringComparison.Ordinal);
        Assert.Contains(message, server.Log, StringComparison.Ordinal);
    }
}
