namespace RuleFlow.Rules.Language;

/// <summary>Kinds of tokens. Keywords are contextual: they are <see cref="Identifier"/> tokens recognised by the parser.</summary>
internal enum SyntaxKind
{
    EndOfFile,
    Identifier,
    StringLiteral,
    NumberLiteral,
    DurationLiteral,
    RegexLiteral,
    OpenParen,
    CloseParen,
    OpenBrace,
    CloseBrace,
    OpenBracket,
    CloseBracket,
    Comma,
    Colon,
    Dot,
    Question,
    EqualsEquals,
    BangEquals,
    Less,
    LessEquals,
    Greater,
    GreaterEquals,
    Equals,
    Bang,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    AmpAmp,
    PipePipe,
}

/// <summary>A comment kept with the token that follows it (for a formatter that keeps comments).</summary>
internal sealed record SyntaxTrivia(TextSpan Span, string Text);

/// <summary>A regular expression literal <c>/pattern/flags</c> as written (with <c>\/</c> turned into <c>/</c>).</summary>
internal sealed record RegexValue(string Pattern, string Flags);

/// <summary>
/// A token: kind, span, source text and parsed value (string for strings and quoted names, double for numbers, TimeSpan for
/// durations, <see cref="RegexValue"/> for regexes). Missing tokens (inserted by error recovery) have <see cref="IsMissing"/> set
/// and an empty span.
/// </summary>
internal sealed record SyntaxToken(SyntaxKind Kind, TextSpan Span, string Text, object? Value)
{
    /// <summary>True for the first token on its line (used by error recovery and to end clauses).</summary>
    public bool AtLineStart { get; init; }

    /// <summary>True for a name written in backticks: never a keyword.</summary>
    public bool IsQuoted { get; init; }

    /// <summary>True when inserted by the parser for a token that is not there.</summary>
    public bool IsMissing { get; init; }

    /// <summary>Comments before this token.</summary>
    public IReadOnlyList<SyntaxTrivia> LeadingTrivia { get; init; } = [];

    /// <summary>For identifiers: the name (unquoted); else the text.</summary>
    public string ValueText => Value as string ?? Text;

    public bool IsKeyword(string keyword) => Kind == SyntaxKind.Identifier && !IsQuoted && !IsMissing && Text == keyword;

    public static SyntaxToken Missing(SyntaxKind kind, int position) => new(kind, new TextSpan(position, 0), "", null) { IsMissing = true };
}
