using System.Text.Json;
using System.Text.RegularExpressions;

namespace RuleFlow.Server.Api;

/// <summary>
/// Words for a request ASP.NET Core could not bind (<see cref="BadHttpRequestException"/>), for a caller who sees JSON and
/// query strings, not C#: which parameter or where in the body (JSON path, 1-based line, byte), and the kind of JSON value
/// expected (a string, an array, an integer…), never a .NET type name such as <c>IReadOnlyList`1[…]</c>.
/// </summary>
internal static partial class BadRequestText
{
    /// <summary>The detail of a 400 <c>RF6400</c> for <paramref name="bad"/>.</summary>
    public static string Describe(BadHttpRequestException bad)
    {
        var message = bad.Message;
        if (BodyAsJson().Match(message) is { Success: true })
        {
            return "the request body is not the JSON this endpoint takes: " + (bad.InnerException is JsonException json ? Describe(json) : "it could not be read");
        }

        if (BindFailed().Match(message) is { Success: true } bind)
        {
            return $"parameter '{bind.Groups["name"].Value}' must be {Kind(bind.Groups["type"].Value)}, not \"{bind.Groups["value"].Value}\"";
        }

        if (Required().Match(message) is { Success: true } required)
        {
            return $"required parameter '{required.Groups["name"].Value}' was not given (expected {Kind(required.Groups["type"].Value)} from the " +
                   $"{required.Groups["source"].Value})";
        }

        if (ImplicitBody().IsMatch(message))
        {
            return "this endpoint takes a JSON body, and the request has none";
        }

        return bad.InnerException is JsonException inner ? $"{message} {Describe(inner)}" : message;
    }

    /// <summary>A JSON reading error: what, then where (JSON path, 1-based line, byte in the line), without .NET type names.</summary>
    private static string Describe(JsonException json)
    {
        var text = json.Message;
        var cut = text.IndexOf(" Path: ", StringComparison.Ordinal);
        if (cut >= 0)
        {
            text = text[..cut];
        }

        if (Converted().Match(text) is { Success: true } converted)
        {
            // For a type read through its constructor (our request records), System.Text.Json names the record, not the member
            // at the path: then only the place is certain.
            var kind = Kind(converted.Groups["type"].Value);
            text = kind == "an object" && json.Path is { Length: > 0 } at && !at.EndsWith(']') && at != "$"
                ? "a value of the wrong type"
                : $"expected {kind}";
        }
        else if (MissingRequired().Match(text) is { Success: true } missing)
        {
            text = "required properties are missing: " + missing.Groups["names"].Value;
        }

        var where = json.Path is { Length: > 0 } path ? $" at {path}" : "";
        if (json.LineNumber is { } line)
        {
            where += $" (line {line + 1}, near byte {json.BytePositionInLine ?? 0})"; // System.Text.Json gives the byte after the value it read
        }

        return text.TrimEnd('.') + where;
    }

    /// <summary>The JSON (or query-string) kind of a .NET type as ASP.NET Core or System.Text.Json names it (short or full name).</summary>
    internal static string Kind(string type)
    {
        var name = type.Trim();
        if (name.EndsWith('?'))
        {
            name = name[..^1];
        }

        if (NullableOf().Match(name) is { Success: true } nullable)
        {
            name = nullable.Groups["inner"].Value;
        }

        if (name.EndsWith("[]", StringComparison.Ordinal) || Sequence().IsMatch(name))
        {
            return "an array";
        }

        var simple = name[(name.LastIndexOf('.') + 1)..];
        return simple switch
        {
            "string" or "String" or "char" or "Char" => "a string",
            "bool" or "Boolean" => "true or false",
            "int" or "long" or "short" or "byte" or "sbyte" or "uint" or "ulong" or "ushort"
                or "Int32" or "Int64" or "Int16" or "Byte" or "SByte" or "UInt32" or "UInt64" or "UInt16" => "an integer",
            "double" or "float" or "decimal" or "Double" or "Single" or "Decimal" => "a number",
            "DateTimeOffset" or "DateTime" => "a date and time (ISO 8601, e.g. 2026-11-23T10:00:00Z)",
            "TimeSpan" => "a duration (hh:mm:ss)",
            "Guid" => "a GUID",
            "JsonArray" => "an array",
            "JsonElement" or "JsonNode" or "JsonDocument" => "a JSON value",
            _ => "an object",
        };
    }

    [GeneratedRegex("""^Failed to read parameter "[^"]+" from the request body as JSON\.$""")]
    private static partial Regex BodyAsJson();

    [GeneratedRegex("""^Failed to bind parameter "(?<type>.+) (?<name>[^ "]+)" from "(?<value>.*)"\.$""", RegexOptions.Singleline)]
    private static partial Regex BindFailed();

    [GeneratedRegex("""^Required parameter "(?<type>.+) (?<name>[^ "]+)" was not provided from (?<source>.+)\.$""")]
    private static partial Regex Required();

    [GeneratedRegex("""^Implicit body inferred for parameter""")]
    private static partial Regex ImplicitBody();

    [GeneratedRegex("""^The JSON value could not be converted to (?<type>.+)$""", RegexOptions.Singleline)]
    private static partial Regex Converted();

    [GeneratedRegex("""was missing required properties,? including:? (?<names>.+)$""", RegexOptions.Singleline)]
    private static partial Regex MissingRequired();

    [GeneratedRegex("""^(?:System\.)?Nullable(?:`1\[|<)(?<inner>.+)[\]>]$""")]
    private static partial Regex NullableOf();

    [GeneratedRegex("""^(?:[\w.]+\.)?(?:I?List|IReadOnlyList|IEnumerable|ICollection|IReadOnlyCollection|HashSet|ISet|ImmutableArray)(?:`1|<)""")]
    private static partial Regex Sequence();
}
