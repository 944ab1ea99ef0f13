using System.Text.Json.Nodes;
using NJsonSchema;
using NJsonSchema.Validation;

namespace RuleFlow.Workflows.Definitions;

/// <summary>One way a value does not fit a schema.</summary>
/// <param name="Path">JSON path of the failing value, e.g. <c>$.ip</c> or <c>$.evidence[2]</c>.</param>
/// <param name="Kind">What failed, e.g. <c>PatternMismatch</c>, <c>PropertyRequired</c>, <c>StringExpected</c>.</param>
/// <param name="Message">A readable sentence.</param>
public sealed record SchemaViolation(string Path, string Kind, string Message);

/// <summary>
/// A JSON Schema (draft 4 to 2020-12 keywords as NJsonSchema 11.6.2 supports them; only local <c>$ref</c>s, nothing is
/// fetched). Immutable and thread-safe.
/// </summary>
public sealed class JsonSchemaSpec
{
    private readonly JsonSchema schema;

    private JsonSchemaSpec(JsonNode raw, JsonSchema schema)
    {
        Raw = raw;
        this.schema = schema;
    }

    /// <summary>The schema as written.</summary>
    public JsonNode Raw { get; }

    /// <summary>Compiles a schema. The caller checks it first (<see cref="WorkflowDefinitionLoader"/> does).</summary>
    /// <exception cref="ArgumentException">The schema cannot be read (the message says why).</exception>
    public static JsonSchemaSpec Create(JsonNode raw)
    {
        ArgumentNullException.ThrowIfNull(raw);
        try
        {
            var compiled = JsonSchema.FromJsonAsync(raw.ToJsonString()).GetAwaiter().GetResult();
            return new JsonSchemaSpec(raw.DeepClone(), compiled);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new ArgumentException("invalid JSON Schema: " + ex.Message, nameof(raw), ex);
        }
    }

    /// <summary>Validates <paramref name="value"/>; returns the violations (empty when it fits), each with its JSON path.</summary>
    public IReadOnlyList<SchemaViolation> Validate(JsonNode? value)
    {
        var errors = schema.Validate(value?.ToJsonString() ?? "null");
        var result = new List<SchemaViolation>();
        Flatten(errors, result);
        return result;
    }

    private static void Flatten(IEnumerable<ValidationError> errors, List<SchemaViolation> result)
    {
        foreach (var error in errors)
        {
            if (error is ChildSchemaValidationError child && child.Errors.Count > 0)
            {
                foreach (var nested in child.Errors.Values)
                {
                    Flatten(nested, result);
                }

                continue;
            }

            if (error is MultiTypeValidationError multi && multi.Errors.Count > 0)
            {
                foreach (var nested in multi.Errors.Values)
                {
                    Flatten(nested, result);
                }

                continue;
            }

            var path = ToJsonPath(error.Path);
            result.Add(new SchemaViolation(path, error.Kind.ToString(), $"{path} {Describe(error.Kind)}"));
        }
    }

    private static string ToJsonPath(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "#")
        {
            return "$";
        }

        var trimmed = path.StartsWith("#/", StringComparison.Ordinal) ? path[2..] : path.TrimStart('#');
        return trimmed.Length == 0 ? "$" : "$." + trimmed.Replace('/', '.');
    }

    private static string Describe(ValidationErrorKind kind) => kind switch
    {
        ValidationErrorKind.PatternMismatch => "does not match the required pattern",
        ValidationErrorKind.PropertyRequired => "is required but missing",
        ValidationErrorKind.StringExpected => "must be a string",
        ValidationErrorKind.IntegerExpected => "must be an integer",
        ValidationErrorKind.NumberExpected => "must be a number",
        ValidationErrorKind.BooleanExpected => "must be a boolean",
        ValidationErrorKind.ObjectExpected => "must be an object",
        ValidationErrorKind.ArrayExpected => "must be an array",
        ValidationErrorKind.NullExpected => "must be null",
        ValidationErrorKind.NoAdditionalPropertiesAllowed => "is not an allowed property",
        ValidationErrorKind.NotInEnumeration => "is not one of the allowed values",
        ValidationErrorKind.StringTooShort => "is too short",
        ValidationErrorKind.StringTooLong => "is too long",
        ValidationErrorKind.NumberTooSmall => "is too small",
        ValidationErrorKind.NumberTooBig => "is too big",
        ValidationErrorKind.TooFewItems => "has too few items",
        ValidationErrorKind.TooManyItems => "has too many items",
        ValidationErrorKind.IpV4Expected => "must be an IPv4 address",
        _ => "does not fit the schema (" + kind + ")",
    };
}
