using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RuleFlow.Rules.Engine;

/// <summary>What a <see cref="RuleValue"/> holds.</summary>
internal enum ValueKind : byte
{
    /// <summary>A field that is not there (or a path through a non-object). Every comparison with it is false.</summary>
    Missing,
    Null,
    Bool,
    Number,
    String,

    /// <summary>A JSON string, object or array of an event (read lazily: strings are compared without copying).</summary>
    Json,

    /// <summary>The events of an aggregate's window (actions only).</summary>
    Window,
}

/// <summary>
/// A value during matching: a literal, or a value read from an event's JSON. Numbers are doubles; strings compare ordinally.
/// Equality (<see cref="Equals(RuleValue)"/>) is structural and used for hash keys; the rule-language comparisons are in
/// <see cref="ValueOps"/>.
/// </summary>
internal readonly struct RuleValue : IEquatable<RuleValue>
{
    private readonly object? _ref;
    private readonly double _number;
    private readonly JsonElement _json;

    private RuleValue(ValueKind kind, double number, object? reference, JsonElement json)
    {
        Kind = kind;
        _number = number;
        _ref = reference;
        _json = json;
    }

    public ValueKind Kind { get; }

    public static RuleValue Missing => default;

    public static RuleValue Null { get; } = new(ValueKind.Null, 0, null, default);

    public static RuleValue True { get; } = new(ValueKind.Bool, 1, null, default);

    public static RuleValue False { get; } = new(ValueKind.Bool, 0, null, default);

    public static RuleValue FromBool(bool value) => value ? True : False;

    public static RuleValue FromNumber(double value) => new(ValueKind.Number, value == 0 ? 0d : value, null, default);

    public static RuleValue FromString(string value) => new(ValueKind.String, 0, value, default);

    public static RuleValue FromWindow(IReadOnlyList<EventFact> events) => new(ValueKind.Window, 0, events, default);

    /// <summary>Wraps a JSON element: numbers, booleans and null are read at once; strings, objects and arrays stay JSON.</summary>
    public static RuleValue FromElement(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Number => element.TryGetDouble(out var d) ? FromNumber(d) : Missing,
        JsonValueKind.True => True,
        JsonValueKind.False => False,
        JsonValueKind.Null => Null,
        JsonValueKind.String or JsonValueKind.Object or JsonValueKind.Array => new(ValueKind.Json, 0, null, element),
        _ => Missing,
    };

    /// <summary>Wraps a JSON element keeping numbers as JSON (exact digits), for copying into action input.</summary>
    public static RuleValue FromElementRaw(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Number => new(ValueKind.Json, 0, null, element),
        _ => FromElement(element),
    };

    public bool IsMissing => Kind == ValueKind.Missing;

    public bool IsStringLike => Kind == ValueKind.String || (Kind == ValueKind.Json && _ref is null && _json.ValueKind == JsonValueKind.String);

    public double Number => _number;

    public bool Bool => _number != 0;

    public JsonElement Element => _json;

    public IReadOnlyList<EventFact> Window => (IReadOnlyList<EventFact>)_ref!;

    /// <summary>The string of a string-like value (allocates for JSON strings); never throws (see <see cref="ValueOps.SafeGetString"/>).</summary>
    public string GetString() => Kind == ValueKind.String ? (string)_ref! : ValueOps.SafeGetString(_json);

    /// <summary>A value fit for hashing: JSON strings become strings, objects and arrays their raw text.</summary>
    public RuleValue ToKey()
    {
        if (Kind != ValueKind.Json || _ref is not null)
        {
            return this;
        }

        return _json.ValueKind == JsonValueKind.String
            ? FromString(ValueOps.SafeGetString(_json))
            : new RuleValue(ValueKind.Json, 0, _json.GetRawText(), default);
    }

    public bool Equals(RuleValue other)
    {
        if (Kind != other.Kind)
        {
            return false;
        }

        return Kind switch
        {
            ValueKind.Missing or ValueKind.Null => true,
            ValueKind.Bool or ValueKind.Number => _number.Equals(other._number),
            ValueKind.String => string.Equals((string)_ref!, (string)other._ref!, StringComparison.Ordinal),
            ValueKind.Json => _ref is string a && other._ref is string b
                ? string.Equals(a, b, StringComparison.Ordinal)
                : ValueOps.JsonEquals(this, other),
            _ => ReferenceEquals(_ref, other._ref),
        };
    }

    public override bool Equals(object? obj) => obj is RuleValue other && Equals(other);

    public override int GetHashCode() => Kind switch
    {
        ValueKind.Bool or ValueKind.Number => HashCode.Combine(Kind, _number),
        ValueKind.String => HashCode.Combine(Kind, StringComparer.Ordinal.GetHashCode((string)_ref!)),
        ValueKind.Json => HashCode.Combine(Kind, StringComparer.Ordinal.GetHashCode(_ref as string ?? ToKey()._ref as string ?? "")),
        _ => (int)Kind,
    };

    /// <summary>Canonical text for sharing nodes and for messages: strings quoted, numbers invariant.</summary>
    public override string ToString() => Kind switch
    {
        ValueKind.Missing => "<missing>",
        ValueKind.Null => "null",
        ValueKind.Bool => Bool ? "true" : "false",
        ValueKind.Number => FormatNumber(_number),
        ValueKind.String => JsonSerializer.Serialize((string)_ref!),
        ValueKind.Json => _ref as string ?? _json.GetRawText(),
        _ => "<window>",
    };

    public static string FormatNumber(double value) =>
        value == Math.Floor(value) && Math.Abs(value) < 1e15
            ? ((long)value).ToString(CultureInfo.InvariantCulture)
            : value.ToString("R", CultureInfo.InvariantCulture);

    public static bool operator ==(RuleValue left, RuleValue right) => left.Equals(right);

    public static bool operator !=(RuleValue left, RuleValue right) => !left.Equals(right);
}

