using System.Text;

namespace RuleFlow.Rules.Tests;

/// <summary>
/// Bad input never throws: random text, random bytes, truncated and mutated rule files, and pathological shapes all give
/// diagnostics with valid locations. (A 100,000-case fuzz run belongs to the benchmark tools; these few thousand run every time.)
/// </summary>
public sealed class RobustnessTests
{
    private static readonly string Shipped = File.ReadAllText(Path.Combine(TestPaths.RepositoryRoot, "rules", "ssh-bruteforce.rules"));

    private static readonly string[] Vocabulary =
    [
        "event", "rule", "when", "then", "end", "from", "exchange", "routing", "key", "time", "fields", "priority", "description",
        "count", "within", "per", "throttle", "once", "start", "workflow", "with", "and", "or", "not", "in", "matches", "true",
        "false", "null", "f", "ssh.auth", "src_ip", "x", ":", "(", ")", "{", "}", "[", "]", ",", ".", "==", "!=", "<", "<=", ">",
        ">=", "=", "!", "&&", "||", "-", "/", "/^a/", "/x", "\"s\"", "\"open", "`q`", "`q", "5", "60s", "1h30m", "5x", "1.5ms",
        "#c", "//c", "\n", "\n", "\n", " ", "@", ";", "\t", "\\", "'",
    ];

    private static void AssertWellFormed(string text)
    {
        RuleSetLoadResult result;
        try
        {
            result = RuleSetLoader.LoadSources([("fuzz.rules", text)]);
        }
        catch (Exception e)
        {
            Assert.Fail($"exception {e.GetType().Name}: {e.Message}\ninput: {Escape(text)}\n{e.StackTrace}");
            throw;
        }

        var lines = text.Split('\n').Length + text.Count(c => c == '\r');
        foreach (var d in result.Diagnostics)
        {
            Assert.True(d.Location.Line >= 1 && d.Location.Line <= lines && d.Location.Column >= 1,
                $"bad location {d.Location} in {Escape(text)}");
            Assert.Matches("^RF[1-3][0-9]{3}$", d.Code);
            Assert.False(string.IsNullOrEmpty(d.Message));
            Assert.NotEqual("RF2999", d.Code); // an internal error would be a bug
            _ = DiagnosticFormatter.Format(d, text);
        }

        if (result.HasErrors)
        {
            Assert.Contains(result.Files, f => !f.Loaded);
        }

        // Whatever loaded also runs.
        var session = result.RuleSet.CreateSession();
        foreach (var type in result.RuleSet.EventTypes)
        {
            session.Insert(T.Event(type.Name, 0, new { x = 1, src_ip = "1.2.3.4", message = "Failed password" }));
        }
    }

    private static string Escape(string s) => s.Length > 400 ? s[..400] + "..." : s.Replace("\n", "\\n", StringComparison.Ordinal);

    [Fact]
    public void Random_token_soup()
    {
        var random = new Random(20261122);
        for (var i = 0; i < 1500; i++)
        {
            var builder = new StringBuilder();
            var length = random.Next(1, 80);
            for (var j = 0; j < length; j++)
            {
                builder.Append(Vocabulary[random.Next(Vocabulary.Length)]).Append(random.Next(3) == 0 ? "" : " ");
            }

            AssertWellFormed(builder.ToString());
        }
    }

    [Fact]
    public void Random_characters_and_bytes()
    {
        var random = new Random(7);
        for (var i = 0; i < 500; i++)
        {
            var chars = new char[random.Next(0, 300)];
            for (var j = 0; j < chars.Length; j++)
            {
                chars[j] = (char)random.Next(0, 0x10000); // includes control characters and lone surrogates
            }

            AssertWellFormed(new string(chars));
            var bytes = new byte[random.Next(0, 300)];
            random.NextBytes(bytes);
            AssertWellFormed(Encoding.UTF8.GetString(bytes));
        }
    }

    [Fact]
    public void Every_truncation_of_the_shipped_file()
    {
        for (var i = 0; i <= Shipped.Length; i++)
        {
            AssertWellFormed(Shipped[..i]);
        }
    }

    [Fact]
    public void Mutations_of_the_shipped_file()
    {
        var random = new Random(99);
        for (var i = 0; i < 1500; i++)
        {
            var text = new StringBuilder(Shipped);
            var edits = random.Next(1, 4);
            for (var e = 0; e < edits; e++)
            {
                var at = random.Next(text.Length);
                switch (random.Next(3))
                {
                    case 0:
                        text.Remove(at, Math.Min(random.Next(1, 6), text.Length - at));
                        break;
                    case 1:
                        text.Insert(at, Vocabulary[random.Next(Vocabulary.Length)]);
                        break;
                    default:
                        var from = random.Next(text.Length);
                        var len = Math.Min(random.Next(1, 20), text.Length - from);
                        text.Insert(at, text.ToString(from, len));
                        break;
                }
            }

            AssertWellFormed(text.ToString());
        }
    }

    [Theory]
    [InlineData(100_000)]
    public void Pathological_shapes_do_not_exhaust_the_stack(int n)
    {
        AssertWellFormed("event a\nrule r when x: a(" + new string('(', n) + ") then start workflow \"w\" end");
        AssertWellFormed("event a\nrule r when x: a(" + string.Concat(Enumerable.Repeat("not ", n)) + "k) then start workflow \"w\" end");
        AssertWellFormed("event a\nrule r when x: a(k == [" + new string('[', n) + ") then start workflow \"w\" end");
        AssertWellFormed("event a\nrule r when x: a() then start workflow \"w\" with " + new string('{', n) + "\nend");
        AssertWellFormed("event a fields " + string.Concat(Enumerable.Repeat("{ a: ", n)));
        AssertWellFormed(new string('"', n));
        AssertWellFormed(string.Concat(Enumerable.Repeat("rule ", n)));

        // Long but flat: accepted and run.
        var chain = string.Join(" and ", Enumerable.Range(0, 20_000).Select(i => $"k != {i}"));
        var many = string.Join(", ", Enumerable.Range(0, 5_000).Select(i => $"j != {i}"));
        var result = RuleSetLoader.LoadSources([("long.rules", $"event a\nrule r when x: a({chain}, {many}) then start workflow \"w\" end")]);
        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics.Take(3)));
        Assert.Single(result.RuleSet.CreateSession().Insert(T.Event("a", 0, new { k = -1, j = -1 })));
    }
}
