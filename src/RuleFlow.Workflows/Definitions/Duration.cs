using System.Globalization;
using System.Text.RegularExpressions;

namespace RuleFlow.Workflows.Definitions;

/// <summary>Durations as written in definitions: <c>500ms</c>, <c>90s</c>, <c>30m</c>, <c>24h</c>, <c>7d</c>, or combined (<c>1h30m</c>).</summary>
public static partial class Duration
{
    /// <summary>Parses a duration; false when the text is not one or is zero.</summary>
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text) || !FullRegex().IsMatch(text.Trim()))
        {
            return false;
        }

        foreach (Match part in PartRegex().Matches(text))
        {
            var amount = long.Parse(part.Groups[1].Value, CultureInfo.InvariantCulture);
            value += part.Groups[2].Value switch
            {
                "ms" => TimeSpan.FromMilliseconds(amount),
                "s" => TimeSpan.FromSeconds(amount),
                "m" => TimeSpan.FromMinutes(amount),
                "h" => TimeSpan.FromHours(amount),
                _ => TimeSpan.FromDays(amount),
            };
        }

        return value > TimeSpan.Zero;
    }

    /// <summary>Formats a duration in the same notation (e.g. <c>1h30m</c>).</summary>
    public static string Format(TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            return "0s";
        }

        var parts = new List<string>();
        if (value.Days > 0) parts.Add(value.Days.ToString(CultureInfo.InvariantCulture) + "d");
        if (value.Hours > 0) parts.Add(value.Hours.ToString(CultureInfo.InvariantCulture) + "h");
        if (value.Minutes > 0) parts.Add(value.Minutes.ToString(CultureInfo.InvariantCulture) + "m");
        if (value.Seconds > 0) parts.Add(value.Seconds.ToString(CultureInfo.InvariantCulture) + "s");
        if (value.Milliseconds > 0) parts.Add(value.Milliseconds.ToString(CultureInfo.InvariantCulture) + "ms");
        return string.Concat(parts);
    }

    [GeneratedRegex(@"^([0-9]+(ms|s|m|h|d))+$")]
    private static partial Regex FullRegex();

    [GeneratedRegex(@"([0-9]+)(ms|s|m|h|d)")]
    private static partial Regex PartRegex();
}
