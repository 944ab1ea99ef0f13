using RuleFlow.Workflows.Definitions;

namespace RuleFlow.Workflows.Tests;

public sealed class DefinitionLoaderTests
{
    [Fact]
    public void Shipped_block_source_ip_loads_without_diagnostics()
    {
        var result = WorkflowDefinitionLoader.LoadDirectory(Path.Combine(TestHost.RepositoryRoot(), "workflows"));
        var file = Assert.Single(result.Files, f => f.Path.EndsWith("block-source-ip.yaml", StringComparison.Ordinal));
        Assert.Empty(file.Diagnostics);
        var definition = file.Definition!;
        Assert.Equal("block-source-ip", definition.Id);
        Assert.Equal(1, definition.DeclaredVersion);
        Assert.Equal(64, definition.ContentHash.Length);
        Assert.Equal(["check-ip", "approve", "block", "announce"], definition.Steps.Select(s => s.Id));
        var approval = Assert.IsType<ApprovalStep>(definition.Steps[1]);
        Assert.Equal(["role:approver"], approval.Assignees);
        Assert.Equal(TimeSpan.FromHours(24), approval.Timeout);
        Assert.Equal(ApprovalTimeoutAction.Reject, approval.OnTimeout);
        Assert.IsType<ScriptStep>(Assert.Single(definition.Steps[2].Compensate));
        var publish = Assert.IsType<PublishStep>(definition.Steps[3]);
        Assert.Equal(("security.actions", "ip.blocked"), (publish.Exchange, publish.RoutingKey));
        Assert.Equal("ip.unblocked", Assert.IsType<PublishStep>(Assert.Single(publish.Compensate)).RoutingKey);
    }

    private const string Broken = """
        id: broken
        steps:
          - id: first
            kind: validate
            schema:
              type: strnig
          - id: second
            kind: teleport
          - id: first
            kind: script
            script: |
              var a = 1;
              var f = x => x;
          - id: ask
            kind: approval
            assignees: [approvers]
            message: "Block {{#each input.evidence}} x"
            timeout: soon
          - id: send
            kind: publish
            exchange: security.actions
            bodi: {}
        """;

