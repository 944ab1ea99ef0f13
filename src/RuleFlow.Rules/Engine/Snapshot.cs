using System.Net;
using System.Text;
using System.Text.Json;
using RuleFlow.Rules.Compilation;

namespace RuleFlow.Rules.Engine;

/// <summary>
/// Writes a session's working memory in the "RFSNAP" binary format, version 1 (little-endian, strings UTF-8 with a 7-bit length):
/// header, clock and counters (the last one a flag: 1 while the agenda has not yet run, see SessionState.AgendaRun), retained
/// events and facts (in sequence order, JSON as UTF-8), dedup entries by type, storm-control state by rule name and identity,
/// absence and silence state by node identity, and an end marker. Partial matches are not written:
/// the reader re-derives them from working memory.
/// </summary>
internal static class SnapshotWriter
{
    public const string Magic = "RFSNAP";
    public const int Version = 1;
    public const string EndMarker = "RFEND";

    public static void Write(Stream destination, SessionState state)
    {
        using var writer = new BinaryWriter(destination, Encoding.UTF8, leaveOpen: true);
        writer.Write(Encoding.ASCII.GetBytes(Magic));
        writer.Write(Version);
        writer.Write(state.HighWaterTicks);
        writer.Write(state.ClockTicks);
        writer.Write(state.Sequence);
        writer.Write(state.ActivationSequence);
        var counters = state.SaveCounters();
        writer.Write(counters.Length);
        foreach (var c in counters)
        {
            writer.Write(c);
        }

        // Working memory: every held event and every fact, in sequence order.
        var facts = new List<DataFact>();
        foreach (var byKey in state.Facts.Values)
        {
            facts.AddRange(byKey.Values);
        }

        facts.AddRange(HeldEvents(state));
        facts.Sort((a, b) => a.Sequence.CompareTo(b.Sequence));
        writer.Write(facts.Count);
        foreach (var fact in facts)
        {
            WriteFact(writer, fact);
        }

        // Dedup.
        writer.Write(state.Dedup.Count);
        foreach (var (type, entries) in state.Dedup)
        {
            writer.Write(type.Name);
            writer.Write(entries.Count);
            foreach (var (key, start) in entries)
            {
                WriteKey(writer, key);
                writer.Write(start);
            }
        }

        // Storm control by rule.
        var terminals = state.Network.Terminals.Where(t => state.PeekMemory<TerminalNode.Memory>(t.Id) is { Storm.Count: > 0 }).ToList();
        writer.Write(terminals.Count);
        foreach (var terminal in terminals)
        {
            var storm = state.MemoryOf<TerminalNode.Memory>(terminal.Id).Storm;
            writer.Write(terminal.Rule.Name);
            writer.Write(terminal.Rule.Identity);
            writer.Write(storm.OnceWithin.Count);
            foreach (var (key, firedAt) in storm.OnceWithin)
            {
                WriteKey(writer, key);
                writer.Write(firedAt);
            }

            writer.Write(storm.AtMost.Count);
            foreach (var (key, times) in storm.AtMost)
            {
                WriteKey(writer, key);
                writer.Write(times.Count);
                foreach (var t in times)
                {
                    writer.Write(t);
                }
            }

            writer.Write(storm.Batches.Count);
            foreach (var batch in storm.Batches.Values)
            {
                WriteKey(writer, batch.Key);
                writer.Write(batch.Opened);
                writer.Write(batch.Due);
                writer.Write(batch.Matches.Count);
                foreach (var match in batch.Matches)
                {
                    WriteMatch(writer, match);
                }
            }
        }

        // Absence nodes: matches resolved by an event (history, not derivable from working memory).
        var absences = state.Network.Nodes.OfType<AbsenceNode>().Select(n => (Node: n, Resolved: n.ResolvedIdentities(state).ToList()))
            .Where(a => a.Resolved.Count > 0).ToList();
        writer.Write(absences.Count);
        foreach (var (node, resolved) in absences)
        {
            writer.Write(node.StructuralKey);
            writer.Write(resolved.Count);
            foreach (var identity in resolved)
            {
                writer.Write(identity);
            }
        }

        // Silence nodes: every group's last event, start of silence and whether it fired.
        var silences = state.Network.Nodes.OfType<SilenceNode>().Select(n => (Node: n, Groups: n.AllGroups(state).ToList()))
            .Where(s => s.Groups.Count > 0).ToList();
        writer.Write(silences.Count);
        foreach (var (node, groups) in silences)
        {
            writer.Write(node.StructuralKey);
            writer.Write(groups.Count);
            foreach (var group in groups)
            {
                writer.Write(group.Left.Identity());
                WriteKey(writer, group.Per);
                writer.Write(group.LastEvent is not null);
                if (group.LastEvent is { } last)
                {
                    WriteFact(writer, last);
                }

                writer.Write(group.Since);
                writer.Write(group.Output is not null);
            }
        }

        writer.Write(EndMarker);
    }

