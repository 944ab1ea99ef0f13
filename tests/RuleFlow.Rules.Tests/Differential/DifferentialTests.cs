namespace RuleFlow.Rules.Tests.Differential;

/// <summary>
/// The engine against naive references written from docs/rules-language.md: random small event streams (a few keys, 3–50 events,
/// gaps from 0 to twice the window with exact-window and ±1 ms gaps, equal times, and with lateness events up to 1.3 × L out of
/// order) through aggregates (count, sum, min, max, distinct, avg over within, every, last N, last N within; per key or joined to a
/// trigger), sequences, absence, silence, and storm control (throttle once within, at most N per, once after, group by … wait,
/// dedup, and throttles over aggregates). A mismatch fails with the smallest event list that still shows it.
/// Each case's reference recomputes the whole state from the definition at every step, so it shares no code with the engine.
/// <c>RULEFLOW_DIFF_CASES</c> raises the number of cases per shape (default 500) for a longer run.
/// </summary>
public sealed class DifferentialTests
{
    /// <summary>Every shape, with and without lateness where the shape has it: (shape, late, seed), the seeds offset per test.</summary>
    public static TheoryData<string, bool, int> Streams(int seedOffset) => new()
    {
        { "agg", false, seedOffset + 1 }, { "agg", true, seedOffset + 2 }, { "seq", false, seedOffset + 3 }, { "seq", true, seedOffset + 4 },
        { "absence", false, seedOffset + 5 }, { "absence", true, seedOffset + 6 }, { "silence", false, seedOffset + 7 }, { "silence", true, seedOffset + 8 },
        { "storm", false, seedOffset + 9 }, { "aggthrottle", false, seedOffset + 10 },
    };

    private static int Cases => int.TryParse(Environment.GetEnvironmentVariable("RULEFLOW_DIFF_CASES"), out var n) && n > 0 ? n : 500;

    [Theory]
    [MemberData(nameof(Streams), 0)]
    public void The_engine_fires_as_the_reference_on_random_streams(string shape, bool late, int seed)
    {
        var generator = new Gen(new Random(seed));
        var fires = 0;
        for (var c = 0; c < Cases; c++)
        {
            var test = Shapes.Make(shape, generator, late);
            var expected = test.Ref(test.Events);
            fires += expected.Count;
            if (Cmp.Diff(Engine.Run(test.Rules, test.Events, test.LatMs), expected, test.Norm) is null)
            {
                continue;
            }

            bool Failing(List<Ev> events) => Cmp.Diff(Engine.Run(test.Rules, events, test.LatMs), test.Ref(events), test.Norm) is not null;
            var small = Shrink.Run(test.Events, Failing);
            Assert.Fail($"case {c} [{test.Label}], lateness {test.LatMs} ms:\n{test.Rules}events: [{string.Join(", ", small)}]\n" +
                        $"engine:    {string.Join(" ", Engine.Run(test.Rules, small, test.LatMs))}\nreference: {string.Join(" ", test.Ref(small))}\n" +
                        Cmp.Diff(Engine.Run(test.Rules, small, test.LatMs), test.Ref(small), test.Norm));
        }

        Assert.True(fires > Cases, $"{shape}: the streams made only {fires} firings in {Cases} cases: they test too little"); // not vacuous
    }

    /// <summary>
    /// Durable correlation state: a session saved to a snapshot and restored from it before any event of the stream (windows, groups,
    /// partial matches, timers, throttles, batches, dedup, the clock) fires exactly as the session that ran through.
    /// </summary>
    [Theory]
    [MemberData(nameof(Streams), 100)]
    public void A_session_restored_from_a_snapshot_at_any_event_fires_as_the_one_that_ran_through(string shape, bool late, int seed) =>
        Interrupted(shape, late, seed, "restored", (test, events, at) => Engine.Run(test.Rules, events, test.LatMs, restoreAt: at));

    /// <summary>A reload of unchanged rules carries windows, timers, throttles, batches and dedup over: nothing fires again, nothing is lost.</summary>
    [Theory]
    [MemberData(nameof(Streams), 200)]
    public void A_session_carried_into_a_reload_of_the_same_rules_at_any_event_fires_as_the_one_that_ran_through(string shape, bool late, int seed) =>
        Interrupted(shape, late, seed, "reloaded", (test, events, at) => Engine.Run(test.Rules, events, test.LatMs, reloadAt: at));

    private static void Interrupted(string shape, bool late, int seed, string what, Func<Case, List<Ev>, int, List<Fire>> interrupted)
    {
        var generator = new Gen(new Random(seed));
        var restores = new Random(seed);
        for (var c = 0; c < Cases; c++)
        {
            var test = Shapes.Make(shape, generator, late);
            var at = restores.Next(test.Events.Count + 1);
            if (Engine.Run(test.Rules, test.Events, test.LatMs).SequenceEqual(interrupted(test, test.Events, at)))
            {
                continue;
            }

            int? FailingAt(List<Ev> events)
            {
                var through = Engine.Run(test.Rules, events, test.LatMs);
                return Enumerable.Range(0, events.Count + 1).Cast<int?>().FirstOrDefault(i => !through.SequenceEqual(interrupted(test, events, i!.Value)));
            }

            var small = Shrink.Run(test.Events, events => FailingAt(events) is not null);
            var index = FailingAt(small)!.Value;
            Assert.Fail($"case {c} [{test.Label}], lateness {test.LatMs} ms, {what} before event {index}:\n{test.Rules}events: [{string.Join(", ", small)}]\n" +
                        $"through:  {string.Join(" ", Engine.Run(test.Rules, small, test.LatMs))}\n" +
                        $"{what}: {string.Join(" ", interrupted(test, small, index))}");
        }
    }
}
