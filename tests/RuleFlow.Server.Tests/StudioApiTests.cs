using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using RuleFlow.Server.Tests.Infrastructure;

namespace RuleFlow.Server.Tests;

/// <summary>One server (no broker, no auth: the development user) shared by <see cref="StudioApiTests"/>.</summary>
public sealed class StudioServerFixture : IAsyncLifetime
{
    /// <summary>A small workflow the save tests edit (other tests do not use it).</summary>
    public const string Editable = """
        # Edited by the Studio tests.
        id: studio-edit
        description: first
        steps:
          - id: first
            kind: set
            values:
              n: 1
          - id: second
            kind: set
            values:
              m: 2
        """;

    public ServerProcess Server { get; } = new(ServerProcess.NewContentRoot());

    public Task InitializeAsync()
    {
        File.WriteAllText(Path.Combine(Server.ContentRoot, "workflows", "studio-edit.yaml"), Editable);
        File.WriteAllText(Path.Combine(Server.ContentRoot, "workflows", "renamed.yml"), Editable.Replace("id: studio-edit", "id: studio-renamed", StringComparison.Ordinal));
        return Server.StartAndWaitReadyAsync();
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>
/// The server side of RuleFlow Studio (issue 5) on a real server process: saving and validating workflows (files written,
/// versions registered, diagnostics with line and step), the rules directory (path traversal refused, bad edits refused at
/// their line, good edits reloaded and firing), rule tests, the live event stream, /api/me, time filters and OpenAPI.
/// </summary>
public sealed class StudioApiTests(StudioServerFixture fixture) : IClassFixture<StudioServerFixture>
{
    private readonly ServerProcess _server = fixture.Server;

    private async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(System.Text.Json.JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        }

        using var response = await _server.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    private string WorkflowFile(string id) => Path.Combine(_server.ContentRoot, "workflows", id + ".yaml");

    private string RulesFile(string name) => Path.Combine(_server.ContentRoot, "rules", name);

    private static int LineOf(string text, string fragment) =>
        text.Split('\n').Select((line, i) => (line, i)).First(x => x.line.Contains(fragment, StringComparison.Ordinal)).i + 1;

    [Fact]
    public async Task Put_workflow_writes_the_yaml_file_and_registers_a_new_version()
    {
        var definition = await _server.GetJsonAsync("api/workflows/studio-edit/definition");
        Assert.Equal(1, definition["version"]!.GetValue<int>());
        Assert.Equal("workflows/studio-edit.yaml", definition["file"]!.GetValue<string>());
        Assert.Equal(StudioServerFixture.Editable, definition["yaml"]!.GetValue<string>());
        Assert.Equal("set", definition["definition"]!["steps"]![0]!["kind"]!.GetValue<string>());

        var edited = StudioServerFixture.Editable.Replace("description: first", "description: second", StringComparison.Ordinal);
        var (status, body) = await SendAsync(HttpMethod.Put, "api/workflows/studio-edit", new { yaml = edited, expectedVersion = 1 });
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
        Assert.Equal(2, body!["version"]!.GetValue<int>());
        Assert.False(body["created"]!.GetValue<bool>());
        Assert.Equal("workflows/studio-edit.yaml", body["file"]!.GetValue<string>());
        Assert.Equal(edited, await File.ReadAllTextAsync(WorkflowFile("studio-edit")));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_server.ContentRoot, "workflows"), "*.tmp"));

        var versions = (await _server.GetJsonAsync("api/workflows/studio-edit/versions"))["items"]!.AsArray();
        Assert.Equal([2, 1], versions.Select(v => v!["version"]!.GetValue<int>()));
        Assert.True(versions[0]!["current"]!.GetValue<bool>());
        Assert.Equal("second", (await _server.GetJsonAsync("api/workflows/studio-edit"))["description"]!.GetValue<string>());
        Assert.Equal("second", (await _server.GetJsonAsync("api/workflows/studio-edit/definition?version=2"))["definition"]!["description"]!.GetValue<string>());
        Assert.Equal("first", (await _server.GetJsonAsync("api/workflows/studio-edit/definition?version=1"))["definition"]!["description"]!.GetValue<string>());

        // The same content again is the same version (idempotent: nothing new registered).
        (status, body) = await SendAsync(HttpMethod.Put, "api/workflows/studio-edit", new { yaml = edited, expectedVersion = 2 });
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
        Assert.Equal(2, body!["version"]!.GetValue<int>());
        Assert.Equal(2, (await _server.GetJsonAsync("api/workflows/studio-edit/versions"))["items"]!.AsArray().Count);

        // An edit that started from an older version is refused.
        (status, body) = await SendAsync(HttpMethod.Put, "api/workflows/studio-edit", new { yaml = StudioServerFixture.Editable, expectedVersion = 1 });
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("RF6409", body!["code"]!.GetValue<string>());
        Assert.Equal(edited, await File.ReadAllTextAsync(WorkflowFile("studio-edit")));

