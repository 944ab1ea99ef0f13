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
}
