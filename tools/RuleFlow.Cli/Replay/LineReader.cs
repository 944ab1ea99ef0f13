using System.Text;

namespace RuleFlow.Cli.Replay;

/// <summary>
/// Reads a text file as numbered lines: LF or CRLF ends (a missing last line end is fine), bytes that are not UTF-8
/// replaced by U+FFFD instead of failing.
/// </summary>
public static class LineReader
{
    /// <summary>The lines of <paramref name="path"/>, 1-based numbers, without line ends. Empty lines are included.</summary>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static IEnumerable<(int Number, string Text)> Read(string path)
    {
        using var stream = File.OpenRead(path);
        using var reader = new StreamReader(stream, new UTF8Encoding(false, false), detectEncodingFromByteOrderMarks: true);
        var number = 0;
        while (reader.ReadLine() is { } line)
        {
            yield return (++number, line);
        }
    }

    /// <summary>Counts lines (for the progress bar).</summary>
    public static int Count(string path) => Read(path).Count();
}
