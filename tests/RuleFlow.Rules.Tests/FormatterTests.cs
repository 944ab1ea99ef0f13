using System.Text.RegularExpressions;
using RuleFlow.Rules.Formatting;

namespace RuleFlow.Rules.Tests;

/// <summary>ruleflow fmt: canonical, idempotent, keeps comments, never changes what the rules do.</summary>
public sealed class FormatterTests
{
    public static TheoryData<string> Corpus()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(TestPaths.RepositoryRoot, "rules"), "*.rules", SearchOption.AllDirectories).Order())
        {
            data.Add(File.ReadAllText(file));
        }

        var reference = File.ReadAllText(Path.Combine(TestPaths.RepositoryRoot, "docs", "rules-language.md")).Replace("\r\n", "\n", StringComparison.Ordinal);
        foreach (Match block in Regex.Matches(reference, "```rules\n(.*?)```", RegexOptions.Singleline))
        {
            data.Add(block.Groups[1].Value);
        }

        data.Add(SnapshotTests.Everything);
        return data;
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Formatting_is_idempotent_and_keeps_the_rules_and_comments(string text)
    {
        var once = RuleFormatter.Format(text);
        Assert.Empty(once.Diagnostics);
        var twice = RuleFormatter.Format(once.Text);
        Assert.Equal(once.Text, twice.Text);
        Assert.False(twice.Changed);
        var before = RuleSetLoader.LoadSources([("a.rules", text)]);
        var after = RuleSetLoader.LoadSources([("a.rules", once.Text)]);
        Assert.False(after.HasErrors, string.Join("\n", after.FormatDiagnostics()) + "\n" + once.Text);
        Assert.Equal(before.RuleSet.Fingerprint, after.RuleSet.Fingerprint);
        var comments = Regex.Matches(text, "(#|//)[^\n]*").Select(m => m.Value.TrimEnd()).Where(c => !c.Contains('"', StringComparison.Ordinal)).ToList();
        foreach (var comment in comments)
        {
            Assert.Contains(comment, once.Text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_messy_file_gets_the_canonical_layout()
    {
        const string messy = """
            # header comment
            event   ssh.auth from exchange "x" routing "ssh.#"   key src_ip time timestamp
            fact Device key name fields {name: string,site:string ?, o: {a: string} ?}
            rule "r" priority -5 tags "a","b" when f:ssh.auth( message matches /^F/ ,src_ip in [ 10.0.0.0/8,"x" ] ) # trailing
               d : Device( name==f.host ) count( ssh.auth( src_ip==f.src_ip ) )within 60s>=5
            then start workflow "w" key f.src_ip with {ip:f.src_ip,n:count,  m : -count*2} log warning "x"+f.host
            throttle once within 1h per f.src_ip end
            """;
        var result = RuleFormatter.Format(messy);
        Assert.Equal("""
            # header comment
            event ssh.auth
                from exchange "x" routing "ssh.#"
                key src_ip
                time timestamp

            fact Device
                key name
                fields { name: string, site: string?, o: { a: string }? }

            rule "r"
                priority -5
                tags "a", "b"
            when
                f: ssh.auth(message matches /^F/, src_ip in [10.0.0.0/8, "x"])  # trailing
                d: Device(name == f.host)
                count(ssh.auth(src_ip == f.src_ip)) within 60s >= 5
            then
                start workflow "w" key f.src_ip with { ip: f.src_ip, n: count, m: -count * 2 }
                log warning "x" + f.host
            throttle once within 1h per f.src_ip
            end

            """, result.Text);
        Assert.True(result.Changed);
    }

    [Fact]
    public void Elements_joined_by_and_are_the_same_elements_and_fmt_puts_them_on_their_own_lines()
    {
        const string Joined = """
            event deploy key host time ts
            event healthy key host time ts
            rule "unhealthy" when d: deploy() and not healthy(host == d.host) within 5m then log d.host end
            """;
        const string Lines = """
            event deploy key host time ts
            event healthy key host time ts
            rule "unhealthy" when
                d: deploy()
                not healthy(host == d.host) within 5m
            then log d.host end
            """;
        string Run(string rules)
        {
            var session = T.Load(rules).CreateSession();
            session.Insert(T.Event("deploy", 0, new { host = "a", ts = T.Base.ToString("O") }));
            session.Insert(T.Event("deploy", 0, new { host = "b", ts = T.Base.AddMinutes(1).ToString("O") }));
            session.Insert(T.Event("healthy", 0, new { host = "b", ts = T.Base.AddMinutes(2).ToString("O") }));
            return string.Join(",", session.AdvanceTo(T.Base.AddMinutes(10)).Select(f => ((LogAction)f.Actions[0]).Message));
        }

        Assert.Equal("a", Run(Joined));
        Assert.Equal(Run(Lines), Run(Joined));
        var formatted = RuleFormatter.Format(Joined).Text;
        Assert.Contains("    d: deploy()\n    not healthy(host == d.host) within 5m\n", formatted, StringComparison.Ordinal);
        Assert.DoesNotContain(" and ", formatted, StringComparison.Ordinal);
        Assert.Equal("a", Run(formatted));
        Assert.Equal(formatted, RuleFormatter.Format(formatted).Text);
    }

    [Fact]
    public void A_file_with_syntax_errors_is_left_as_it_is()
    {
        var result = RuleFormatter.Format("rule \"r\" when x: a( then end");
        Assert.NotEmpty(result.Diagnostics);
        Assert.Equal("rule \"r\" when x: a( then end", result.Text);
        Assert.False(result.Changed);
    }
}
