using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using RuleFlow.Rules;
using RuleFlow.Server.Hosting;
using RuleFlow.Server.Rules;

namespace RuleFlow.Server.Ingest;

/// <summary>A message as a transport delivered it, before any check.</summary>
/// <param name="Body">Raw body bytes.</param>
/// <param name="Source">Where it came from, for the journal: <c>amqp:&lt;exchange&gt;/&lt;routing key&gt;</c> or <c>http</c>.</param>
/// <param name="Exchange">AMQP exchange it was published to, or null (HTTP).</param>
/// <param name="RoutingKey">AMQP routing key, or null.</param>
/// <param name="MessageId">Transport message id (AMQP <c>message_id</c>, HTTP <c>Idempotency-Key</c>), or null.</param>
/// <param name="TypeHint">Event type given by the transport (the HTTP path), or null.</param>
/// <param name="ReceivedAt">Arrival time.</param>
public sealed record IncomingMessage(
    ReadOnlyMemory<byte> Body,
    string Source,
    string? Exchange,
    string? RoutingKey,
    string? MessageId,
    string? TypeHint,
    DateTimeOffset ReceivedAt)
{
    /// <summary>A message from an AMQP exchange (source <c>amqp:&lt;exchange&gt;/&lt;routing key&gt;</c>, no type hint).</summary>
    public static IncomingMessage FromAmqp(ReadOnlyMemory<byte> body, string? exchange, string? routingKey, string? messageId, DateTimeOffset receivedAt) =>
        new(body, $"amqp:{exchange}/{routingKey}", exchange, routingKey, messageId, null, receivedAt);
}

/// <summary>An event that passed intake: the engine's view and the raw JSON to journal.</summary>
/// <param name="Event">Id, type, event time and data.</param>
/// <param name="Payload">The body as JSON text.</param>
/// <param name="Source">Where it came from.</param>
/// <param name="ReceivedAt">Arrival time.</param>
public sealed record AcceptedEvent(RuleEvent Event, string Payload, string Source, DateTimeOffset ReceivedAt);