    [Fact]
    public void Diagnostics_carry_code_file_line_column_and_json_path()
    {
        var result = WorkflowDefinitionLoader.LoadText(Broken, "workflows/broken.yaml", DefinitionFormat.Yaml);
        Assert.Null(result.Definition);
        var d = result.Diagnostics;

        void Has(string code, int line, int column, string path)
        {
            Assert.True(d.Any(x => x.Code == code && x.Line == line && x.Column == column && x.JsonPath == path && x.File == "workflows/broken.yaml"),
                $"expected {code} at {line}:{column} {path}; got:\n" + string.Join("\n", d));
        }

        Has(DiagnosticCodes.InvalidSchema, 6, 13, "$.steps[0].schema.type");
        Has(DiagnosticCodes.UnknownKind, 8, 11, "$.steps[1].kind");
        Has(DiagnosticCodes.DuplicateStepId, 9, 9, "$.steps[2].id");
        // The script's line 2, column 12 (the '>' of the arrow) is file line 12 + 1, column 6 (block indentation) + 12.
        Has(DiagnosticCodes.ScriptSyntax, 13, 18, "$.steps[2].script");
        Has(DiagnosticCodes.InvalidAssignee, 16, 17, "$.steps[3].assignees[0]");
        Has(DiagnosticCodes.TemplateSyntax, 17, 14, "$.steps[3].message");
        Has(DiagnosticCodes.InvalidDuration, 18, 14, "$.steps[3].timeout");
        Has(DiagnosticCodes.MissingField, 19, 5, "$.steps[4].routing_key");
        Has(DiagnosticCodes.UnknownField, 22, 5, "$.steps[4].bodi");
        var script = d.Single(x => x.Code == DiagnosticCodes.ScriptSyntax);
        Assert.Contains("script line 2, column 12", script.Message, StringComparison.Ordinal);
        Assert.Contains("arrow function", script.Message, StringComparison.Ordinal);
        Assert.StartsWith("workflows/broken.yaml:13:18: error WF1020:", script.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Yaml_syntax_error_and_missing_steps_are_reported()
    {
        var yaml = WorkflowDefinitionLoader.LoadText("id: x\nsteps: [\n  - a: b", "bad.yaml", DefinitionFormat.Yaml);
        var error = Assert.Single(yaml.Diagnostics);
        Assert.Equal(DiagnosticCodes.Syntax, error.Code);
        Assert.True(error.Line >= 2);

        var empty = WorkflowDefinitionLoader.LoadText("id: x\n", "empty.yaml", DefinitionFormat.Yaml);
        Assert.Contains(empty.Diagnostics, x => x.Code == DiagnosticCodes.MissingField && x.JsonPath == "$.steps");
    }

    [Fact]
    public void Incomplete_kinds_and_bad_compensations_are_reported()
    {
        var result = WorkflowDefinitionLoader.LoadText("""
            id: later
            steps:
              - id: wait
                kind: delay
              - id: s
                kind: script
                script: "return 1;"
                compensate:
                  kind: approval
                  assignees: [role:a]
                  message: m
            """, "later.yaml", DefinitionFormat.Yaml);
        Assert.Contains(result.Diagnostics, x => x.Code == DiagnosticCodes.MissingField && x.JsonPath == "$.steps[0].duration" && x.Line == 3);
        Assert.Contains(result.Diagnostics, x => x.Code == DiagnosticCodes.InvalidCompensation && x.JsonPath == "$.steps[1].compensate.kind");
    }

    [Fact]
    public void A_literal_exchange_or_routing_key_longer_than_AMQP_allows_is_reported_where_it_is_written()
    {
        // 'é' is two bytes in UTF-8: 128 of them are 256 bytes in 128 characters, one more than AMQP's short strings hold.
        var tooLong = new string('é', 128);
        var fits = new string('é', 127) + "a";
        var result = WorkflowDefinitionLoader.LoadText($$$"""
            id: names
            steps:
              - id: long-key
                kind: publish
                exchange: audit
                routing_key: {{{tooLong}}}
              - id: long-exchange
                kind: publish
                exchange: {{{tooLong}}}
                routing_key: fits
                compensate:
                  - publish: { exchange: audit, routing_key: {{{tooLong}}} }
              - id: fits
                kind: publish
                exchange: {{{fits}}}
                routing_key: {{{fits}}}
              - id: templated
                kind: publish
                exchange: audit
                routing_key: "{{input.key}}"
                headers: { {{{tooLong}}}: v, {{{fits}}}: v }
            """, "names.yaml", DefinitionFormat.Yaml);
        var errors = result.Diagnostics.Where(x => x.Severity == WorkflowDiagnosticSeverity.Error).ToList();
        Assert.Equal(4, errors.Count);
        Assert.Contains(errors, x => x.JsonPath == "$.steps[3].headers" && x.Line == 21 && x.Message.StartsWith("the header name is 256 bytes", StringComparison.Ordinal));
        Assert.All(errors, x => Assert.Equal(DiagnosticCodes.InvalidValue, x.Code));
        Assert.Contains(errors, x => x.JsonPath == "$.steps[0].routing_key" && x.Line == 6 && x.Column == 18
            && x.Message.StartsWith("the routing key is 256 bytes long in UTF-8; AMQP allows at most 255", StringComparison.Ordinal));
        Assert.Contains(errors, x => x.JsonPath == "$.steps[1].exchange" && x.Line == 9 && x.Message.StartsWith("the exchange is 256 bytes", StringComparison.Ordinal));
        Assert.Contains(errors, x => x.JsonPath.StartsWith("$.steps[1].compensate", StringComparison.Ordinal) && x.JsonPath.EndsWith(".routing_key", StringComparison.Ordinal)
            && x.Line == 12);
    }

    [Fact]
    public void The_start_quoted_in_a_too_long_name_error_never_splits_a_surrogate_pair()
    {
        // The error quotes the name's first 40 characters; a pair cut in half is not text a PostgreSQL column would take.
        var name = new string('a', 39) + "😀" + new string('b', 300);
        var error = RuleFlow.Workflows.Runtime.AmqpLimits.CheckNames("audit", name)!;
        Assert.StartsWith("the routing key is 343 bytes long in UTF-8; AMQP allows at most 255", error, StringComparison.Ordinal);
        Assert.EndsWith($"(it starts \"{new string('a', 39)}…\")", error, StringComparison.Ordinal);
        Assert.DoesNotContain(error, char.IsSurrogate);
        Assert.EndsWith("(it starts \"" + new string('a', 38) + "😀…\")", RuleFlow.Workflows.Runtime.AmqpLimits.CheckNames(name[1..], "k")!, StringComparison.Ordinal);
        Assert.Null(RuleFlow.Workflows.Runtime.AmqpLimits.CheckNames(new string('é', 127) + "a", new string('é', 127) + "a"));
    }

    [Fact]
    public void Invalid_schema_pattern_and_remote_ref_are_reported()
    {
        var result = WorkflowDefinitionLoader.LoadText("""
            id: schemas
            input:
              schema:
                type: object
                properties:
                  ip: { type: string, pattern: "([0-9" }
                  other: { $ref: "http://example.com/schema.json" }
            steps:
              - id: s
                kind: script
                script: "return 1;"
            """, "schemas.yaml", DefinitionFormat.Yaml);
        Assert.Contains(result.Diagnostics, x => x.Code == DiagnosticCodes.InvalidSchema && x.JsonPath == "$.input.schema.properties.ip.pattern" && x.Line == 6);
        Assert.Contains(result.Diagnostics, x => x.Code == DiagnosticCodes.InvalidSchema && x.JsonPath == "$.input.schema.properties.other.$ref");
    }

    [Fact]
    public void One_bad_file_does_not_stop_the_others()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(Path.Combine(dir.Path, "a-good.yaml"), "id: good\nsteps:\n  - id: s\n    kind: script\n    script: return 1;\n");
        File.WriteAllText(Path.Combine(dir.Path, "b-bad.yaml"), Broken);
        File.WriteAllText(Path.Combine(dir.Path, "c-dup.yaml"), "id: good\nsteps:\n  - id: s\n    kind: script\n    script: return 2;\n");
        File.WriteAllText(Path.Combine(dir.Path, "notes.txt"), "ignored");
        var result = WorkflowDefinitionLoader.LoadDirectory(dir.Path);
        Assert.Equal(["good"], result.Definitions.Select(d => d.Id));
        Assert.Equal(3, result.Files.Count);
        Assert.True(result.HasErrors);
        Assert.False(result.Files[1].Succeeded);
        Assert.Contains(result.Files[2].Diagnostics, x => x.Code == DiagnosticCodes.DuplicateWorkflowId);
    }

    [Fact]
    public void The_same_model_loads_from_json()
    {
        var yaml = TestHost.LoadShipped("block-source-ip.yaml");
        var json = """
            {
              "id": "block-source-ip-json",
              "input": { "schema": { "type": "object", "required": ["ip"] } },
              "steps": [
                { "id": "approve", "kind": "approval", "assignees": ["role:approver", "user:alice"], "message": "Block {{input.ip}}?", "timeout": "1h30m", "on_timeout": "approve" },
                { "id": "block", "kind": "script", "script": "return blocklist.add(input.ip);", "compensate": { "script": "blocklist.remove(input.ip);" } },
                { "id": "announce", "kind": "publish", "exchange": "security.actions", "routing_key": "ip.blocked", "body": { "ip": "{{input.ip}}", "n": 1 } }
              ]
            }
            """;
        var result = WorkflowDefinitionLoader.LoadText(json, "api", DefinitionFormat.Json);
        Assert.Empty(result.Diagnostics);
        var definition = result.Definition!;
        var approval = Assert.IsType<ApprovalStep>(definition.Steps[0]);
        Assert.Equal(TimeSpan.FromMinutes(90), approval.Timeout);
        Assert.Equal(ApprovalTimeoutAction.Approve, approval.OnTimeout);
        Assert.Equal("""{"ip":"{{input.ip}}","n":1}""", Assert.IsType<PublishStep>(definition.Steps[2]).Body!.ToJsonString());
        Assert.Equal(yaml.Steps[2].Kind, definition.Steps[1].Kind);

        var bad = WorkflowDefinitionLoader.LoadText("""{ "id": "x", "steps": [ { "id": "s", "kind": "nope" } ] }""", "api", DefinitionFormat.Json);
        Assert.Contains(bad.Diagnostics, x => x.Code == DiagnosticCodes.UnknownKind && x.JsonPath == "$.steps[0].kind");
    }
}
