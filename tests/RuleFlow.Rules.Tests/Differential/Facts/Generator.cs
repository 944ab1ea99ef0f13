namespace RuleFlow.Rules.Tests.Differential.Facts;

internal sealed class RGen(Random r)
{
    public Random R = r;
    public static bool NoSelfJoin = true; // a self-join's two matches from one change come in an order the reference leaves open
    public static bool NoExists = false;
    public static bool UniqFacts = false;
    int _fid;
    T Pick<T>(params T[] xs) => xs[R.Next(xs.Length)];
    int _b;

    static readonly string[] Facts = ["F", "G"];

    public Spec MakeSpec(int nRules, bool allowChain)
    {
        var s = new Spec();
        s.RetMs["t"] = Pick(0L, 60000L, 60000L);
        s.RetMs["u"] = Pick(0L, 30000L, 30000L);
        for (var i = 0; i < nRules; i++) s.Rules.Add(MakeRule("r" + i, allowChain));
        return s;
    }

    Cond? ConstCond(string type)
    {
        return R.Next(4) switch
        {
            0 => new ConstC("v", ">=", (long)R.Next(1, 4)),
            1 => new ConstC("k", "==", "x"),
            2 when Facts.Contains(type) => new ConstC("v", "<", (long)R.Next(2, 5)),
            _ => null,
        };
    }

    public RRule MakeRule(string name, bool allowChain)
    {
        _b = 0;
        var els = new List<El>();
        var binds = new List<(string B, string Type)>();
        string NewB() => "b" + _b++;
        var firstType = Pick("t", "t", "F", "G", "u");
        {
            var c = ConstCond(firstType);
            var b = NewB();
            els.Add(new PosE(b, new Pat(firstType, c is null ? [] : [c])));
            binds.Add((b, firstType));
        }
        var more = R.Next(0, 3);
        for (var i = 0; i < more; i++)
        {
            var (xb, xt) = binds[R.Next(binds.Count)];
            var isFactX = Facts.Contains(xt);
            var kind = R.Next(8);
            var type = Pick("t", "u", "F", "G");
            var conds = new List<Cond>();
            if (isFactX && Facts.Contains(type) && R.Next(2) == 0) conds.Add(new JoinC("id", "==", xb, "id"));
            else conds.Add(new JoinC("k", "==", xb, "k"));
            var extra = R.Next(4);
            if (extra == 0) conds.Add(new JoinC("v", ">", xb, "v"));
            else if (extra == 1) conds.Add(new ConstC("v", ">=", (long)R.Next(1, 4)));
            var pat = new Pat(type, conds);
            if (NoSelfJoin && (kind <= 2 || kind == 7) && binds.Any(x => x.Type == type)) { els.Add(new NotE(pat)); continue; }
            if (kind <= 2) { var b = NewB(); els.Add(new PosE(b, pat)); binds.Add((b, type)); }
            else if (kind <= 4) els.Add(new NotE(pat));
            else if (kind == 5 || (NoExists && kind == 6)) els.Add(NoExists ? new NotE(pat) : new ExistsE(pat));
            else if (kind == 6)
            {
                var y = "y" + _b++;
                var t2 = Pick("F", "G", "u");
                var c2 = new List<Cond> { Facts.Contains(type) && Facts.Contains(t2) && R.Next(2) == 0 ? new JoinC("id", "==", y, "id") : new JoinC("k", "==", y, "k") };
                if (R.Next(2) == 0) c2.Add(new JoinC("v", ">=", y, "v"));
                els.Add(new ForallE(y, pat, new Pat(t2, c2)));
            }
            else { var b = NewB(); els.Add(new PosE(b, pat)); binds.Add((b, type)); }
        }
        var acts = new List<Act>();
        var factBinds = binds.Where(b => Facts.Contains(b.Type)).ToList();
        var nActs = allowChain && R.Next(3) == 0 ? 2 : 1;
        var usedBinds = new HashSet<string>();
        for (var ai = 0; ai < nActs; ai++) {
        var a = allowChain ? R.Next(7) : 0;
        if (a == 1 || a == 2)
        {
            var (xb, xt) = binds[R.Next(binds.Count)];
            var ft = Pick(Facts);
            Val id = Facts.Contains(xt) && R.Next(2) == 0 ? new FieldV(xb, "id") : new FieldV(xb, "k");
            acts.Add(new InsertA(ft, [("id", id), ("k", new FieldV(xb, "k")), ("v", R.Next(2) == 0 ? new ConstV((long)R.Next(0, 5)) : new FieldV(xb, "v"))]));
        }
        else if (a == 6 && factBinds.Count > 0 && !usedBinds.Contains(factBinds[0].B))
        {
            usedBinds.Add(factBinds[0].B);
            acts.Add(new UpdateA(factBinds[0].B, [("v", new ConstV((long)R.Next(0, 5)))]));
        }
        else if (a == 3 && factBinds.Count > 0 && !usedBinds.Contains(factBinds[0].B))
        {
            var (fb, _) = factBinds[0]; usedBinds.Add(fb);
            // bound the update: add v < 4 to that pattern
            var ix = els.FindIndex(e => e is PosE p && p.Bind == fb);
            var p = (PosE)els[ix];
            els[ix] = p with { P = p.P with { Conds = [.. p.P.Conds, new ConstC("v", "<", 4L)] } };
            acts.Add(new UpdateA(fb, [("v", new FieldV(fb, "v", 1))]));
        }
        else if (a == 4 && factBinds.Count > 0 && !usedBinds.Contains(factBinds[^1].B))
        {
            usedBinds.Add(factBinds[^1].B);
            acts.Add(new RetractA(factBinds[^1].B));
        }
        else acts.Add(new LogA());
        }
        return new RRule(name, Pick(0, 0, 0, 10, -10), els, acts);
    }

    public List<In> Inputs(int n, Spec s)
    {
        var list = new List<In> { new("tick", "tk", [], 0, false) };
        long t = 0;
        var ret = s.RetMs.Values.Where(v => v > 0).DefaultIfEmpty(30000).ToArray();
        for (var i = 0; i < n; i++)
        {
            var p = R.NextDouble();
            if (p < 0.55)
            {
                var q = R.NextDouble();
                long gap = q < 0.3 ? 0 : q < 0.45 ? Pick(ret) : q < 0.55 ? Pick(ret) + Pick(1, -1) : R.Next(0, 9) * 5000;
                t += gap;
                list.Add(new(Pick("t", "t", "u"), "e" + i, [("k", Pick("x", "y")), ("v", R.Next(0, 5))], t, false));
            }
            else
            {
                var ft = Pick("F", "F", "G");
                list.Add(new(ft, "f" + i, [("id", UniqFacts ? "n" + (_fid++) : Pick("1", "2", "3")), ("k", Pick("x", "y")), ("v", R.Next(0, 5))], t, true));
            }
        }
        return list;
    }
}