/// <summary>
/// Turns a raw message into an event or refuses it with a reason code: size limit, JSON object, event type
/// (HTTP path, configured type field, the rules' event declarations, else the routing key), event time (the type's
/// declared time field or <c>RuleFlow:Ingest:TimeField</c>, else arrival time) and id (message id, else a SHA-256 of
/// the body). Pure and thread-safe.
/// </summary>
public sealed partial class EventIntake(IOptions<RuleFlowOptions> options, RuleHost rules)
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <summary>Checks and converts one message.</summary>
    /// <exception cref="IngestRejectedException">The message is refused; <see cref="IngestRejectedException.Code"/> says why.</exception>
    public AcceptedEvent Accept(IncomingMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var ingest = options.Value.Ingest;
        if (message.Body.Length > ingest.MaxEventBytes)
        {
            throw new IngestRejectedException(IngestErrors.TooLarge,
                $"event body is {message.Body.Length.ToString("N0", CultureInfo.InvariantCulture)} bytes; the limit is " +
                $"{ingest.MaxEventBytes.ToString("N0", CultureInfo.InvariantCulture)} bytes (RuleFlow:Ingest:MaxEventBytes)");
        }

        if (InvalidUtf8At(message.Body.Span) is { } bad)
        {
            // The JSON reader checks UTF-8 only where it must; a bad byte inside a string would fail later, when read.
            throw new IngestRejectedException(IngestErrors.NotJson, $"body is not JSON: it is not valid UTF-8 at byte {bad + 1} (0x{message.Body.Span[bad]:X2})");
        }

        JsonElement data;
        try
        {
            data = JsonElement.Parse(message.Body.Span, DocumentOptions); // a document of its own, not pooled: the engine keeps it as it is
        }
        catch (JsonException e)
        {
            throw NotJson(e);
        }

        if (data.ValueKind != JsonValueKind.Object)
        {
            throw new IngestRejectedException(IngestErrors.NotObject,
                $"body is a JSON {Describe(data.ValueKind)}; an event must be a JSON object ({{ ... }})");
        }

        var ruleSet = rules.Current;
        var type = ResolveType(message, data, ruleSet, ingest);
        var declared = ruleSet.EventTypes.FirstOrDefault(t => string.Equals(t.Name, type, StringComparison.Ordinal));
        if (declared is null && ingest.RefuseUnknownTypes)
        {
            throw new IngestRejectedException(IngestErrors.UnknownType,
                $"event type '{type}' is not declared by any rule file and RuleFlow:Ingest:RefuseUnknownTypes is true");
        }

        var timeField = declared?.TimeField ?? ingest.TimeField;
        var time = ReadTime(data, timeField) ?? message.ReceivedAt;
        if (time - message.ReceivedAt > ingest.MaxFutureSkew)
        {
            throw new IngestRejectedException(IngestErrors.FutureTime,
                $"event time {time:o} (field '{timeField}') is {(time - message.ReceivedAt).TotalHours:F1} h ahead of the server's clock; " +
                $"the limit is {ingest.MaxFutureSkew.TotalHours:F1} h (RuleFlow:Ingest:MaxFutureSkew): a wrong clock would make every later event late");
        }
        var id = string.IsNullOrWhiteSpace(message.MessageId) ? HashId(message.Body.Span) : message.MessageId.Trim();
        if (id.Length > 200)
        {
            id = HashId(Encoding.UTF8.GetBytes(id));
        }

        var payload = Encoding.UTF8.GetString(message.Body.Span);
        return new AcceptedEvent(new RuleEvent(id, type, time, data), payload, message.Source, message.ReceivedAt);
    }

    /// <summary>The 0-based offset of the first byte that is not part of valid UTF-8, or null when all of it is.</summary>
    public static int? InvalidUtf8At(ReadOnlySpan<byte> body)
    {
        if (System.Text.Unicode.Utf8.IsValid(body))
        {
            return null;
        }

        var offset = 0;
        while (offset < body.Length && System.Text.Rune.DecodeFromUtf8(body[offset..], out _, out var consumed) == System.Buffers.OperationStatus.Done)
        {
            offset += consumed;
        }

        return offset;
    }

    /// <summary>The refusal for a body that does not parse: <c>body is not JSON at line L, byte B: …</c> (both 1-based).</summary>
    public static IngestRejectedException NotJson(JsonException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var where = exception.LineNumber is { } line ? $" at line {line + 1}, byte {exception.BytePositionInLine + 1}" : "";
        if (exception.Message.Contains("maximum configured depth", StringComparison.Ordinal))
        {
            // Valid JSON, only too deep for an event: "not JSON" misled the sender (an audit saw it).
            return new IngestRejectedException(IngestErrors.NotJson,
                $"body nests arrays and objects more than {DocumentOptions.MaxDepth} levels deep{where}; an event may nest at most {DocumentOptions.MaxDepth}");
        }

        return new IngestRejectedException(IngestErrors.NotJson, $"body is not JSON{where}: {FirstSentence(exception.Message)}");
    }

    /// <summary>The id of a message without one: <c>sha256:</c> and the first 32 hex digits of the body's SHA-256.</summary>
    public static string HashId(ReadOnlySpan<byte> body)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(body, hash);
        return "sha256:" + Convert.ToHexStringLower(hash[..16]);
    }

    private static string ResolveType(IncomingMessage message, JsonElement data, RuleSet ruleSet, IngestOptions ingest)
    {
        string? type = message.TypeHint;
        if (type is null && !string.IsNullOrEmpty(ingest.TypeField)
            && data.TryGetProperty(ingest.TypeField, out var field) && field.ValueKind == JsonValueKind.String)
        {
            type = field.GetString();
        }

        if (type is null && message.Exchange is not null && message.RoutingKey is not null)
        {
            type = ruleSet.ResolveEventType(message.Exchange, message.RoutingKey);
        }

        if (type is null && !string.IsNullOrEmpty(message.RoutingKey))
        {
            type = message.RoutingKey;
        }

        if (string.IsNullOrEmpty(type))
        {
            throw new IngestRejectedException(IngestErrors.InvalidType,
                "no event type: the message has no routing key" +
                (ingest.TypeField is null ? "" : $" and no string field '{ingest.TypeField}'") +
                " and no rule's event declaration matches its exchange");
        }

        if (type.StartsWith("ruleflow.", StringComparison.OrdinalIgnoreCase))
        {
            throw new IngestRejectedException(IngestErrors.InvalidType,
                $"event type '{Truncate(type, 80)}' is reserved: names starting with 'ruleflow.' are RuleFlow's own (e.g. the journal's clock rows)");
        }

        if (type.Length > 200 || !TypeName().IsMatch(type))
        {
            throw new IngestRejectedException(IngestErrors.InvalidType,
                $"event type '{Truncate(type, 80)}' is not a valid name (letters, digits, '_', '-', '.', at most 200 characters, starting with a letter or '_')");
        }

        return type;
    }

    private static DateTimeOffset? ReadTime(JsonElement data, string? field)
    {
        if (string.IsNullOrEmpty(field) || !data.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.String when EventTime.TryParse(value.GetString(), out var parsed): // strict ISO-8601, as the engine reads it
                return parsed;
            case JsonValueKind.Number when value.TryGetDouble(out var ms) && ms is >= -62135596800000 and <= 253402300799999:
                return DateTimeOffset.FromUnixTimeMilliseconds(0).AddTicks((long)Math.Round(ms * TimeSpan.TicksPerMillisecond));
            default:
                throw new IngestRejectedException(IngestErrors.InvalidTime,
                    $"field '{field}' is {Truncate(value.GetRawText(), 60)}; an event time must be an ISO-8601 string " +
                    "(e.g. 2017-12-10T06:55:46Z) or Unix milliseconds");
        }
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString().ToLowerInvariant(),
    };

    private static string FirstSentence(string text)
    {
        var end = text.IndexOf(" Path:", StringComparison.Ordinal);
        if (end < 0)
        {
            end = text.IndexOf(" LineNumber:", StringComparison.Ordinal);
        }

        return end > 0 ? text[..end] : text;
    }

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..max] + "…";

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_.\-]*$", RegexOptions.CultureInvariant)]
    private static partial Regex TypeName();
}
