namespace RuleFlow.Rules.Language;

/// <summary>
/// An AMQP topic-exchange binding pattern: words separated by <c>.</c>; <c>*</c> matches exactly one word, <c>#</c> zero or more
/// words (RabbitMQ semantics). Matching is ordinal and runs in O(pattern words × key words).
/// </summary>
internal sealed class TopicPattern
{
    private readonly string[] _words;

    private TopicPattern(string text, string[] words)
    {
        Text = text;
        _words = words;
    }

    public string Text { get; }

    /// <summary>Parses a pattern; returns null with a reason when a word mixes <c>*</c> or <c>#</c> with other characters.</summary>
    public static TopicPattern? TryParse(string text, out string? error)
    {
        error = null;
        if (text.Length == 0)
        {
            error = "the routing pattern is empty";
            return null;
        }

        var words = text.Split('.');
        foreach (var word in words)
        {
            if (word.Length > 1 && (word.Contains('*', StringComparison.Ordinal) || word.Contains('#', StringComparison.Ordinal)))
            {
                error = $"'{word}' mixes a wildcard with other characters; '*' and '#' must be whole words (e.g. \"ssh.*\" or \"ssh.#\")";
                return null;
            }
        }

        return new TopicPattern(text, words);
    }

    public bool IsMatch(string routingKey)
    {
        ArgumentNullException.ThrowIfNull(routingKey);
        var key = routingKey.Split('.');
        // can[i, j]: pattern words [i..] match key words [j..]; computed backwards.
        var next = new bool[key.Length + 1];
        var current = new bool[key.Length + 1];
        next[key.Length] = true; // empty pattern matches empty key
        for (var i = _words.Length - 1; i >= 0; i--)
        {
            var word = _words[i];
            for (var j = key.Length; j >= 0; j--)
            {
                current[j] = word switch
                {
                    "#" => next[j] || (j < key.Length && current[j + 1]),
                    "*" => j < key.Length && next[j + 1],
                    _ => j < key.Length && string.Equals(word, key[j], StringComparison.Ordinal) && next[j + 1],
                };
            }

            (next, current) = (current, next);
        }

        return next[0];
    }
}
