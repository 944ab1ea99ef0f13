using System.Text;
using RuleFlow.Cli.Replay;
using RuleFlow.Rules.Testing;

namespace RuleFlow.Cli.Tests;

public sealed class SyslogParserTests
{
    private static SyslogParser Parser(int year = 2017, params FieldExtractor[] extractors) => new(year, TimeSpan.Zero, extractors);

    [Fact]
    public void A_sshd_line_becomes_the_documented_json_event()
    {
        var evt = Parser().Parse("Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2", out var error);

        Assert.Null(error);
        Assert.NotNull(evt);
        Assert.Equal("2017-12-10T06:55:48Z", evt["timestamp"]!.GetValue<string>());
        Assert.Equal("LabSZ", evt["host"]!.GetValue<string>());
        Assert.Equal("sshd", evt["program"]!.GetValue<string>());
        Assert.Equal(24200, evt["pid"]!.GetValue<long>());
        Assert.Equal("Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2", evt["message"]!.GetValue<string>());
        Assert.Equal("173.234.31.186", evt["src_ip"]!.GetValue<string>());
    }

    [Fact]
    public void The_year_rolls_over_from_December_to_January_only()
    {
        var parser = Parser(2017);
        var dec = parser.Parse("Dec 31 23:59:59 h cron[1]: a", out _)!;
        var jan = parser.Parse("Jan  1 00:00:01 h cron[1]: b", out _)!;
        var feb = parser.Parse("Feb  1 00:00:01 h cron[1]: c", out _)!;

        Assert.Equal("2017-12-31T23:59:59Z", dec["timestamp"]!.GetValue<string>());
        Assert.Equal("2018-01-01T00:00:01Z", jan["timestamp"]!.GetValue<string>());
        Assert.Equal("2018-02-01T00:00:01Z", feb["timestamp"]!.GetValue<string>());

        var backwards = Parser(2017);
        backwards.Parse("Mar  5 10:00:00 h p: x", out _);
        Assert.Equal("2017-02-28T10:00:00Z", backwards.Parse("Feb 28 10:00:00 h p: y", out _)!["timestamp"]!.GetValue<string>());
    }

    [Fact]
    public void The_utc_offset_of_the_log_clock_is_applied()
    {
        var evt = new SyslogParser(2017, TimeSpan.FromHours(8), []).Parse("Dec 10 06:55:48 LabSZ sshd[1]: hello", out _)!;
        Assert.Equal("2017-12-09T22:55:48Z", evt["timestamp"]!.GetValue<string>());
    }

    [Fact]
    public void Priority_iso_timestamps_and_programs_without_pid_are_understood()
    {
        var evt = Parser().Parse("<38>2024-03-01T10:00:00+01:00 fw01 kernel: link down", out var error)!;
        Assert.Null(error);
        Assert.Equal("2024-03-01T09:00:00Z", evt["timestamp"]!.GetValue<string>());
        Assert.Equal("kernel", evt["program"]!.GetValue<string>());
        Assert.Null(evt["pid"]);
        Assert.Equal(4, evt["facility"]!.GetValue<int>());
        Assert.Equal(6, evt["severity"]!.GetValue<int>());
    }

    [Theory]
    [InlineData("garbage that is not syslog", "not a BSD syslog line")]
    [InlineData("Feb 30 10:00:00 h p[1]: impossible day", "day 30 does not exist in Feb 2017")]
    [InlineData("Dec 10 6:55:48 LabSZ sshd[1]: one-digit hour", "not a BSD syslog line")]
    public void Lines_that_are_not_syslog_say_why(string line, string reason)
    {
        Assert.Null(Parser().Parse(line, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Extractors_add_fields_from_a_named_group_or_the_first_group()
    {
        var parser = Parser(2017, FieldExtractor.Parse(@"user=for (?:invalid user )?(?<user>\S+) from"), FieldExtractor.Parse(@"port=port (\d+)"));
        var evt = parser.Parse("Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from 1.2.3.4 port 38926 ssh2", out _)!;
        Assert.Equal("webmaster", evt["user"]!.GetValue<string>());
        Assert.Equal("38926", evt["port"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("noequals", "must be name=regex")]
    [InlineData("9bad=x", "must be letters")]
    [InlineData("ok=(unclosed", "does not compile")]
    public void Bad_extractors_are_refused_with_the_reason(string spec, string reason)
    {
        var e = Assert.Throws<FormatException>(() => FieldExtractor.Parse(spec));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Lines_are_read_with_crlf_and_invalid_utf8_and_no_final_newline()
    {
        var path = Path.GetTempFileName();
        try
        {
            var bytes = new List<byte>();
            bytes.AddRange(Encoding.ASCII.GetBytes("Dec 10 06:55:48 h p[1]: one\r\n"));
            bytes.AddRange(Encoding.ASCII.GetBytes("Dec 10 06:55:49 h p[1]: bad "));
            bytes.AddRange([0xff, 0xfe]);
            bytes.AddRange(Encoding.ASCII.GetBytes("\r\n\r\nDec 10 06:55:50 h p[1]: last"));
            File.WriteAllBytes(path, [.. bytes]);

            var lines = LineReader.Read(path).ToList();

            Assert.Equal([1, 2, 3, 4], lines.Select(l => l.Number));
            Assert.Equal("Dec 10 06:55:48 h p[1]: one", lines[0].Text);
            Assert.EndsWith("bad \uFFFD\uFFFD", lines[1].Text, StringComparison.Ordinal);
            Assert.Equal("", lines[2].Text);
            Assert.Equal("Dec 10 06:55:50 h p[1]: last", lines[3].Text);
            Assert.Equal((null, "empty line"), ReplayCommand.Convert("syslog", Parser(), lines[2].Text));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Replay_ids_are_deterministic_per_file_line_and_content()
    {
        var a = ReplayIds.For("/x/OpenSSH_2k.log", 7, "line");
        Assert.Equal(a, ReplayIds.For("/other/OpenSSH_2k.log", 7, "line"));
        Assert.NotEqual(a, ReplayIds.For("/x/OpenSSH_2k.log", 8, "line"));
        Assert.NotEqual(a, ReplayIds.For("/x/OpenSSH_2k.log", 7, "line2"));
        Assert.StartsWith("replay:OpenSSH_2k.log:7:", a, StringComparison.Ordinal);
    }

    [Fact]
    public void Jsonl_lines_must_be_json_objects()
    {
        Assert.NotNull(ReplayCommand.Convert("jsonl", Parser(), """{"a":1}""").Body);
        Assert.Equal("not a JSON object", ReplayCommand.Convert("jsonl", Parser(), "[1]").Error);
        Assert.StartsWith("not JSON", ReplayCommand.Convert("jsonl", Parser(), "{oops").Error, StringComparison.Ordinal);
    }
}