    internal static IEnumerable<DataFact> HeldEvents(SessionState state)
    {
        // Held events are reachable from the right memories of the nodes; collect them once each.
        var seen = new HashSet<DataFact>(ReferenceEqualityComparer.Instance);
        foreach (var node in state.Network.Nodes)
        {
            IEnumerable<DataFact> facts = node switch
            {
                JoinNode j => j.Index.All(state),
                NegativeNode n => state.PeekMemory<NegativeNode.Memory>(n.Id)?.Right.Values.SelectMany(l => l) ?? [],
                AbsenceNode a => state.PeekMemory<AbsenceNode.Memory>(a.Id)?.Right.Values.SelectMany(l => l) ?? [],
                AggregateNode g => state.PeekMemory<AggregateNode.Memory>(g.Id)?.Buckets.Values.SelectMany(b => b.Groups).SelectMany(x => x.Events) ?? [],
                ForallNode f => state.PeekMemory<ForallNode.Memory>(f.Id) is { } m ? m.Each.Concat(m.Satisfies) : [],
                _ => [],
            };
            foreach (var fact in facts)
            {
                if (!fact.IsFact && !fact.Retracted && fact.Holds > 0 && seen.Add(fact))
                {
                    yield return fact;
                }
            }
        }
    }

    internal static void WriteFact(BinaryWriter writer, DataFact fact)
    {
        writer.Write(fact.IsFact);
        writer.Write(fact.Type.Name);
        writer.Write(fact.Id);
        writer.Write(fact.Time);
        writer.Write(fact.Sequence);
        fact.WriteRawUtf8(writer);
    }

    internal static void WriteKey(BinaryWriter writer, JoinKey key)
    {
        writer.Write(key.Count);
        for (var i = 0; i < key.Count; i++)
        {
            WriteValue(writer, key[i]);
        }
    }

    internal static void WriteValue(BinaryWriter writer, RuleValue value)
    {
        writer.Write((byte)value.Kind);
        switch (value.Kind)
        {
            case ValueKind.Bool:
                writer.Write(value.Bool);
                break;
            case ValueKind.Number:
                writer.Write(value.Number);
                break;
            case ValueKind.String:
                writer.Write(value.GetString());
                break;
            case ValueKind.Json:
                writer.Write(value.Element.GetRawText());
                break;
            case ValueKind.Time:
                writer.Write(value.TimeTicks);
                break;
            case ValueKind.Network:
                writer.Write(value.Network.Text);
                break;
            case ValueKind.List:
                writer.Write(value.List.Length);
                foreach (var item in value.List)
                {
                    WriteValue(writer, item);
                }

                break;
            case ValueKind.Window:
                writer.Write(value.Window.Count);
                foreach (var e in value.Window)
                {
                    WriteFact(writer, e);
                }

                break;
        }
    }

    private static void WriteMatch(BinaryWriter writer, FrozenMatch match)
    {
        writer.Write(match.Time);
        writer.Write(match.Facts.Length);
        foreach (var fact in match.Facts)
        {
            switch (fact)
            {
                case DataFact d:
                    writer.Write((byte)1);
                    WriteFact(writer, d);
                    break;
                case FrozenAggregate a:
                    writer.Write((byte)2);
                    WriteValue(writer, a.Value(new EvalContext()));
                    WriteKey(writer, a.PerKey);
                    writer.Write(a.Events.Count);
                    foreach (var e in a.Events)
                    {
                        WriteFact(writer, e);
                    }

                    break;
                case FrozenSilence s:
                    writer.Write((byte)3);
                    WriteKey(writer, s.PerKey);
                    writer.Write(s.Last is not null);
                    if (s.Last is { } last)
                    {
                        WriteFact(writer, last);
                    }

                    break;
                default:
                    writer.Write((byte)0);
                    break;
            }
        }
    }
}

/// <summary>Reads an "RFSNAP" snapshot into a fresh session of a (possibly different) rule set; see <see cref="SnapshotWriter"/>.</summary>
internal static class SnapshotReader
{
    private const int MaxCount = 100_000_000;

    private sealed record SavedFact(bool IsFact, string Type, string Id, long Time, long Sequence, JsonElement Data);

    private sealed record SavedBatch(JoinKey Key, long Opened, long Due, List<(long Time, List<object?> Facts)> Matches);

