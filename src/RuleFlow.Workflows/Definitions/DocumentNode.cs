using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RuleFlow.Workflows.Definitions;

/// <summary>Scalar types after YAML/JSON typing.</summary>
internal enum ScalarKind
{
    String,
    Number,
    Boolean,
    Null,
}

/// <summary>A node of a definition document, YAML or JSON, with its 1-based position (0 when unknown).</summary>
internal abstract record DocNode(int Line, int Column)
{
    public abstract string TypeName { get; }

    public abstract JsonNode? ToJson();
}

internal sealed record DocScalar(string? Value, ScalarKind Kind, int Line, int Column, bool BlockStyle = false, int ContentIndent = 0, int QuoteWidth = 0)
    : DocNode(Line, Column)
{
    public override string TypeName => Kind switch
    {
        ScalarKind.String => "a string",
        ScalarKind.Number => "a number",
        ScalarKind.Boolean => "a boolean",
        _ => "null",
    };

    public override JsonNode? ToJson() => Kind switch
    {
        ScalarKind.Null => null,
        ScalarKind.Boolean => JsonValue.Create(string.Equals(Value, "true", StringComparison.OrdinalIgnoreCase)),
        ScalarKind.Number when long.TryParse(Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) => JsonValue.Create(l),
        ScalarKind.Number => JsonValue.Create(double.Parse(Value!, NumberStyles.Float, CultureInfo.InvariantCulture)),
        _ => JsonValue.Create(Value ?? string.Empty),
    };
}

internal sealed record DocSequence(IReadOnlyList<DocNode> Items, int Line, int Column) : DocNode(Line, Column)
{
    public override string TypeName => "a list";

    public override JsonNode ToJson() => new JsonArray(Items.Select(i => i.ToJson()).ToArray());
}

internal sealed record DocMapping(IReadOnlyList<KeyValuePair<DocScalar, DocNode>> Entries, int Line, int Column) : DocNode(Line, Column)
{
    public override string TypeName => "a mapping";

    public DocNode? this[string key] => Entries.FirstOrDefault(e => string.Equals(e.Key.Value, key, StringComparison.Ordinal)).Value;

    public override JsonNode ToJson()
    {
        var obj = new JsonObject();
        foreach (var (key, value) in Entries)
        {
            obj[key.Value ?? string.Empty] = value.ToJson();
        }

        return obj;
    }
}

/// <summary>Reads YAML or JSON text into <see cref="DocNode"/>s.</summary>
internal static partial class DocumentReader
{
    /// <summary>Reads YAML; throws <see cref="YamlException"/> with the position on a syntax error.</summary>
    public static DocNode? ReadYaml(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        if (stream.Documents.Count == 0)
        {
            return null;
        }

        var lines = text.Split('\n');
        return Convert(stream.Documents[0].RootNode, lines);
    }

    /// <summary>Reads JSON; throws <see cref="JsonException"/> with the position on a syntax error.</summary>
    public static DocNode? ReadJson(string text)
    {
        var node = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        return FromJson(node);
    }

    public static DocNode FromJson(JsonNode? node) => node switch
    {
        null => new DocScalar(null, ScalarKind.Null, 0, 0),
        JsonObject obj => new DocMapping(
            obj.Select(p => new KeyValuePair<DocScalar, DocNode>(new DocScalar(p.Key, ScalarKind.String, 0, 0), FromJson(p.Value))).ToList(), 0, 0),
        JsonArray array => new DocSequence(array.Select(FromJson).ToList(), 0, 0),
        JsonValue value => value.GetValueKind() switch
        {
            JsonValueKind.String => new DocScalar(value.GetValue<string>(), ScalarKind.String, 0, 0),
            JsonValueKind.True => new DocScalar("true", ScalarKind.Boolean, 0, 0),
            JsonValueKind.False => new DocScalar("false", ScalarKind.Boolean, 0, 0),
            JsonValueKind.Number => new DocScalar(value.ToJsonString(), ScalarKind.Number, 0, 0),
            _ => new DocScalar(null, ScalarKind.Null, 0, 0),
        },
        _ => new DocScalar(null, ScalarKind.Null, 0, 0),
    };

    private static DocNode Convert(YamlNode node, string[] lines)
    {
        var line = (int)node.Start.Line;
        var column = (int)node.Start.Column;
        switch (node)
        {
            case YamlMappingNode mapping:
                var entries = new List<KeyValuePair<DocScalar, DocNode>>();
                foreach (var (key, value) in mapping.Children)
                {
                    var keyNode = Convert(key, lines) as DocScalar
                        ?? new DocScalar(key.ToString(), ScalarKind.String, (int)key.Start.Line, (int)key.Start.Column);
                    entries.Add(new(keyNode, Convert(value, lines)));
                }

                return new DocMapping(entries, line, column);
            case YamlSequenceNode sequence:
                return new DocSequence(sequence.Children.Select(c => Convert(c, lines)).ToList(), line, column);
            case YamlScalarNode scalar:
                return ConvertScalar(scalar, line, column, lines);
            default:
                return new DocScalar(null, ScalarKind.Null, line, column);
        }
    }

    private static DocScalar ConvertScalar(YamlScalarNode scalar, int line, int column, string[] lines)
    {
        var value = scalar.Value;
        switch (scalar.Style)
        {
            case ScalarStyle.Literal:
            case ScalarStyle.Folded:
                // Content starts on the line after the indicator; its indentation is that of the first non-blank line.
                var indent = 0;
                for (var i = line; i < lines.Length; i++)
                {
                    if (lines[i].Trim().Length > 0)
                    {
                        indent = lines[i].Length - lines[i].TrimStart(' ').Length;
                        break;
                    }
                }

                return new DocScalar(value, ScalarKind.String, line, column, BlockStyle: true, ContentIndent: indent);
            case ScalarStyle.SingleQuoted:
            case ScalarStyle.DoubleQuoted:
                return new DocScalar(value, ScalarKind.String, line, column, QuoteWidth: 1);
            default:
                if (string.IsNullOrEmpty(value) || value is "~" or "null" or "Null" or "NULL")
                {
                    return new DocScalar(null, ScalarKind.Null, line, column);
                }

                if (value is "true" or "True" or "TRUE" or "false" or "False" or "FALSE")
                {
                    return new DocScalar(value.ToLowerInvariant(), ScalarKind.Boolean, line, column);
                }

                return NumberRegex().IsMatch(value)
                    ? new DocScalar(value, ScalarKind.Number, line, column)
                    : new DocScalar(value, ScalarKind.String, line, column);
        }
    }

    [GeneratedRegex(@"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$")]
    private static partial Regex NumberRegex();
}
