using System.Text.Json.Nodes;
using RuleFlow.Scripting;

namespace RuleFlow.Workflows.Tests;

public sealed class TemplateRendererTests
{
    private static readonly JsonNode Data = JsonNode.Parse("""
        { "input": { "ip": "1.2.3.4", "attempts": 5, "evidence": [ { "message": "Failed <root>" }, { "message": "Failed admin" } ] } }
        """)!;

    [Fact]
    public void Renders_json_data_with_each_and_without_html_escaping()
    {
        var renderer = new TemplateRenderer();
        var text = renderer.Render("Block {{input.ip}} ({{input.attempts}}):{{#each input.evidence}} [{{this.message}}]{{/each}}{{input.missing}}", Data);
        Assert.Equal("Block 1.2.3.4 (5): [Failed <root>] [Failed admin]", text);
    }

    [Fact]
    public void Compile_errors_are_reported_with_a_message_and_position()
    {
        var renderer = new TemplateRenderer();
        var unclosed = Assert.Throws<TemplateException>(() => renderer.Compile("line one\n{{#each input.evidence}} x"));
        Assert.Contains("#each", unclosed.Message, StringComparison.Ordinal);
        var open = Assert.Throws<TemplateException>(() => renderer.Compile("a {{input.ip"));
        Assert.Equal(1, open.Line);
        Assert.True(open.Column > 1);
    }

    [Fact]
    public void Render_value_keeps_json_types_of_single_expressions()
    {
        var renderer = new TemplateRenderer();
        var body = JsonNode.Parse("""{ "ip": "{{input.ip}}", "n": "{{input.attempts}}", "text": "n={{input.attempts}}", "fixed": 3, "list": ["{{input.evidence.0.message}}"] }""");
        var rendered = renderer.RenderValue(body, Data)!;
        Assert.Equal("""{"ip":"1.2.3.4","n":5,"text":"n=5","fixed":3,"list":["Failed \u003Croot\u003E"]}""", rendered.ToJsonString());
    }
}