    private sealed record SavedStorm(string Rule, string Identity, List<(JoinKey, long)> OnceWithin, List<(JoinKey, long[])> AtMost, List<SavedBatch> Batches);

    private sealed record SavedSilence(string Token, JoinKey Per, SavedFact? Last, long Since, bool Emitted);

    public static void Restore(Stream source, SessionState state)
    {
        try
        {
            RestoreCore(source, state);
        }
        catch (RuleSnapshotException)
        {
            throw;
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or JsonException or FormatException or OverflowException
                                      or ArgumentException or InvalidDataException or DecoderFallbackException or InvalidOperationException)
        {
            throw new RuleSnapshotException($"the rule session snapshot is corrupt or truncated: {e.Message}", e);
        }
    }

    private static void RestoreCore(Stream source, SessionState state)
    {
        using var reader = new BinaryReader(source, new UTF8Encoding(false, throwOnInvalidBytes: true), leaveOpen: true);
        var magic = reader.ReadBytes(SnapshotWriter.Magic.Length);
        if (magic.Length != SnapshotWriter.Magic.Length || Encoding.ASCII.GetString(magic) != SnapshotWriter.Magic)
        {
            throw new RuleSnapshotException("this is not a RuleFlow rule session snapshot (it does not start with RFSNAP)");
        }

        var version = reader.ReadInt32();
        if (version != SnapshotWriter.Version)
        {
            throw new RuleSnapshotException($"rule session snapshot version {version} is not supported (this engine reads version {SnapshotWriter.Version})");
        }

        var high = reader.ReadInt64();
        var clock = reader.ReadInt64();
        var sequence = reader.ReadInt64();
        var activationSequence = reader.ReadInt64();
        var counters = new long[Count(reader)];
        for (var i = 0; i < counters.Length; i++)
        {
            counters[i] = reader.ReadInt64();
        }

        var facts = new List<SavedFact>();
        for (var i = Count(reader); i > 0; i--)
        {
            facts.Add(ReadFact(reader));
        }

        var dedup = new List<(string Type, JoinKey Key, long Start)>();
        for (var i = Count(reader); i > 0; i--)
        {
            var type = reader.ReadString();
            for (var j = Count(reader); j > 0; j--)
            {
                dedup.Add((type, ReadKey(reader), reader.ReadInt64()));
            }
        }

        var storms = new List<SavedStorm>();
        for (var i = Count(reader); i > 0; i--)
        {
            var rule = reader.ReadString();
            var identity = reader.ReadString();
            var once = new List<(JoinKey, long)>();
            for (var j = Count(reader); j > 0; j--)
            {
                once.Add((ReadKey(reader), reader.ReadInt64()));
            }

            var atMost = new List<(JoinKey, long[])>();
            for (var j = Count(reader); j > 0; j--)
            {
                var key = ReadKey(reader);
                var times = new long[Count(reader)];
                for (var k = 0; k < times.Length; k++)
                {
                    times[k] = reader.ReadInt64();
                }

                atMost.Add((key, times));
            }

            var batches = new List<SavedBatch>();
            for (var j = Count(reader); j > 0; j--)
            {
                var key = ReadKey(reader);
                var opened = reader.ReadInt64();
                var due = reader.ReadInt64();
                var matches = new List<(long, List<object?>)>();
                for (var k = Count(reader); k > 0; k--)
                {
                    matches.Add(ReadMatch(reader));
                }

                batches.Add(new SavedBatch(key, opened, due, matches));
            }

            storms.Add(new SavedStorm(rule, identity, once, atMost, batches));
        }

        var absences = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        for (var i = Count(reader); i > 0; i--)
        {
            var node = reader.ReadString();
            var set = new HashSet<string>(StringComparer.Ordinal);
            for (var j = Count(reader); j > 0; j--)
            {
                set.Add(reader.ReadString());
            }

            absences[node] = set;
        }

        var silences = new Dictionary<string, List<SavedSilence>>(StringComparer.Ordinal);
        for (var i = Count(reader); i > 0; i--)
        {
            var node = reader.ReadString();
            var list = new List<SavedSilence>();
            for (var j = Count(reader); j > 0; j--)
            {
                var token = reader.ReadString();
                var per = ReadKey(reader);
                var last = reader.ReadBoolean() ? ReadFact(reader) : null;
                list.Add(new SavedSilence(token, per, last, reader.ReadInt64(), reader.ReadBoolean()));
            }

            silences[node] = list;
        }

        if (reader.ReadString() != SnapshotWriter.EndMarker)
        {
            throw new RuleSnapshotException("the rule session snapshot is corrupt: its end marker is missing");
        }

        Apply(state, high, clock, sequence, activationSequence, counters, facts, dedup, storms, absences, silences);
    }