/// <summary>
/// A hash key of one or more values (equality join keys, aggregate groups, throttle keys). A key with a missing part never joins.
/// </summary>
internal readonly struct JoinKey : IEquatable<JoinKey>
{
    private readonly RuleValue _single;
    private readonly RuleValue[]? _many;

    public JoinKey(RuleValue single)
    {
        _single = single.ToKey();
        _many = null;
        Count = 1;
    }

    public JoinKey(RuleValue[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = values[i].ToKey();
        }

        _single = default;
        _many = values;
        Count = values.Length;
    }

    /// <summary>The key of no values (one bucket for everything).</summary>
    public static JoinKey Unit => default;

    public int Count { get; }

    public RuleValue this[int index] => _many is null ? _single : _many[index];

    public bool HasMissing
    {
        get
        {
            for (var i = 0; i < Count; i++)
            {
                if (this[i].IsMissing)
                {
                    return true;
                }
            }

            return false;
        }
    }

    public bool Equals(JoinKey other)
    {
        if (Count != other.Count)
        {
            return false;
        }

        for (var i = 0; i < Count; i++)
        {
            if (!this[i].Equals(other[i]))
            {
                return false;
            }
        }

        return true;
    }

    public override bool Equals(object? obj) => obj is JoinKey other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        for (var i = 0; i < Count; i++)
        {
            hash.Add(this[i]);
        }

        return hash.ToHashCode();
    }

    public override string ToString()
    {
        var parts = new string[Count];
        for (var i = 0; i < Count; i++)
        {
            parts[i] = this[i].ToString();
        }

        return string.Join(", ", parts);
    }

    public static bool operator ==(JoinKey left, JoinKey right) => left.Equals(right);

    public static bool operator !=(JoinKey left, JoinKey right) => !left.Equals(right);
}

