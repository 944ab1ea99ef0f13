using System.Text;
namespace RuleFlow.Rules.Tests.Differential.Facts;

internal sealed class Obj
{
    public required string Id; public required string Type; public required Dictionary<string, object> F;
    public long Seq; public long Inst; public bool IsFact; public long T;
    public override string ToString() => $"{Type}#{Id}";
}

// ---------- rule spec (shared between text and reference) ----------
internal abstract record Cond
{
    public abstract string Text();
    public abstract bool Eval(Dictionary<string, Obj> env, Obj o);
    public static bool Cmp(object? a, string op, object? b)
    {
        if (a is null || b is null) return false;
        if (a is long x && b is long y) return op switch { "==" => x == y, "!=" => x != y, ">" => x > y, ">=" => x >= y, "<" => x < y, "<=" => x <= y, _ => throw new() };
        if (a is string s && b is string t) return op switch { "==" => s == t, "!=" => s != t, ">" => string.CompareOrdinal(s, t) > 0, ">=" => string.CompareOrdinal(s, t) >= 0, "<" => string.CompareOrdinal(s, t) < 0, "<=" => string.CompareOrdinal(s, t) <= 0, _ => throw new() };
        return op == "!=";
    }
    public static object? Get(Obj o, string f) => o.F.TryGetValue(f, out var v) ? v : null;
    public static string Lit(object v) => v is string s ? "\"" + s + "\"" : v.ToString()!;
}
internal sealed record ConstC(string Field, string Op, object Val) : Cond
{
    public override string Text() => $"{Field} {Op} {Lit(Val)}";
    public override bool Eval(Dictionary<string, Obj> env, Obj o) => Cmp(Get(o, Field), Op, Val);
}
internal sealed record JoinC(string Field, string Op, string Bind, string BField) : Cond
{
    public override string Text() => $"{Field} {Op} {Bind}.{BField}";
    public override bool Eval(Dictionary<string, Obj> env, Obj o) => Cmp(Get(o, Field), Op, Get(env[Bind], BField));
}

internal sealed record Pat(string Type, List<Cond> Conds)
{
    public string Text() => $"{Type}({string.Join(", ", Conds.Select(c => c.Text()))})";
    public bool Eval(Dictionary<string, Obj> env, Obj o) => o.Type == Type && Conds.All(c => c.Eval(env, o));
}

internal abstract record El { public abstract string Text(); }
internal sealed record PosE(string Bind, Pat P) : El { public override string Text() => $"{Bind}: {P.Text()}"; }
internal sealed record NotE(Pat P) : El { public override string Text() => $"not {P.Text()}"; }
internal sealed record ExistsE(Pat P) : El { public override string Text() => $"exists {P.Text()}"; }
internal sealed record ForallE(string Bind, Pat P1, Pat P2) : El { public override string Text() => $"forall {Bind}: {P1.Text()} => {P2.Text()}"; }

internal abstract record Val
{
    public abstract string Text();
    public abstract object? Eval(Dictionary<string, Obj> env);
}
internal sealed record ConstV(object V) : Val { public override string Text() => Cond.Lit(V); public override object? Eval(Dictionary<string, Obj> env) => V; }
internal sealed record FieldV(string Bind, string Field, long Plus = 0) : Val
{
    public override string Text() => $"{Bind}.{Field}" + (Plus != 0 ? " + " + Plus : "");
    public override object? Eval(Dictionary<string, Obj> env) { var v = Cond.Get(env[Bind], Field); return Plus == 0 ? v : v is long l ? l + Plus : null; }
}

internal abstract record Act { public abstract string Text(); }
internal sealed record LogA : Act { public override string Text() => "log \"x\""; }
internal sealed record InsertA(string Type, List<(string F, Val V)> Fields) : Act { public override string Text() => $"insert {Type} {{ {string.Join(", ", Fields.Select(f => f.F + ": " + f.V.Text()))} }}"; }
internal sealed record UpdateA(string Bind, List<(string F, Val V)> Fields) : Act { public override string Text() => $"update {Bind} {{ {string.Join(", ", Fields.Select(f => f.F + ": " + f.V.Text()))} }}"; }
internal sealed record RetractA(string Bind) : Act { public override string Text() => $"retract {Bind}"; }

