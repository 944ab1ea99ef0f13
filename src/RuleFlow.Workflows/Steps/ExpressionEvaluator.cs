using System.Text.Json.Nodes;
using RuleFlow.Scripting;

namespace RuleFlow.Workflows.Steps;

/// <summary>Evaluates JavaScript expressions (conditions, switch values, foreach items) in the sandbox, without host modules.</summary>
internal sealed class ExpressionEvaluator(ScriptSandbox sandbox)
{
    /// <summary>Evaluates <paramref name="expression"/> with each property of <paramref name="scope"/> as a global.</summary>
    /// <exception cref="ScriptException">The expression failed (line and column are the expression's own).</exception>
    public JsonNode? Evaluate(string expression, JsonObject scope, ScriptCallContext context)
    {
        var globals = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in scope)
        {
            globals[name] = value?.ToJsonString() ?? "null";
        }

        var result = sandbox.Run(new ScriptRequest("return (" + expression + "\n);", globals, context));
        return result.ResultJson is null ? null : JsonNode.Parse(result.ResultJson);
    }

    /// <summary>JavaScript truthiness of a JSON value.</summary>
    public static bool Truthy(JsonNode? value) => value switch
    {
        null => false,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        JsonValue v when v.TryGetValue<double>(out var d) => d != 0 && !double.IsNaN(d),
        JsonValue v when v.TryGetValue<string>(out var s) => s.Length > 0,
        _ => true,
    };
}
