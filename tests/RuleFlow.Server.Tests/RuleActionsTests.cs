using System.Globalization;
using System.Net;
using RuleFlow.Server.Tests.Infrastructure;

namespace RuleFlow.Server.Tests;

/// <summary>Every rule action on a real server (no broker: the in-memory transport loops published messages back).</summary>
public sealed class RuleActionsTests
{
    private const string Rules = """"
        event web.alert key host time ts
        event web.recovered key host time ts

        rule "alert-actions" priority 5
        when
            a: web.alert(severity >= 3)
        then
            publish { host: a.host, severity: a.severity } to exchange "ruleflow.events" routing "loop.alert"
            script """
                var added = blocklist.add(ip, "from a rule");
                log("blocked " + ip);
                return { added: added, key: idempotencyKey };
                """ with { ip: a.ip }
            log warning "alert on " + a.host
            start workflow "block-source-ip" key a.ip with template """{ "ip": "{{a.ip}}", "host": "{{a.host}}", "attempts": {{a.severity}} }"""
        end

        rule "web/not-recovered"
        when
            a: web.alert(severity >= 3)
            not web.recovered(host == a.host) within 2s
        then
            log error "no recovery on " + a.host
        end
        """";

    private static string Now(double secondsFromNow = 0) =>
        DateTimeOffset.UtcNow.AddSeconds(secondsFromNow).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    [Fact]
    public async Task Publish_script_log_and_templated_start_run_and_an_absence_fires_on_a_quiet_stream()
    {
        var root = ServerProcess.NewContentRoot();
        await File.WriteAllTextAsync(Path.Combine(root, "rules", "actions.rules"), Rules);
        await using var server = new ServerProcess(root, new Dictionary<string, string> { ["RuleFlow__Rules__IdleAfter"] = "00:00:01" });
        await server.StartAndWaitReadyAsync();

        var (status, answer) = await server.PostJsonAsync("api/events/web.alert", new { host = "web-1", ip = "198.51.100.9", severity = 4, ts = Now() });
        Assert.True(status == HttpStatusCode.Accepted, answer?.ToJsonString());
        Assert.Equal("alert-actions", Assert.Single(answer!["firings"]!.AsArray())!["rule"]!.GetValue<string>());

        // script: the blocklist module, the idempotency key of the action.
        var blocklist = (await server.GetJsonAsync("api/blocklist")).AsArray();
        Assert.Equal("198.51.100.9", Assert.Single(blocklist)!["ip"]!.GetValue<string>());
        var firing = (await server.GetJsonAsync("api/rules/firings?rule=alert-actions"))["items"]![0]!;
        Assert.Equal("done", firing["status"]!.GetValue<string>());
        var results = firing["results"]!.AsArray();
        Assert.Equal(["publish", "script", "log", "start-workflow"], results.Select(r => r!["kind"]!.GetValue<string>()));
        Assert.Equal($"{firing["activationId"]!.GetValue<string>()}:1", results[1]!["result"]!["key"]!.GetValue<string>());
        Assert.Contains("alert on web-1", server.Log, StringComparison.Ordinal);
        Assert.Contains("blocked 198.51.100.9", server.Log, StringComparison.Ordinal);
        var scripts = (await server.GetJsonAsync("api/stats"))["scripts"]!; // the sandbox the action ran in, none given up on
        Assert.True(scripts["enginesCreated"]!.GetValue<long>() >= 1, scripts.ToJsonString());
        Assert.Equal((0, 0L), (scripts["abandonedRunning"]!.GetValue<int>(), scripts["abandonedTotal"]!.GetValue<long>()));

        // start workflow with a template: the rendered input (a number stays a number).
        await server.WaitUntilAsync(async () => (await server.GetJsonAsync("api/instances?correlationKey=198.51.100.9"))["total"]!.GetValue<int>() == 1, "the instance");
        var instance = (await server.GetJsonAsync("api/instances?correlationKey=198.51.100.9"))["items"]![0]!;
        Assert.Equal("web-1", instance["input"]!["host"]!.GetValue<string>());
        Assert.Equal(4, instance["input"]!["attempts"]!.GetValue<int>());

        // publish: through the outbox, back into ingest through the in-memory transport.
        await server.WaitUntilAsync(async () => (await server.GetJsonAsync("api/events?type=loop.alert"))["total"]!.GetValue<int>() == 1, "the published message");
        var published = (await server.GetJsonAsync("api/events?type=loop.alert"))["items"]![0]!;
        Assert.Equal($"{firing["activationId"]!.GetValue<string>()}:0", published["id"]!.GetValue<string>());
        Assert.Equal(4, published["data"]!["severity"]!.GetValue<int>());

        // absence: no web.recovered within 2 s and no more events: the idle clock fires the timer.
        await server.WaitUntilAsync(async () => (await server.GetJsonAsync("api/rules/firings?rule=web%2Fnot-recovered"))["total"]!.GetValue<int>() == 1,
            "the absence rule to fire on a quiet stream", TimeSpan.FromSeconds(30));
        await server.WaitUntilAsync(() => Task.FromResult(server.Log.Contains("no recovery on web-1", StringComparison.Ordinal)), "the log action");

        // live explanation of a rule, and of an event against a rule
        var matches = await server.GetJsonAsync("api/rules/alert-actions/matches");
        Assert.Equal("alert-actions", matches["rule"]!.GetValue<string>());
        Assert.Contains("\"rules/actions.rules\"", matches.ToJsonString(), StringComparison.Ordinal); // as /api/rules names it
        Assert.DoesNotContain(root, matches.ToJsonString(), StringComparison.Ordinal); // never the server's own path
        Assert.Equal(HttpStatusCode.NotFound, (await server.Http.GetAsync("api/rules/no-such-rule/matches")).StatusCode);
        var slashed = await server.GetJsonAsync("api/rules/" + Uri.EscapeDataString("web/not-recovered") + "/matches"); // a '/' in the name
        Assert.Equal("web/not-recovered", slashed["rule"]!.GetValue<string>());
        (status, answer) = await server.PostJsonAsync("api/rules/explain", new { type = "web.alert", rule = "alert-actions", data = new { host = "web-2", severity = 1 } });
        Assert.Equal(HttpStatusCode.OK, status);
        var pattern = answer!["rules"]![0]!["patterns"]![0]!;
        Assert.False(pattern["passes"]!.GetValue<bool>());
        Assert.Contains(pattern["conditions"]!.AsArray(), c => c!["met"]?.GetValue<bool>() == false);
    }

