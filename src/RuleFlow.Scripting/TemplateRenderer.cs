using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using HandlebarsDotNet;
using HandlebarsDotNet.IO;

namespace RuleFlow.Scripting;

/// <summary>A template that does not compile, or failed to render.</summary>
/// <remarks><see cref="Line"/> and <see cref="Column"/> are 1-based in the template text, or 0 when Handlebars does not say.</remarks>
public sealed class TemplateException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TemplateException(string message, int line, int column, Exception? inner = null)
        : base(message, inner)
    {
        Line = line;
        Column = column;
    }

    /// <summary>Creates the exception.</summary>
    public TemplateException() : this("template error", 0, 0) { }

    /// <summary>Creates the exception.</summary>
    public TemplateException(string message) : this(message, 0, 0) { }

    /// <summary>Creates the exception.</summary>
    public TemplateException(string message, Exception innerException) : this(message, 0, 0, innerException) { }

    /// <summary>1-based line in the template, 0 when unknown.</summary>
    public int Line { get; }

    /// <summary>1-based column in the template, 0 when unknown.</summary>
    public int Column { get; }
}

/// <summary>
/// Renders Handlebars templates (Handlebars.Net 2.4.3) against JSON data. Templates are compiled once and cached by
/// their text (at most <c>maxCached</c> entries; the cache is cleared when full). Output is not HTML-escaped
/// (templates produce message text and JSON values, not HTML): a UI showing the output must escape it itself.
/// Missing values render as empty text. Thread-safe.
/// </summary>
public sealed partial class TemplateRenderer
{
    private readonly IHandlebars handlebars;
    private readonly ConcurrentDictionary<string, HandlebarsTemplate<object, object>> cache = new(StringComparer.Ordinal);
    private readonly int maxCached;

    /// <summary>Creates a renderer with its own Handlebars environment.</summary>
    /// <param name="maxCached">Compiled templates kept; default 4,096.</param>
    public TemplateRenderer(int maxCached = 4096)
    {
        this.maxCached = maxCached;
        var configuration = new HandlebarsConfiguration
        {
            NoEscape = true,
            ThrowOnUnresolvedBindingExpression = false,
        };
        configuration.FormatterProviders.Add(new JsonBooleanFormatter());
        handlebars = Handlebars.Create(configuration);
    }

    /// <summary>True when <paramref name="text"/> contains Handlebars syntax (<c>{{</c>).</summary>
    public static bool IsTemplate(string text) => text is not null && text.Contains("{{", StringComparison.Ordinal);

    /// <summary>Compiles (and caches) a template; use it to check templates at load time.</summary>
    /// <exception cref="TemplateException">The template does not compile; the message says why and where.</exception>
    public void Compile(string template) => GetCompiled(template);

    /// <summary>Renders <paramref name="template"/> against <paramref name="data"/> (a JSON object such as <c>{ input, steps, vars }</c>).</summary>
    /// <returns>The rendered text.</returns>
    /// <exception cref="TemplateException">The template does not compile or fails while rendering (e.g. an unknown helper).</exception>
    public string Render(string template, JsonNode? data)
    {
        ArgumentNullException.ThrowIfNull(template);
        if (!IsTemplate(template))
        {
            return template;
        }

        var compiled = GetCompiled(template);
        try
        {
            return compiled(ToHandlebarsValue(data) ?? new Dictionary<string, object?>(), new Dictionary<string, object?>());
        }
        catch (HandlebarsException ex)
        {
            throw new TemplateException("template failed to render: " + FirstLine(ex.Message), 0, 0, ex);
        }
    }