internal sealed record RRule(string Name, int Sal, List<El> Els, List<Act> Acts)
{
    public string Text()
    {
        var sb = new StringBuilder($"rule \"{Name}\"");
        if (Sal != 0) sb.Append(" priority ").Append(Sal);
        sb.Append("\nwhen\n");
        foreach (var e in Els) sb.Append("    ").Append(e.Text()).Append('\n');
        sb.Append("then\n");
        foreach (var a in Acts) sb.Append("    ").Append(a.Text()).Append('\n');
        return sb.Append("end\n").ToString();
    }
}

internal sealed class Spec
{
    public List<string> EventTypes = ["t", "u"];
    public List<string> FactTypes = ["F", "G"];
    public Dictionary<string, long> RetMs = new();   // event type -> retention ms (via keeper rules)
    public List<RRule> Rules = [];
    public string Text()
    {
        var sb = new StringBuilder("event tick time ts\n");
        foreach (var t in EventTypes) sb.Append($"event {t} key k time ts\n");
        foreach (var f in FactTypes) sb.Append($"fact {f} key id\n");
        sb.Append('\n');
        foreach (var r in Rules) sb.Append(r.Text()).Append('\n');
        foreach (var (t, ms) in RetMs) if (ms > 0) sb.Append($"rule \"keep-{t}\" priority -999\nwhen\n    count({t}()) within {ms}ms >= 100000\nthen\n    log \"never\"\nend\n\n");
        return sb.ToString();
    }
}

// ---------- the naive reference interpreter ----------
internal sealed class RefEngine
{
    public static bool UpdateBumpsSeq = true;
    public static bool DedupRecency = false;
    public static bool NewestCreatedFirst = true; // the reference's creation order: newest first
    sealed class Activation
    {
        public required RRule Rule; public int RuleIx; public required List<Obj> Objs; public required Dictionary<string, Obj> Env;
        public bool Fired; public long Created; public long Time; public required List<long> Rec;
    }

    readonly Spec _s;
    readonly List<Obj> _events = [];
    readonly Dictionary<(string, string), Obj> _facts = new();
    readonly Dictionary<string, Activation> _live = new();
    readonly List<Fire> _out = [];
    long _seq, _inst, _act, _clock = long.MinValue;
    bool _clockStarted;
    public bool Overflow;
    int _callFirings;
    public RefEngine(Spec s) { _s = s; }

    long Ret(string type) => (_s.RetMs.TryGetValue(type, out var v) ? v : 0) * TimeSpan.TicksPerMillisecond;

    public static List<Fire> Run(Spec s, List<In> ins, out bool overflow)
    {
        var r = new RefEngine(s);
        long maxMs = 0;
        foreach (var i in ins)
        {
            r._callFirings = 0;
            if (i.IsFact) r.InsertFactInput(i); else { maxMs = Math.Max(maxMs, i.Ms); r.InsertEvent(i); }
            if (r.Overflow) break;
        }
        r._callFirings = 0;
        if (!r.Overflow) r.AdvanceTo((maxMs + 10L * 3600_000) * TimeSpan.TicksPerMillisecond);
        overflow = r.Overflow;
        return r._out;
    }

    void AdvanceTo(long c)
    {
        while (true)
        {
            var dues = _events.Where(e => Ret(e.Type) > 0).Select(e => e.T + Ret(e.Type)).Where(d => d < c).ToList();
            if (dues.Count == 0) break;
            var d = dues.Min();
            _events.RemoveAll(e => Ret(e.Type) > 0 && e.T + Ret(e.Type) == d);
            _clock = Math.Max(_clock, d);
            Cycle(d);
        }
        _clock = Math.Max(_clock, c);
    }

