using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RuleFlow.Server.Tests.Infrastructure;

namespace RuleFlow.Server.Tests;

/// <summary>Rule files reload when they change; a set with errors is refused and the old one keeps running.</summary>
public sealed class RuleReloadTests
{
    private const string Extra = """
        event test.pod key involvedObject.name time lastTimestamp

        rule "pod-backoff" priority 5
        when
            e: test.pod(reason == "BackOff")
        then
            start workflow "block-source-ip" key e.involvedObject.name with { ip: "10.0.0.1" }
        end
        """;

    [Fact]
    public async Task A_changed_file_is_reloaded_and_a_broken_one_is_refused_with_its_errors_while_the_old_set_runs()
    {
        await using var server = new ServerProcess(ServerProcess.NewContentRoot());
        await server.StartAndWaitReadyAsync();
        var file = Path.Combine(server.ContentRoot, "rules", "extra.rules");

        await File.WriteAllTextAsync(file, Extra);
        await server.WaitUntilAsync(async () => (await server.GetJsonAsync("api/rules"))["rules"]!.AsArray()
            .Any(r => r!["name"]!.GetValue<string>() == "pod-backoff"), "the new rule to be in force");

        // The new rule works on events right away.
        var (status, answer) = await server.PostJsonAsync("api/events/test.pod",
            new { reason = "BackOff", involvedObject = new { name = "web-1" }, lastTimestamp = "2024-05-01T10:00:00Z" });
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal("pod-backoff", answer!["firings"]![0]!["rule"]!.GetValue<string>());

        await File.WriteAllTextAsync(file, Extra.Replace("reason == \"BackOff\"", "reason === \"BackOff\"", StringComparison.Ordinal));
        await server.WaitUntilAsync(async () => (await server.GetJsonAsync("api/rules"))["refusedReload"] is not null, "the broken reload to be refused");
        var rules = await server.GetJsonAsync("api/rules");
        var diagnostic = rules["refusedReload"]!["diagnostics"]![0]!;
        Assert.EndsWith("extra.rules", diagnostic["file"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(5, diagnostic["line"]!.GetValue<int>());
        Assert.Contains(rules["rules"]!.AsArray(), r => r!["name"]!.GetValue<string>() == "pod-backoff");
        Assert.Contains("Rule reload refused", server.Log, StringComparison.Ordinal);
        var health = await server.GetJsonAsync("health"); // up, but degraded: the files on disk are not what runs
        Assert.Equal("degraded", health["status"]!.GetValue<string>());
        Assert.Contains(health["warnings"]!.AsArray(), w => w!.GetValue<string>().Contains("was refused (1 error(s)); the previous rule set stays in force", StringComparison.Ordinal));

        (status, answer) = await server.PostJsonAsync("api/rules/reload", null);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal("RF6422", answer!["code"]!.GetValue<string>());
        Assert.Equal("rules/extra.rules", answer["diagnostics"]![0]!["file"]!.GetValue<string>()); // never the server's path
        Assert.DoesNotContain(server.ContentRoot, answer.ToJsonString(), StringComparison.Ordinal);

        File.Delete(file);
        await server.WaitUntilAsync(async () => (await server.GetJsonAsync("api/rules"))["rules"]!.AsArray().All(r => r!["name"]!.GetValue<string>() != "pod-backoff"),
            "the rule to be gone with its file");
        Assert.Null((await server.GetJsonAsync("api/rules"))["refusedReload"]);
        Assert.Equal("ready", (await server.GetJsonAsync("health"))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_rule_file_whose_action_script_or_template_does_not_compile_is_left_out_at_start_and_refused_on_reload()
    {
        // At start the file with a script that does not parse is left out (its rule is not in force), reported at the action.
        var root = ServerProcess.NewContentRoot();
        const string Good = "event code.e key k\nrule \"code\" when x: code.e() then\n    script \"\"\"return 1;\"\"\"\nend\n";
        var file = Path.Combine(root, "rules", "code.rules");
        await File.WriteAllTextAsync(file, Good.Replace("return 1;", "var = 1;", StringComparison.Ordinal));
        await using var server = new ServerProcess(root);
        await server.StartAndWaitReadyAsync();
        var rules = await server.GetJsonAsync("api/rules");
        Assert.DoesNotContain(rules["rules"]!.AsArray(), r => r!["name"]!.GetValue<string>() == "code");
        var loaded = rules["files"]!.AsArray().Single(f => f!["path"]!.GetValue<string>().EndsWith("code.rules", StringComparison.Ordinal))!;
        Assert.False(loaded["loaded"]!.GetValue<bool>());
        var error = loaded["diagnostics"]![0]!;
        Assert.Equal(("WF1020", 3, 5), (error["code"]!.GetValue<string>(), error["line"]!.GetValue<int>(), error["column"]!.GetValue<int>()));

        // Fixed, it loads; then a template that does not compile makes the reload refused, and the rule keeps running.
        await File.WriteAllTextAsync(file, Good);
        await server.WaitUntilAsync(async () => (await server.GetJsonAsync("api/rules"))["rules"]!.AsArray()
            .Any(r => r!["name"]!.GetValue<string>() == "code"), "the fixed file to be in force");
        await File.WriteAllTextAsync(file, Good.Replace("    script", "    start workflow \"block-source-ip\" with template \"\"\"{{#if x.k}}{}\"\"\"\n    script", StringComparison.Ordinal));
        await server.WaitUntilAsync(async () => (await server.GetJsonAsync("api/rules"))["refusedReload"] is not null, "the reload to be refused");
        rules = await server.GetJsonAsync("api/rules");
        error = rules["refusedReload"]!["diagnostics"]![0]!;
        Assert.Equal(("WF1021", 3, 5), (error["code"]!.GetValue<string>(), error["line"]!.GetValue<int>(), error["column"]!.GetValue<int>()));
        Assert.Contains(rules["rules"]!.AsArray(), r => r!["name"]!.GetValue<string>() == "code");
        var (status, answer) = await server.PostJsonAsync("api/events/code.e", new { k = "a" });
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal("code", answer!["firings"]![0]!["rule"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_start_workflow_naming_no_loaded_workflow_is_a_warning_at_start_on_reload_and_in_the_api_until_the_workflow_exists()
    {
        // At start: one rule starts a workflow that does not exist with a map input, another with a template input (whose fields
        // are unknown until it fires, but whose workflow id is not). Both rules load; each action is a WF1040 warning at its line.
        var root = ServerProcess.NewContentRoot();
        const string Ghosts = """"
            event ghost.e key k

            rule "ghost-map"
            when
                e: ghost.e(k == "a")
            then
                start workflow "ghost-workflow" with { ip: e.k }
            end

            rule "ghost-template"
            when
                e: ghost.e(k == "b")
            then
                start workflow "ghost-template-workflow" with template """{ "ip": "{{e.k}}" }"""
            end
            """";
        await File.WriteAllTextAsync(Path.Combine(root, "rules", "ghost.rules"), Ghosts);
        await using var server = new ServerProcess(root);
        await server.StartAndWaitReadyAsync();

        static List<(string Code, string Severity, int Line, string Message)> Warnings(JsonNode? diagnostics) =>
            [.. diagnostics!.AsArray().Select(d => (d!["code"]!.GetValue<string>(), d["severity"]!.GetValue<string>(), d["line"]!.GetValue<int>(),
                d["message"]!.GetValue<string>())).Where(d => d.Item1 == "WF1040")];

        var rules = await server.GetJsonAsync("api/rules");
        Assert.Contains(rules["rules"]!.AsArray(), r => r!["name"]!.GetValue<string>() == "ghost-map");
        Assert.Contains(rules["rules"]!.AsArray(), r => r!["name"]!.GetValue<string>() == "ghost-template");
        var file = rules["files"]!.AsArray().Single(f => f!["path"]!.GetValue<string>() == "rules/ghost.rules")!;
        Assert.True(file["loaded"]!.GetValue<bool>());
        var warnings = Warnings(file["diagnostics"]);
        Assert.Equal(2, warnings.Count);
        Assert.Equal(("warning", 7), (warnings[0].Severity, warnings[0].Line));
        Assert.Contains("start workflow 'ghost-workflow': no such workflow is loaded", warnings[0].Message, StringComparison.Ordinal);
        Assert.Equal(("warning", 14), (warnings[1].Severity, warnings[1].Line));
        Assert.Contains("start workflow 'ghost-template-workflow': no such workflow is loaded", warnings[1].Message, StringComparison.Ordinal);
        Assert.Contains("ghost.rules:7:5: warning WF1040: rule 'ghost-map'", server.Log, StringComparison.Ordinal);
        Assert.DoesNotContain(root, file.ToJsonString(), StringComparison.Ordinal); // files named rules/…, never the server's path

        // A workflow saved in the Studio under the missing id clears its warning; the other stays.
        const string Workflow = """
            id: ghost-workflow
            steps:
              - id: note
                kind: set
                values:
                  seen: true
            """;
        using (var request = new HttpRequestMessage(HttpMethod.Put, "api/workflows/ghost-workflow"))
        {
            request.Content = JsonContent.Create(new { yaml = Workflow });
            using var response = await server.Http.SendAsync(request);
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }

        file = (await server.GetJsonAsync("api/rules"))["files"]!.AsArray().Single(f => f!["path"]!.GetValue<string>() == "rules/ghost.rules")!;
        Assert.Equal([14], Warnings(file["diagnostics"]).Select(w => w.Line));

        // A reload through the API answers with the warnings of the set it put in force.
        await File.WriteAllTextAsync(Path.Combine(root, "rules", "ghost.rules"), Ghosts.Replace("\"ghost-workflow\"", "\"ghost-workflow-2\"", StringComparison.Ordinal));
        var (status, answer) = await server.PostJsonAsync("api/rules/reload", null);
        Assert.Equal(HttpStatusCode.OK, status);
        warnings = Warnings(answer!["diagnostics"]);
        Assert.Equal([7, 14], warnings.Select(w => w.Line));
        Assert.Contains("'ghost-workflow-2'", warnings[0].Message, StringComparison.Ordinal);
        Assert.Equal("rules/ghost.rules", answer["diagnostics"]!.AsArray().First(d => d!["code"]!.GetValue<string>() == "WF1040")!["file"]!.GetValue<string>());
    }
}
