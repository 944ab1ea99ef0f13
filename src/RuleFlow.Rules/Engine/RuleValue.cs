using System.Buffers;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

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

    /// <summary>A JSON string, object or array of an event (read lazily: strings are compared and hashed without copying).</summary>
    Json,

    /// <summary>A point in time (UTC ticks).</summary>
    Time,

    /// <summary>An IP network (<c>10.0.0.0/8</c>).</summary>
    Network,

    /// <summary>A list of values (list literals, <c>collect</c>, <c>split</c>).</summary>
    List,

    /// <summary>The events of an aggregate's window (actions only).</summary>
    Window,
}

/// <summary>An IP network literal with its text.</summary>
internal sealed record NetworkValue(IPNetwork Network, string Text);

/// <summary>
/// A value during matching: a literal, or a value read from an event's JSON. Numbers are doubles; strings compare ordinally.
/// Equality (<see cref="Equals(RuleValue)"/>) is structural and used for hash keys (a JSON string and a string with the same text are
/// equal and hash alike, without copying the JSON); the rule-language comparisons are in <see cref="ValueOps"/>.
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

    public static RuleValue FromNumber(double value) =>
        double.IsNaN(value) || double.IsInfinity(value) ? Missing : new(ValueKind.Number, value == 0 ? 0d : value, null, default);

    public static RuleValue FromString(string value) => new(ValueKind.String, 0, value, default);

    public static RuleValue FromTime(long ticks) => new(ValueKind.Time, BitConverter.Int64BitsToDouble(ticks), null, default);

    public static RuleValue FromNetwork(IPNetwork network, string text) => new(ValueKind.Network, 0, new NetworkValue(network, text), default);

    public static RuleValue FromList(RuleValue[] items) => new(ValueKind.List, 0, items, default);

    public static RuleValue FromWindow(IReadOnlyList<DataFact> events) => new(ValueKind.Window, 0, events, default);

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

    public bool IsJsonString => Kind == ValueKind.Json && _json.ValueKind == JsonValueKind.String;

    public bool IsStringLike => Kind == ValueKind.String || IsJsonString;

    public bool IsJsonNumber => Kind == ValueKind.Json && _json.ValueKind == JsonValueKind.Number;

    public bool IsArray => Kind is ValueKind.List or ValueKind.Window || (Kind == ValueKind.Json && _json.ValueKind == JsonValueKind.Array);

    public double Number => _number;

    public bool Bool => _number != 0;

    public long TimeTicks => BitConverter.DoubleToInt64Bits(_number);

    public JsonElement Element => _json;

    public IReadOnlyList<DataFact> Window => (IReadOnlyList<DataFact>)_ref!;

    public RuleValue[] List => (RuleValue[])_ref!;

    public NetworkValue Network => (NetworkValue)_ref!;

    /// <summary>The string of a string-like value (allocates for JSON strings); never throws (see <see cref="ValueOps.SafeGetString"/>).</summary>
    public string GetString() => Kind == ValueKind.String ? (string)_ref! : ValueOps.SafeGetString(_json);

    /// <summary>
    /// A copy that holds no reference to the event's JSON document (strings become strings, objects and arrays their text), for keys
    /// kept longer than the event (throttle, dedup, storm-control groups).
    /// </summary>
    public RuleValue Detach()
    {
        if (Kind == ValueKind.List)
        {
            // A list literal over an event's fields (`[e.src, e.dst]`) holds values that read the event's document.
            var items = List;
            if (!Array.Exists(items, item => item.Kind is ValueKind.Json or ValueKind.List))
            {
                return this;
            }

            var detached = new RuleValue[items.Length];
            for (var i = 0; i < items.Length; i++)
            {
                detached[i] = items[i].Detach();
            }

            return FromList(detached);
        }

        if (Kind != ValueKind.Json)
        {
            return this;
        }

        return _json.ValueKind switch
        {
            JsonValueKind.String => FromString(KeyStrings.Get(_json)),
            JsonValueKind.Number => FromElement(_json),
            _ => new RuleValue(ValueKind.Json, 0, null, _json.Clone()), // a standalone copy: no re-parse, so no depth limit
        };
    }

    public bool Equals(RuleValue other)
    {
        if (IsStringLike && other.IsStringLike)
        {
            return ValueOps.StringEquals(this, other);
        }

        if (IsJsonNumber || other.IsJsonNumber)
        {
            var a = IsJsonNumber ? FromElement(_json) : this;
            var b = other.IsJsonNumber ? FromElement(other._json) : other;
            return a.Kind == b.Kind && a.Equals(b);
        }

        if ((Kind == ValueKind.List && other.Kind == ValueKind.Json) || (Kind == ValueKind.Json && other.Kind == ValueKind.List))
        {
            return ListEqualsArray(Kind == ValueKind.List ? this : other, Kind == ValueKind.List ? other._json : _json);
        }

        if (Kind != other.Kind)
        {
            return false;
        }

        return Kind switch
        {
            ValueKind.Missing or ValueKind.Null => true,
            ValueKind.Bool or ValueKind.Number or ValueKind.Time => _number.Equals(other._number),
            ValueKind.Json => ValueOps.JsonEquals(this, other),
            ValueKind.Network => Network.Network.Equals(other.Network.Network),
            ValueKind.List => List.AsSpan().SequenceEqual(other.List),
            _ => ReferenceEquals(_ref, other._ref),
        };
    }

    // A list made in the rule and a JSON array with the same items, item by item with this equality (as a list equals a list), so
    // that join-key equality stays one relation.
    private static bool ListEqualsArray(RuleValue list, JsonElement array)
    {
        if (array.ValueKind != JsonValueKind.Array || array.GetArrayLength() != list.List.Length)
        {
            return false;
        }

        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (!list.List[i++].Equals(FromElement(item)))
            {
                return false;
            }
        }

        return true;
    }

    public override bool Equals(object? obj) => obj is RuleValue other && Equals(other);

    public override int GetHashCode()
    {
        if (IsStringLike)
        {
            return ValueOps.StringHash(this);
        }

        if (IsJsonNumber)
        {
            return FromElement(_json).GetHashCode();
        }

        return Kind switch
        {
            ValueKind.Bool or ValueKind.Number or ValueKind.Time => HashCode.Combine(Kind, _number),
            // A list and a JSON array with the same items are equal (join keys): both hash as an array of their length.
            ValueKind.Json when _json.ValueKind == JsonValueKind.Array => HashCode.Combine(JsonValueKind.Array, _json.GetArrayLength()),
            ValueKind.Json => HashCode.Combine(Kind, _json.ValueKind, 0),
            ValueKind.Network => Network.Network.GetHashCode(),
            ValueKind.List => HashCode.Combine(JsonValueKind.Array, List.Length),
            _ => (int)Kind,
        };
    }

    /// <summary>Canonical text for sharing nodes and for messages: strings quoted, numbers invariant.</summary>
    public override string ToString() => Kind switch
    {
        ValueKind.Missing => "<missing>",
        ValueKind.Null => "null",
        ValueKind.Bool => Bool ? "true" : "false",
        ValueKind.Number => FormatNumber(_number),
        ValueKind.String => JsonSerializer.Serialize((string)_ref!),
        ValueKind.Json => _json.GetRawText(),
        ValueKind.Time => ValueOps.FormatTime(TimeTicks),
        ValueKind.Network => Network.Text,
        ValueKind.List => "[" + string.Join(",", List.Select(v => v.ToString())) + "]",
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
/// A hash key of one or more values (equality join keys, aggregate groups, throttle keys). Up to two values are held inline (no
/// allocation); more are one array, held by the first slot as a list value. The hash is computed once. A key with a missing part
/// never joins. 88 bytes: it is stored in every aggregate group, join list and fact index entry.
/// </summary>
internal readonly struct JoinKey : IEquatable<JoinKey>
{
    private readonly RuleValue _a;
    private readonly RuleValue _b;
    private readonly int _hash;

    // Count << 1 | 1 when a part is missing.
    private readonly int _shape;

    public JoinKey(RuleValue single)
    {
        _a = single;
        _b = default;
        _shape = 1 << 1 | (single.IsMissing ? 1 : 0);
        _hash = single.GetHashCode();
    }

    public JoinKey(RuleValue first, RuleValue second)
    {
        _a = first;
        _b = second;
        _shape = 2 << 1 | (first.IsMissing || second.IsMissing ? 1 : 0);
        _hash = HashCode.Combine(first.GetHashCode(), second.GetHashCode());
    }

    public JoinKey(RuleValue[] values)
    {
        if (values.Length <= 2)
        {
            this = values.Length switch
            {
                0 => default,
                1 => new JoinKey(values[0]),
                _ => new JoinKey(values[0], values[1]),
            };
            return;
        }

        _a = RuleValue.FromList(values);
        _b = default;
        var hash = new HashCode();
        var missing = false;
        foreach (var v in values)
        {
            hash.Add(v.GetHashCode());
            missing |= v.IsMissing;
        }

        _shape = values.Length << 1 | (missing ? 1 : 0);
        _hash = hash.ToHashCode();
    }

    private JoinKey(RuleValue a, RuleValue b, int hash, int shape)
    {
        _a = a;
        _b = b;
        _hash = hash;
        _shape = shape;
    }

    /// <summary>The key of no values (one bucket for everything).</summary>
    public static JoinKey Unit => default;

    /// <summary>The stored parts, for <see cref="CompactKey"/>: the first value (all of them as a list from three on) and the second.</summary>
    internal (RuleValue A, RuleValue B, int Hash, int Shape) Parts => (_a, _b, _hash, _shape);

    /// <summary>The key <see cref="Parts"/> gave, rebuilt as it was (no hash computed again).</summary>
    internal static JoinKey FromParts(RuleValue a, RuleValue b, int hash, int shape) => new(a, b, hash, shape);

    public int Count => _shape >> 1;

    public bool HasMissing => (_shape & 1) != 0;

    public RuleValue this[int index] => Count > 2 ? _a.List[index] : index == 0 ? _a : _b;

    /// <summary>A copy holding no reference to event documents (see <see cref="RuleValue.Detach"/>).</summary>
    public JoinKey Detach()
    {
        if (Count == 0)
        {
            return this;
        }

        if (Count <= 2)
        {
            // A list part (`per [e.src, e.dst]`) can hold values that read the event's document too.
            static bool Reads(RuleValue value) => value.Kind is ValueKind.Json or ValueKind.List;
            return Count == 1 ? (Reads(_a) ? new JoinKey(_a.Detach()) : this)
                : !Reads(_a) && !Reads(_b) ? this : new JoinKey(_a.Detach(), _b.Detach());
        }

        var values = new RuleValue[Count];
        for (var i = 0; i < Count; i++)
        {
            values[i] = this[i].Detach();
        }

        return new JoinKey(values);
    }

    public RuleValue[] ToArray()
    {
        var values = new RuleValue[Count];
        for (var i = 0; i < Count; i++)
        {
            values[i] = this[i];
        }

        return values;
    }

    public bool Equals(JoinKey other)
    {
        if (Count != other.Count || _hash != other._hash)
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

    public override int GetHashCode() => _hash;

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

/// <summary>
/// A detached <see cref="JoinKey"/> (<see cref="JoinKey.Detach"/>) in 24 bytes instead of 88, for keys stored once per entry in large
/// numbers (the per key of every aggregate group). Each stored part is one reference: a string part its string, a list part (and the
/// values of a key of three or more) its array, any other part its <see cref="RuleValue"/> boxed — numbers, times, booleans, JSON
/// objects: a 56-byte object made when the key is stored, so a key of such parts saves little (strings, the usual per keys, save
/// 64 bytes). <see cref="Key"/> gives back the same key, field for field.
/// </summary>
internal readonly struct CompactKey
{
    private readonly object? _a;
    private readonly object? _b;
    private readonly int _hash;
    private readonly int _shape;

    private CompactKey(object? a, object? b, int hash, int shape)
    {
        _a = a;
        _b = b;
        _hash = hash;
        _shape = shape;
    }

    /// <summary>Packs <paramref name="key"/>, which must be detached (a part that reads an event's document would keep it alive).</summary>
    public static CompactKey From(JoinKey key)
    {
        var (a, b, hash, shape) = key.Parts;
        return new CompactKey(Pack(a), Pack(b), hash, shape);
    }

    /// <summary>The key, as it was packed.</summary>
    public JoinKey Key => JoinKey.FromParts(Unpack(_a), Unpack(_b), _hash, _shape);

    /// <summary>The key's hash (<see cref="JoinKey.GetHashCode"/>).</summary>
    public int Hash => _hash;

    /// <summary>True when <paramref name="key"/> equals the packed key (<see cref="JoinKey.Equals(JoinKey)"/>).</summary>
    public bool Matches(JoinKey key) => key.GetHashCode() == _hash && key.Equals(Key);

    private static object? Pack(RuleValue value) => value.Kind switch
    {
        ValueKind.Missing => null,
        ValueKind.String => value.GetString(),
        ValueKind.List => value.List,
        _ => value,
    };

    private static RuleValue Unpack(object? packed) => packed switch
    {
        null => default,
        string text => RuleValue.FromString(text),
        RuleValue[] items => RuleValue.FromList(items),
        _ => (RuleValue)packed,
    };
}

/// <summary>
/// The strings of detached keys (<see cref="RuleValue.Detach"/>), shared: a direct-mapped cache, one per session, of the last string
/// made for each hash slot (65,536 slots, 512 KB, made on the session's first detached string key). The keys of groups, join memories
/// and throttles that come and go with a window (device names, IP addresses) are then one string each for as long as they recur,
/// instead of a new string per entry that lives one window and dies old. Bounded: a slot keeps one string; a string that misses its
/// slot is made as before. The session enters its cache for the length of an insertion (<see cref="Enter"/>); outside one (a
/// snapshot restore, an explanation) strings are made, not cached, so no thread keeps a cache of its own.
/// </summary>
internal sealed class KeyStrings
{
    private const int Slots = 1 << 16;

    /// <summary>Texts longer than this (UTF-8 bytes) are not cached.</summary>
    private const int MaxCachedBytes = 128;

    [ThreadStatic]
    private static KeyStrings? t_current;

    private string?[]? _slots;

    /// <summary>Makes this the cache of the calling thread until the scope is disposed (scopes nest).</summary>
    public Scope Enter()
    {
        var previous = t_current;
        t_current = this;
        return new Scope(previous);
    }

    /// <summary>Restores the cache that was current before <see cref="Enter"/>.</summary>
    public readonly struct Scope(KeyStrings? previous) : IDisposable
    {
        public void Dispose() => t_current = previous;
    }

    /// <summary>
    /// The string of a JSON string element: the current cache's when its slot holds the same text, else a new one (cached when a
    /// cache is current).
    /// </summary>
    public static string Get(JsonElement element)
    {
        if (t_current is not { } cache || !ValueOps.TryGetPlainUtf8(element, out var utf8) || utf8.Length > MaxCachedBytes)
        {
            return ValueOps.SafeGetString(element);
        }

        var slots = cache._slots ??= new string?[Slots];
        var slot = ValueOps.HashBytes(utf8) & (Slots - 1);
        if (slots[slot] is { } cached && Matches(cached, utf8))
        {
            return cached;
        }

        var text = ValueOps.SafeGetString(element);
        slots[slot] = text;
        return text;
    }

    private static bool Matches(string text, ReadOnlySpan<byte> utf8)
    {
        if (System.Text.Ascii.IsValid(utf8))
        {
            return text.Length == utf8.Length && System.Text.Ascii.Equals(utf8, text);
        }

        Span<char> buffer = stackalloc char[MaxCachedBytes];
        return System.Text.Unicode.Utf8.IsValid(utf8) && System.Text.Encoding.UTF8.TryGetChars(utf8, buffer, out var n)
               && buffer[..n].SequenceEqual(text);
    }
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
/// A compiled field path: names (UTF-8) and indexes (negative: from the end). Navigation never throws and never allocates.
/// </summary>
internal sealed class FieldPath
{
    private readonly byte[]?[] _names;
    private readonly int[] _indexes;

    public FieldPath(IReadOnlyList<Language.PathStep> steps)
    {
        _names = [.. steps.Select(s => s.Name is null ? null : Encoding.UTF8.GetBytes(s.Name))];
        _indexes = [.. steps.Select(s => s.Index)];
    }

    public static FieldPath Of(params string[] names) => new([.. names.Select(n => new Language.PathStep(n, 0))]);

    public int Length => _names.Length;

    public bool IsEmpty => _names.Length == 0;

    public bool TryNavigate(JsonElement root, out JsonElement element)
    {
        element = root;
        for (var i = 0; i < _names.Length; i++)
        {
            var name = _names[i];
            if (name is not null)
            {
                if (element.ValueKind != JsonValueKind.Object || !ValueOps.TryGetProperty(element, name, out element))
                {
                    return false;
                }
            }
            else
            {
                if (element.ValueKind != JsonValueKind.Array)
                {
                    return false;
                }

                var length = element.GetArrayLength();
                var index = _indexes[i] < 0 ? length + _indexes[i] : _indexes[i];
                if (index < 0 || index >= length)
                {
                    return false;
                }

                element = element[index];
            }
        }

        return root.ValueKind != JsonValueKind.Undefined;
    }

    public RuleValue Read(JsonElement root) => TryNavigate(root, out var e) ? RuleValue.FromElement(e) : RuleValue.Missing;

    public RuleValue ReadRaw(JsonElement root) => TryNavigate(root, out var e) ? RuleValue.FromElementRaw(e) : RuleValue.Missing;

    /// <summary>Same steps as <paramref name="other"/>.</summary>
    public bool SameAs(FieldPath other) =>
        _names.Length == other._names.Length
        && _indexes.AsSpan().SequenceEqual(other._indexes)
        && _names.Zip(other._names).All(p => p.First is null ? p.Second is null : p.Second is not null && p.First.AsSpan().SequenceEqual(p.Second));
}

/// <summary>
/// The semantics of values, in one place: numbers compare numerically, strings ordinally, times by instant (a string or a number is
/// read as a time when compared with one); <c>==</c> between different kinds is false; any comparison with a missing value is false
/// (so <c>!=</c> is false too); <c>&lt;</c> and friends are false unless both sides are numbers, strings or times. Nothing here throws
/// on any input.
/// </summary>
internal static class ValueOps
{
    /// <summary>Longest time a regular expression may run on one value (then the condition is false).</summary>
    public static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(100);

    private const int StackChars = 256;

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

    public static bool TryGetProperty(JsonElement obj, byte[] name, out JsonElement value)
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

    /// <summary>The raw UTF-8 content of a JSON string without escapes (between the quotes); false when it has escapes.</summary>
    internal static bool TryGetPlainUtf8(JsonElement element, out ReadOnlySpan<byte> content)
    {
        var raw = JsonMarshal.GetRawUtf8Value(element);
        if (raw.Length >= 2 && raw.IndexOf((byte)'\\') < 0)
        {
            content = raw[1..^1];
            return true;
        }

        content = default;
        return false;
    }

    /// <summary>Hash of a string-like value over its UTF-8 bytes (equal for a JSON string and a string with the same text).</summary>
    public static int StringHash(RuleValue value)
    {
        if (value.Kind == ValueKind.Json && TryGetPlainUtf8(value.Element, out var utf8))
        {
            return HashBytes(utf8);
        }

        var text = value.GetString();
        var max = Encoding.UTF8.GetMaxByteCount(text.Length);
        if (max <= 1024)
        {
            Span<byte> buffer = stackalloc byte[max];
            var n = Encoding.UTF8.GetBytes(text, buffer);
            return HashBytes(buffer[..n]);
        }

        var rented = ArrayPool<byte>.Shared.Rent(max);
        try
        {
            var n = Encoding.UTF8.GetBytes(text, rented);
            return HashBytes(rented.AsSpan(0, n));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    internal static int HashBytes(ReadOnlySpan<byte> bytes)
    {
        var hash = new HashCode();
        hash.AddBytes(bytes);
        return hash.ToHashCode();
    }

    /// <summary>Ordinal equality of two string-like values, without copying JSON strings where possible.</summary>
    public static bool StringEquals(RuleValue left, RuleValue right)
    {
        try
        {
            if (left.Kind == ValueKind.Json && right.Kind == ValueKind.Json)
            {
                if (TryGetPlainUtf8(left.Element, out var a) && TryGetPlainUtf8(right.Element, out var b))
                {
                    return a.SequenceEqual(b);
                }
            }
            else if (left.Kind == ValueKind.Json)
            {
                return left.Element.ValueEquals(right.GetString());
            }
            else if (right.Kind == ValueKind.Json)
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

        if (left.Kind == ValueKind.Time || right.Kind == ValueKind.Time)
        {
            return TryGetTimeTicks(left, out var a) && TryGetTimeTicks(right, out var b) && a == b;
        }

        if (left.IsStringLike && right.IsStringLike)
        {
            return StringEquals(left, right);
        }

        // A list made in the rule (`xs contains [1]`) and a JSON array compare item by item, as two arrays do.
        if (left.Kind == ValueKind.List && right.Kind == ValueKind.Json && right.Element.ValueKind == JsonValueKind.Array)
        {
            return ListEqualsJson(left.List, right.Element);
        }

        if (right.Kind == ValueKind.List && left.Kind == ValueKind.Json && left.Element.ValueKind == JsonValueKind.Array)
        {
            return ListEqualsJson(right.List, left.Element);
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
            ValueKind.Network => left.Network.Network.Equals(right.Network.Network),
            ValueKind.List => ListEquals(left.List, right.List),
            _ => false,
        };
    }

    private static bool ListEqualsJson(RuleValue[] list, JsonElement array)
    {
        if (list.Length != array.GetArrayLength())
        {
            return false;
        }

        var i = 0;
        foreach (var element in array.EnumerateArray())
        {
            if (!AreEqual(list[i++], RuleValue.FromElement(element)))
            {
                return false;
            }
        }

        return true;
    }

    private static bool ListEquals(RuleValue[] a, RuleValue[] b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }

        for (var i = 0; i < a.Length; i++)
        {
            if (!AreEqual(a[i], b[i]))
            {
                return false;
            }
        }

        return true;
    }

    internal static bool JsonEquals(RuleValue left, RuleValue right)
    {
        try
        {
            return left.Element.ValueKind == right.Element.ValueKind && JsonElement.DeepEquals(left.Element, right.Element);
        }
        catch (Exception e) when (e is InvalidOperationException or InsufficientExecutionStackException)
        {
            return false;
        }
    }

    /// <summary>-1, 0 or 1 for two numbers, two strings or two times; null when they cannot be ordered.</summary>
    public static int? CompareOrder(RuleValue left, RuleValue right)
    {
        if (left.Kind == ValueKind.Number && right.Kind == ValueKind.Number)
        {
            return left.Number.CompareTo(right.Number);
        }

        if (left.Kind == ValueKind.Time || right.Kind == ValueKind.Time)
        {
            return TryGetTimeTicks(left, out var a) && TryGetTimeTicks(right, out var b) ? a.CompareTo(b) : null;
        }

        if (left.IsStringLike && right.IsStringLike)
        {
            return Math.Sign(string.CompareOrdinal(left.GetString(), right.GetString()));
        }

        return null;
    }

    private static bool Order(RuleValue left, RuleValue right, ComparisonOp op)
    {
        if (CompareOrder(left, right) is not { } c)
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

    /// <summary>Smallest and largest instants a time value may have (years 1..9999).</summary>
    private const double MinUnixMs = -62_135_596_800_000d;

    private const double MaxUnixMs = 253_402_300_799_999d;

    /// <summary>
    /// The instant of a value: a time, an ISO-8601 string (UTC when it has no offset) or a number of Unix milliseconds. Never throws.
    /// </summary>
    public static bool TryGetTimeTicks(RuleValue value, out long ticks)
    {
        ticks = 0;
        switch (value.Kind)
        {
            case ValueKind.Time:
                ticks = value.TimeTicks;
                return true;
            case ValueKind.Number:
                return TryUnixMs(value.Number, out ticks);
            case ValueKind.String:
                return TryParseTime(value.GetString(), out ticks);
            case ValueKind.Json when value.Element.ValueKind == JsonValueKind.Number:
                return value.Element.TryGetDouble(out var ms) && TryUnixMs(ms, out ticks);
            case ValueKind.Json when value.Element.ValueKind == JsonValueKind.String:
            {
                if (TryGetPlainUtf8(value.Element, out var utf8) && utf8.Length <= 64)
                {
                    Span<char> chars = stackalloc char[64];
                    var n = Encoding.UTF8.GetChars(utf8, chars);
                    return TryParseTime(chars[..n], out ticks);
                }

                return TryParseTime(value.GetString(), out ticks);
            }

            default:
                return false;
        }
    }

    private static bool TryUnixMs(double ms, out long ticks)
    {
        ticks = 0;
        if (double.IsNaN(ms) || ms < MinUnixMs || ms > MaxUnixMs)
        {
            return false;
        }

        ticks = DateTimeOffset.UnixEpoch.UtcTicks + (long)Math.Round(ms * TimeSpan.TicksPerMillisecond);
        return true;
    }

    internal static bool TryParseTime(ReadOnlySpan<char> text, out long ticks)
    {
        ticks = 0;
        if (!IsIso8601(text))
        {
            return false; // .NET's parser alone reads "03/01/2024" (month first) and "2024-03-01+5" (an offset of 5 hours)
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
        {
            ticks = parsed.UtcTicks;
            return true;
        }

        return false;
    }

    /// <summary>
    /// The ISO-8601 / RFC 3339 shapes a time string may have: <c>YYYY-MM-DD</c>, optionally followed by <c>T</c> (or a space, as RFC
    /// 3339 allows) and <c>hh:mm</c>, <c>:ss</c>, a fraction of up to 9 digits, and <c>Z</c> or an offset <c>±hh</c>, <c>±hhmm</c>,
    /// <c>±hh:mm</c>. Nothing else: the values are checked by the parser after.
    /// </summary>
    internal static bool IsIso8601(ReadOnlySpan<char> t)
    {
        static bool Digits(ReadOnlySpan<char> s, int at, int count)
        {
            if (at + count > s.Length)
            {
                return false;
            }

            for (var i = at; i < at + count; i++)
            {
                if (!char.IsAsciiDigit(s[i]))
                {
                    return false;
                }
            }

            return true;
        }

        if (!(Digits(t, 0, 4) && t.Length >= 10 && t[4] == '-' && Digits(t, 5, 2) && t[7] == '-' && Digits(t, 8, 2)))
        {
            return false;
        }

        if (t.Length == 10)
        {
            return true;
        }

        if (t[10] is not ('T' or 't' or ' ') || !(Digits(t, 11, 2) && t.Length > 13 && t[13] == ':' && Digits(t, 14, 2)))
        {
            return false;
        }

        var i = 16;
        if (i < t.Length && t[i] == ':')
        {
            if (!Digits(t, i + 1, 2))
            {
                return false;
            }

            i += 3;
            if (i < t.Length && t[i] is '.' or ',')
            {
                var start = ++i;
                while (i < t.Length && char.IsAsciiDigit(t[i]))
                {
                    i++;
                }

                if (i == start || i - start > 9)
                {
                    return false;
                }
            }
        }

        if (i == t.Length)
        {
            return true;
        }

        if (t[i] is 'Z' or 'z')
        {
            return i + 1 == t.Length;
        }

        if (t[i] is not ('+' or '-') || !Digits(t, i + 1, 2))
        {
            return false;
        }

        var rest = t.Length - (i + 3);
        return rest == 0 || (rest == 2 && Digits(t, i + 3, 2)) || (rest == 3 && t[i + 3] == ':' && Digits(t, i + 4, 2));
    }

    public static string FormatTime(long ticks) =>
        new DateTimeOffset(Math.Clamp(ticks, DateTimeOffset.MinValue.UtcTicks, DateTimeOffset.MaxValue.UtcTicks), TimeSpan.Zero)
            .ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    /// <summary>True when the value is a string the regex matches; false for anything else, and when the match times out.</summary>
    public static bool Matches(RuleValue value, System.Text.RegularExpressions.Regex regex)
    {
        if (!value.IsStringLike)
        {
            return false;
        }

        try
        {
            if (value.Kind == ValueKind.Json && TryGetPlainUtf8(value.Element, out var utf8) && utf8.Length <= StackChars)
            {
                Span<char> chars = stackalloc char[StackChars];
                var n = Encoding.UTF8.GetChars(utf8, chars);
                return regex.IsMatch(chars[..n]);
            }

            return regex.IsMatch(value.GetString());
        }
        catch (System.Text.RegularExpressions.RegexMatchTimeoutException)
        {
            return false;
        }
    }

    /// <summary><c>contains</c> (a string holds a substring, or an array holds an equal item), <c>startswith</c>, <c>endswith</c>.</summary>
    public static bool Text(Language.TextOp op, RuleValue left, RuleValue right)
    {
        if (left.IsMissing || right.IsMissing)
        {
            return false;
        }

        if (op == Language.TextOp.Contains && left.IsArray)
        {
            return ArrayContains(left, right);
        }

        if (!left.IsStringLike || !right.IsStringLike)
        {
            return false;
        }

        var a = left.GetString();
        var b = right.GetString();
        return op switch
        {
            Language.TextOp.Contains => a.Contains(b, StringComparison.Ordinal),
            Language.TextOp.StartsWith => a.StartsWith(b, StringComparison.Ordinal),
            _ => a.EndsWith(b, StringComparison.Ordinal),
        };
    }

    private static bool ArrayContains(RuleValue array, RuleValue item)
    {
        switch (array.Kind)
        {
            case ValueKind.List:
                foreach (var v in array.List)
                {
                    if (AreEqual(v, item))
                    {
                        return true;
                    }
                }

                return false;
            case ValueKind.Window:
                return false;
            default:
                foreach (var element in array.Element.EnumerateArray())
                {
                    if (AreEqual(RuleValue.FromElement(element), item))
                    {
                        return true;
                    }
                }

                return false;
        }
    }

    /// <summary><c>x in [items]</c>: equal to a value, inside a range (inclusive) or an address inside a network.</summary>
    public static bool In(RuleValue value, Language.InItem[] items)
    {
        if (value.IsMissing)
        {
            return false;
        }

        for (var i = 0; i < items.Length; i++)
        {
            var item = items[i];
            if (item.IsRange)
            {
                if (CompareOrder(value, item.Value) is >= 0 && CompareOrder(value, item.High) is <= 0)
                {
                    return true;
                }
            }
            else if (item.Value.Kind == ValueKind.Network)
            {
                if (InNetwork(value, item.Value.Network.Network))
                {
                    return true;
                }
            }
            else if (AreEqual(value, item.Value))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary><c>x in array</c> (or a network value, or a string holding x).</summary>
    public static bool InValue(RuleValue value, RuleValue target)
    {
        if (value.IsMissing || target.IsMissing)
        {
            return false;
        }

        if (target.Kind == ValueKind.Network)
        {
            return InNetwork(value, target.Network.Network);
        }

        if (target.IsArray)
        {
            return ArrayContains(target, value);
        }

        return target.IsStringLike && value.IsStringLike && target.GetString().Contains(value.GetString(), StringComparison.Ordinal);
    }

    /// <summary>An address (string) inside a network; IPv4 addresses are parsed without allocating.</summary>
    public static bool InNetwork(RuleValue value, IPNetwork network)
    {
        if (!value.IsStringLike)
        {
            return false;
        }

        Span<char> chars = stackalloc char[64];
        scoped ReadOnlySpan<char> text;
        if (value.Kind == ValueKind.Json && TryGetPlainUtf8(value.Element, out var utf8) && utf8.Length <= 64)
        {
            text = chars[..Encoding.UTF8.GetChars(utf8, chars)];
        }
        else
        {
            text = value.GetString();
        }

        if (text.Length > 64)
        {
            return false;
        }

        if (TryParseIPv4(text, out var v4) && network.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            Span<byte> baseBytes = stackalloc byte[4];
            network.BaseAddress.TryWriteBytes(baseBytes, out _);
            var baseValue = (uint)(baseBytes[0] << 24 | baseBytes[1] << 16 | baseBytes[2] << 8 | baseBytes[3]);
            var mask = network.PrefixLength == 0 ? 0u : uint.MaxValue << (32 - network.PrefixLength);
            return (v4 & mask) == (baseValue & mask);
        }

        // Only IPv6 text from here: .NET's parser also takes IPv4 in forms nobody writes in events ("167772161", "0x10", "1.2.3"),
        // and an endpoint in brackets with or without a port ("[2001:db8::1]:443"), which is not an address.
        if (!text.Contains(':') || text.Contains('[') || !IPAddress.TryParse(text, out var address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return false;
        }

        // An IPv4 client of a dual-stack socket is logged as an IPv4-mapped address ("::ffff:10.1.2.3"): it is in the IPv4
        // networks its IPv4 address is in, and in the IPv6 networks its bytes are in (IPNetwork.Contains says no to both).
        if (address.IsIPv4MappedToIPv6 && network.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            address = address.MapToIPv4();
        }

        return network.BaseAddress.AddressFamily == address.AddressFamily && PrefixMatches(address, network);
    }

    // The first PrefixLength bits of the address equal the network's (both of one family).
    private static bool PrefixMatches(IPAddress address, IPNetwork network)
    {
        Span<byte> a = stackalloc byte[16];
        Span<byte> b = stackalloc byte[16];
        address.TryWriteBytes(a, out var length);
        network.BaseAddress.TryWriteBytes(b, out _);
        var bits = network.PrefixLength;
        for (var i = 0; i < length && bits > 0; i++, bits -= 8)
        {
            var mask = bits >= 8 ? 0xFF : 0xFF << (8 - bits) & 0xFF;
            if ((a[i] & mask) != (b[i] & mask))
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryParseIPv4(ReadOnlySpan<char> text, out uint value)
    {
        value = 0;
        var part = 0;
        var parts = 0;
        var digits = 0;
        foreach (var c in text)
        {
            if (char.IsAsciiDigit(c))
            {
                part = part * 10 + (c - '0');
                if (++digits > 3 || part > 255)
                {
                    return false;
                }
            }
            else if (c == '.' && digits > 0 && parts < 3)
            {
                value = (value << 8) | (uint)part;
                parts++;
                part = 0;
                digits = 0;
            }
            else
            {
                return false;
            }
        }

        if (digits == 0 || parts != 3)
        {
            return false;
        }

        value = (value << 8) | (uint)part;
        return true;
    }

    /// <summary>Arithmetic: numbers; time − time (ms); time ± ms; <c>+</c> with a string joins text. Missing on anything else.</summary>
    public static RuleValue Arithmetic(Language.ArithmeticOp op, RuleValue left, RuleValue right)
    {
        if (left.IsMissing || right.IsMissing)
        {
            return RuleValue.Missing;
        }

        if (op == Language.ArithmeticOp.Add && (left.IsStringLike || right.IsStringLike) && left.Kind != ValueKind.Time && right.Kind != ValueKind.Time)
        {
            return RuleValue.FromString(TextOf(left) + TextOf(right));
        }

        var l = AsNumberIfJson(left);
        var r = AsNumberIfJson(right);
        if (l.Kind == ValueKind.Number && r.Kind == ValueKind.Number)
        {
            return op switch
            {
                Language.ArithmeticOp.Add => RuleValue.FromNumber(l.Number + r.Number),
                Language.ArithmeticOp.Subtract => RuleValue.FromNumber(l.Number - r.Number),
                Language.ArithmeticOp.Multiply => RuleValue.FromNumber(l.Number * r.Number),
                Language.ArithmeticOp.Divide => r.Number == 0 ? RuleValue.Missing : RuleValue.FromNumber(l.Number / r.Number),
                _ => r.Number == 0 ? RuleValue.Missing : RuleValue.FromNumber(l.Number % r.Number),
            };
        }

        if (l.Kind == ValueKind.Time || r.Kind == ValueKind.Time)
        {
            if (op == Language.ArithmeticOp.Subtract && TryGetTimeTicks(l, out var a) && r.Kind != ValueKind.Number && TryGetTimeTicks(r, out var b))
            {
                return RuleValue.FromNumber((a - b) / (double)TimeSpan.TicksPerMillisecond);
            }

            if (l.Kind == ValueKind.Time && r.Kind == ValueKind.Number && op is Language.ArithmeticOp.Add or Language.ArithmeticOp.Subtract)
            {
                return ShiftTime(l.TimeTicks, op == Language.ArithmeticOp.Add ? r.Number : -r.Number);
            }

            if (r.Kind == ValueKind.Time && l.Kind == ValueKind.Number && op == Language.ArithmeticOp.Add)
            {
                return ShiftTime(r.TimeTicks, l.Number);
            }
        }

        return RuleValue.Missing;
    }

    private static RuleValue ShiftTime(long ticks, double ms)
    {
        var delta = ms * TimeSpan.TicksPerMillisecond;
        var result = ticks + delta;
        return result < DateTimeOffset.MinValue.UtcTicks || result > DateTimeOffset.MaxValue.UtcTicks
            ? RuleValue.Missing
            : RuleValue.FromTime((long)result);
    }

    private static RuleValue AsNumberIfJson(RuleValue value) => value.IsJsonNumber ? RuleValue.FromElement(value.Element) : value;

    /// <summary>Text of a value for joining strings and for messages: strings as they are, numbers invariant, times ISO-8601.</summary>
    public static string TextOf(RuleValue value) => value.Kind switch
    {
        ValueKind.Missing => "",
        ValueKind.Null => "null",
        ValueKind.Bool => value.Bool ? "true" : "false",
        ValueKind.Number => RuleValue.FormatNumber(value.Number),
        ValueKind.String => value.GetString(),
        ValueKind.Json when value.Element.ValueKind == JsonValueKind.String => SafeGetString(value.Element),
        ValueKind.Json => value.Element.GetRawText(),
        ValueKind.Time => FormatTime(value.TimeTicks),
        ValueKind.Network => value.Network.Text,
        _ => ToJson(value, out _)?.ToJsonString() ?? "",
    };

    /// <summary>Built-in functions; <paramref name="clock"/> is the session clock (UTC ticks). Missing on bad arguments.</summary>
    public static RuleValue Call(Language.FunctionKind function, ReadOnlySpan<RuleValue> args, long clock)
    {
        switch (function)
        {
            case Language.FunctionKind.Now:
                return RuleValue.FromTime(clock);
            case Language.FunctionKind.Exists:
                return RuleValue.FromBool(!args[0].IsMissing);
            case Language.FunctionKind.Coalesce:
                foreach (var arg in args)
                {
                    if (!arg.IsMissing && arg.Kind != ValueKind.Null)
                    {
                        return arg;
                    }
                }

                return RuleValue.Missing;
            case Language.FunctionKind.Cidr:
                return args[0];
        }

        foreach (var arg in args)
        {
            if (arg.IsMissing)
            {
                return RuleValue.Missing;
            }
        }

        switch (function)
        {
            case Language.FunctionKind.Lower:
                return args[0].IsStringLike ? RuleValue.FromString(args[0].GetString().ToLowerInvariant()) : RuleValue.Missing;
            case Language.FunctionKind.Upper:
                return args[0].IsStringLike ? RuleValue.FromString(args[0].GetString().ToUpperInvariant()) : RuleValue.Missing;
            case Language.FunctionKind.Trim:
                return args[0].IsStringLike ? RuleValue.FromString(args[0].GetString().Trim()) : RuleValue.Missing;
            case Language.FunctionKind.Len:
                return args[0] switch
                {
                    { IsStringLike: true } s => RuleValue.FromNumber(s.GetString().Length),
                    { Kind: ValueKind.List } l => RuleValue.FromNumber(l.List.Length),
                    { Kind: ValueKind.Window } w => RuleValue.FromNumber(w.Window.Count),
                    { Kind: ValueKind.Json } j when j.Element.ValueKind == JsonValueKind.Array => RuleValue.FromNumber(j.Element.GetArrayLength()),
                    { Kind: ValueKind.Json } j when j.Element.ValueKind == JsonValueKind.Object => RuleValue.FromNumber(j.Element.EnumerateObject().Count()),
                    _ => RuleValue.Missing,
                };
            case Language.FunctionKind.Substring:
            {
                if (!args[0].IsStringLike || AsNumberIfJson(args[1]).Kind != ValueKind.Number
                    || (args.Length > 2 && AsNumberIfJson(args[2]).Kind != ValueKind.Number)) // a length given must be a number too
                {
                    return RuleValue.Missing;
                }

                var s = args[0].GetString();
                var start = (int)Math.Clamp(AsNumberIfJson(args[1]).Number, 0, s.Length);
                var length = args.Length > 2 && AsNumberIfJson(args[2]).Kind == ValueKind.Number
                    ? (int)Math.Clamp(AsNumberIfJson(args[2]).Number, 0, s.Length - start)
                    : s.Length - start;
                return RuleValue.FromString(s.Substring(start, length));
            }

            case Language.FunctionKind.Replace:
                return args[0].IsStringLike && args[1].IsStringLike && args[2].IsStringLike && args[1].GetString().Length > 0
                    ? RuleValue.FromString(args[0].GetString().Replace(args[1].GetString(), args[2].GetString(), StringComparison.Ordinal))
                    : RuleValue.Missing;
            case Language.FunctionKind.Split:
                return args[0].IsStringLike && args[1].IsStringLike && args[1].GetString().Length > 0
                    ? RuleValue.FromList([.. args[0].GetString().Split(args[1].GetString()).Select(RuleValue.FromString)])
                    : RuleValue.Missing;
            case Language.FunctionKind.Abs or Language.FunctionKind.Floor or Language.FunctionKind.Ceil or Language.FunctionKind.Round:
            {
                var n = AsNumberIfJson(args[0]);
                if (n.Kind != ValueKind.Number || (args.Length > 1 && AsNumberIfJson(args[1]).Kind != ValueKind.Number)) // digits given: a number
                {
                    return RuleValue.Missing;
                }

                return function switch
                {
                    Language.FunctionKind.Abs => RuleValue.FromNumber(Math.Abs(n.Number)),
                    Language.FunctionKind.Floor => RuleValue.FromNumber(Math.Floor(n.Number)),
                    Language.FunctionKind.Ceil => RuleValue.FromNumber(Math.Ceiling(n.Number)),
                    _ when args.Length > 1 && AsNumberIfJson(args[1]).Kind == ValueKind.Number =>
                        RuleValue.FromNumber(Math.Round(n.Number, (int)Math.Clamp(AsNumberIfJson(args[1]).Number, 0, 15), MidpointRounding.AwayFromZero)),
                    _ => RuleValue.FromNumber(Math.Round(n.Number, MidpointRounding.AwayFromZero)),
                };
            }

            case Language.FunctionKind.Min or Language.FunctionKind.Max:
            {
                var best = double.NaN;
                foreach (var arg in args)
                {
                    var n = AsNumberIfJson(arg);
                    if (n.Kind != ValueKind.Number)
                    {
                        return RuleValue.Missing;
                    }

                    best = double.IsNaN(best) ? n.Number : function == Language.FunctionKind.Min ? Math.Min(best, n.Number) : Math.Max(best, n.Number);
                }

                return RuleValue.FromNumber(best);
            }

            case Language.FunctionKind.HourOfDay or Language.FunctionKind.DayOfWeek or Language.FunctionKind.MinuteOfHour or Language.FunctionKind.Date:
            {
                if (!TryGetTimeTicks(args[0], out var ticks))
                {
                    return RuleValue.Missing;
                }

                var time = new DateTime(Math.Clamp(ticks, 0, DateTime.MaxValue.Ticks), DateTimeKind.Utc);
                return function switch
                {
                    Language.FunctionKind.HourOfDay => RuleValue.FromNumber(time.Hour),
                    Language.FunctionKind.MinuteOfHour => RuleValue.FromNumber(time.Minute),
                    Language.FunctionKind.DayOfWeek => RuleValue.FromNumber(time.DayOfWeek == System.DayOfWeek.Sunday ? 7 : (int)time.DayOfWeek),
                    _ => RuleValue.FromString(time.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)),
                };
            }

            case Language.FunctionKind.ToTime:
                return TryGetTimeTicks(args[0], out var t) ? RuleValue.FromTime(t) : RuleValue.Missing;
            case Language.FunctionKind.ToNumber:
            {
                var n = AsNumberIfJson(args[0]);
                if (n.Kind == ValueKind.Number)
                {
                    return n;
                }

                if (n.Kind == ValueKind.Bool)
                {
                    return RuleValue.FromNumber(n.Bool ? 1 : 0);
                }

                return n.IsStringLike && double.TryParse(n.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed)
                    ? RuleValue.FromNumber(parsed)
                    : RuleValue.Missing;
            }

            case Language.FunctionKind.ToString:
                return RuleValue.FromString(TextOf(args[0]));
            default:
                return RuleValue.Missing;
        }
    }

    /// <summary><c>not in</c>: false for a missing value (like every comparison with a missing value).</summary>
    public static bool NotIn(RuleValue value, Language.InItem[] items) => !value.IsMissing && !In(value, items);

    /// <summary>True only for the boolean true (a bare field used as a condition).</summary>
    public static bool IsTrue(RuleValue value) => value.Kind == ValueKind.Bool && value.Bool;

    /// <summary>JSON for an action's input; null for missing (the caller leaves the property out).</summary>
    public static System.Text.Json.Nodes.JsonNode? ToJson(RuleValue value, out bool missing)
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
                return System.Text.Json.Nodes.JsonValue.Create(value.Bool);
            case ValueKind.Number:
                var n = value.Number;
                return n == Math.Floor(n) && Math.Abs(n) < 9e15
                    ? System.Text.Json.Nodes.JsonValue.Create((long)n)
                    : System.Text.Json.Nodes.JsonValue.Create(n);
            case ValueKind.String:
                return System.Text.Json.Nodes.JsonValue.Create(value.GetString());
            case ValueKind.Json:
                return CopyElement(value.Element, 0);
            case ValueKind.Time:
                return System.Text.Json.Nodes.JsonValue.Create(FormatTime(value.TimeTicks));
            case ValueKind.Network:
                return System.Text.Json.Nodes.JsonValue.Create(value.Network.Text);
            case ValueKind.List:
            {
                var array = new System.Text.Json.Nodes.JsonArray();
                foreach (var item in value.List)
                {
                    array.Add(ToJson(item, out _));
                }

                return array;
            }

            case ValueKind.Window:
            {
                var array = new System.Text.Json.Nodes.JsonArray();
                foreach (var e in value.Window)
                {
                    array.Add(CopyElement(e.Data, 0));
                }

                return array;
            }

            default:
                missing = true;
                return null;
        }
    }

    private static readonly System.Text.Json.Nodes.JsonNodeOptions NodeOptions = new() { PropertyNameCaseInsensitive = false };

    /// <summary>Deepest nesting copied into action input; deeper parts become their JSON text.</summary>
    private const int MaxCopyDepth = 128;

    /// <summary>A deep, independent copy of a JSON element.</summary>
    public static System.Text.Json.Nodes.JsonNode? CopyElement(JsonElement element) => CopyElement(element, 0);

    private static System.Text.Json.Nodes.JsonNode? CopyElement(JsonElement element, int depth) => element.ValueKind switch
    {
        JsonValueKind.Undefined => null,
        JsonValueKind.Null => null,
        JsonValueKind.String => System.Text.Json.Nodes.JsonValue.Create(SafeGetString(element)),
        JsonValueKind.True => System.Text.Json.Nodes.JsonValue.Create(true),
        JsonValueKind.False => System.Text.Json.Nodes.JsonValue.Create(false),
        JsonValueKind.Object when depth >= MaxCopyDepth => System.Text.Json.Nodes.JsonValue.Create(element.GetRawText()),
        JsonValueKind.Array when depth >= MaxCopyDepth => System.Text.Json.Nodes.JsonValue.Create(element.GetRawText()),
        JsonValueKind.Object => CopyObject(element, depth),
        JsonValueKind.Array => CopyArray(element, depth),
        _ => System.Text.Json.Nodes.JsonNode.Parse(element.GetRawText(), NodeOptions, new JsonDocumentOptions { MaxDepth = 4096 }),
    };

    private static System.Text.Json.Nodes.JsonObject CopyObject(JsonElement element, int depth)
    {
        var result = new System.Text.Json.Nodes.JsonObject(NodeOptions);
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

            result[name] = CopyElement(property.Value, depth + 1);
        }

        return result;
    }

    private static System.Text.Json.Nodes.JsonArray CopyArray(JsonElement element, int depth)
    {
        var result = new System.Text.Json.Nodes.JsonArray(NodeOptions);
        foreach (var item in element.EnumerateArray())
        {
            result.Add(CopyElement(item, depth + 1));
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
        ValueKind.Time => FormatTime(value.TimeTicks),
        ValueKind.Network => value.Network.Text,
        _ => ToJson(value, out _)?.ToJsonString(),
    };
}