    void InsertEvent(In i)
    {
        var t = i.Ms * TimeSpan.TicksPerMillisecond;
        if (_clockStarted) AdvanceTo(t);
        _clock = Math.Max(_clock, t); _clockStarted = true;
        if (!_s.EventTypes.Contains(i.Type)) return;
        var o = new Obj { Id = i.Id, Type = i.Type, F = i.Fields.ToDictionary(f => f.F, f => Norm(f.V)), Seq = ++_seq, Inst = ++_inst, T = t };
        _events.Add(o);
        Cycle(_clock);
        if (Ret(i.Type) == 0)
        {
            _events.Remove(o);
            Cycle(_clock);
        }
    }

    static object Norm(object v) => v is int n ? (long)n : v;

    void InsertFactInput(In i)
    {
        var data = i.Fields.ToDictionary(f => f.F, f => Norm(f.V));
        if (PutFact(i.Type, i.Id, data)) Cycle(_clock);
    }

    static bool Same(Dictionary<string, object> a, Dictionary<string, object> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && Equals(v, kv.Value));

    /// <returns>true when WM changed</returns>
    bool PutFact(string type, string id, Dictionary<string, object> data)
    {
        if (data.GetValueOrDefault("id") is not string key) return false;
        if (_facts.TryGetValue((type, key), out var old) && Same(old.F, data)) return false;
        _facts[(type, key)] = new Obj { Id = id, Type = type, F = data, Seq = ++_seq, Inst = ++_inst, IsFact = true, T = _clock };
        return true;
    }

    IEnumerable<Obj> Wm(string type)
    {
        foreach (var e in _events) if (e.Type == type) yield return e;
        foreach (var f in _facts.Values) if (f.Type == type) yield return f;
    }

    void Enumerate(RRule r, int ix, Dictionary<string, Obj> env, List<Obj> objs, List<(Dictionary<string, Obj>, List<Obj>)> acc)
    {
        if (ix == r.Els.Count) { acc.Add((new(env), objs.ToList())); return; }
        switch (r.Els[ix])
        {
            case PosE p:
                foreach (var o in Wm(p.P.Type).ToList())
                {
                    if (!p.P.Eval(env, o)) continue;
                    env[p.Bind] = o; objs.Add(o);
                    Enumerate(r, ix + 1, env, objs, acc);
                    env.Remove(p.Bind); objs.RemoveAt(objs.Count - 1);
                }
                break;
            case NotE n:
                if (!Wm(n.P.Type).Any(o => n.P.Eval(env, o))) Enumerate(r, ix + 1, env, objs, acc);
                break;
            case ExistsE x:
                if (Wm(x.P.Type).Any(o => x.P.Eval(env, o))) Enumerate(r, ix + 1, env, objs, acc);
                break;
            case ForallE fa:
                var ok = Wm(fa.P1.Type).Where(o => fa.P1.Eval(env, o)).All(o =>
                {
                    var env2 = new Dictionary<string, Obj>(env) { [fa.Bind] = o };
                    return Wm(fa.P2.Type).Any(y => fa.P2.Eval(env2, y));
                });
                if (ok) Enumerate(r, ix + 1, env, objs, acc);
                break;
        }
    }

    static string Key(RRule r, List<Obj> objs) => r.Name + "|" + string.Join(",", objs.Select(o => o.Inst));

    void Sync(long time, (RRule Rule, List<string> Ids)? noLoop = null)
    {
        var now = new Dictionary<string, (int RuleIx, RRule R, Dictionary<string, Obj> Env, List<Obj> Objs)>();
        for (var ri = 0; ri < _s.Rules.Count; ri++)
        {
            var r = _s.Rules[ri];
            var acc = new List<(Dictionary<string, Obj>, List<Obj>)>();
            Enumerate(r, 0, new(), [], acc);
            foreach (var (env, objs) in acc) now[Key(r, objs)] = (ri, r, env, objs);
        }
        foreach (var k in _live.Keys.ToList()) if (!now.ContainsKey(k)) _live.Remove(k);
        foreach (var (k, m) in now)
        {
            if (_live.ContainsKey(k)) continue;
            var objs = DedupRecency ? m.Objs.Distinct().ToList() : m.Objs;
            var a = new Activation { Rule = m.R, RuleIx = m.RuleIx, Objs = m.Objs, Env = m.Env, Created = ++_act, Time = time, Rec = objs.Select(o => o.Seq).OrderByDescending(x => x).ToList() };
            if (noLoop is { } nl && nl.Rule == m.R && nl.Ids.SequenceEqual(m.Objs.Select(o => o.Id))) a.Fired = true;
            _live[k] = a;
        }
    }

