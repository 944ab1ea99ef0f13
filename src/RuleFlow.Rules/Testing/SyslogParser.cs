using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RuleFlow.Rules.Testing;

/// <summary>A field extracted from a line's message by a regular expression (<c>--extract name=regex</c>).</summary>
/// <param name="Name">JSON field name.</param>
/// <param name="Pattern">Compiled pattern; the value is the group named like the field, else group 1, else the whole match.</param>
public sealed record FieldExtractor(string Name, Regex Pattern)
{
    /// <summary>Parses <c>name=regex</c>.</summary>
    /// <exception cref="FormatException">No '=', an empty or invalid name, or a regex that does not compile.</exception>
    public static FieldExtractor Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var eq = spec.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0)
        {
            throw new FormatException($"--extract '{spec}' must be name=regex, e.g. user='for (?:invalid user )?(\\S+) from'");
        }

        var name = spec[..eq].Trim();
        if (!Regex.IsMatch(name, "^[A-Za-z_][A-Za-z0-9_]*$"))
        {
            throw new FormatException($"--extract '{spec}': field name '{name}' must be letters, digits and '_'");
        }

        try
        {
            return new FieldExtractor(name, new Regex(spec[(eq + 1)..], RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100)));
        }
        catch (ArgumentException e)
        {
            throw new FormatException($"--extract '{spec}': the regex does not compile: {e.Message}", e);
        }
    }

    /// <summary>The extracted value, or null when the pattern does not match.</summary>
    public string? Extract(string message)
    {
        var match = Pattern.Match(message);
        if (!match.Success)
        {
            return null;
        }

        var named = match.Groups[Name];
        return named.Success ? named.Value : match.Groups.Count > 1 ? match.Groups[1].Value : match.Value;
    }
}

/// <summary>
/// Parses BSD syslog lines (RFC 3164: <c>[&lt;PRI&gt;]MMM dd HH:mm:ss host program[pid]: message</c>, also with an
/// ISO-8601 timestamp instead) into JSON events <c>{ timestamp, host, program, pid, message, src_ip, … }</c>.
/// RFC 3164 timestamps have no year and no zone: the year is given (<see cref="SyslogParser(int, TimeSpan, IReadOnlyList{FieldExtractor})"/>)
/// and rolls over when the month goes from December to January; the time is taken in the given UTC offset.
/// Not thread-safe (it tracks the previous month). The one mapping of syslog lines to events: <c>ruleflow replay --format syslog</c>
/// and the <c>events "…" format syslog</c> step of rule tests both use it.
/// </summary>
public sealed partial class SyslogParser
{
    private readonly TimeSpan _offset;
    private readonly IReadOnlyList<FieldExtractor> _extractors;
    private int _year;
    private int _previousMonth;

    /// <summary>Creates a parser.</summary>
    /// <param name="year">Year of the first line without one.</param>
    /// <param name="offset">UTC offset of the log's clock (UTC when the log does not say).</param>
    /// <param name="extractors">Extra fields to extract from the message.</param>
    public SyslogParser(int year, TimeSpan offset, IReadOnlyList<FieldExtractor> extractors)
    {
        _year = year;
        _offset = offset;
        _extractors = extractors;
    }

    /// <summary>Parses one line (without its line end). Returns null and a reason when it is not a syslog line.</summary>
    public JsonObject? Parse(string line, out string? error)
    {
        ArgumentNullException.ThrowIfNull(line);
        error = null;
        var m = Bsd().Match(line);
        DateTimeOffset timestamp;
        if (m.Success)
        {
            var month = Array.IndexOf(Months, m.Groups["mon"].Value) + 1;
            if (_previousMonth == 12 && month == 1)
            {
                _year++;
            }

            _previousMonth = month;
            var day = int.Parse(m.Groups["day"].Value, CultureInfo.InvariantCulture);
            var clock = TimeSpan.ParseExact(m.Groups["time"].Value, @"hh\:mm\:ss", CultureInfo.InvariantCulture);
            if (day > DateTime.DaysInMonth(_year, month))
            {
                error = $"day {day} does not exist in {m.Groups["mon"].Value} {_year}";
                return null;
            }

            timestamp = new DateTimeOffset(_year, month, day, 0, 0, 0, _offset).Add(clock).ToUniversalTime();
        }
        else
        {
            m = Iso().Match(line);
            if (!m.Success || !DateTimeOffset.TryParse(m.Groups["ts"].Value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out timestamp))
            {
                error = "not a BSD syslog line (expected 'MMM dd HH:mm:ss host program[pid]: message')";
                return null;
            }

            timestamp = timestamp.ToUniversalTime();
        }

        var message = m.Groups["msg"].Value;
        var evt = new JsonObject
        {
            ["timestamp"] = timestamp.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            ["host"] = m.Groups["host"].Value,
            ["program"] = m.Groups["prog"].Value,
        };
        if (m.Groups["pid"].Success && long.TryParse(m.Groups["pid"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            evt["pid"] = pid;
        }

        if (m.Groups["pri"].Success)
        {
            var pri = int.Parse(m.Groups["pri"].Value, CultureInfo.InvariantCulture);
            evt["facility"] = pri / 8;
            evt["severity"] = pri % 8;
        }

        evt["message"] = message;
        var ip = SourceIp().Match(message);
        if (ip.Success)
        {
            evt["src_ip"] = ip.Groups[1].Value;
        }

        foreach (var extractor in _extractors)
        {
            if (extractor.Extract(message) is { } value)
            {
                evt[extractor.Name] = value;
            }
        }

        return evt;
    }

    private static readonly string[] Months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

    [GeneratedRegex(@"^(?:<(?<pri>\d{1,3})>)?(?<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}(?<day>\d{1,2}) (?<time>\d\d:\d\d:\d\d) (?<host>\S+) (?<prog>[^\s\[:]+)(?:\[(?<pid>\d+)\])?: ?(?<msg>.*)$", RegexOptions.CultureInvariant)]
    private static partial Regex Bsd();

    [GeneratedRegex(@"^(?:<(?<pri>\d{1,3})>)?(?<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) (?<host>\S+) (?<prog>[^\s\[:]+)(?:\[(?<pid>\d+)\])?: ?(?<msg>.*)$", RegexOptions.CultureInvariant)]
    private static partial Regex Iso();

    /// <summary>The source address sshd and PAM print: <c>from 1.2.3.4</c> or <c>rhost=1.2.3.4</c>.</summary>
    [GeneratedRegex(@"(?:\bfrom |\brhost=)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})\b", RegexOptions.CultureInvariant)]
    private static partial Regex SourceIp();
}
