using RuleFlow.Rules.Testing;

namespace RuleFlow.Rules.Tests;

/// <summary>The rule test runner fails when it should, with a readable diff, and reports bad test files with locations.</summary>
public sealed class RuleTestRunnerTests
{
    private static RuleTestFileResult Run(string rules, string tests)
    {
        var directory = Directory.CreateTempSubdirectory("ruleflow-test-");
        File.WriteAllText(Path.Combine(directory.FullName, "r.rules"), rules);
        var path = Path.Combine(directory.FullName, "r.ruletest");
        File.WriteAllText(path, tests);
        try
        {
            return Assert.Single(RuleTestRunner.Run([directory.FullName]));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private const string Rules = """
        event e time ts
        rule "big" when x: e(n > 10) then start workflow "w" key x.k with { n: x.n } log "big " + x.k end
        """;

    [Fact]
    public void Passing_and_failing_expectations_with_a_diff()
    {
        var result = Run(Rules, """
            test "passes"
                event e at 2024-01-01T00:00:00Z { k: "a", n: 11 }
                expect "big" at 2024-01-01T00:00:00Z
                    start workflow "w" key "a" with { n: 11 }
                    log "big a"
            end

            test "wrong value"
                event e at 2024-01-01T00:00:00Z { k: "a", n: 12 }
                expect "big"
                    start workflow "w" with { n: 11 }
            end

            test "unexpected firing"
                event e at 2024-01-01T00:00:00Z { k: "b", n: 20 }
            end

            test "missing firing"
                event e at 2024-01-01T00:00:00Z { k: "c", n: 1 }
                expect "big"
            end
            """);
        Assert.Empty(result.Diagnostics);
        Assert.Equal([true, false, false, false], result.Tests.Select(t => t.Passed));
        var diff = Assert.Single(result.Tests[1].Failures);
        Assert.Contains("input.n: expected 11, got 12", diff, StringComparison.Ordinal);
        Assert.Contains("actual   \"big\" at 2024-01-01T00:00:00.0000000+00:00", diff, StringComparison.Ordinal);
        Assert.Contains("were not expected", Assert.Single(result.Tests[2].Failures), StringComparison.Ordinal);
        Assert.Contains("missing firing 1", Assert.Single(result.Tests[3].Failures), StringComparison.Ordinal);
        Assert.False(result.Passed);
    }

    [Fact]
    public void A_failing_test_names_the_events_the_session_did_not_apply_and_why()
    {
        // A late event only made the diff say "missing firing": nothing said the event was dropped (explain did; an audit noticed).
        var result = Run("""
            event a
            event b
            event c fields { n: number }
            rule "ra" when x: a() then log "a" end
            """, """
            test "an event behind the clock"
                event b at 2024-01-01T00:00:01Z { }
                event a at 2024-01-01T00:00:00Z id "early" { }
                event c at 2024-01-01T00:00:02Z id "typed" { n: "5" }
                expect "ra"
            end

            test "late but not needed"
                event b at 2024-01-01T00:00:01Z { }
                event a at 2024-01-01T00:00:00Z { }
                expect nothing
            end
            """);
        Assert.Equal([false, true], result.Tests.Select(t => t.Passed));
        var failures = string.Join("\n", result.Tests[0].Failures);
        Assert.Contains("missing firing", failures, StringComparison.Ordinal);
        Assert.Contains("events not applied:\n  ", failures, StringComparison.Ordinal);
        Assert.Contains("r.ruletest:3:5: a early at 2024-01-01T00:00:00.0000000+00:00: late: older than the clock (2024-01-01T00:00:01.0000000+00:00) allows", failures, StringComparison.Ordinal);
        Assert.Contains("r.ruletest:4:5: c typed at 2024-01-01T00:00:02.0000000+00:00: invalid: field 'n' is declared number, but the event has a string", failures, StringComparison.Ordinal);
        Assert.Empty(result.Tests[1].Failures); // a passing test says nothing of it
    }

    [Fact]
    public void A_fact_given_at_a_time_arrives_then_the_clock_passes_to_it_first()
    {
        // A fact has no event time: inserting one does not move the clock. The test says when it arrives, so the runner lets time
        // pass to then first (as the server's idle clock does while no event comes): the host's silence starts at 10:00, not at 09:00.
        var result = Run("""
            event heartbeat key host
            fact Host key name
            rule "known host never heard" when x: Host() no heartbeat(host == x.name) for 1h then log "never heard from " + x.name end
            """, """
            test "a host, then its heartbeat ten minutes later"
                event heartbeat at 2024-05-01T09:00:00Z { host: "other" }
                event Host at 2024-05-01T10:00:00Z { name: "h1" }
                event heartbeat at 2024-05-01T10:10:00Z { host: "h1" }
                expect nothing
            end

            test "a host never heard from"
                event Host at 2024-05-01T10:00:00Z { name: "h1" }
                advance to 2024-05-01T11:00:01Z
                expect "known host never heard" at 2024-05-01T11:00:00Z
                    log "never heard from h1"
            end
            """);
        Assert.Empty(result.Diagnostics);
        Assert.All(result.Tests, t => Assert.True(t.Passed, string.Join("\n", t.Failures)));
    }

    [Fact]
    public void A_test_naming_a_rule_or_an_event_type_the_rules_do_not_have_fails_saying_so()
    {
        var result = Run(Rules, """
            test "typo in the type"
                event ee at 2024-01-01T00:00:00Z { k: "a", n: 11 }
            end

            test "typo in the rule"
                event e at 2024-01-01T00:00:00Z { k: "a", n: 11 }
                expect "bigg"
                expect 0 firings of "smal"
            end
            """);
        Assert.Empty(result.Diagnostics);
        Assert.Equal([false, false], result.Tests.Select(t => t.Passed));
        Assert.Equal("r.ruletest:2:5: the rule files declare no event or fact type 'ee' (such an event would only move the clock)",
            Assert.Single(result.Tests[0].Failures).Replace('\\', '/')[(Assert.Single(result.Tests[0].Failures).Replace('\\', '/').LastIndexOf('/') + 1)..]);
        Assert.Equal(2, result.Tests[1].Failures.Count);
        Assert.Contains("expects rule \"bigg\", which is not in the rule set (rules: \"big\")", result.Tests[1].Failures[0], StringComparison.Ordinal);
        Assert.Contains("expects rule \"smal\"", result.Tests[1].Failures[1], StringComparison.Ordinal);
    }

    [Fact]
    public void True_false_and_null_in_a_test_are_JSON_literals_not_strings()
    {
        // In events and in expected inputs; "true" in quotes stays a string, so the last test fails on the type.
        var result = Run("""
            event account time ts
            rule "privileged" when a: account(privileged == true, disabled == false, manager == null, tags[0] == true)
            then start workflow "review" with { flag: true, off: false, none: null, id: a.id } end
            """, """
            test "literals"
                event account at 2024-01-01T00:00:00Z { id: "u1", privileged: true, disabled: false, manager: null, tags: [true] }
                expect "privileged"
                    start workflow "review" with { flag: true, off: false, none: null, id: "u1" }
            end

            test "a string is not a boolean"
                event account at 2024-01-01T00:00:00Z { id: "u2", privileged: "true", disabled: false, manager: null, tags: [true] }
            end

            test "quoted true is a string"
                event account at 2024-01-01T00:00:00Z { id: "u3", privileged: true, disabled: false, manager: null, tags: [true] }
                expect "privileged"
                    start workflow "review" with { flag: "true", off: false, none: null, id: "u3" }
            end
            """);
        Assert.Empty(result.Diagnostics);
        Assert.Equal([true, true, false], result.Tests.Select(t => t.Passed));
        Assert.Contains("input.flag: expected \"true\", got true", Assert.Single(result.Tests[2].Failures), StringComparison.Ordinal);
    }

    [Fact]
    public void A_line_of_an_event_file_that_cannot_be_read_fails_its_test_naming_the_file_and_line()
    {
        var directory = Directory.CreateTempSubdirectory("ruleflow-test-");
        try
        {
            File.WriteAllText(Path.Combine(directory.FullName, "r.rules"), "event ssh.auth time timestamp\nevent e\nrule \"r\" when x: e(n > 1) then log \"x\" end\n");
            // A syslog line with a <PRI> prefix reads as `ruleflow replay` reads it; a day that does not exist is an error, not a crash.
            File.WriteAllText(Path.Combine(directory.FullName, "bad.log"),
                "<38>Feb 28 10:00:00 h sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2\nFeb 30 10:00:00 h sshd[1]: x\n");
            File.WriteAllText(Path.Combine(directory.FullName, "bad.jsonl"), "[1]\n");
            File.WriteAllText(Path.Combine(directory.FullName, "r.ruletest"), """
                test "syslog"
                    events "bad.log" format syslog type ssh.auth year 2017
                end

                test "jsonl"
                    events "bad.jsonl" type e
                end
                """);
            var result = Assert.Single(RuleTestRunner.Run([directory.FullName]));
            Assert.Empty(result.Diagnostics);
            Assert.Equal([false, false], result.Tests.Select(t => t.Passed));
            Assert.EndsWith("bad.log:2: day 30 does not exist in Feb 2017", Assert.Single(result.Tests[0].Failures), StringComparison.Ordinal);
            Assert.EndsWith("bad.jsonl:1: not a JSON object but array", Assert.Single(result.Tests[1].Failures), StringComparison.Ordinal);
            Assert.Contains("r.ruletest:2:5: ", result.Tests[0].Failures[0], StringComparison.Ordinal); // at the events step, not the test
            Assert.Contains("r.ruletest:6:5: ", result.Tests[1].Failures[0], StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_bad_test_file_is_reported_with_its_location_and_runs_nothing()
    {
        var result = Run(Rules, "test \"x\"\n    event e at yesterday { n: 1 }\nend\n");
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal(("RF4100", 2), (d.Code, d.Location.Line));
        Assert.Empty(result.Tests);
        var broken = Run("rule \"r\" when x: nope() then log \"x\" end", "test \"x\"\nend\n");
        Assert.Contains(broken.Diagnostics, x => x.Code == "RF2001");
    }

    [Fact]
    public void Advance_runs_timers_on_the_virtual_clock()
    {
        var result = Run("event a\nevent b\nrule \"absent\" when x: a() not b(k == x.k) within 5m then log x.k end", """
            test "absence"
                event a at 2024-01-01T00:00:00Z { k: "1" }
                advance by 5m
                expect nothing
                advance by 1ms
                expect "absent" at 2024-01-01T00:05:00Z
                    log "1"
            end
            """);
        Assert.True(result.Passed, string.Join("\n", result.Tests.SelectMany(t => t.Failures)));
    }
}

/// <summary>Running a test file against an editor's unsaved rule text (the Studio's "run tests").</summary>
public sealed class RuleTestRunnerUnsavedTextTests
{
    [Fact]
    public void Unsaved_text_replaces_its_file_and_a_missing_rule_file_is_a_diagnostic_naming_it()
    {
        var directory = Directory.CreateTempSubdirectory("ruleflow-test-");
        try
        {
            var rules = Path.Combine(directory.FullName, "r.rules");
            File.WriteAllText(rules, "event e time ts\nrule \"big\" when x: e(n > 10) then log \"big\" end\n");
            var test = """
                rules "r.rules" "gone.rules"
                test "fires at 5 with the edited rule"
                    event e at 2024-01-01T00:00:00Z { n: 5 }
                    expect "big" at 2024-01-01T00:00:00Z
                        log "big"
                end
                """;
            var path = Path.Combine(directory.FullName, "r.ruletest");

            var result = RuleTestRunner.RunFile(path, test, new Dictionary<string, string>
            {
                [Path.GetFullPath(rules)] = "event e time ts\nrule \"big\" when x: e(n > 1) then log \"big\" end\n",
            });

            // the file that does not exist is named, not read as empty text
            var missing = Assert.Single(result.Diagnostics, d => d.Message.Contains("gone.rules", StringComparison.Ordinal)
                || d.Location.File.EndsWith("gone.rules", StringComparison.Ordinal));
            Assert.Equal(DiagnosticSeverity.Error, missing.Severity);

            var edited = RuleTestRunner.RunFile(path, test.Replace(" \"gone.rules\"", "", StringComparison.Ordinal), new Dictionary<string, string>
            {
                [Path.GetFullPath(rules)] = "event e time ts\nrule \"big\" when x: e(n > 1) then log \"big\" end\n",
            });
            Assert.True(edited.Passed, string.Join("\n", edited.Diagnostics.Select(d => d.ToString()).Concat(edited.Tests.SelectMany(t => t.Failures.Select(f => t.Name + ": " + f)))));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
