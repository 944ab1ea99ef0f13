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
    private static int Cases => int.TryParse(Environment.GetEnvironmentVariable("RULEFLOW_DIFF_CASES"), out var n) && n > 0 ? n : 500;

    [Theory]
    [InlineData("agg", false, 1)]
    [InlineData("agg", true, 2)]
    [InlineData("seq", false, 3)]
    [InlineData("seq", true, 4)]
    [InlineData("absence", false, 5)]
    [InlineData("absence", true, 6)]
    [InlineData("silence", false, 7)]
    [InlineData("silence", true, 8)]
    [InlineData("storm", false, 9)]
    [InlineData("aggthrottle", false, 10)]
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
    [InlineData("agg", false, 21)]
    [InlineData("agg", true, 22)]
    [InlineData("seq", true, 23)]
    [InlineData("absence", true, 24)]
    [InlineData("absence", false, 28)]
    [InlineData("seq", false, 29)]
    [InlineData("silence", false, 30)]
    [InlineData("silence", true, 25)]
    [InlineData("storm", false, 26)]
    [InlineData("aggthrottle", false, 27)]
    public void A_session_restored_from_a_snapshot_at_any_event_fires_as_the_one_that_ran_through(string shape, bool late, int seed) =>
        Interrupted(shape, late, seed, "restored", (test, events, at) => Engine.Run(test.Rules, events, test.LatMs, restoreAt: at));

    /// <summary>A reload of unchanged rules carries windows, timers, throttles, batches and dedup over: nothing fires again, nothing is lost.</summary>
    [Theory]
    [InlineData("agg", false, 41)]
    [InlineData("agg", true, 42)]
    [InlineData("seq", true, 43)]
    [InlineData("absence", true, 44)]
    [InlineData("silence", true, 45)]
    [InlineData("storm", false, 46)]
    [InlineData("aggthrottle", false, 47)]
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