        // Going back to earlier content makes that version current again (same content, same version); the next edit
        // starts from the version in force, not from the highest number ever registered.
        (status, body) = await SendAsync(HttpMethod.Put, "api/workflows/studio-edit", new { yaml = StudioServerFixture.Editable, expectedVersion = 2 });
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
        Assert.Equal(1, body!["version"]!.GetValue<int>());
        var inForce = (await _server.GetJsonAsync("api/workflows/studio-edit/definition"))["version"]!.GetValue<int>();
        Assert.Equal(1, inForce);
        (status, body) = await SendAsync(HttpMethod.Put, "api/workflows/studio-edit", new { yaml = edited, expectedVersion = inForce });
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
        Assert.Equal(2, body!["version"]!.GetValue<int>());
        Assert.Equal(edited, await File.ReadAllTextAsync(WorkflowFile("studio-edit")));

        // A new workflow: 201, a new file, startable.
        var created = StudioServerFixture.Editable.Replace("id: studio-edit", "id: studio-new", StringComparison.Ordinal);
        (status, body) = await SendAsync(HttpMethod.Put, "api/workflows/studio-new", new { yaml = created });
        Assert.True(status == HttpStatusCode.Created, body?.ToJsonString());
        Assert.True(body!["created"]!.GetValue<bool>());
        Assert.Equal(1, body["version"]!.GetValue<int>());
        Assert.Equal(created, await File.ReadAllTextAsync(WorkflowFile("studio-new")));
        var (started, instance) = await SendAsync(HttpMethod.Post, "api/instances", new { workflow = "studio-new", input = new { } });
        Assert.True(started == HttpStatusCode.Created, instance?.ToJsonString());
    }

    [Fact]
    public async Task Put_workflow_loaded_from_a_file_not_named_after_its_id_writes_that_file()
    {
        var edited = StudioServerFixture.Editable.Replace("id: studio-edit", "id: studio-renamed", StringComparison.Ordinal)
            .Replace("description: first", "description: renamed", StringComparison.Ordinal);
        var (status, body) = await SendAsync(HttpMethod.Put, "api/workflows/studio-renamed", new { yaml = edited });
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
        Assert.Equal("workflows/renamed.yml", body!["file"]!.GetValue<string>());
        Assert.Equal(edited, await File.ReadAllTextAsync(Path.Combine(_server.ContentRoot, "workflows", "renamed.yml")));
        Assert.False(File.Exists(WorkflowFile("studio-renamed")));
    }

    [Fact]
    public async Task Put_workflow_with_errors_is_refused_naming_line_and_step_and_writes_nothing()
    {
        var before = await File.ReadAllTextAsync(WorkflowFile("studio-edit"));
        var broken = before.Replace("id: second\n    kind: set", "id: second\n    kind: sett", StringComparison.Ordinal);
        Assert.NotEqual(before, broken);
        var (status, body) = await SendAsync(HttpMethod.Put, "api/workflows/studio-edit", new { yaml = broken });
        Assert.Equal((HttpStatusCode)422, status);
        Assert.Equal("RF6423", body!["code"]!.GetValue<string>());
        var diagnostic = body["diagnostics"]!.AsArray().Single()!;
        Assert.Equal("WF1010", diagnostic["code"]!.GetValue<string>());
        Assert.Equal("error", diagnostic["severity"]!.GetValue<string>());
        Assert.Equal(LineOf(broken, "kind: sett"), diagnostic["line"]!.GetValue<int>());
        Assert.Equal(11, diagnostic["column"]!.GetValue<int>());
        Assert.Equal("$.steps[1].kind", diagnostic["path"]!.GetValue<string>());
        Assert.Equal("second", diagnostic["stepId"]!.GetValue<string>());
        Assert.Contains("step 'second'", body["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllTextAsync(WorkflowFile("studio-edit")));

        // Not YAML at all: the position of the syntax error.
        (status, body) = await SendAsync(HttpMethod.Put, "api/workflows/studio-edit", new { yaml = "id: studio-edit\nsteps:\n  - id: a\n   kind: [set\n" });
        Assert.Equal((HttpStatusCode)422, status);
        diagnostic = body!["diagnostics"]!.AsArray().First()!;
        Assert.Equal("WF1001", diagnostic["code"]!.GetValue<string>());
        Assert.True(diagnostic["line"]!.GetValue<int>() >= 3, diagnostic.ToJsonString());

        // The id in the text must be the id in the URL.
        (status, body) = await SendAsync(HttpMethod.Put, "api/workflows/studio-edit", new { yaml = before.Replace("id: studio-edit", "id: other", StringComparison.Ordinal) });
        Assert.Equal((HttpStatusCode)422, status);
        Assert.Contains(body!["diagnostics"]!.AsArray(), d => d!["code"]!.GetValue<string>() == "WF1042" && d["path"]!.GetValue<string>() == "$.id" && d["line"]!.GetValue<int>() == 2);
        Assert.Equal(before, await File.ReadAllTextAsync(WorkflowFile("studio-edit")));
        Assert.False(File.Exists(WorkflowFile("other")));
    }

    [Fact]
    public async Task Validate_reports_diagnostics_including_rules_that_start_the_workflow_and_writes_nothing()
    {
        var original = await File.ReadAllTextAsync(WorkflowFile("block-source-ip"));
        var (status, body) = await SendAsync(HttpMethod.Post, "api/workflows/validate", new { yaml = original });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body!["ok"]!.GetValue<bool>(), body.ToJsonString());
        Assert.Equal("block-source-ip", body["id"]!.GetValue<string>());
        Assert.Empty(body["diagnostics"]!.AsArray());

        // rules/ssh-bruteforce.rules starts block-source-ip without an 'owner': requiring one breaks that rule.
        var stricter = original.Replace("required: [ip]\n    properties", "required: [ip, owner]\n    properties", StringComparison.Ordinal);
        Assert.NotEqual(original, stricter);
        (status, body) = await SendAsync(HttpMethod.Post, "api/workflows/validate", new { yaml = stricter });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False(body!["ok"]!.GetValue<bool>());
        var diagnostic = body["diagnostics"]!.AsArray().Single()!;
        Assert.Equal("WF1040", diagnostic["code"]!.GetValue<string>());
        Assert.Equal("rules/ssh-bruteforce.rules", diagnostic["file"]!.GetValue<string>());
        Assert.Equal(LineOf(await File.ReadAllTextAsync(RulesFile("ssh-bruteforce.rules")), "start workflow"), diagnostic["line"]!.GetValue<int>());
        Assert.Contains("owner", diagnostic["message"]!.GetValue<string>(), StringComparison.Ordinal);

        // A script that does not parse: its step and line.
        var badScript = original.Replace("var added = blocklist.add(input.ip, \"ssh brute force\");", "var added = => 1;", StringComparison.Ordinal);
        (status, body) = await SendAsync(HttpMethod.Post, "api/workflows/validate", new { yaml = badScript });
        Assert.False(body!["ok"]!.GetValue<bool>());
        diagnostic = body["diagnostics"]!.AsArray().First(d => d!["code"]!.GetValue<string>() == "WF1020")!;
        Assert.Equal("block", diagnostic["stepId"]!.GetValue<string>());
        Assert.Equal(LineOf(badScript, "var added = => 1;"), diagnostic["line"]!.GetValue<int>());
        Assert.Equal(original, await File.ReadAllTextAsync(WorkflowFile("block-source-ip")));
    }

    [Fact]
    public async Task Schema_is_the_published_workflow_schema()
    {
        var schema = await _server.GetJsonAsync("api/workflows/schema");
        var published = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(Paths.RepositoryRoot, "docs", "workflow.schema.json")));
        Assert.True(JsonNode.DeepEquals(published, schema));
    }

    [Fact]
    public async Task Rules_directory_is_listed_and_read_and_paths_outside_it_are_refused()
    {
        var files = (await _server.GetJsonAsync("api/rules/files")).AsArray();
        Assert.Contains(files, f => f!["path"]!.GetValue<string>() == "rules/ssh-bruteforce.rules" && f["kind"]!.GetValue<string>() == "rules");
        Assert.Contains(files, f => f!["path"]!.GetValue<string>() == "rules/ssh-bruteforce.ruletest" && f["kind"]!.GetValue<string>() == "ruletest");
        Assert.Contains(files, f => f!["path"]!.GetValue<string>().StartsWith("rules/fixtures/", StringComparison.Ordinal) && f["kind"]!.GetValue<string>() == "fixture");

        var file = await _server.GetJsonAsync("api/rules/files/rules/ssh-bruteforce.rules");
        Assert.Equal(await File.ReadAllTextAsync(RulesFile("ssh-bruteforce.rules")), file["text"]!.GetValue<string>());

        var outside = Path.Combine(_server.ContentRoot, "outside.rules");
        foreach (var path in new[]
        {
            "api/rules/files/rules/..%2F..%2Fetc%2Fpasswd", "api/rules/files/rules/..%2Foutside.rules", "api/rules/files/workflows/block-source-ip.yaml",
            "api/rules/files/rules/%2E%2E/outside.rules", "api/rules/files/rules",
            "api/rules/files/rules/fixtures", "api/rules/files/rules/ssh-bruteforce.rules/inner.rules",
        })
        {
            var (status, body) = await SendAsync(HttpMethod.Get, path);
            Assert.True(status == HttpStatusCode.BadRequest, $"GET {path} → {(int)status} {body?.ToJsonString()}");
            Assert.Equal("RF6020", body!["code"]!.GetValue<string>());
            (status, body) = await SendAsync(HttpMethod.Put, path, new { text = "event x.y\n" });
            Assert.True(status == HttpStatusCode.BadRequest, $"PUT {path} → {(int)status} {body?.ToJsonString()}");
        }

        Assert.False(File.Exists(outside));

        // a symbolic link inside the rules directory that leads outside it is neither listed, read nor written through
        var secret = Path.Combine(_server.ContentRoot, "secret.txt");
        await File.WriteAllTextAsync(secret, "not for the API");
        var link = Path.Combine(_server.ContentRoot, "rules", "linked.txt");
        File.CreateSymbolicLink(link, secret);
        try
        {
            var (status, body) = await SendAsync(HttpMethod.Get, "api/rules/files/rules/linked.txt");
            Assert.True(status == HttpStatusCode.BadRequest, $"GET through a link → {(int)status} {body?.ToJsonString()}");
            (status, _) = await SendAsync(HttpMethod.Put, "api/rules/files/rules/linked.txt", new { text = "overwritten" });
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal("not for the API", await File.ReadAllTextAsync(secret));
            Assert.DoesNotContain((await _server.GetJsonAsync("api/rules/files")).AsArray(), f => f!["path"]!.GetValue<string>() == "rules/linked.txt");
        }
        finally
        {
            File.Delete(link);
        }

        // GET /api/rules names files the same way, without the server's paths
        var described = (await _server.GetJsonAsync("api/rules")).ToJsonString();
        Assert.DoesNotContain(_server.ContentRoot, described, StringComparison.Ordinal);
        Assert.Contains("\"rules/ssh-bruteforce.rules\"", described, StringComparison.Ordinal);

        // a file that is not UTF-8 is refused (422), not shown with replacement characters a save would write back
        var latin1 = Path.Combine(_server.ContentRoot, "rules", "fixtures", "latin1.log");
        await File.WriteAllBytesAsync(latin1, [0x63, 0x61, 0x66, 0xE9, 0x0A]); // "café" in ISO-8859-1
        try
        {
            var (status, body) = await SendAsync(HttpMethod.Get, "api/rules/files/rules/fixtures/latin1.log");
            Assert.True(status == (HttpStatusCode)422, $"{(int)status} {body?.ToJsonString()}");
            Assert.Equal("RF6424", body!["code"]!.GetValue<string>());
            Assert.Contains("rules/fixtures/latin1.log", body["detail"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Contains("line 1 has the byte 0xE9 (byte offset 3)", body["detail"]!.GetValue<string>(), StringComparison.Ordinal); // as the load says it
        }
        finally
        {
            File.Delete(latin1);
        }

        var (missing, _) = await SendAsync(HttpMethod.Get, "api/rules/files/rules/nope.rules");
        Assert.Equal(HttpStatusCode.NotFound, missing);
    }

    [Fact]
    public async Task Oversized_source_texts_are_refused_with_413_naming_the_field_and_nothing_is_written()
    {
        var huge = "# " + new string('x', (1 << 20) + 10) + "\n";
        var before = await File.ReadAllTextAsync(RulesFile("network.rules"));
        foreach (var (method, path, body, field) in new (HttpMethod, string, object, string)[]
        {
            (HttpMethod.Put, "api/workflows/oversized", new { yaml = "id: oversized\n" + huge }, "\"yaml\""),
            (HttpMethod.Post, "api/workflows/validate", new { yaml = huge }, "\"yaml\""),
            (HttpMethod.Put, "api/rules/files/rules/network.rules", new { text = huge }, "\"text\""),
            (HttpMethod.Post, "api/rules/check", new { text = huge, file = "rules/network.rules" }, "\"text\""),
            (HttpMethod.Post, "api/rules/check", new { files = new[] { new { path = "rules/a.rules", text = huge } } }, "files[rules/a.rules].text"),
            (HttpMethod.Post, "api/rules/tests/run", new { rulesPath = "rules/network.rules", rulesText = huge }, "\"rulesText\""),
        })
        {
            var (status, answer) = await SendAsync(method, path, body);
            Assert.True(status == HttpStatusCode.RequestEntityTooLarge, $"{method} {path} → {(int)status} {answer?.ToJsonString()[..Math.Min(300, answer.ToJsonString().Length)]}");
            Assert.Equal("RF6413", answer!["code"]!.GetValue<string>());
            Assert.Contains(field, answer["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        Assert.False(File.Exists(Path.Combine(_server.ContentRoot, "workflows", "oversized.yaml")));
        Assert.Equal(before, await File.ReadAllTextAsync(RulesFile("network.rules")));
    }

    [Fact]
    public async Task A_start_input_larger_than_an_event_may_be_is_refused_with_413_and_starts_nothing()
    {
        var correlation = "oversized-" + Guid.NewGuid().ToString("N");
        var (status, answer) = await SendAsync(HttpMethod.Post, "api/instances",
            new { workflow = "block-source-ip", correlationKey = correlation, input = new { ip = "192.0.2.99", host = new string('h', (1 << 20) + 1) } });
        Assert.True(status == HttpStatusCode.RequestEntityTooLarge, $"{(int)status} {answer?["detail"]}");
        Assert.Equal("RF6414", answer!["code"]!.GetValue<string>());
        Assert.Contains("RuleFlow:Ingest:MaxEventBytes", answer["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        var listed = await _server.GetJsonAsync($"api/instances?correlationKey={correlation}");
        Assert.Equal(0, listed["total"]!.GetValue<int>());
    }

    [Fact]
    public async Task Rule_file_with_an_error_is_refused_at_its_line_and_left_untouched()
    {
        var path = RulesFile("network.rules");
        var before = await File.ReadAllTextAsync(path);
        var broken = before.Replace("flaps: count(net.interface(error == \"INTERFACE_DOWN\"))", "flaps: count(net.interface(error === \"INTERFACE_DOWN\"))", StringComparison.Ordinal);
        Assert.NotEqual(before, broken);
        var (status, body) = await SendAsync(HttpMethod.Put, "api/rules/files/rules/network.rules", new { text = broken });
        Assert.Equal((HttpStatusCode)422, status);
        Assert.Equal("RF6422", body!["code"]!.GetValue<string>());
        var errors = body["diagnostics"]!.AsArray().Where(d => d!["severity"]!.GetValue<string>() == "error").ToList();
        Assert.NotEmpty(errors);
        Assert.All(errors, d => Assert.Equal("rules/network.rules", d!["file"]!.GetValue<string>()));
        Assert.Equal(LineOf(broken, "error === "), errors[0]!["line"]!.GetValue<int>());
        Assert.True(errors[0]!["column"]!.GetValue<int>() > 1);
        Assert.StartsWith("RF", errors[0]!["code"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllTextAsync(path));

        // The same codes and positions as POST /api/rules/check (and ruleflow check).
        var (_, check) = await SendAsync(HttpMethod.Post, "api/rules/check", new { files = new[] { new { path = "rules/network.rules", text = broken } } });
        var checkError = check!["files"]![0]!["diagnostics"]!.AsArray().First(d => d!["severity"]!.GetValue<string>() == "error")!;
        Assert.Equal(errors[0]!["code"]!.GetValue<string>(), checkError["code"]!.GetValue<string>());
        Assert.Equal(errors[0]!["line"]!.GetValue<int>(), checkError["line"]!.GetValue<int>());
        Assert.Equal(errors[0]!["column"]!.GetValue<int>(), checkError["column"]!.GetValue<int>());

        // The Studio's form: one file's unsaved text, checked with the rest of the directory; nothing written.
        var (_, live) = await SendAsync(HttpMethod.Post, "api/rules/check", new { file = "rules/network.rules", text = broken });
        Assert.False(live!["ok"]!.GetValue<bool>());
        Assert.Equal(errors.Select(e => e!.ToJsonString()), live["diagnostics"]!.AsArray().Where(d => d!["severity"]!.GetValue<string>() == "error").Select(d => d!.ToJsonString()));
        (_, live) = await SendAsync(HttpMethod.Post, "api/rules/check", new { file = "rules/network.rules", text = before });
        Assert.True(live!["ok"]!.GetValue<bool>(), live.ToJsonString());
        Assert.Equal(before, await File.ReadAllTextAsync(path));

        // "Try an event" against the rules in force.
        var (_, explained) = await SendAsync(HttpMethod.Post, "api/rules/explain",
            new { type = "net.interface", rule = "net.link-flap", @event = new { host = "r1", @interface = "e1", error = "INTERFACE_DOWN", timestamp = "2024-01-01T00:00:00Z" } });
        Assert.Equal("net.link-flap", explained!["rules"]![0]!["rule"]!.GetValue<string>());
    }

    [Fact]
    public async Task Saved_rule_file_is_reloaded_and_its_new_rule_fires()
    {
        const string text = """
            # Added through the Studio API.
            event studio.ping
                key host
                time timestamp

            rule "studio.ping-seen"
            when
                p: studio.ping(level == "high")
            then
                log warning "ping from " + p.host
            end

            rule "studio.ping-block"
            when
                p: studio.ping(level == "never")
            then
                start workflow "block-source-ip" key p.host with { host: p.host }
            end
            """;
        var (status, body) = await SendAsync(HttpMethod.Put, "api/rules/files/rules/studio/ping.rules", new { text });
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
        Assert.True(body!["reloaded"]!.GetValue<bool>(), body.ToJsonString());
        Assert.True(body["created"]!.GetValue<bool>());
        var warning = body["diagnostics"]!.AsArray().Single()!;
        Assert.Equal(("warning", "WF1040", "rules/studio/ping.rules", LineOf(text, "start workflow")),
            (warning["severity"]!.GetValue<string>(), warning["code"]!.GetValue<string>(), warning["file"]!.GetValue<string>(), warning["line"]!.GetValue<int>()));
        Assert.Equal(text, await File.ReadAllTextAsync(RulesFile("studio/ping.rules")));
        Assert.Contains((await _server.GetJsonAsync("api/rules"))["rules"]!.AsArray(), r => r!["name"]!.GetValue<string>() == "studio.ping-seen");

        var (posted, accepted) = await SendAsync(HttpMethod.Post, "api/events/studio.ping",
            new { host = "h1", level = "high", timestamp = DateTimeOffset.UtcNow.ToString("O") });
        Assert.True(posted == HttpStatusCode.Accepted, accepted?.ToJsonString());
        Assert.Contains(accepted!["firings"]!.AsArray(), f => f!["rule"]!.GetValue<string>() == "studio.ping-seen");

        var types = (await _server.GetJsonAsync("api/events/types")).AsArray();
        var ping = types.Single(t => t!["type"]!.GetValue<string>() == "studio.ping")!;
        Assert.Equal(1, ping["count"]!.GetValue<long>());
        Assert.True(ping["declared"]!.GetValue<bool>());
        Assert.NotNull(ping["lastAt"]);
    }

    [Fact]
    public async Task Rule_tests_run_reports_passes_and_failures()
    {
        var (status, body) = await SendAsync(HttpMethod.Post, "api/rules/tests/run", new { path = "rules/kubernetes.ruletest" });
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
        Assert.Equal(3, body!["passed"]!.GetValue<int>());
        Assert.Equal(0, body["failed"]!.GetValue<int>());
        Assert.All(body["results"]!.AsArray(), r => Assert.Equal("rules/kubernetes.ruletest", r!["file"]!.GetValue<string>()));

        // The tests of a rules file, against unsaved text: a shorter throttle lets a throttled firing through.
        var rules = await File.ReadAllTextAsync(RulesFile("kubernetes.rules"));
        var edited = rules.Replace("throttle once within 1h", "throttle once within 1m", StringComparison.Ordinal);
        Assert.NotEqual(rules, edited);
        (status, body) = await SendAsync(HttpMethod.Post, "api/rules/tests/run", new { rulesPath = "rules/kubernetes.rules", rulesText = edited });
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
        Assert.Equal(2, body!["passed"]!.GetValue<int>());
        Assert.Equal(1, body["failed"]!.GetValue<int>());
        var failed = body["results"]!.AsArray().Single(r => !r!["passed"]!.GetValue<bool>())!;
        Assert.Contains("throttled", failed["name"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("unexpected firing", failed["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain(_server.ContentRoot, failed["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(failed["line"]!.GetValue<int>() > 1);
        Assert.Equal(rules, await File.ReadAllTextAsync(RulesFile("kubernetes.rules")));

        // Unsaved text whose action template does not compile: the server would refuse the file, so its tests do not pass.
        var broken = rules + "\nrule \"broken template\"\nwhen\n    e: k8s.event()\nthen\n    start workflow \"k8s-incident\" with template \"\"\"{{#if e.reason}}\"\"\"\nend\n";
        (status, body) = await SendAsync(HttpMethod.Post, "api/rules/tests/run", new { rulesPath = "rules/kubernetes.rules", rulesText = broken });
        Assert.True(status == HttpStatusCode.OK, body?.ToJsonString());
        Assert.Equal(0, body!["passed"]!.GetValue<int>());
        Assert.Contains("WF1021", body.ToJsonString(), StringComparison.Ordinal);

        var (bad, problem) = await SendAsync(HttpMethod.Post, "api/rules/tests/run", new { path = "rules/../workflows/k8s-incident.yaml" });
        Assert.Equal(HttpStatusCode.BadRequest, bad);
        Assert.Equal("RF6022", problem!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Stream_sends_instance_step_and_approval_events_when_an_approval_workflow_starts()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/stream");
        using var response = await _server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        await using var stream = await response.Content.ReadAsStreamAsync();
        using var reader = new StreamReader(stream);

        var ip = "10.77.0." + Random.Shared.Next(1, 250);
        var (status, started) = await SendAsync(HttpMethod.Post, "api/instances", new { workflow = "block-source-ip", input = new { ip }, correlationKey = ip });
        Assert.True(status == HttpStatusCode.Created, started?.ToJsonString());
        var id = started!["id"]!.GetValue<string>();

        var seen = new List<(string Event, JsonNode Data)>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        string? name = null;
        async Task ReadUntilAsync(Func<bool> done)
        {
            while (!done())
            {
                var line = await reader.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException("the stream ended");
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    name = line[7..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal) && name is not null)
                {
                    seen.Add((name, JsonNode.Parse(line[6..])!));
                }
            }
        }

        bool Seen(string evt, string idField, string state) =>
            seen.Any(e => e.Event == evt && e.Data[idField]!.GetValue<string>() == id && e.Data["state"]!.GetValue<string>() == state);

        await ReadUntilAsync(() => Seen("approval", "instanceId", "pending") && Seen("instance", "id", "waiting"));

        var instances = seen.Where(e => e.Event == "instance" && e.Data["id"]!.GetValue<string>() == id).Select(e => e.Data).ToList();
        Assert.Equal("running", instances[0]["state"]!.GetValue<string>());
        Assert.Equal("check-ip", instances[0]["currentStep"]!.GetValue<string>());
        Assert.Equal("block-source-ip", instances[0]["workflow"]!.GetValue<string>());
        Assert.Equal(ip, instances[0]["correlationKey"]!.GetValue<string>());
        Assert.Contains(instances, i => i["state"]!.GetValue<string>() == "waiting" && i["currentStep"]!.GetValue<string>() == "approve");
        Assert.Contains(seen, e => e.Event == "step" && e.Data["instanceId"]!.GetValue<string>() == id && e.Data["stepId"]!.GetValue<string>() == "check-ip"
            && e.Data["status"]!.GetValue<string>() == "completed" && e.Data["kind"]!.GetValue<string>() == "validate");
        var approval = seen.Single(e => e.Event == "approval" && e.Data["instanceId"]!.GetValue<string>() == id).Data;
        Assert.Equal("pending", approval["state"]!.GetValue<string>());
        Assert.Equal("approve", approval["stepId"]!.GetValue<string>());

        // Deciding it is seen too.
        var (decided, _) = await SendAsync(HttpMethod.Post, $"api/approvals/{approval["id"]!.GetValue<string>()}/reject", new { comment = "test" });
        Assert.Equal(HttpStatusCode.OK, decided);
        await ReadUntilAsync(() => Seen("approval", "instanceId", "rejected") && Seen("instance", "id", "compensated"));

        // Within one commit the details come before the instance's new state.
        var rejected = seen.FindIndex(e => e.Event == "approval" && e.Data["instanceId"]!.GetValue<string>() == id && e.Data["state"]!.GetValue<string>() == "rejected");
        var compensated = seen.FindIndex(e => e.Event == "instance" && e.Data["id"]!.GetValue<string>() == id && e.Data["state"]!.GetValue<string>() == "compensated");
        Assert.True(rejected < compensated, string.Join("\n", seen.Select(e => e.Event + " " + e.Data.ToJsonString())));
    }

    [Fact]
    public async Task Me_is_the_development_user_when_no_auth_is_configured()
    {
        var me = await _server.GetJsonAsync("api/me");
        Assert.Equal("developer", me["user"]!.GetValue<string>());
        Assert.Equal("development", me["authMode"]!.GetValue<string>());
        Assert.Equal(["admin", "approver", "author", "operator"], me["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
    }

    [Fact]
    public async Task Instances_are_filtered_by_creation_time()
    {
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        var (status, started) = await SendAsync(HttpMethod.Post, "api/instances", new { workflow = "studio-edit", input = new { } });
        Assert.True(status == HttpStatusCode.Created, started?.ToJsonString());
        var id = started!["id"]!.GetValue<string>();
        string Q(DateTimeOffset t) => Uri.EscapeDataString(t.ToString("O"));

        var recent = await _server.GetJsonAsync($"api/instances?workflow=studio-edit&from={Q(before)}");
        Assert.Contains(recent["items"]!.AsArray(), i => i!["id"]!.GetValue<string>() == id);
        var older = await _server.GetJsonAsync($"api/instances?workflow=studio-edit&to={Q(before)}");
        Assert.DoesNotContain(older["items"]!.AsArray(), i => i!["id"]!.GetValue<string>() == id);
        var window = await _server.GetJsonAsync($"api/instances?from={Q(before)}&to={Q(DateTimeOffset.UtcNow.AddMinutes(1))}");
        Assert.Contains(window["items"]!.AsArray(), i => i!["id"]!.GetValue<string>() == id);
        var (bad, problem) = await SendAsync(HttpMethod.Get, $"api/instances?from={Q(before)}&to={Q(before.AddDays(-1))}");
        Assert.Equal(HttpStatusCode.BadRequest, bad);
        Assert.Equal("RF6012", problem!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task OpenApi_document_lists_the_studio_endpoints()
    {
        var paths = (await _server.GetJsonAsync("openapi/v1.json"))["paths"]!.AsObject();
        foreach (var (path, method) in new[]
        {
            ("/api/me", "get"), ("/api/stream", "get"), ("/api/workflows/{id}/definition", "get"), ("/api/workflows/validate", "post"),
            ("/api/workflows/{id}", "put"), ("/api/workflows/schema", "get"), ("/api/rules/files", "get"), ("/api/rules/files/{path}", "get"),
            ("/api/rules/files/{path}", "put"), ("/api/rules/tests/run", "post"), ("/api/events/types", "get"), ("/api/rules/check", "post"),
        })
        {
            Assert.True(paths[path]?[method] is not null, $"{method.ToUpperInvariant()} {path} is not in the OpenAPI document");
        }

        var instanceParameters = paths["/api/instances"]!["get"]!["parameters"]!.AsArray().Select(p => p!["name"]!.GetValue<string>()).ToList();
        Assert.Contains("from", instanceParameters);
        Assert.Contains("to", instanceParameters);
    }
}

/// <summary>Roles on the Studio endpoints, with API keys configured.</summary>
public sealed class StudioAuthTests
{
    [Fact]
    public async Task Author_role_is_needed_to_save_and_me_names_the_key_user()
    {
        await using var server = new ServerProcess(ServerProcess.NewContentRoot(), new Dictionary<string, string>
        {
            ["RuleFlow__Auth__ApiKeys__0__Key"] = "studio-author-key-0123456789",
            ["RuleFlow__Auth__ApiKeys__0__User"] = "ada",
            ["RuleFlow__Auth__ApiKeys__0__Roles__0"] = "author",
            ["RuleFlow__Auth__ApiKeys__1__Key"] = "studio-operator-key-0123456789",
            ["RuleFlow__Auth__ApiKeys__1__User"] = "oscar",
            ["RuleFlow__Auth__ApiKeys__1__Roles__0"] = "operator",
        });
        await server.StartAndWaitReadyAsync();

        async Task<(HttpStatusCode Status, string Body)> Send(HttpMethod method, string path, string? key, object? body = null)
        {
            using var request = new HttpRequestMessage(method, path);
            if (key is not null)
            {
                request.Headers.Add("X-Api-Key", key);
            }

            if (body is not null)
            {
                request.Content = new StringContent(System.Text.Json.JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
            }

            using var response = await server.Http.SendAsync(request);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        var (status, text) = await Send(HttpMethod.Get, "api/me", "studio-operator-key-0123456789");
        Assert.Equal(HttpStatusCode.OK, status);
        var me = JsonNode.Parse(text)!;
        Assert.Equal("oscar", me["user"]!.GetValue<string>());
        Assert.Equal(["operator"], me["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
        Assert.Equal("configured", me["authMode"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Get, "api/me", null)).Status);

        var yaml = await File.ReadAllTextAsync(Path.Combine(server.ContentRoot, "workflows", "k8s-incident.yaml"));
        var edited = yaml.Replace("version: 1", "version: 2", StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Put, "api/workflows/k8s-incident", "studio-operator-key-0123456789", new { yaml = edited })).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Put, "api/workflows/k8s-incident", null, new { yaml = edited })).Status);
        Assert.Equal(yaml, await File.ReadAllTextAsync(Path.Combine(server.ContentRoot, "workflows", "k8s-incident.yaml")));
        (status, text) = await Send(HttpMethod.Put, "api/workflows/k8s-incident", "studio-author-key-0123456789", new { yaml = edited });
        Assert.True(status == HttpStatusCode.OK, text);
        Assert.Equal(2, JsonNode.Parse(text)!["version"]!.GetValue<int>());

        var rules = await File.ReadAllTextAsync(Path.Combine(server.ContentRoot, "rules", "network.rules"));
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(HttpMethod.Put, "api/rules/files/rules/network.rules", "studio-operator-key-0123456789", new { text = rules + "\n" })).Status);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, "api/rules/files/rules/network.rules", "studio-operator-key-0123456789")).Status);

        // The stream takes the key as a header; without one it is refused.
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(HttpMethod.Get, "api/stream", null)).Status);
        using var streamRequest = new HttpRequestMessage(HttpMethod.Get, "api/stream");
        streamRequest.Headers.Add("X-Api-Key", "studio-operator-key-0123456789");
        using var stream = await server.Http.SendAsync(streamRequest, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        Assert.Equal(new MediaTypeHeaderValue("text/event-stream").MediaType, stream.Content.Headers.ContentType?.MediaType);
    }
}

/// <summary>The live stream and the host's lifetime.</summary>
public sealed class StudioStreamShutdownTests
{
    [Fact]
    public async Task A_graceful_stop_ends_open_live_streams_instead_of_waiting_for_them()
    {
        await using var server = new ServerProcess(ServerProcess.NewContentRoot());
        await server.StartAndWaitReadyAsync();
        using var response = await server.Http.GetAsync("api/stream", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var body = await response.Content.ReadAsStreamAsync();
        using var reader = new StreamReader(body);
        Assert.Equal(": connected", await reader.ReadLineAsync());

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        await server.TerminateAsync();
        var exit = await server.WaitForExitAsync(TimeSpan.FromSeconds(60));

        // With the stream still open the host would wait its whole shutdown timeout (30 s) for the request; the stream
        // ends with the application instead, so the stop takes the time of the rest of the shutdown.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(20), $"stop took {stopwatch.Elapsed}\n{server.Log}");
        Assert.Equal(0, exit);
        var rest = await reader.ReadToEndAsync(); // the server closed the stream
        Assert.DoesNotContain("event:", rest, StringComparison.Ordinal);
    }
}