/// <summary>Comparison operators of the language.</summary>
internal enum ComparisonOp
{
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

/// <summary>
/// The semantics of values, in one place: numbers compare numerically, strings ordinally; <c>==</c> between different types is
/// false; any comparison with a missing value is false (so <c>!=</c> is false too); <c>&lt;</c> and friends are false unless both
/// sides are numbers or both strings. Nothing here throws on any input.
/// </summary>
internal static class ValueOps
{
    /// <summary>Longest time a regular expression may run on one value (then the condition is false).</summary>
    public static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The string of a JSON string element. A string with an invalid escape (e.g. a lone surrogate <c>\ud800</c>, which
    /// System.Text.Json accepts but cannot turn into a .NET string) gives its escaped text instead of throwing.
    /// </summary>
    public static string SafeGetString(JsonElement element)
    {
        try
        {
            return element.GetString() ?? "";
        }
        catch (InvalidOperationException)
        {
            var raw = element.GetRawText();
            return raw.Length >= 2 && raw[0] == '"' ? raw[1..^1] : raw;
        }
    }

    public static RuleValue Read(JsonElement root, byte[][] path) =>
        TryNavigate(root, path, out var element) ? RuleValue.FromElement(element) : RuleValue.Missing;

    /// <summary>Follows a field path (UTF-8 names); false when a step is not an object or lacks the field. Never throws.</summary>
    public static bool TryNavigate(JsonElement root, byte[][] path, out JsonElement element)
    {
        element = root;
        for (var i = 0; i < path.Length; i++)
        {
            if (element.ValueKind != JsonValueKind.Object || !TryGetProperty(element, path[i], out element))
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryGetProperty(JsonElement obj, byte[] name, out JsonElement value)
    {
        try
        {
            return obj.TryGetProperty(name, out value);
        }
        catch (InvalidOperationException)
        {
            // Some property name has an escape that is not valid UTF-16: compare names one by one, skipping such names.
            var found = false;
            value = default;
            foreach (var property in obj.EnumerateObject())
            {
                try
                {
                    if (property.NameEquals(name))
                    {
                        value = property.Value; // the last one wins, as with TryGetProperty
                        found = true;
                    }
                }
                catch (InvalidOperationException)
                {
                }
            }

            return found;
        }
    }

    /// <summary>Like <see cref="Read"/>, but numbers stay JSON (exact digits): for values copied into action input.</summary>
    public static RuleValue ReadRaw(JsonElement root, byte[][] path) =>
        TryNavigate(root, path, out var element) ? RuleValue.FromElementRaw(element) : RuleValue.Missing;

    public static byte[][] EncodePath(IReadOnlyList<string> path) => [.. path.Select(Encoding.UTF8.GetBytes)];

    public static bool Compare(RuleValue left, RuleValue right, ComparisonOp op) => op switch
    {
        ComparisonOp.Equal => AreEqual(left, right),
        ComparisonOp.NotEqual => !left.IsMissing && !right.IsMissing && !AreEqual(left, right),
        _ => Order(left, right, op),
    };

    public static bool AreEqual(RuleValue left, RuleValue right)
    {
        if (left.IsMissing || right.IsMissing)
        {
            return false;
        }

        if (left.IsStringLike && right.IsStringLike)
        {
            try
            {
                if (left.Kind == ValueKind.Json && right.Kind == ValueKind.String)
                {
                    return left.Element.ValueEquals(right.GetString());
                }

                if (right.Kind == ValueKind.Json && left.Kind == ValueKind.String)
                {
                    return right.Element.ValueEquals(left.GetString());
                }
            }
            catch (InvalidOperationException)
            {
                // Invalid UTF-16 escapes in the JSON: compare the safe strings below.
            }

            return string.Equals(left.GetString(), right.GetString(), StringComparison.Ordinal);
        }

        if (left.Kind != right.Kind)
        {
            return false;
        }

        return left.Kind switch
        {
            ValueKind.Null => true,
            ValueKind.Bool or ValueKind.Number => left.Number == right.Number,
            ValueKind.Json => JsonEquals(left, right),
            _ => false,
        };
    }

    internal static bool JsonEquals(RuleValue left, RuleValue right)
    {
        try
        {
            return left.Element.ValueKind == right.Element.ValueKind && JsonElement.DeepEquals(left.Element, right.Element);
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static bool Order(RuleValue left, RuleValue right, ComparisonOp op)
    {
        int c;
        if (left.Kind == ValueKind.Number && right.Kind == ValueKind.Number)
        {
            c = left.Number.CompareTo(right.Number);
        }
        else if (left.IsStringLike && right.IsStringLike)
        {
            c = string.CompareOrdinal(left.GetString(), right.GetString());
        }
        else
        {
            return false;
        }

        return op switch
        {
            ComparisonOp.Less => c < 0,
            ComparisonOp.LessOrEqual => c <= 0,
            ComparisonOp.Greater => c > 0,
            ComparisonOp.GreaterOrEqual => c >= 0,
            _ => false,
        };
    }

    /// <summary>True when the value is a string the regex matches; false for anything else, and when the match times out.</summary>
    public static bool Matches(RuleValue value, Regex regex)
    {
        if (!value.IsStringLike)
        {
            return false;
        }

        try
        {
            return regex.IsMatch(value.GetString());
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }

    public static bool In(RuleValue value, RuleValue[] items)
    {
        for (var i = 0; i < items.Length; i++)
        {
            if (AreEqual(value, items[i]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary><c>not in</c>: false for a missing value (like every comparison with a missing value).</summary>
    public static bool NotIn(RuleValue value, RuleValue[] items) => !value.IsMissing && !In(value, items);

    /// <summary>True only for the boolean true (a bare field used as a condition).</summary>
    public static bool IsTrue(RuleValue value) => value.Kind == ValueKind.Bool && value.Bool;

    /// <summary>JSON for an action's input; null for missing (the caller leaves the property out).</summary>
    public static JsonNode? ToJson(RuleValue value, out bool missing)
    {
        missing = false;
        switch (value.Kind)
        {
            case ValueKind.Missing:
                missing = true;
                return null;
            case ValueKind.Null:
                return null;
            case ValueKind.Bool:
                return JsonValue.Create(value.Bool);
            case ValueKind.Number:
                var n = value.Number;
                return n == Math.Floor(n) && Math.Abs(n) < 9e15 ? JsonValue.Create((long)n) : JsonValue.Create(n);
            case ValueKind.String:
                return JsonValue.Create(value.GetString());
            case ValueKind.Json:
                return CopyElement(value.Element);
            case ValueKind.Window:
                var array = new JsonArray();
                foreach (var e in value.Window)
                {
                    array.Add(CopyElement(e.Data));
                }

                return array;
            default:
                missing = true;
                return null;
        }
    }

    private static readonly JsonNodeOptions NodeOptions = new() { PropertyNameCaseInsensitive = false };

    /// <summary>A deep, independent copy of a JSON element.</summary>
    public static JsonNode? CopyElement(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Undefined => null,
        JsonValueKind.Null => null,
        JsonValueKind.String => JsonValue.Create(SafeGetString(element)),
        JsonValueKind.True => JsonValue.Create(true),
        JsonValueKind.False => JsonValue.Create(false),
        JsonValueKind.Object => CopyObject(element),
        JsonValueKind.Array => CopyArray(element),
        _ => JsonNode.Parse(element.GetRawText(), NodeOptions, new JsonDocumentOptions { MaxDepth = 4096 }),
    };

    private static JsonObject CopyObject(JsonElement element)
    {
        var result = new JsonObject(NodeOptions);
        foreach (var property in element.EnumerateObject())
        {
            string name;
            try
            {
                name = property.Name;
            }
            catch (InvalidOperationException)
            {
                continue; // a property name that is not valid UTF-16: left out
            }

            result[name] = CopyElement(property.Value);
        }

        return result;
    }

    private static JsonArray CopyArray(JsonElement element)
    {
        var result = new JsonArray(NodeOptions);
        foreach (var item in element.EnumerateArray())
        {
            result.Add(CopyElement(item));
        }

        return result;
    }

    /// <summary>Text of a correlation key: strings as they are, numbers invariant, booleans true/false, other JSON as JSON.</summary>
    public static string? ToKeyText(RuleValue value) => value.Kind switch
    {
        ValueKind.Missing or ValueKind.Null => null,
        ValueKind.Bool => value.Bool ? "true" : "false",
        ValueKind.Number => RuleValue.FormatNumber(value.Number),
        _ when value.IsStringLike => value.GetString(),
        ValueKind.Json => value.Element.GetRawText(),
        _ => ToJson(value, out _)?.ToJsonString(),
    };
}
