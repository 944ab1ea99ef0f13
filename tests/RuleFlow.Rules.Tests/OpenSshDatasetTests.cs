using System.Globalization;
using System.Text.Json;
using RuleFlow.Rules.Testing;

namespace RuleFlow.Rules.Tests;

/// <summary>The shipped rules/ssh-bruteforce.rules on the real loghub OpenSSH log (2,000 lines, December 2017).</summary>
public sealed class OpenSshDatasetTests
{
    private static readonly (string Time, string Ip)[] Expected =
    [
        ("07:28:03", "112.95.230.3"),
        ("07:34:23", "123.235.32.19"),
        ("08:25:11", "5.188.10.180"),
        ("09:10:19", "185.190.58.151"),
        ("09:11:34", "103.99.0.122"),
        ("09:13:10", "187.141.143.180"),
        ("10:05:22", "60.2.12.12"),
        ("10:14:10", "119.4.203.64"),
        ("10:54:37", "183.62.140.253"),
        ("11:03:56", "103.99.0.122"),
    ];

    private static (RuleSet RuleSet, List<RuleEvent> Events) Setup()
    {
        var load = RuleSetLoader.LoadFiles([Path.Combine(TestPaths.RepositoryRoot, "rules", "ssh-bruteforce.rules")]);
        Assert.False(load.HasErrors, string.Join("\n", load.FormatDiagnostics()));
        Assert.Empty(load.Diagnostics);

        var log = Path.Combine(TestPaths.Datasets, "loghub_openssh", "OpenSSH_2k.log");
        Assert.True(File.Exists(log), $"dataset file missing: {log}");
        var events = new List<RuleEvent>();
        var lineNumber = 0;
        var parser = new SyslogParser(2017, TimeSpan.Zero, []); // the mapping of ruleflow replay --format syslog
        foreach (var line in File.ReadLines(log))
        {
            lineNumber++;
            var json = parser.Parse(line, out var error);
            Assert.True(json is not null, $"line {lineNumber} is not syslog ({error}): {line}");
            var data = JsonSerializer.SerializeToElement(json);
            var time = DateTimeOffset.Parse(json!["timestamp"]!.GetValue<string>(), CultureInfo.InvariantCulture);
            events.Add(new RuleEvent("openssh-" + lineNumber.ToString(CultureInfo.InvariantCulture), "ssh.auth", time, data));
        }

        Assert.Equal(2000, events.Count);
        return (load.RuleSet, events);
    }

    [Fact]
    public void Shipped_rule_fires_exactly_the_ten_expected_times_in_order()
    {
        var (ruleSet, events) = Setup();
        var session = ruleSet.CreateSession();
        var firings = T.InsertAll(session, events);

        var actual = firings.Select(f => (f.Time.ToString("HH:mm:ss", CultureInfo.InvariantCulture), T.Start(f).CorrelationKey)).ToList();
        Assert.Equal(Expected.Select(e => (e.Time, (string?)e.Ip)).ToList(), actual);
        Assert.All(firings, f =>
        {
            Assert.Equal("ssh-bruteforce", f.Rule);
            Assert.Equal(new DateOnly(2017, 12, 10), DateOnly.FromDateTime(f.Time.UtcDateTime));
            Assert.Equal(TimeSpan.Zero, f.Time.Offset);
        });
        Assert.Equal(0, session.Statistics.LateEvents);
        Assert.Equal(10, session.Statistics.Firings);
    }

    [Fact]
    public void Each_firing_starts_block_source_ip_with_the_ip_host_attempts_and_evidence()
    {
        var (ruleSet, events) = Setup();
        var firings = T.InsertAll(ruleSet.CreateSession(), events);
        Assert.Equal(10, firings.Count);
        foreach (var firing in firings)
        {
            var start = T.Start(firing);
            Assert.Equal("block-source-ip", start.WorkflowId);
            var ip = start.CorrelationKey;
            Assert.NotNull(ip);
            var input = start.Input;
            Assert.Equal(ip, input["ip"]!.GetValue<string>());
            Assert.Equal("LabSZ", input["host"]!.GetValue<string>());
            var attempts = input["attempts"]!.GetValue<long>();
            Assert.True(attempts >= 5, $"attempts {attempts}");
            var evidence = input["evidence"]!.AsArray();
            Assert.Equal(attempts, evidence.Count);
            Assert.All(evidence, e =>
            {
                Assert.Equal(ip, e!["src_ip"]!.GetValue<string>());
                Assert.StartsWith("Failed password", e["message"]!.GetValue<string>(), StringComparison.Ordinal);
            });

            // The evidence spans at most 60 s and ends at the firing; first_seen is its oldest event's timestamp.
            var times = evidence.Select(e => DateTimeOffset.Parse(e!["timestamp"]!.GetValue<string>(), CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(times.Order().ToList(), times);
            Assert.True(times[^1] - times[0] <= TimeSpan.FromSeconds(60));
            Assert.Equal(firing.Time, times[^1]);
            Assert.Equal(evidence[0]!["timestamp"]!.GetValue<string>(), input["first_seen"]!.GetValue<string>());

            // Lineage: the ids of the matched events; the activation id is derived from them.
            Assert.Equal(attempts, firing.EventIds.Count);
            Assert.Matches("^[0-9a-f]{32}$", firing.ActivationId);
        }
    }

    [Fact]
    public void Replaying_the_log_gives_the_same_firings_and_activation_ids()
    {
        var (ruleSet, events) = Setup();
        var first = T.InsertAll(ruleSet.CreateSession(), events);
        var second = T.InsertAll(ruleSet.CreateSession(), events);
        Assert.Equal(first.Select(f => f.ActivationId), second.Select(f => f.ActivationId));
        Assert.Equal(first.Select(f => T.Start(f).Input.ToJsonString()), second.Select(f => T.Start(f).Input.ToJsonString()));
        Assert.Equal(10, first.Select(f => f.ActivationId).Distinct().Count());
    }

    [Fact]
    public void Working_memory_holds_only_the_last_minute()
    {
        var (ruleSet, events) = Setup();
        var session = ruleSet.CreateSession();
        var maxHeld = 0;
        foreach (var e in events)
        {
            session.Insert(e);
            var stats = session.Statistics;
            maxHeld = Math.Max(maxHeld, stats.WorkingMemoryEvents);
            // Every held event is at most 60 s older than the clock.
            Assert.True(stats.WorkingMemoryEvents <= 2000);
        }

        Assert.True(maxHeld < 200, $"held at most {maxHeld} events");
        Assert.Equal(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(60), ruleSet.RetentionHorizon);
    }
}
