namespace RuleFlow.Cli;

/// <summary>The paths a command works on when none are given.</summary>
internal static class CommandPaths
{
    /// <summary>
    /// <paramref name="paths"/> when some are given, else those of <paramref name="defaults"/> that exist here; null (and a line on
    /// <paramref name="errors"/> naming <paramref name="command"/>) when there are none.
    /// </summary>
    public static IReadOnlyList<string>? OrDefaults(IReadOnlyList<string> paths, string command, TextWriter errors, params string[] defaults)
    {
        if (paths.Count > 0)
        {
            return paths;
        }

        var existing = defaults.Where(Directory.Exists).ToArray();
        if (existing.Length == 0)
        {
            errors.WriteLine($"ruleflow {command}: no paths given and no {string.Join(" or ", defaults.Select(d => d + "/"))} directory here");
            return null;
        }

        return existing;
    }
}
