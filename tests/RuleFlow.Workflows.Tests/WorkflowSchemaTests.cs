using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RuleFlow.Workflows.Definitions;

namespace RuleFlow.Workflows.Tests;

/// <summary>
/// docs/workflow.schema.json (the JSON Schema editors use for autocompletion) against the loader: the same step kinds and
/// fields, every shipped workflow and every workflow YAML written in the tests (and the benchmark) valid against it, and a
/// definition the loader refuses for an unknown field, kind, id, assignee or duration refused by the schema too.
/// </summary>
public sealed partial class WorkflowSchemaTests
{
    private static readonly string Root = TestHost.RepositoryRoot();

    private static JsonObject SchemaJson() => JsonNode.Parse(File.ReadAllText(Path.Combine(Root, "docs", "workflow.schema.json")))!.AsObject();

    private static async Task<NJsonSchema.JsonSchema> SchemaAsync() =>
        await NJsonSchema.JsonSchema.FromJsonAsync(await File.ReadAllTextAsync(Path.Combine(Root, "docs", "workflow.schema.json")));

    private static List<string> Keys(JsonNode? node) => node!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal).ToList();

    [Fact]
    public void The_schema_and_the_loader_agree_on_step_kinds_and_their_fields()
    {
        var schema = SchemaJson();
        var definitions = schema["definitions"]!;
        Assert.Equal("http://json-schema.org/draft-07/schema#", schema["$schema"]!.GetValue<string>());
        Assert.Equal(DefinitionFields.TopLevel.Order(StringComparer.Ordinal), Keys(schema["properties"]));
        Assert.Equal(["id", "steps"], schema["required"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(StepKinds.Supported, definitions["step"]!["properties"]!["kind"]!["enum"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(StepKinds.Supported.Select(k => "#/definitions/step_" + k), definitions["step"]!["oneOf"]!.AsArray().Select(n => n!["$ref"]!.GetValue<string>()));
        Assert.Equal(DefinitionFields.Retry.Order(StringComparer.Ordinal), Keys(definitions["retry"]!["properties"]));
        foreach (var kind in StepKinds.Supported)
        {
            var step = definitions["step_" + kind]!;
            Assert.True(Keys(step["properties"]).SequenceEqual(DefinitionFields.CommonStep.Concat(DefinitionFields.ByKind[kind]).Order(StringComparer.Ordinal)),
                $"step_{kind}: schema has {string.Join(", ", Keys(step["properties"]))}; loader has {string.Join(", ", DefinitionFields.CommonStep.Concat(DefinitionFields.ByKind[kind]).Order(StringComparer.Ordinal))}");
            Assert.Equal([kind], step["properties"]!["kind"]!["enum"]!.AsArray().Select(n => n!.GetValue<string>()));
            Assert.False(step["additionalProperties"]!.GetValue<bool>());
        }

        var compensations = definitions.AsObject().Select(p => p.Key).Where(k => k.StartsWith("compensation_", StringComparison.Ordinal)).Select(k => k["compensation_".Length..]);
        Assert.Equal(StepKinds.Compensating.Order(StringComparer.Ordinal), compensations.Order(StringComparer.Ordinal));
        foreach (var kind in StepKinds.Compensating)
        {
            Assert.Equal(DefinitionFields.CommonStep.Where(f => f != "compensate").Concat(DefinitionFields.ByKind[kind]).Order(StringComparer.Ordinal),
                Keys(definitions["compensation_" + kind]!["properties"]));
        }
    }

    /// <summary>A workflow document: where it was found and its text.</summary>
    public sealed record Document(string Where, string Text, DefinitionFormat Format);

    /// <summary>
    /// The shipped workflows, and every raw string literal in the tests and tools that is a workflow definition (YAML starting
    /// with <c>id:</c>, or a JSON object with <c>"steps"</c>).
    /// </summary>
    private static List<Document> Documents()
    {
        var documents = new List<Document>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(Root, "workflows"), "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal) || f.EndsWith(".json", StringComparison.Ordinal)))
        {
            documents.Add(new Document(Path.GetRelativePath(Root, file), File.ReadAllText(file), file.EndsWith(".json", StringComparison.Ordinal) ? DefinitionFormat.Json : DefinitionFormat.Yaml));
        }

        foreach (var file in Directory.EnumerateFiles(Path.Combine(Root, "tests"), "*.cs", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(Path.Combine(Root, "tools"), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal)))
        {
            var source = File.ReadAllText(file);
            foreach (Match match in RawLiteral().Matches(source))
            {
                var indent = match.Groups["indent"].Value.Length;
                var lines = match.Groups["body"].Value.Split('\n').Select(l => l.TrimEnd('\r')).Select(l => l.Length >= indent ? l[indent..] : l.TrimStart());
                var text = string.Join("\n", lines);
                var line = source[..match.Index].Count(c => c == '\n') + 1;
                if (text.StartsWith("id: ", StringComparison.Ordinal))
                {
                    documents.Add(new Document($"{Path.GetRelativePath(Root, file)}:{line}", text, DefinitionFormat.Yaml));
                }
                else if (text.StartsWith('{') && text.Contains("\"steps\"", StringComparison.Ordinal))
                {
                    documents.Add(new Document($"{Path.GetRelativePath(Root, file)}:{line}", text, DefinitionFormat.Json));
                }
            }
        }

        return documents;
    }

    [GeneratedRegex("(?<![$\"])\"\"\"\\r?\\n(?<body>.*?)\\r?\\n(?<indent>[ \\t]*)\"\"\"", RegexOptions.Singleline)]
    private static partial Regex RawLiteral();

    /// <summary>Codes of structural mistakes the schema can see too.</summary>
    private static readonly HashSet<string> StructuralCodes = ["WF1005", "WF1010", "WF1012", "WF1023", "WF1024"];

    [Fact]
    public async Task Every_shipped_workflow_and_every_workflow_in_the_tests_is_valid_and_structural_mistakes_are_refused_by_both()
    {
        var schema = await SchemaAsync();
        var documents = Documents();
        var problems = new List<string>();
        var valid = 0;
        var refused = 0;
        foreach (var document in documents)
        {
            var loaded = WorkflowDefinitionLoader.LoadText(document.Text, Path.Combine(Root, "workflows", "x.yaml"), document.Format);
            JsonNode? json;
            try
            {
                json = WorkflowDefinitionLoader.ReadDocument(document.Text, document.Format);
            }
            catch (Exception e) when (e is YamlDotNet.Core.YamlException or System.Text.Json.JsonException)
            {
                continue; // not YAML at all: a loader test of syntax errors
            }

            var errors = schema.Validate(json?.ToJsonString() ?? "null");
            var loaderCodes = loaded.Diagnostics.Where(d => d.Severity == WorkflowDiagnosticSeverity.Error).Select(d => d.Code).ToHashSet();
            if (loaded.Definition is not null)
            {
                valid++;
                if (errors.Count > 0)
                {
                    problems.Add($"{document.Where}: the loader accepts it, the schema does not: {string.Join("; ", errors.Select(e => $"{e.Kind} at {e.Path}"))}");
                }
            }
            else if (loaderCodes.Overlaps(StructuralCodes))
            {
                refused++;
                if (errors.Count == 0)
                {
                    problems.Add($"{document.Where}: the loader refuses it ({string.Join(", ", loaderCodes)}), the schema accepts it");
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.True(documents.Any(d => d.Where == Path.Combine("workflows", "block-source-ip.yaml")), "the shipped workflow was not found");
        Assert.True(valid >= 20, $"only {valid} valid workflow documents found in workflows/, tests/ and tools/");
        Assert.True(refused >= 2, $"only {refused} structurally wrong documents found in the loader tests");
    }

    [Theory]
    [InlineData("id: x\nsteps:\n  - id: a\n    kind: script\n    script: 'return 1;'\n    scrpt: typo\n", "WF1005")]
    [InlineData("id: x\nsteps:\n  - id: a\n    kind: sleep\n    duration: 1s\n", "WF1010")]
    [InlineData("id: 1x\nsteps:\n  - id: a\n    kind: delay\n    duration: 1s\n", "WF1012")]
    [InlineData("id: x\nsteps:\n  - id: a\n    kind: delay\n    duration: soon\n", "WF1023")]
    [InlineData("id: x\nsteps:\n  - id: a\n    kind: approval\n    assignees: [alice]\n    message: hi\n", "WF1024")]
    [InlineData("id: x\nstep:\n  - id: a\n    kind: delay\n    duration: 1s\n", "WF1005")]
    [InlineData("id: x\nsteps:\n  - id: a\n    kind: script\n    script: 'return 1;'\n    compensate:\n      script: 'return 2;'\n      publish: { exchange: e, routing_key: r }\n", "WF1027")]
    public async Task A_structural_mistake_is_refused_by_the_loader_and_by_the_schema(string yaml, string code)
    {
        var loaded = WorkflowDefinitionLoader.LoadText(yaml, "mistake.yaml", DefinitionFormat.Yaml);
        Assert.Contains(loaded.Diagnostics, d => d.Code == code);
        var errors = (await SchemaAsync()).Validate(WorkflowDefinitionLoader.ReadDocument(yaml, DefinitionFormat.Yaml)!.ToJsonString());
        Assert.NotEmpty(errors);
    }
}
