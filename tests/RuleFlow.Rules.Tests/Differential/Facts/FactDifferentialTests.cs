namespace RuleFlow.Rules.Tests.Differential.Facts;

/// <summary>
/// Joins, <c>not</c>/<c>exists</c>/<c>forall</c>, facts, forward chaining (insert, update, retract; loop protection) and the agenda's
/// order (salience, LEX recency, load order, newest first; refraction) against a naive reference written from
/// docs/rules-language.md: it recomputes every match from scratch after each change. Random rule sets of 1–4 rules over events
/// <c>t</c>, <c>u</c> (retention 0, 30 s or 60 s) and facts <c>F</c>, <c>G</c>, with priorities, and 4–18 inputs; the firings are
/// compared in order, with the fact changes their actions made. A self-join is left out: the order of its two matches from one
/// change is the network's, which the reference does not fix. <c>RULEFLOW_DIFF_CASES</c> raises the number of cases (default 500).
/// </summary>
public sealed class FactDifferentialTests
{
    private static int Cases => int.TryParse(Environment.GetEnvironmentVariable("RULEFLOW_DIFF_CASES"), out var n) && n > 0 ? n : 500;

    [Theory]
    [InlineData(1, false, 3)]
    [InlineData(2, true, 3)]
    [InlineData(3, true, 4)]
    public void The_engine_fires_facts_joins_and_chains_as_the_reference_in_the_same_order(int seed, bool chain, int maxRules)
    {
        var generator = new RGen(new Random(seed));
        var checkedCases = 0;
        var fires = 0;
        for (var c = 0; c < Cases; c++)
        {
            var spec = generator.MakeSpec(generator.R.Next(1, maxRules + 1), chain);
            var inputs = generator.Inputs(generator.R.Next(4, 18), spec);
            var expected = RefEngine.Run(spec, inputs, out var overflow);
            if (overflow)
            {
                // The reference passed 300 firings in one call: a loop, which the engine must stop at its abort (10,000).
                Assert.True(Engine.Run(spec.Text(), inputs, acts: true).Count >= 10_000, $"case {c}: the reference loops, the engine did not\n{spec.Text()}");
                continue;
            }

            checkedCases++;
            fires += expected.Count;
            var difference = Cmp.Seq(Engine.Run(spec.Text(), inputs, acts: true), expected);
            if (difference is null)
            {
                continue;
            }

            var small = Shrink.Run(inputs, x => x.Count > 0 && x[0].Type == "tick" && !Overflows(spec, x) && Cmp.Seq(Engine.Run(spec.Text(), x, acts: true),
                RefEngine.Run(spec, x, out _)) is not null);
            Assert.Fail($"case {c}:\n{spec.Text()}inputs:\n  {string.Join("\n  ", small)}\n" +
                        Cmp.Seq(Engine.Run(spec.Text(), small, acts: true), RefEngine.Run(spec, small, out _)));
        }

        Assert.True(fires > checkedCases, $"only {fires} firings in {checkedCases} cases: the rules test too little"); // not vacuous
    }

    private static bool Overflows(Spec spec, List<In> inputs)
    {
        RefEngine.Run(spec, inputs, out var overflow);
        return overflow;
    }
}
