using System.Globalization;
using System.Text;

namespace RuleFlow.Rules;

/// <summary>How bad a <see cref="Diagnostic"/> is.</summary>
public enum DiagnosticSeverity
{
    /// <summary>The file cannot be loaded: its rules are left out of the rule set.</summary>
    Error,

    /// <summary>The file loads, but something is probably wrong (e.g. a rule that can never fire).</summary>
    Warning,

    /// <summary>Informational note.</summary>
    Info,
}

/// <summary>A position in a rule file.</summary>
/// <param name="File">File path as given to the loader (e.g. <c>rules/ssh-bruteforce.rules</c>).</param>
/// <param name="Line">Line number, 1-based.</param>
/// <param name="Column">Column number, 1-based, counted in UTF-16 characters (a tab counts as one).</param>
public sealed record SourceLocation(string File, int Line, int Column)
{
    /// <summary>Formats as <c>file:line:column</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{File}:{Line}:{Column}");
}

/// <summary>
/// A problem found in a rule file. Codes are stable: <c>RF1xxx</c> lexical and syntax errors, <c>RF2xxx</c> binding and semantic
/// errors, <c>RF3xxx</c> warnings (see docs/rules-language.md for every code with its meaning and fix).
/// </summary>
/// <param name="Code">Stable code, e.g. <c>RF1002</c>.</param>
/// <param name="Severity">Error, warning or info.</param>
/// <param name="Message">One-line message in plain words.</param>
/// <param name="Location">Where the problem starts.</param>
/// <param name="Hint">Optional suggestion on how to fix it.</param>
public sealed record Diagnostic(string Code, DiagnosticSeverity Severity, string Message, SourceLocation Location, string? Hint = null)
{
    /// <summary>Formats as <c>rules/x.rules:3:14: error RF1002: message</c> (the hint is not included).</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Location}: {DiagnosticFormatter.SeverityName(Severity)} {Code}: {Message}");
}

/// <summary>Formats diagnostics for people: the diagnostic line, the source line and a caret under the column.</summary>
public static class DiagnosticFormatter
{
    /// <summary>
    /// Formats a diagnostic as its <see cref="Diagnostic.ToString"/> line, then (when <paramref name="sourceText"/> holds the line)
    /// the source line and a caret (<c>^</c>) under the column, then <c>  = hint: ...</c> when there is a hint. Lines end with <c>\n</c>;
    /// there is no trailing newline.
    /// </summary>
    /// <param name="d">The diagnostic.</param>
    /// <param name="sourceText">Full text of the file the diagnostic points into, or null when unavailable.</param>
    /// <exception cref="ArgumentNullException"><paramref name="d"/> is null.</exception>
    public static string Format(Diagnostic d, string? sourceText)
    {
        ArgumentNullException.ThrowIfNull(d);
        var builder = new StringBuilder(d.ToString());
        var line = sourceText is null ? null : GetLine(sourceText, d.Location.Line);
        if (line is not null)
        {
            builder.Append('\n').Append(line).Append('\n');
            var column = Math.Clamp(d.Location.Column, 1, line.Length + 1);
            for (var i = 0; i < column - 1; i++)
            {
                builder.Append(line[i] == '\t' ? '\t' : ' ');
            }

            builder.Append('^');
        }

        if (!string.IsNullOrEmpty(d.Hint))
        {
            builder.Append("\n  = hint: ").Append(d.Hint);
        }

        return builder.ToString();
    }

    internal static string SeverityName(DiagnosticSeverity severity) => severity switch
    {
        DiagnosticSeverity.Error => "error",
        DiagnosticSeverity.Warning => "warning",
        _ => "info",
    };

    private static string? GetLine(string text, int lineNumber)
    {
        if (lineNumber < 1)
        {
            return null;
        }

        var line = 1;
        var start = 0;
        for (var i = 0; i < text.Length && line < lineNumber; i++)
        {
            var c = text[i];
            if (c == '\n' || (c == '\r' && (i + 1 >= text.Length || text[i + 1] != '\n')))
            {
                line++;
                start = i + 1;
            }
        }

        if (line != lineNumber)
        {
            return null;
        }

        var end = start;
        while (end < text.Length && text[end] != '\n' && text[end] != '\r')
        {
            end++;
        }

        return text[start..end];
    }
}