    static int Lex(List<long> a, List<long> b)
    {
        for (var i = 0; i < Math.Min(a.Count, b.Count); i++) if (a[i] != b[i]) return a[i].CompareTo(b[i]);
        return a.Count.CompareTo(b.Count);
    }

    Activation? Best()
    {
        Activation? best = null;
        foreach (var a in _live.Values)
        {
            if (a.Fired) continue;
            if (best is null || Better(a, best)) best = a;
        }
        return best;
    }

    static bool Better(Activation a, Activation b)
    {
        if (a.Rule.Sal != b.Rule.Sal) return a.Rule.Sal > b.Rule.Sal;
        var l = Lex(a.Rec, b.Rec);
        if (l != 0) return l > 0;
        if (a.RuleIx != b.RuleIx) return a.RuleIx < b.RuleIx;
        return NewestCreatedFirst ? a.Created > b.Created : a.Created < b.Created;
    }

    void Cycle(long time)
    {
        Sync(time);
        while (Best() is { } a)
        {
            a.Fired = true;
            if (++_callFirings > 300) { Overflow = true; return; }
            var acts = new List<string>();
            // evaluate actions against the match first
            var ops = new List<(Func<bool> Op, bool IsUpdate)>();
            foreach (var act in a.Rule.Acts)
            {
                switch (act)
                {
                    case InsertA ins:
                    {
                        var data = new Dictionary<string, object>();
                        foreach (var (f, v) in ins.Fields) if (v.Eval(a.Env) is { } x) data[f] = x;
                        var key = data.GetValueOrDefault("id") as string;
                        acts.Add("ins " + ins.Type + ":" + key);
                        ops.Add((() => PutFact(ins.Type, ins.Type + ":" + key, data), false));
                        break;
                    }
                    case UpdateA up:
                    {
                        var f = a.Env[up.Bind];
                        var data = new Dictionary<string, object>(f.F);
                        foreach (var (fl, v) in up.Fields) if (v.Eval(a.Env) is { } x) data[fl] = x;
                        acts.Add("upd " + f.Id);
                        ops.Add((() =>
                        {
                            var key = (string)f.F["id"];
                            if (!_facts.TryGetValue((f.Type, key), out var cur)) return false;
                            if (cur.Inst != f.Inst) return false; // the bound fact was replaced in this firing: nothing to update
                            if (Same(cur.F, data)) return false;
                            _facts[(f.Type, key)] = new Obj { Id = cur.Id, Type = cur.Type, F = data, Seq = UpdateBumpsSeq ? ++_seq : cur.Seq, Inst = ++_inst, IsFact = true, T = cur.T };
                            return true;
                        }, true));
                        break;
                    }
                    case RetractA rt:
                    {
                        var f = a.Env[rt.Bind];
                        acts.Add("ret " + f.Id);
                        ops.Add((() => _facts.TryGetValue((f.Type, (string)f.F["id"]), out var cur) && cur.Inst == f.Inst && _facts.Remove((f.Type, (string)f.F["id"])), false));
                        break;
                    }
                }
            }
            var ids = new List<string>();
            foreach (var o in a.Objs) if (!ids.Contains(o.Id)) ids.Add(o.Id);
            _out.Add(new Fire(a.Rule.Name, a.Time, string.Join(",", ids), string.Join(";", acts)));
            foreach (var (op, isUpdate) in ops)
                if (op()) Sync(time, isUpdate ? (a.Rule, a.Objs.Select(o => o.Id).ToList()) : null);
        }
    }
}
