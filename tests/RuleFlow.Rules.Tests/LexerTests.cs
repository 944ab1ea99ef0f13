using RuleFlow.Rules.Language;

namespace RuleFlow.Rules.Tests;

public sealed class LexerTests
{
    private static (IReadOnlyList<SyntaxToken> Tokens, IReadOnlyList<Diagnostic> Diagnostics) Lex(string text)
    {
        var source = new SourceText("lex.rules", text);
        var bag = new DiagnosticBag(source);
        return (Lexer.Tokenize(source, bag), bag.Items);
    }

    [Fact]
    public void Splits_a_condition_into_tokens_with_positions()
    {
        var (tokens, diagnostics) = Lex("f: ssh.auth(src_ip == \"1.2.3.4\", n >= 5)");
        Assert.Empty(diagnostics);
        Assert.Equal(
            [
                SyntaxKind.Identifier, SyntaxKind.Colon, SyntaxKind.Identifier, SyntaxKind.Dot, SyntaxKind.Identifier, SyntaxKind.OpenParen,
                SyntaxKind.Identifier, SyntaxKind.EqualsEquals, SyntaxKind.StringLiteral, SyntaxKind.Comma, SyntaxKind.Identifier,
                SyntaxKind.GreaterEquals, SyntaxKind.NumberLiteral, SyntaxKind.CloseParen, SyntaxKind.EndOfFile,
            ],
            tokens.Select(t => t.Kind));
        Assert.Equal("1.2.3.4", tokens[8].Value);
        Assert.Equal(new TextSpan(22, 9), tokens[8].Span);
        Assert.Equal(5d, tokens[12].Value);
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("30s", 30_000)]
    [InlineData("5m", 300_000)]
    [InlineData("2h", 7_200_000)]
    [InlineData("1d", 86_400_000)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("1_000ms", 1_000)]
    public void Reads_durations(string text, long milliseconds)
    {
        var (tokens, diagnostics) = Lex(text);
        Assert.Empty(diagnostics);
        Assert.Equal(SyntaxKind.DurationLiteral, tokens[0].Kind);
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), tokens[0].Value);
    }

    [Theory]
    [InlineData("42", 42d)]
    [InlineData("3.25", 3.25d)]
    [InlineData("100_000", 100_000d)]
    public void Reads_numbers(string text, double value)
    {
        var (tokens, diagnostics) = Lex(text);
        Assert.Empty(diagnostics);
        Assert.Equal(SyntaxKind.NumberLiteral, tokens[0].Kind);
        Assert.Equal(value, tokens[0].Value);
    }

    [Fact]
    public void Reads_string_escapes()
    {
        var (tokens, diagnostics) = Lex("\"a\\\"b\\\\c\\n\\t\\u0041\\/\"");
        Assert.Empty(diagnostics);
        Assert.Equal("a\"b\\c\n\tA/", tokens[0].Value);
    }

    [Fact]
    public void A_slash_after_matches_starts_a_regex_with_flags_and_escaped_slashes()
    {
        var (tokens, diagnostics) = Lex("message matches /^GET \\/api\\/v1 \\d+/i");
        Assert.Empty(diagnostics);
        var regex = Assert.IsType<RegexValue>(tokens[2].Value);
        Assert.Equal("^GET /api/v1 \\d+", regex.Pattern);
        Assert.Equal("i", regex.Flags);
        Assert.Equal(SyntaxKind.RegexLiteral, tokens[2].Kind);
    }

    [Fact]
    public void A_slash_elsewhere_is_an_operator()
    {
        var (tokens, _) = Lex("a / b");
        Assert.Equal(SyntaxKind.Slash, tokens[1].Kind);
    }

    [Fact]
    public void Both_comment_styles_are_trivia_kept_with_the_next_token()
    {
        var (tokens, diagnostics) = Lex("# first\nevent // second\n  a # third\n");
        Assert.Empty(diagnostics);
        Assert.Equal(["event", "a", ""], tokens.Select(t => t.Text));
        Assert.Equal("# first", Assert.Single(tokens[0].LeadingTrivia).Text);
        Assert.Equal("// second", Assert.Single(tokens[1].LeadingTrivia).Text);
        Assert.Equal("# third", Assert.Single(tokens[2].LeadingTrivia).Text);
        Assert.True(tokens[0].AtLineStart);
        Assert.True(tokens[1].AtLineStart);
    }

    [Fact]
    public void Backtick_names_are_identifiers_that_are_never_keywords()
    {
        var (tokens, diagnostics) = Lex("`kube-pod` `and`");
        Assert.Empty(diagnostics);
        Assert.Equal("kube-pod", tokens[0].ValueText);
        Assert.True(tokens[1].IsQuoted);
        Assert.False(tokens[1].IsKeyword("and"));
    }

    [Fact]
    public void Positions_count_lines_and_columns_from_one_with_any_line_ending()
    {
        var source = new SourceText("x.rules", "a\r\nbb\rccc\nd");
        Assert.Equal(new SourceLocation("x.rules", 1, 1), source.GetLocation(0));
        Assert.Equal(new SourceLocation("x.rules", 2, 2), source.GetLocation(4));
        Assert.Equal(new SourceLocation("x.rules", 3, 3), source.GetLocation(8));
        Assert.Equal(new SourceLocation("x.rules", 4, 1), source.GetLocation(10));
        Assert.Equal(new SourceLocation("x.rules", 4, 2), source.GetLocation(999));
    }

    [Fact]
    public void A_run_of_bad_characters_is_one_error()
    {
        var (tokens, diagnostics) = Lex("a @@@ b ; c");
        Assert.Equal(2, diagnostics.Count);
        Assert.All(diagnostics, d => Assert.Equal("RF1001", d.Code));
        Assert.Equal(3, diagnostics[0].Location.Column);
        Assert.Contains("no semicolons", diagnostics[1].Hint, StringComparison.Ordinal);
        Assert.Equal(["a", "b", "c", ""], tokens.Select(t => t.Text));
    }
}
