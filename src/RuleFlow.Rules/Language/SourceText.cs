namespace RuleFlow.Rules.Language;

/// <summary>A range of characters in a source text: <see cref="Start"/> (0-based offset) and <see cref="Length"/>.</summary>
internal readonly record struct TextSpan(int Start, int Length)
{
    public int End => Start + Length;

    public static TextSpan FromBounds(int start, int end) => new(start, Math.Max(0, end - start));

    public static TextSpan Cover(TextSpan a, TextSpan b) => FromBounds(Math.Min(a.Start, b.Start), Math.Max(a.End, b.End));
}

/// <summary>The text of one rule file with a line table for turning offsets into 1-based line and column.</summary>
internal sealed class SourceText
{
    private readonly int[] _lineStarts;

    public SourceText(string path, string text)
    {
        Path = path;
        Text = text;
        var starts = new List<int> { 0 };
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\r')
            {
                if (i + 1 < text.Length && text[i + 1] == '\n')
                {
                    i++;
                }

                starts.Add(i + 1);
            }
            else if (c == '\n')
            {
                starts.Add(i + 1);
            }
        }

        _lineStarts = [.. starts];
    }

    /// <summary>File path as given to the loader.</summary>
    public string Path { get; }

    /// <summary>Full text.</summary>
    public string Text { get; }

    /// <summary>1-based line and column of an offset (clamped into the text).</summary>
    public SourceLocation GetLocation(int position)
    {
        position = Math.Clamp(position, 0, Text.Length);
        var index = Array.BinarySearch(_lineStarts, position);
        if (index < 0)
        {
            index = ~index - 1;
        }

        return new SourceLocation(Path, index + 1, position - _lineStarts[index] + 1);
    }
}
