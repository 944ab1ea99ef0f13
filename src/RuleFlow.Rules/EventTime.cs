namespace RuleFlow.Rules;

/// <summary>Event-time text as the engine reads it, for the places that read an event's time before the engine does (ingest, tools).</summary>
public static class EventTime
{
    /// <summary>
    /// Reads ISO-8601 / RFC 3339 text — <c>YYYY-MM-DD</c>, optionally <c>T</c> (or a space) and <c>hh:mm</c>, <c>:ss</c>, up to 9
    /// fraction digits, and <c>Z</c> or an offset <c>±hh</c>, <c>±hhmm</c>, <c>±hh:mm</c> (none: UTC) — as a UTC instant. False for
    /// any other text, including forms .NET's parser alone would take (<c>03/01/2024</c> month first, <c>2024-03-01+5</c>), which a
    /// condition on the same field would not read as a time either.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out DateTimeOffset time)
    {
        var ok = Engine.ValueOps.TryParseTime(text, out var ticks);
        time = ok ? new DateTimeOffset(ticks, TimeSpan.Zero) : default;
        return ok;
    }
}