    private static void Apply(SessionState state, long high, long clock, long sequence, long activationSequence, long[] counters,
        List<SavedFact> facts, List<(string Type, JoinKey Key, long Start)> dedup, List<SavedStorm> storms,
        Dictionary<string, HashSet<string>> absences, Dictionary<string, List<SavedSilence>> silences)
    {
        var network = state.Network;
        state.SetClock(high, high == long.MinValue ? clock : Math.Max(clock, high - state.LatenessTicks));
        clock = state.ClockTicks;
        state.Restoring = true;
        try
        {
            foreach (var saved in facts.OrderBy(f => f.Sequence))
            {
                if (!network.Types.TryGetValue(saved.Type, out var type) || type.IsFact != saved.IsFact)
                {
                    continue; // the type is gone (or changed kind): its facts are dropped
                }

                if (saved.IsFact)
                {
                    var key = type.KeyPath is { } keyPath ? new JoinKey(keyPath.Read(saved.Data)).Detach() : new JoinKey(RuleValue.FromString(saved.Data.GetRawText()));
                    if (key.HasMissing)
                    {
                        continue;
                    }

                    state.Reinsert(new DataFact(saved.Id, saved.Data, saved.Time, type, saved.Sequence) { FactKey = key }, 0);
                    continue;
                }

                var retention = type.RetentionTicks;
                var fact = new DataFact(saved.Id, saved.Data, saved.Time, type, saved.Sequence);
                if (retention + state.LatenessTicks > 0 && saved.Time + retention >= clock)
                {
                    state.Reinsert(fact, saved.Time + retention);
                }
                else
                {
                    // Nothing keeps it for its type (retention 0), or its retention has passed: it was saved because something else
                    // held it, as an absence holds the events of a match until it is decided (with lateness, a type's retention can
                    // end before that). The nodes that hold it take it again; it leaves working memory when none does.
                    state.ReinsertTransient(fact);
                }
            }

            foreach (var node in network.Nodes.OfType<AbsenceNode>())
            {
                if (absences.TryGetValue(node.StructuralKey, out var resolved))
                {
                    node.Resolve(state, resolved);
                }
            }

            foreach (var node in network.Nodes.OfType<SilenceNode>())
            {
                if (!silences.TryGetValue(node.StructuralKey, out var groups))
                {
                    continue;
                }

                foreach (var group in groups)
                {
                    var last = group.Last is { } l && network.Types.TryGetValue(l.Type, out var lastType)
                        ? new DataFact(l.Id, l.Data, l.Time, lastType, l.Sequence)
                        : null;
                    node.Restore(state, group.Token, group.Per, last, group.Since, group.Emitted);
                }
            }

            state.RunTimers(clock);
            state.Agenda.Clear();
            foreach (var storm in storms)
            {
                if (!network.TerminalsByRule.TryGetValue(storm.Rule, out var terminal) || terminal.Rule.Identity != storm.Identity)
                {
                    continue; // the rule is gone or changed: its storm-control state starts afresh
                }

                var batches = storm.Batches.Select(b =>
                {
                    var batch = new Batch(b.Key, b.Opened, b.Due);
                    foreach (var (time, parts) in b.Matches)
                    {
                        batch.Matches.Add(new FrozenMatch([.. parts.Select(p => ToFact(network, p))], time, terminal.BindingNames));
                    }

                    return batch;
                }).ToList();
                state.RestoreStorm(terminal, storm.OnceWithin, storm.AtMost, batches);
            }

            foreach (var (typeName, key, start) in dedup)
            {
                if (network.Types.TryGetValue(typeName, out var type) && type.DedupPaths is not null && start + type.DedupTicks >= clock - type.DedupTicks)
                {
                    state.RestoreDedup(type, key, start);
                }
            }

            if (counters.Length >= 13)
            {
                state.RestoreCounters(counters);
            }

            state.SetCounters(Math.Max(sequence, state.Sequence), activationSequence);
        }
        finally
        {
            state.Restoring = false;
            state.CompactHeld(); // restored events are held compact, as inserted ones are
        }

        // Snapshots before this flag (fewer counters) count every re-derived match as fired, as the restore always did. The restored
        // session's flag is the snapshot's, so that its own next snapshot says the same (a restore fires nothing itself).
        state.AgendaRun = !(counters.Length > SessionState.AgendaPendingIndex && counters[SessionState.AgendaPendingIndex] == 1);
        if (!state.AgendaRun)
        {
            state.RequeueNeverFired();
        }
    }