    /// <summary>
    /// Renders a JSON value whose strings are templates: objects and arrays are walked, each string rendered. A string
    /// that is exactly one <c>{{path}}</c> expression (e.g. <c>"{{input.attempts}}"</c>) takes the JSON value at that path
    /// with its type (number, object, …) instead of its text; a missing path gives null.
    /// </summary>
    /// <exception cref="TemplateException">A template does not compile or fails while rendering.</exception>
    public JsonNode? RenderValue(JsonNode? value, JsonNode? data)
    {
        switch (value)
        {
            case null:
                return null;
            case JsonObject obj:
                var result = new JsonObject();
                foreach (var (key, child) in obj)
                {
                    result[key] = RenderValue(child, data);
                }

                return result;
            case JsonArray array:
                var list = new JsonArray();
                foreach (var child in array)
                {
                    list.Add(RenderValue(child, data));
                }

                return list;
            case JsonValue scalar when scalar.GetValueKind() == JsonValueKind.String:
                var text = scalar.GetValue<string>();
                var single = SingleExpressionRegex().Match(text);
                if (single.Success)
                {
                    return Resolve(data, single.Groups[1].Value)?.DeepClone();
                }

                return JsonValue.Create(Render(text, data));
            default:
                return value.DeepClone();
        }
    }

    /// <summary>Resolves a dotted path (<c>input.ip</c>, <c>steps.check.output.items.0</c>) in JSON data, or null.</summary>
    public static JsonNode? Resolve(JsonNode? data, string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var current = data;
        foreach (var part in path.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            current = current switch
            {
                JsonObject obj => obj.TryGetPropertyValue(part, out var child) ? child : null,
                JsonArray array when int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < array.Count => array[index],
                _ => null,
            };
            if (current is null)
            {
                return null;
            }
        }

        return current;
    }

    /// <summary>Converts JSON into what Handlebars.Net binds to: dictionaries, lists, strings, numbers, booleans, null.</summary>
    public static object? ToHandlebarsValue(JsonNode? node) => node switch
    {
        null => null,
        JsonObject obj => obj.ToDictionary(p => p.Key, p => ToHandlebarsValue(p.Value), StringComparer.Ordinal),
        JsonArray array => array.Select(ToHandlebarsValue).ToList(),
        JsonValue value => value.GetValueKind() switch
        {
            JsonValueKind.String => value.GetValue<string>(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Number => value.TryGetValue<long>(out var l) ? l
                : value.TryGetValue<double>(out var d) ? d
                : double.Parse(value.ToJsonString(), CultureInfo.InvariantCulture),
            _ => null,
        },
        _ => null,
    };

    private HandlebarsTemplate<object, object> GetCompiled(string template)
    {
        ArgumentNullException.ThrowIfNull(template);
        if (cache.TryGetValue(template, out var compiled))
        {
            return compiled;
        }

        try
        {
            compiled = handlebars.Compile(template);
        }
        catch (HandlebarsException ex)
        {
            var (line, column) = Position(ex.Message);
            var where = line > 0 ? $" (template line {line}, column {column})" : string.Empty;
            throw new TemplateException("template does not compile: " + FirstLine(ex.Message) + where, line, column, ex);
        }

        if (cache.Count >= maxCached)
        {
            cache.Clear();
        }

        cache[template] = compiled;
        return compiled;
    }

    private static string FirstLine(string message)
    {
        var index = message.IndexOf('\n', StringComparison.Ordinal);
        return (index < 0 ? message : message[..index]).Trim();
    }

    private static (int Line, int Column) Position(string message)
    {
        // Handlebars.Net parser errors end with "Occured at: <line>:<column>" (0-based line, 0-based column).
        var match = PositionRegex().Match(message);
        return match.Success
            ? (int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) + 1, int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture) + 1)
            : (0, 0);
    }

    /// <summary>Writes booleans as JSON does (<c>true</c>/<c>false</c>, not .NET's <c>True</c>).</summary>
    private sealed class JsonBooleanFormatter : IFormatter, IFormatterProvider
    {
        public void Format<T>(T value, in EncodedTextWriter writer) => writer.Write(value is true ? "true" : "false", false);

        public bool TryCreateFormatter(Type type, out IFormatter formatter)
        {
            formatter = this;
            return type == typeof(bool);
        }
    }

    [GeneratedRegex(@"Occured at: (\d+):(\d+)")]
    private static partial Regex PositionRegex();

    [GeneratedRegex(@"^\{\{\s*([A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*)\s*\}\}$")]
    private static partial Regex SingleExpressionRegex();
}
