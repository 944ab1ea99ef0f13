namespace RuleFlow.Cli.Tests;

public sealed class CheckCommandTests
{
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RuleFlow.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("RuleFlow.sln not found");
    }

    /// <summary>A directory of its own for one test, deleted with everything in it when the test is over.</summary>
    private sealed class TempDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("ruleflow-check-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }

    private static (int Exit, string Output, string Errors) Run(params string[] paths)
    {
        using var output = new StringWriter();
        using var errors = new StringWriter();
        var exit = CheckCommand.Run(paths, output, errors);
        return (exit, output.ToString(), errors.ToString());
    }

    [Fact]
    public void The_shipped_rules_and_workflows_check_clean()
    {
        var root = RepositoryRoot();
        var (exit, output, _) = Run(Path.Combine(root, "rules"), Path.Combine(root, "workflows"));
        Assert.True(exit == 0, output);
        var files = Directory.GetFiles(Path.Combine(root, "rules"), "*.rules").Length + Directory.GetFiles(Path.Combine(root, "rules"), "*.ruletest").Length
            + Directory.GetFiles(Path.Combine(root, "workflows"), "*.yaml").Length;
        Assert.True(files >= 9, $"only {files} shipped rule, rule test and workflow files");
        Assert.Contains($"{files} file(s) checked: 0 error(s), 0 warning(s)", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Templates_and_scripts_of_rule_actions_are_compiled_as_the_server_would()
    {
        // A broken Handlebars template (WF1021) or script (WF1020) is an error at its action, with the position inside the text; the
        // sound ones next to them pass.
        using var temp = new TempDirectory();
        var dir = temp.Path;
        File.WriteAllText(Path.Combine(dir, "a.rules"), """"
            event e key id

            rule "broken"
            when
                c: e()
            then
                start workflow "w" with template """{{#if c.id}} { "id": "{{c.id}}" }"""
                script """var x = ;""" with { id: c.id }
            end

            rule "sound"
            when
                c: e()
            then
                start workflow "w" with template """{ "id": "{{c.id}}" }"""
                script """return { id: id };""" with { id: c.id }
            end

            rule "broken twice"
            when
                c: e(nosuch(id) == 1)
            then
                start workflow "w" with template """{{#each c}}"""
            end
            """");
        var (exit, output, _) = Run(dir);
        Assert.Equal(1, exit);
        Assert.Contains("a.rules:7:5: error WF1021: rule 'broken': template: template does not compile: Reached end of template before block expression 'if' was closed", output, StringComparison.Ordinal);
        Assert.Contains("a.rules:8:5: error WF1020: rule 'broken': script line 1, column 9: syntax error: Unexpected token ;", output, StringComparison.Ordinal);

        // In a rule with other errors too: every error in one pass (the template's was not reported until the others were mended).
        Assert.Contains("a.rules:23:5: error WF1021: rule 'broken twice': template: template does not compile", output, StringComparison.Ordinal);
        Assert.Matches(@"a\.rules:21:\d+: error RF", output);
    }

    [Fact]
    public void A_script_nested_too_deeply_for_the_stack_is_an_error_not_a_crash()
    {
        // 8,000 nested operators (or 1,000 parentheses) overflowed the stack of `ruleflow check` (and of a server loading the file).
        using var temp = new TempDirectory();
        File.WriteAllText(Path.Combine(temp.Path, "deep.rules"),
            "event e key id\nrule \"deep\" when c: e() then\n    script \"\"\"return " + new string('!', 8_000) + "1;\"\"\"\nend\n");
        var (exit, output, _) = Run(temp.Path);
        Assert.Equal(1, exit);
        Assert.Matches("deep.rules:3:5: error WF1020: rule 'deep': script line 1, column [0-9]+: expressions or statements nest more than 256 levels deep here", output);
    }

    [Fact]
    public void A_test_file_with_no_rules_to_test_is_an_error_of_check_as_of_test()
    {
        // What 'ruleflow test' would stop at: a named rule file that does not exist (RF1000 at its name), no rule file at all (RF4001).
        using var temp = new TempDirectory();
        var dir = temp.Path;
        Directory.CreateDirectory(Path.Combine(dir, "named"));
        File.WriteAllText(Path.Combine(dir, "named", "miss.ruletest"), "rules \"here.rules\"\nrules \"missing.rules\"\n\ntest \"t\"\nend\n");
        File.WriteAllText(Path.Combine(dir, "named", "here.rules"), "event e\n");
        Directory.CreateDirectory(Path.Combine(dir, "none"));
        File.WriteAllText(Path.Combine(dir, "none", "a.ruletest"), "test \"t\"\nend\n");
        var (exit, output, _) = Run(dir);
        Assert.Equal(1, exit);
        Assert.Contains("miss.ruletest:2:7: error RF1000: the rule file 'missing.rules' named here does not exist", output, StringComparison.Ordinal);
        Assert.DoesNotContain("here.rules' named here", output, StringComparison.Ordinal);
        Assert.Contains("a.ruletest:1:1: error RF4001: no rule file to test", output, StringComparison.Ordinal);
        Assert.Contains("3 file(s) checked: 2 error(s)", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_error_of_every_file_is_printed_with_its_position_and_a_caret_and_the_exit_code_is_1()
    {
        using var temp = new TempDirectory();
        var dir = temp.Path;
        File.WriteAllText(Path.Combine(dir, "a.rules"), """
            event web.request key client time timestamp

            rule "a" priority 1
            when
                r: web.request(status >== 500)
            then
                start workflow "w" with { ip: r.client }
            end
            """);
        File.WriteAllText(Path.Combine(dir, "b.rules"), """
            rule "b"
            when
                x: nosuch.type(a == 1)
            then
                start workflow "w" with { }
            end
            """);
        File.WriteAllText(Path.Combine(dir, "w.yaml"), """
            id: broken
            steps:
              - id: s1
                kind: teleport
            """);

        var (exit, output, _) = Run(dir);

        Assert.Equal(1, exit);
        var lines = output.Split('\n');
        var a = Assert.Single(lines, l => l.Contains("a.rules:5:", StringComparison.Ordinal) && l.Contains(": error RF", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("b.rules:3:", StringComparison.Ordinal) && l.Contains("nosuch.type", StringComparison.Ordinal));
        var w = Array.FindIndex(lines, l => l.Contains("w.yaml:4:11: error WF1010", StringComparison.Ordinal) && l.Contains("teleport", StringComparison.Ordinal));
        Assert.True(w >= 0, output);
        Assert.Equal("        kind: teleport", lines[w + 1].TrimEnd());
        Assert.Equal("              ^", lines[w + 2].TrimEnd());
        // The source line and a caret under the column follow the diagnostic.
        var index = Array.IndexOf(lines, a);
        Assert.Contains("r: web.request(status >== 500)", lines[index + 1], StringComparison.Ordinal);
        Assert.Contains("^", lines[index + 2], StringComparison.Ordinal);
        Assert.Matches(@"3 file\(s\) checked: [3-9] error\(s\)", output);
    }

    [Fact]
    public void A_rule_whose_start_input_does_not_fit_the_workflow_input_schema_is_an_error_at_the_rule_line()
    {
        using var temp = new TempDirectory();
        var dir = temp.Path;
        File.WriteAllText(Path.Combine(dir, "a.rules"), """
            event web.request key client time timestamp

            rule "many-errors"
            when
                r: web.request(status >= 500)
            then
                start workflow "w" with { host: r.client, extra: 1 }
            end

            rule "templated"
            when
                r: web.request(status == 404)
            then
                start workflow "w-typo" with template "{ \"ip\": \"{{r.client}}\" }"
            end
            """);
        File.WriteAllText(Path.Combine(dir, "w.yaml"), """
            id: w
            input:
              schema:
                type: object
                required: [ip]
                additionalProperties: false
                properties:
                  ip: { type: string }
                  host: { type: string }
            steps:
              - id: s1
                kind: set
                values: { a: 1 }
            """);

        var (exit, output, _) = Run(dir);

        Assert.True(exit == 1, output);
        var lines = output.Split('\n');
        Assert.Contains(lines, l => l.Contains("a.rules:7:", StringComparison.Ordinal) && l.Contains("error WF1040", StringComparison.Ordinal)
            && l.Contains("'ip'", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("a.rules:7:", StringComparison.Ordinal) && l.Contains("error WF1040", StringComparison.Ordinal)
            && l.Contains("'extra'", StringComparison.Ordinal));
        // a template input's fields are known only when it fires, but the workflow it names is checked
        Assert.Contains(lines, l => l.Contains("a.rules:14:", StringComparison.Ordinal) && l.Contains("error WF1040", StringComparison.Ordinal)
            && l.Contains("'w-typo': no such workflow is loaded", StringComparison.Ordinal));
        Assert.Contains("2 file(s) checked: 3 error(s)", output, StringComparison.Ordinal);

        // the same rule checked without the workflows: nothing to check it against, no error
        var (alone, aloneOutput, _) = Run(Path.Combine(dir, "a.rules"));
        Assert.True(alone == 0, aloneOutput);
    }

    [Fact]
    public void A_missing_path_is_exit_code_2()
    {
        var (exit, _, errors) = Run("/no/such/place");
        Assert.Equal(2, exit);
        Assert.Contains("'/no/such/place' does not exist", errors, StringComparison.Ordinal);

        // With --format json, stdout still carries a document an editor can parse, with the reason.
        using var output = new StringWriter();
        Assert.Equal(2, CheckCommand.Run(["/no/such/place"], output, TextWriter.Null, json: true));
        var document = System.Text.Json.Nodes.JsonNode.Parse(output.ToString())!;
        Assert.Equal(1, document["errors"]!.GetValue<int>());
        Assert.Equal("'/no/such/place' does not exist", document["usageErrors"]![0]!.GetValue<string>());
    }
}