    private static Fact? ToFact(Compilation.ReteNetwork network, object? part) => part switch
    {
        SavedFact f => network.Types.TryGetValue(f.Type, out var type) ? new DataFact(f.Id, f.Data, f.Time, type, f.Sequence) : null,
        (RuleValue value, JoinKey per, List<SavedFact> events) => new FrozenAggregate(value, [.. events.Select(e => ToFact(network, e)).OfType<DataFact>()], per),
        (JoinKey per, var last) => new FrozenSilence(last is SavedFact saved ? ToFact(network, saved) as DataFact : null, per),
        _ => null,
    };

    private static int Count(BinaryReader reader)
    {
        var n = reader.ReadInt32();
        if (n < 0 || n > MaxCount)
        {
            throw new InvalidDataException($"a count of {n} is out of range");
        }

        return n;
    }

    private static SavedFact ReadFact(BinaryReader reader)
    {
        var isFact = reader.ReadBoolean();
        var type = reader.ReadString();
        var id = reader.ReadString();
        var time = reader.ReadInt64();
        var seq = reader.ReadInt64();
        var length = Count(reader);
        var bytes = reader.ReadBytes(length);
        if (bytes.Length != length)
        {
            throw new EndOfStreamException("the snapshot ends inside an event");
        }

        return new SavedFact(isFact, type, id, time, seq, ParseJson(bytes));
    }

    private static JsonElement ParseJson(byte[] bytes)
    {
        // An event's raw text keeps the comments and trailing commas a lenient parse of its body accepted. One pass (a parse from a
        // reader reads the value twice: once to find its end, once to index it).
        return JsonElement.Parse(bytes, DataFact.RawTextOptions);
    }

    private static JoinKey ReadKey(BinaryReader reader)
    {
        var n = Count(reader);
        var values = new RuleValue[n];
        for (var i = 0; i < n; i++)
        {
            values[i] = ReadValue(reader, 0);
        }

        return new JoinKey(values);
    }

    private static RuleValue ReadValue(BinaryReader reader, int depth)
    {
        if (depth > 64)
        {
            throw new InvalidDataException("values nested too deeply");
        }

        var kind = (ValueKind)reader.ReadByte();
        switch (kind)
        {
            case ValueKind.Missing:
                return RuleValue.Missing;
            case ValueKind.Null:
                return RuleValue.Null;
            case ValueKind.Bool:
                return RuleValue.FromBool(reader.ReadBoolean());
            case ValueKind.Number:
                return RuleValue.FromNumber(reader.ReadDouble());
            case ValueKind.String:
                return RuleValue.FromString(reader.ReadString());
            case ValueKind.Json:
            {
                var bytes = Encoding.UTF8.GetBytes(reader.ReadString());
                return RuleValue.FromElementRaw(ParseJson(bytes)).Detach();
            }

            case ValueKind.Time:
                return RuleValue.FromTime(reader.ReadInt64());
            case ValueKind.Network:
            {
                var text = reader.ReadString();
                return IPNetwork.TryParse(text, out var network) ? RuleValue.FromNetwork(network, text) : RuleValue.Missing;
            }

            case ValueKind.List:
            {
                var items = new RuleValue[Count(reader)];
                for (var i = 0; i < items.Length; i++)
                {
                    items[i] = ReadValue(reader, depth + 1);
                }

                return RuleValue.FromList(items);
            }

            case ValueKind.Window:
            {
                for (var i = Count(reader); i > 0; i--)
                {
                    ReadFact(reader);
                }

                return RuleValue.Missing;
            }

            default:
                throw new InvalidDataException($"unknown value kind {(byte)kind}");
        }
    }

    private static (long Time, List<object?> Facts) ReadMatch(BinaryReader reader)
    {
        var time = reader.ReadInt64();
        var parts = new List<object?>();
        for (var i = Count(reader); i > 0; i--)
        {
            var kind = reader.ReadByte();
            switch (kind)
            {
                case 0:
                    parts.Add(null);
                    break;
                case 1:
                    parts.Add(ReadFact(reader));
                    break;
                case 2:
                {
                    var value = ReadValue(reader, 0);
                    var per = ReadKey(reader);
                    var events = new List<SavedFact>();
                    for (var j = Count(reader); j > 0; j--)
                    {
                        events.Add(ReadFact(reader));
                    }

                    parts.Add((value, per, events));
                    break;
                }

                case 3:
                {
                    var per = ReadKey(reader);
                    var last = reader.ReadBoolean() ? ReadFact(reader) : null;
                    parts.Add((per, last));
                    break;
                }

                default:
                    throw new InvalidDataException($"unknown match part {kind}");
            }
        }

        return (time, parts);
    }
}
