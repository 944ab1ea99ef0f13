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

    /// <summary>A timestamp such as <c>2024-01-01T10:00:00Z</c> (value: <see cref="DateTimeOffset"/>).</summary>
    TimestampLiteral,

    /// <summary>An IPv4 address such as <c>10.0.0.1</c> (value: the text).</summary>
    IpLiteral,

    /// <summary>An IPv4 network such as <c>10.0.0.0/8</c> (value: <see cref="CidrValue"/>).</summary>
    CidrLiteral,
    OpenParen,
    CloseParen,
    OpenBrace,
    CloseBrace,
    OpenBracket,
    CloseBracket,
    Comma,
    Colon,
    Dot,
    DotDot,
    Arrow,
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

/// <summary>An IP network: address bytes, prefix length and the text as written.</summary>
internal sealed record CidrValue(byte[] Address, int PrefixLength, string Text);

/// <summary>A regular expression literal <c>/pattern/flags</c> as written (with <c>\/</c> turned into <c>/</c>).</summary>
internal sealed record RegexValue(string Pattern, string Flags);

/// <summary>
/// A token: kind, span, source text and parsed value (string for strings and quoted names, double for numbers, TimeSpan for
/// durations, <see cref="RegexValue"/> for regexes,
/// DateTimeOffset for timestamps, <see cref="CidrValue"/> for networks). Missing tokens (inserted by error recovery) have <see cref="IsMissing"/> set
/// and an empty span.
/// </summary>
internal sealed record SyntaxToken(SyntaxKind Kind, TextSpan Span, string Text, object? Value)
{
    /// <summary>True for the first token on its line (used by error recovery and to end clauses).</summary>
    public bool AtLineStart { get; init; }

    /// <summary>True for a name written in backticks: never a keyword.</summary>
    public bool IsQuoted { get; init; }

    /// <summary>True for a triple-quoted (raw, multi-line) string.</summary>
    public bool IsRaw { get; init; }

    /// <summary>True when inserted by the parser for a token that is not there.</summary>
    public bool IsMissing { get; init; }

    /// <summary>Comments before this token.</summary>
    public IReadOnlyList<SyntaxTrivia> LeadingTrivia { get; init; } = [];

    /// <summary>For identifiers: the name (unquoted); else the text.</summary>
    public string ValueText => Value as string ?? Text;

    public bool IsKeyword(string keyword) => Kind == SyntaxKind.Identifier && !IsQuoted && !IsMissing && Text == keyword;

    public static SyntaxToken Missing(SyntaxKind kind, int position) => new(kind, new TextSpan(position, 0), "", null) { IsMissing = true };
}