    [Fact]
    public async Task A_publish_whose_computed_routing_key_is_longer_than_AMQP_allows_fails_its_action_and_sends_nothing()
    {
        var root = ServerProcess.NewContentRoot();
        await File.WriteAllTextAsync(Path.Combine(root, "rules", "route.rules"), """
            event web.alert key host time ts
            event looped
                from exchange "ruleflow.events" routing "loop.#"

            rule "long-route"
            when
                a: web.alert()
            then
                publish { host: a.host } to exchange "ruleflow.events" routing "loop." + a.host
                log warning "published for " + a.host
            end
            """);
        await using var server = new ServerProcess(root);
        await server.StartAndWaitReadyAsync();

        // 'é' is two bytes in UTF-8: "loop." and 125 of them are 255 bytes (the most AMQP allows) in 130 characters; 126 are 257.
        var fits = new string('é', 125);
        var tooLong = new string('é', 126);
        Assert.Equal(HttpStatusCode.Accepted, (await server.PostJsonAsync("api/events/web.alert", new { host = fits, ts = Now() })).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await server.PostJsonAsync("api/events/web.alert", new { host = tooLong, ts = Now() })).Status);

        await server.WaitUntilAsync(async () => (await server.GetJsonAsync("api/rules/firings?rule=long-route"))["items"]!.AsArray()
            .Count(f => f!["status"]!.GetValue<string>() != "pending") == 2, "both firings carried out");
        var firings = (await server.GetJsonAsync("api/rules/firings?rule=long-route&pageSize=10"))["items"]!.AsArray();
        Assert.Single(firings, f => f!["status"]!.GetValue<string>() == "done");
        var failed = Assert.Single(firings, f => f!["status"]!.GetValue<string>() == "failed")!;
        var results = failed["results"]!.AsArray();
        Assert.Equal("publish", results[0]!["kind"]!.GetValue<string>());
        Assert.StartsWith("publish: the routing key is 257 bytes long in UTF-8; AMQP allows at most 255", results[0]!["error"]!.GetValue<string>(),
            StringComparison.Ordinal);
        Assert.Equal("log", results[1]!["kind"]!.GetValue<string>()); // the firing's other actions still run
        Assert.Contains("the routing key is 257 bytes long", failed["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("published for " + tooLong, server.Log, StringComparison.Ordinal);

        // The one that fits is sent and comes back through the in-memory transport; the other never reached the outbox.
        await server.WaitUntilAsync(async () => (await server.GetJsonAsync("api/events?type=looped"))["total"]!.GetValue<int>() == 1,
            "the 255-byte routing key's message");
        await Task.Delay(500);
        var looped = Assert.Single((await server.GetJsonAsync("api/events?type=looped"))["items"]!.AsArray())!;
        Assert.Equal(fits, looped["data"]!["host"]!.GetValue<string>());
        Assert.DoesNotContain("Outbox message", server.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_script_whose_regex_backtracks_for_ever_fails_its_firing_with_a_timeout_and_the_next_event_is_handled()
    {
        // /^(a+)+$/ on 40 a's and a '!' backtracks for hours; Jint's own timeout cannot stop one regex call, the process-wide regex
        // timeout the server sets does.
        var root = ServerProcess.NewContentRoot();
        await File.WriteAllTextAsync(Path.Combine(root, "rules", "redos.rules"), """"
            event job key id time ts

            rule "backtracking"
            when
                j: job(kind == "regex")
            then
                script """var s = ''; for (var i = 0; i < 40; i++) { s += 'a'; } s += '!'; return /^(a+)+$/.test(s);"""
            end

            rule "plain"
            when
                j: job(kind == "plain")
            then
                log "plain " + j.id
            end
            """");
        await using var server = new ServerProcess(root);
        await server.StartAndWaitReadyAsync();

        Assert.Equal(HttpStatusCode.Accepted, (await server.PostJsonAsync("api/events/job", new { id = "r1", kind = "regex", ts = Now() })).Status);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var (status, _) = await server.PostJsonAsync("api/events/job", new { id = "p1", kind = "plain", ts = Now() });
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(30), $"the next event took {started.Elapsed}");
        await server.WaitUntilAsync(() => Task.FromResult(server.Log.Contains("plain p1", StringComparison.Ordinal)), "the plain rule's log");
        await server.WaitUntilAsync(async () => (await server.GetJsonAsync("api/rules/firings?rule=backtracking"))["items"]!.AsArray()
            .Any(f => f!["status"]!.GetValue<string>() == "failed"), "the backtracking firing recorded as failed");
        var failed = (await server.GetJsonAsync("api/rules/firings?rule=backtracking"))["items"]![0]!;
        Assert.Contains("a regular expression of the script ran longer than 2000 ms", failed["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("rules/redos.rules", failed["actions"]![0]!["file"]!.GetValue<string>()); // the script's file, never the server's path
        Assert.DoesNotContain(root, failed.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_answer_to_an_event_says_what_the_session_did_with_it_and_why_a_bad_one_matched_nothing()
    {
        // An event whose field broke its declaration got a plain 202 and matched nothing, with no word why (an audit found it).
        var root = ServerProcess.NewContentRoot();
        await File.WriteAllTextAsync(Path.Combine(root, "rules", "typed.rules"), """
            event iface key host time ts fields { host: string, state: string, ts: time }

            rule "down"
            when
                i: iface(state == "down")
            then
                log "down " + i.host
            end
            """);
        await using var server = new ServerProcess(root);
        await server.StartAndWaitReadyAsync();

        var (status, answer) = await server.PostJsonAsync("api/events/iface", new { host = 7, state = "down", ts = Now() });
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal("invalid", answer!["status"]!.GetValue<string>());
        Assert.Equal("field 'host' is declared string, but the event has a number; it matched nothing", answer["problem"]!.GetValue<string>());
        Assert.Empty(answer["firings"]!.AsArray());
        await server.WaitUntilAsync(() => Task.FromResult(server.Log.Contains("Invalid event", StringComparison.Ordinal)), "the log line");

        (status, answer) = await server.PostJsonAsync("api/events/iface", new { host = "sw1", state = "down", ts = Now() });
        Assert.Equal(("applied", 1), (answer!["status"]!.GetValue<string>(), answer["firings"]!.AsArray().Count));
        Assert.Null(answer["problem"]);

        (status, answer) = await server.PostJsonAsync("api/events/iface", new { host = "sw2", state = "down", ts = Now(-3600) });
        Assert.Equal("late", answer!["status"]!.GetValue<string>());
        Assert.Contains("is older than the rule clock", answer["problem"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_check_endpoint_reports_diagnostics_like_the_cli_and_far_future_events_are_refused()
    {
        await using var server = new ServerProcess(ServerProcess.NewContentRoot());
        await server.StartAndWaitReadyAsync();

        var (status, answer) = await server.PostJsonAsync("api/rules/check", new
        {
            files = new[] { new { path = "rules/draft.rules", text = "event e key k\n\nrule \"r\"\nwhen\n    x: e(a >== 1)\nthen\n    log \"x\"\nend\n" } },
        });
        Assert.Equal(HttpStatusCode.OK, status);
        var file = answer!["files"]![0]!;
        Assert.False(file["loaded"]!.GetValue<bool>());
        var diagnostic = file["diagnostics"]![0]!;
        Assert.Equal("rules/draft.rules", diagnostic["file"]!.GetValue<string>());
        Assert.Equal(5, diagnostic["line"]!.GetValue<int>());
        Assert.StartsWith("rules/draft.rules:5:", diagnostic["text"]!.GetValue<string>(), StringComparison.Ordinal);

        // Action templates and scripts are compiled as they would be when the action runs: a broken one is an error at its action,
        // in a check of files and in a save's check (which refuses it).
        const string Broken = "event e key k\nrule \"r\" when x: e() then\n    start workflow \"w\" with template \"\"\"{{#if x.k}}{}\"\"\"\n    script \"\"\"var = 1;\"\"\"\nend\n";
        (status, answer) = await server.PostJsonAsync("api/rules/check", new { files = new[] { new { path = "rules/code.rules", text = Broken } } });
        Assert.Equal(HttpStatusCode.OK, status);
        var codes = answer!["files"]![0]!["diagnostics"]!.AsArray().Select(d => (d!["code"]!.GetValue<string>(), d["line"]!.GetValue<int>(), d["column"]!.GetValue<int>()));
        Assert.Equal([("WF1021", 3, 5), ("WF1020", 4, 5)], codes);
        (status, answer) = await server.PostJsonAsync("api/rules/check", new { file = "rules/code.rules", text = Broken });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False(answer!["ok"]!.GetValue<bool>());
        Assert.Contains(answer["diagnostics"]!.AsArray(), d => d!["code"]!.GetValue<string>() == "WF1020" && d["severity"]!.GetValue<string>() == "error");

        (status, answer) = await server.PostJsonAsync("api/events/ssh.auth", new { message = "from the future", timestamp = "2099-01-01T00:00:00Z" });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("RF5007", answer!["code"]!.GetValue<string>());
        Assert.Contains("ahead of the server's clock", answer["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reload_keeps_the_windows_so_a_count_started_before_it_completes_after_it()
    {
        var root = ServerProcess.NewContentRoot();
        await File.WriteAllTextAsync(Path.Combine(root, "rules", "count.rules"), """
            event job.failed key job time ts

            rule "three failures"
            when
                f: job.failed()
                count(job.failed(job == f.job)) within 1h >= 3
            then
                log "job " + f.job + " failed three times"
            throttle once within 1h per f.job
            end
            """);
        await using var server = new ServerProcess(root);
        await server.StartAndWaitReadyAsync();

        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(HttpStatusCode.Accepted, (await server.PostJsonAsync("api/events/job.failed", new { job = "backup", ts = Now(-60 + i) })).Status);
        }

        await File.WriteAllTextAsync(Path.Combine(root, "rules", "other.rules"), """
            event disk.full key host time ts
            rule "disk" when d: disk.full() then log "disk full on " + d.host end
            """);
        // The new set is in force (API) slightly before the session has taken it over (log): wait for the latter.
        await server.WaitUntilAsync(() => Task.FromResult(server.Log.Contains("working memory kept", StringComparison.Ordinal)), "the reload into the running session");
        Assert.Contains((await server.GetJsonAsync("api/rules"))["rules"]!.AsArray(), r => r!["name"]!.GetValue<string>() == "disk");

        var (status, answer) = await server.PostJsonAsync("api/events/job.failed", new { job = "backup", ts = Now(-30) });
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal("three failures", Assert.Single(answer!["firings"]!.AsArray())!["rule"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_rule_firing_again_on_an_updated_fact_is_carried_out_each_time()
    {
        // The activation id of a match of a fact counted only the fact's id, which an update keeps: the server took the second and
        // third firings for replays of the first ("journaled already: not carried out again") and dropped them.
        var root = ServerProcess.NewContentRoot();
        await File.WriteAllTextAsync(Path.Combine(root, "rules", "versions.rules"), """
            event ver.e key k time ts
            fact VerF key id
            rule "make" when x: ver.e(kind == "make") then insert VerF { id: "1", v: 1 } end
            rule "bump" when x: ver.e(kind == "bump") f: VerF() then update f { v: f.v + 1 } end
            rule "watch" when f: VerF(v >= 1) then log "watch v=" + f.v end
            """);
        await using var server = new ServerProcess(root);
        await server.StartAndWaitReadyAsync();
        foreach (var (kind, i) in new[] { "make", "bump", "bump" }.Select((k, i) => (k, i)))
        {
            var (status, answer) = await server.PostJsonAsync("api/events/ver.e", new { k = "a", kind, ts = Now(i) });
            Assert.True(status == HttpStatusCode.Accepted, answer?.ToJsonString());
        }

        var firings = await server.GetJsonAsync("api/rules/firings?rule=watch");
        Assert.Equal(3, firings["total"]!.GetValue<int>());
        Assert.Equal(3, firings["items"]!.AsArray().Select(f => f!["activationId"]!.GetValue<string>()).Distinct().Count());
        await server.WaitUntilAsync(() => Task.FromResult(server.Log.Contains("watch v=3", StringComparison.Ordinal)), "the third firing's log action");
    }
}
