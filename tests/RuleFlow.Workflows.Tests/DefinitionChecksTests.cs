using RuleFlow.Workflows.Definitions;

namespace RuleFlow.Workflows.Tests;

public sealed class DefinitionChecksTests
{
    [Fact]
    public void Backward_goto_dangling_references_and_expression_errors_have_file_line_and_path()
    {
        var result = WorkflowDefinitionLoader.LoadText("""
            id: checks
            steps:
              - id: a
                kind: script
                script: "return 1;"
              - id: b
                kind: fail
                message: x
                on_error: { goto: a }
              - id: c
                kind: validate
                value: steps.nope.output
                schema: { type: object }
              - id: d
                kind: if
                condition: "input.x => 1"
                then:
                  - id: e
                    kind: set
                    values: { y: 1 }
            """, "checks.yaml", DefinitionFormat.Yaml);
        Assert.Contains(result.Diagnostics, d => d.Code == DiagnosticCodes.Cycle && d.JsonPath == "$.steps[1].on_error.goto" && d.Line == 9);
        Assert.Contains(result.Diagnostics, d => d.Code == DiagnosticCodes.DanglingReference && d.JsonPath == "$.steps[2].value" && d.Line == 12);
        var expression = Assert.Single(result.Diagnostics, d => d.Code == DiagnosticCodes.ScriptSyntax);
        Assert.Equal(("$.steps[3].condition", 16), (expression.JsonPath, expression.Line));
        Assert.Null(result.Definition);
    }

    [Fact]
    public void Calls_must_name_a_loaded_workflow_and_must_not_form_a_cycle()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(Path.Combine(dir.Path, "a.yaml"), "id: a\nsteps:\n  - id: s\n    kind: call\n    workflow: b\n");
        File.WriteAllText(Path.Combine(dir.Path, "b.yaml"), "id: b\nsteps:\n  - id: s\n    kind: call\n    workflow: a\n");
        File.WriteAllText(Path.Combine(dir.Path, "c.yaml"), "id: c\nsteps:\n  - id: s\n    kind: call\n    workflow: nowhere\n");
        var result = WorkflowDefinitionLoader.LoadDirectory(dir.Path);
        Assert.Empty(result.Definitions);
        Assert.Equal(2, result.Diagnostics.Count(d => d.Code == DiagnosticCodes.Cycle));
        Assert.Contains(result.Diagnostics, d => d.Code == DiagnosticCodes.DanglingReference && d.File.EndsWith("c.yaml", StringComparison.Ordinal) && d.Line == 3);
    }

    [Fact]
    public void A_rules_start_input_is_checked_against_the_input_schema()
    {
        var workflow = TestHost.LoadShipped("block-source-ip.yaml");
        var diagnostics = StartWorkflowChecker.Check(
        [
            new StartWorkflowTarget("block-source-ip", "ssh.rules", 7, 5, "ok", new Dictionary<string, string?> { ["ip"] = "string", ["attempts"] = "integer" }),
            new StartWorkflowTarget("block-source-ip", "ssh.rules", 9, 5, "no-ip", new Dictionary<string, string?> { ["host"] = "string" }),
            new StartWorkflowTarget("block-source-ip", "ssh.rules", 11, 5, "bad-type", new Dictionary<string, string?> { ["ip"] = "integer" }),
            new StartWorkflowTarget("ghost", "ssh.rules", 13, 5, "ghost", new Dictionary<string, string?>()),

            // A template input: its fields are known only when the rule fires, so only the workflow's existence is checked.
            new StartWorkflowTarget("block-source-ip", "ssh.rules", 15, 5, "template", new Dictionary<string, string?>(), FieldsKnown: false),
            new StartWorkflowTarget("ghost", "ssh.rules", 17, 5, "ghost-template", new Dictionary<string, string?>(), FieldsKnown: false),
        ], [workflow]);
        Assert.Equal(["no-ip:9:$.ip", "bad-type:11:$.ip", "ghost:13:$", "ghost-template:17:$"],
            diagnostics.Select(d => d.Message.Split('\'')[1] + ":" + d.Line + ":" + d.JsonPath));
        Assert.All(diagnostics, d => Assert.Equal(DiagnosticCodes.StartInputMismatch, d.Code));
    }

    [Fact]
    public void A_script_file_is_read_and_its_errors_point_into_that_file()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(Path.Combine(dir.Path, "scripts"));
        File.WriteAllText(Path.Combine(dir.Path, "scripts", "bad.js"), "var a = 1;\nvar f = (x) => x;\n");
        File.WriteAllText(Path.Combine(dir.Path, "f.yaml"), "id: f\nsteps:\n  - id: s\n    kind: script\n    file: scripts/bad.js\n");
        var result = WorkflowDefinitionLoader.LoadFile(Path.Combine(dir.Path, "f.yaml"));
        var error = Assert.Single(result.Diagnostics);
        Assert.Equal((DiagnosticCodes.ScriptSyntax, 2), (error.Code, error.Line));
        Assert.EndsWith("bad.js", error.File, StringComparison.Ordinal);
    }
}
