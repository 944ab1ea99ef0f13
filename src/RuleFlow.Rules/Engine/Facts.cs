using System.Text.Json;
using RuleFlow.Rules.Language;

namespace RuleFlow.Rules.Engine;

/// <summary>
/// A working-memory element (WME). <see cref="Sequence"/> is its recency (insertion number, 0 for results of aggregate and silence
/// nodes). Events and declared facts are <see cref="DataFact"/>s; aggregate and silence results are made by their nodes.
/// </summary>
internal abstract class Fact
{
    /// <summary>Recency: the insertion number of an event or fact; 0 for the results of aggregate and silence nodes (no field of theirs).</summary>
    public abstract long Sequence { get; }
}

/// <summary>
/// An event or a declared fact in working memory: immutable data with an id, a time and a type. The object of an event whose time
/// retention ended is reused for a later event of the session (see <see cref="Reuse"/>) unless a reference to it was kept outside
/// working memory (<see cref="Kept"/>): a held event then costs the collector no object that lives one window and dies old.
/// </summary>
internal sealed class DataFact(string id, JsonElement data, long time, TypeRuntime type, long sequence) : Fact
{
    private long _sequence = sequence;

    public override long Sequence => _sequence;

    private JsonElement _data = data;

    // The held text: a chunk shared with other events (HeldChunk) or an array of its own (byte[]); null while the event is a document.
    private object? _text;
    private int _offset;
    private int _length;

    private string? _id = id;

    // Characters of the id stored after the text in a chunk (at most ChunkSize / 16: longer events get an array of their own).
    private ushort _idChars;

    private const byte RetractedFlag = 1, RetentionHoldFlag = 2, KeptFlag = 4, ShapedFlag = 8;
    private byte _flags;

    // Rarely set, so one field: the other alpha memories the object entered (AlphaMemoryNode[]), or for a fact a FactExtra with its
    // identity key and those memories.
    private object? _extra;

    private sealed class FactExtra(JoinKey key)
    {
        public JoinKey Key { get; set; } = key;

        public AlphaMemoryNode[]? OtherMemories { get; set; }
    }

    private bool Flag(byte flag) => (_flags & flag) != 0;

    private void SetFlag(byte flag, bool value) => _flags = (byte)(value ? _flags | flag : _flags & ~flag);

    /// <summary>
    /// The event's id (facts: the id of the event that inserted it, or a key-derived id for facts inserted by rules). A held event
    /// keeps it in its chunk with its text (no string of its own that would live one window): read that way, each read makes a string.
    /// </summary>
    public string Id => _id ?? ReadId();

    /// <summary>
    /// True once a reference to this object is kept where its removal from working memory does not reach (a batched match of storm
    /// control, a silence group's last event, a window timer of its own): such an object is never reused for another event.
    /// </summary>
    public bool Kept => Flag(KeptFlag);

    /// <summary>Marks the object as referenced from outside working memory (see <see cref="Kept"/>); returns it.</summary>
    public DataFact Keep()
    {
        SetFlag(KeptFlag, true);
        return this;
    }

    /// <summary>
    /// Makes a retracted event object, no longer referenced by working memory, the event given (as the constructor does); returns it. Only the
    /// session's retention release calls this path, through its pool of released events.
    /// </summary>
    public DataFact Reuse(string id, JsonElement data, long time, TypeRuntime type, long sequence)
    {
        Clear();
        _sequence = sequence;
        _id = id;
        _data = data;
        Time = time;
        Type = type;
        _flags &= KeptFlag; // never set on a pooled object; kept as it was rather than cleared
        Holds = 0;
        return this;
    }

    /// <summary>Drops what a released event object still references (its text and id), before it waits in the pool.</summary>
    public void Clear()
    {
        _id = ""; // first: the old id need not be read back
        _data = default;
        DropBytes();
        Group = null;
        Memory = null;
        MoreMemories = null;
        FirstToken = null;
    }

    /// <summary>
    /// The JSON object (a clone when held beyond its insertion). A held event is kept compact after its insertion (see
    /// <see cref="Compact"/>): its document is parsed again from the stored UTF-8 bytes on the first read, and kept from then on.
    /// </summary>
    public JsonElement Data => _text is null ? _data : Materialize();

    /// <summary>True while the event is held as UTF-8 bytes only (no JSON document).</summary>
    public bool IsCompact => _text is not null;

    /// <summary>True while the event is held as the values of its declared shape (see <see cref="EventShape"/>).</summary>
    internal bool IsShaped => _text is not null && Flag(ShapedFlag);

    private byte[] TextArray => _text as byte[] ?? ((HeldEventBytes.HeldChunk)_text!).Bytes;

    /// <summary>
    /// Keeps the event as its UTF-8 text in <paramref name="store"/> instead of a JSON document (about a third of the memory, and no
    /// object of its own when the store packs it into a shared chunk). Called when the insertion that made it is over.
    /// </summary>
    public void Compact(HeldEventBytes store, bool packed)
    {
        if (_text is not null || _data.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        var raw = System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(_data);
        var id = System.Runtime.InteropServices.MemoryMarshal.AsBytes((_id ?? "").AsSpan());

        // An event of a declared type whose text is in canonical form keeps its values only (see EventShape).
        var shape = packed ? Type.Shape : null;
        Span<byte> buffer = shape is not null && raw.Length <= EventShape.MaxText ? stackalloc byte[raw.Length] : default; // the values are shorter
        var written = 0;
        var shaped = !buffer.IsEmpty && shape!.TryEncode(_data, raw, buffer, out written);
        var stored = shaped ? buffer[..written] : raw;
        var (bytes, chunk, offset) = store.Append(stored, packed ? id : default, packed);
        _text = (object?)chunk ?? bytes;
        _offset = offset;
        _length = stored.Length;
        SetFlag(ShapedFlag, shaped);
        _data = default;
        if (chunk is not null)
        {
            _idChars = checked((ushort)(id.Length / 2));
            _id = null;
        }
    }

    /// <summary>
    /// Options that read an event's raw text back, whatever its depth (the reader's default limit is 64) and whatever the options it
    /// was first parsed with (its raw text keeps comments and trailing commas a lenient parse accepted). The parse is not recursive,
    /// so no depth can exhaust the stack. Used for held events and for events read back from a snapshot.
    /// </summary>
    internal static readonly JsonDocumentOptions RawTextOptions = new()
    {
        MaxDepth = int.MaxValue, AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip,
    };

    /// <summary>
    /// The event's UTF-8 JSON text, without parsing it when it is held compact (reading <see cref="Data"/> would turn a held event
    /// back into a document for good). A shaped event's text is rebuilt into a new array: a snapshot writes through
    /// <see cref="WriteRawUtf8"/> instead, which allocates nothing per event.
    /// </summary>
    public ReadOnlySpan<byte> RawUtf8 => _text is null
        ? System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(_data)
        : Flag(ShapedFlag) ? Type.Shape!.Decode(Stored) : Stored;

    /// <summary>Writes the text's length and the text to <paramref name="writer"/> (a shaped event's text through a pooled buffer).</summary>
    public void WriteRawUtf8(BinaryWriter writer) => ReadText(writer, static (text, w) =>
    {
        w.Write(text.Length);
        w.Write(text);
        return true;
    });

    private delegate TResult TextReader<in TState, out TResult>(ReadOnlySpan<byte> text, TState state);

    /// <summary>
    /// Calls <paramref name="read"/> with the event's text: the document's, the held bytes, or a shaped event's text rebuilt into a
    /// pooled buffer that is returned when <paramref name="read"/> does (it must not keep the span).
    /// </summary>
    private TResult ReadText<TState, TResult>(TState state, TextReader<TState, TResult> read)
    {
        if (_text is null || !Flag(ShapedFlag))
        {
            return read(RawUtf8, state);
        }

        var shape = Type.Shape!;
        var rented = System.Buffers.ArrayPool<byte>.Shared.Rent(shape.DecodedLength(Stored));
        try
        {
            return read(rented.AsSpan(0, shape.Decode(Stored, rented)), state);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>The held bytes: the text, or the values of a shaped event (see <see cref="EventShape"/>).</summary>
    private ReadOnlySpan<byte> Stored => new(TextArray, _offset, _length);

    private string ReadId()
    {
        var bytes = new ReadOnlySpan<byte>(TextArray, _offset + _length, _idChars * 2);
        return new string(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, char>(bytes));
    }

    private JsonElement Materialize()
    {
        _id ??= ReadId();
        _data = ReadText(0, static (text, _) => JsonElement.Parse(text, RawTextOptions)); // a copy: the document owns its bytes
        DropBytes();
        return _data;
    }

    /// <summary>Lets go of the held text (its chunk may serve later events once none of its events needs it).</summary>
    private void DropBytes()
    {
        if (_id is null && _text is not null)
        {
            _id = ReadId();
        }

        var chunk = _text as HeldEventBytes.HeldChunk;
        _text = null;
        SetFlag(ShapedFlag, false);
        chunk?.Release();
    }

    /// <summary>The aggregate group of the first aggregate node the event entered, while it is in that group (no key to recompute).</summary>
    public AggregateGroup? Group { get; set; }

    /// <summary>Event time in UTC ticks (facts: the session clock when the fact was inserted; one inserted before the clock started
    /// takes the clock's first value then, <see cref="long.MinValue"/> until then).</summary>
    public long Time { get; private set; } = time;

    /// <summary>Gives a fact inserted before the clock started the clock's first value (<see cref="SessionState.ClockStarted"/>).</summary>
    public void TimeFromClockStart(long clock)
    {
        if (IsFact && Time == long.MinValue)
        {
            Time = clock;
        }
    }

    public TypeRuntime Type { get; private set; } = type;

    public bool IsFact => Type.IsFact;

    /// <summary>For facts: the identity key (its <c>key</c> field, or its whole content). Kept apart: events do not carry it.</summary>
    public JoinKey FactKey
    {
        get => _extra is FactExtra extra ? extra.Key : default;
        init => _extra = new FactExtra(value);
    }

    /// <summary>Sets the key of a lookup probe (see <see cref="FactIndex"/>); never called on a fact in working memory (its set is hashed by the key).</summary>
    internal void SetProbeKey(JoinKey key) => ((FactExtra)_extra!).Key = key;

    /// <summary>The first alpha memory the event entered (most events enter one); <see cref="MoreMemories"/> holds the others.</summary>
    public AlphaMemoryNode? Memory { get; set; }

    public AlphaMemoryNode[]? MoreMemories
    {
        get => _extra is FactExtra extra ? extra.OtherMemories : (AlphaMemoryNode[]?)_extra;
        set
        {
            if (_extra is FactExtra extra)
            {
                extra.OtherMemories = value;
            }
            else
            {
                _extra = value;
            }
        }
    }

    /// <summary>
    /// First of the tokens whose last fact is this one, linked through <see cref="Token.NextOfFact"/> (tree-based removal: deleting the
    /// fact deletes them and their descendants; unlinking one is O(1)).
    /// </summary>
    public Token? FirstToken { get; set; }

    public bool Retracted
    {
        get => Flag(RetractedFlag);
        set => SetFlag(RetractedFlag, value);
    }

    /// <summary>Reasons it is held in working memory (time retention, length windows); 0 = it leaves after its insertion.</summary>
    public int Holds { get; set; }

    /// <summary>True while the time-retention hold is on.</summary>
    public bool RetentionHold
    {
        get => Flag(RetentionHoldFlag);
        set => SetFlag(RetentionHoldFlag, value);
    }

    /// <summary>Number of alpha memories it entered.</summary>
    public int MemoryCount => Memory is null ? 0 : 1 + (MoreMemories?.Length ?? 0);

    /// <summary>The alpha memory <paramref name="index"/> (0 = <see cref="Memory"/>).</summary>
    public AlphaMemoryNode MemoryAt(int index) => index == 0 ? Memory! : MoreMemories![index - 1];
}

/// <summary>
/// Where held events keep their UTF-8 text after their insertion: packed one after the other in chunks of 16 KB (one store per event
/// type, so the events of a chunk, which arrive together, leave together and the chunk is collected as a whole), or in an array of
/// its own for an event held for another reason than its time retention (a length window, an absence), which may outlive its
/// neighbours.
/// </summary>
internal sealed class HeldEventBytes
{
    private const int ChunkSize = 16 * 1024;

    /// <summary>Bound of the chunks kept for reuse (1 MB).</summary>
    private const int FreeChunks = 64;

    private readonly Stack<HeldChunk> _free = new();
    private HeldChunk? _current;
    private int _used;

    /// <summary>
    /// Copies <paramref name="bytes"/> into the store: into the current chunk when <paramref name="packed"/>, followed by
    /// <paramref name="extra"/> (the chunk, returned, counts its events: see <see cref="HeldChunk.Release"/>), else into an array of its
    /// own without <paramref name="extra"/> (chunk null).
    /// </summary>
    public (byte[] Bytes, HeldChunk? Chunk, int Offset) Append(ReadOnlySpan<byte> bytes, ReadOnlySpan<byte> extra, bool packed)
    {
        if (!packed || bytes.Length + extra.Length > ChunkSize / 8)
        {
            return (bytes.ToArray(), null, 0);
        }

        if (_current is null || _current.Bytes.Length - _used < bytes.Length + extra.Length)
        {
            var full = _current;
            _current = _free.TryPop(out var reused) ? reused : new HeldChunk(this);
            _used = 0;
            if (full is { Live: 0 })
            {
                Free(full);
            }
        }

        var chunk = _current;
        bytes.CopyTo(chunk.Bytes.AsSpan(_used));
        extra.CopyTo(chunk.Bytes.AsSpan(_used + bytes.Length));
        var offset = _used;
        _used += bytes.Length + extra.Length;
        chunk.Live++;
        return (chunk.Bytes, chunk, offset);
    }

    /// <summary>A chunk none of whose events needs its bytes any more: reused for later events, unless it is still being filled.</summary>
    internal void Free(HeldChunk chunk)
    {
        if (!ReferenceEquals(chunk, _current) && _free.Count < FreeChunks)
        {
            _free.Push(chunk);
        }
    }

    /// <summary>16 KB of packed event text and the number of events that still read it.</summary>
    internal sealed class HeldChunk(HeldEventBytes store)
    {
        // On the pinned-object heap: collected with gen2 and never copied, so the held bytes cost the young collections nothing.
        public byte[] Bytes { get; } = GC.AllocateUninitializedArray<byte>(ChunkSize, pinned: true);

        /// <summary>Events whose text is in this chunk and that still reference it.</summary>
        public int Live { get; set; }

        /// <summary>
        /// An event lets go of its text (it was parsed back, or its object is reused). Only callers that know nothing reads the text
        /// through the event any more call this: an event retracted but still referenced keeps its chunk from reuse.
        /// </summary>
        public void Release()
        {
            if (--Live == 0)
            {
                store.Free(this);
            }
        }
    }
}

/// <summary>The result of an aggregate group in a partial match: its value and the events of its window.</summary>
internal abstract class AggregateResult : Fact
{
    public sealed override long Sequence => 0;

    public abstract RuleValue Value(EvalContext context);

    public abstract IReadOnlyList<DataFact> Events { get; }

    /// <summary>The group's per key (empty without <c>per</c>).</summary>
    public abstract JoinKey PerKey { get; }
}

/// <summary>The result of a silence (<c>no ... for</c>) group: the last event seen, if any.</summary>
internal abstract class SilenceResult : Fact
{
    public sealed override long Sequence => 0;

    public abstract DataFact? Last { get; }

    public abstract JoinKey PerKey { get; }
}

/// <summary>Something whose facts can be read by condition elements: a live partial match (<see cref="Token"/>) or a frozen one.</summary>
internal interface IMatch
{
    /// <summary>The fact of condition element <paramref name="index"/> (null for not/exists/forall elements).</summary>
    Fact? FactAt(int index);

    /// <summary>Number of elements.</summary>
    int Length { get; }
}

/// <summary>Reading bindings out of a match.</summary>
internal static class MatchReader
{
    public static JsonElement DataAt(IMatch? match, int index) => match?.FactAt(index) switch
    {
        DataFact d => d.Data,
        SilenceResult { Last: { } last } => last.Data,
        _ => default,
    };

    public static DataFact? DataFactAt(IMatch? match, int index) => match?.FactAt(index) switch
    {
        DataFact d => d,
        SilenceResult s => s.Last,
        _ => null,
    };

    /// <summary>Event ids of the match, each once, in element order; aggregates contribute their window, oldest first.</summary>
    public static List<string> EventIds(IMatch match) => Collect(match, versions: false);

    /// <summary>
    /// What an activation id is made of: <paramref name="eventIds"/> (the match's <see cref="EventIds"/>), with each fact's insertion
    /// number after its id (<c>F:1@42</c>). A fact that is updated or replaced keeps its id, so without it a rule firing again on the
    /// new version would get the activation id of its first firing, and a host that deduplicates by activation id would drop it.
    /// The same list when the match holds no fact.
    /// </summary>
    public static IReadOnlyList<string> IdentityIds(IMatch match, IReadOnlyList<string> eventIds)
    {
        for (var i = 0; i < match.Length; i++)
        {
            var holdsFact = match.FactAt(i) switch
            {
                DataFact d => d.IsFact,
                AggregateResult a => HasFact(a.Events),
                _ => false,
            };
            if (holdsFact)
            {
                return Collect(match, versions: true);
            }
        }

        return eventIds;

        static bool HasFact(IReadOnlyList<DataFact> events)
        {
            for (var k = 0; k < events.Count; k++)
            {
                if (events[k].IsFact)
                {
                    return true;
                }
            }

            return false;
        }
    }

    private static string IdOf(DataFact fact, bool versions) =>
        versions && fact.IsFact ? fact.Id + "@" + fact.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture) : fact.Id;

    private static List<string> Collect(IMatch match, bool versions)
    {
        var ids = new List<string>(match.Length + 4);
        HashSet<string>? seen = null;
        void Add(string id)
        {
            if (seen is not null)
            {
                if (seen.Add(id))
                {
                    ids.Add(id);
                }

                return;
            }

            foreach (var existing in ids)
            {
                if (string.Equals(existing, id, StringComparison.Ordinal))
                {
                    return;
                }
            }

            ids.Add(id);
            if (ids.Count > 16)
            {
                seen = new HashSet<string>(ids, StringComparer.Ordinal);
            }
        }

        for (var i = 0; i < match.Length; i++)
        {
            switch (match.FactAt(i))
            {
                case DataFact d:
                    Add(IdOf(d, versions));
                    break;
                case AggregateResult a:
                    var events = a.Events; // an index loop: a foreach over the interface would box an enumerator per firing
                    for (var k = 0; k < events.Count; k++)
                    {
                        Add(IdOf(events[k], versions));
                    }

                    break;
                case SilenceResult { Last: { } last }:
                    Add(IdOf(last, versions));
                    break;
            }
        }

        return ids;
    }

    /// <summary>
    /// Recency of a match (OPS5 LEX): the sequences of its facts, largest first (an aggregate counts with its newest event, a silence
    /// group with its last event). Elements with no fact in the match (<c>not</c>, <c>exists</c>, <c>forall</c>, an absence, an
    /// aggregate over an empty window, a silence with no event yet) add nothing: counted as 0, they made a rule with more of them
    /// win a tie, since a longer list goes first.
    /// </summary>
    public static long[] Recency(IMatch match)
    {
        Span<long> found = match.Length <= 32 ? stackalloc long[32] : new long[match.Length]; // one array, of the size needed
        var count = 0;
        for (var i = 0; i < match.Length; i++)
        {
            if (RecencyOf(match.FactAt(i)) is { } sequence)
            {
                found[count++] = sequence;
            }
        }

        var keys = found[..count].ToArray();
        Array.Sort(keys);
        Array.Reverse(keys);
        return keys;
    }

    /// <summary>An element's recency: its insertion number, an aggregate's newest event, a silence's last event; null with none.</summary>
    private static long? RecencyOf(Fact? fact)
    {
        switch (fact)
        {
            case DataFact d:
                return d.Sequence;
            case AggregateResult { Events.Count: > 0 } a:
            {
                var events = a.Events; // an index loop: Max over the interface would box an enumerator
                var newest = long.MinValue;
                for (var k = 0; k < events.Count; k++)
                {
                    newest = Math.Max(newest, events[k].Sequence);
                }

                return newest;
            }

            case SilenceResult { Last: { } last }:
                return last.Sequence;
            default:
                return null;
        }
    }
}

/// <summary>
/// A partial match: the facts matched by the first <see cref="Length"/> condition elements of a rule, as a linked list from the
/// last fact back to the root token (Forgy 1982; Doorenbos 1995 for the tree-based removal kept in <see cref="FirstChild"/>).
/// </summary>
internal sealed class Token : IMatch
{
    public Token(Token? parent, Fact? fact, BetaNode owner)
    {
        Parent = parent;
        Fact = fact;
        Owner = owner;
        Length = parent is null ? 0 : parent.Length + 1;
        var factTime = fact switch
        {
            DataFact d => d.Time,
            _ => long.MinValue,
        };
        Time = Math.Max(parent?.Time ?? long.MinValue, factTime);
    }

    public Token? Parent { get; }

    public Fact? Fact { get; }

    /// <summary>The beta node that made this token (its children hold it in their left memories).</summary>
    public BetaNode Owner { get; }

    /// <summary>Number of facts: 0 for the root token.</summary>
    public int Length { get; }

    /// <summary>The latest time of its events and facts (ticks), <see cref="long.MinValue"/> when it has none.</summary>
    public long Time { get; }

    /// <summary>First child token (intrusive list through <see cref="NextSibling"/>/<see cref="PreviousSibling"/>: O(1) unlinking).</summary>
    public Token? FirstChild { get; set; }

    public Token? NextSibling { get; set; }

    public Token? PreviousSibling { get; set; }

    /// <summary>Next token with the same last fact (see <see cref="DataFact.FirstToken"/>).</summary>
    public Token? NextOfFact { get; set; }

    public Token? PreviousOfFact { get; set; }

    public bool Deleted { get; set; }

    /// <summary>
    /// The list of the first join node's left memory that holds this token (the list knows its node): removing it there needs no
    /// join key.
    /// </summary>
    public JoinNode.TokenList? LeftEntry { get; set; }

    public void LinkChild(Token child)
    {
        child.NextSibling = FirstChild;
        if (FirstChild is not null)
        {
            FirstChild.PreviousSibling = child;
        }

        FirstChild = child;
    }

    public void UnlinkChild(Token child)
    {
        if (child.PreviousSibling is not null)
        {
            child.PreviousSibling.NextSibling = child.NextSibling;
        }
        else if (ReferenceEquals(FirstChild, child))
        {
            FirstChild = child.NextSibling;
        }

        if (child.NextSibling is not null)
        {
            child.NextSibling.PreviousSibling = child.PreviousSibling;
        }

        child.NextSibling = null;
        child.PreviousSibling = null;
    }

    public static void LinkToFact(DataFact fact, Token token)
    {
        token.NextOfFact = fact.FirstToken;
        if (fact.FirstToken is not null)
        {
            fact.FirstToken.PreviousOfFact = token;
        }

        fact.FirstToken = token;
    }

    public static void UnlinkFromFact(DataFact fact, Token token)
    {
        if (token.PreviousOfFact is not null)
        {
            token.PreviousOfFact.NextOfFact = token.NextOfFact;
        }
        else if (ReferenceEquals(fact.FirstToken, token))
        {
            fact.FirstToken = token.NextOfFact;
        }

        if (token.NextOfFact is not null)
        {
            token.NextOfFact.PreviousOfFact = token.PreviousOfFact;
        }

        token.NextOfFact = null;
        token.PreviousOfFact = null;
    }

    /// <summary>The fact of condition element <paramref name="index"/> (0-based), or null.</summary>
    public Fact? FactAt(int index)
    {
        var token = this;
        while (token is not null && token.Length > index + 1)
        {
            token = token.Parent;
        }

        return token is not null && token.Length == index + 1 ? token.Fact : null;
    }

    /// <summary>True when the fact is one of this match's facts.</summary>
    public bool Contains(Fact fact)
    {
        for (var t = this; t is not null; t = t.Parent)
        {
            if (ReferenceEquals(t.Fact, fact))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A stable identity of the match across snapshots: the identities of its facts.</summary>
    public string Identity()
    {
        var parts = new string[Length];
        for (var t = this; t is not null && t.Length > 0; t = t.Parent)
        {
            parts[t.Length - 1] = t.Fact switch
            {
                DataFact d => "e" + d.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture),
                AggregateResult a => "a" + a.PerKey,
                SilenceResult s => "s" + s.PerKey,
                _ => "-",
            };
        }

        return string.Join('|', parts);
    }

    /// <summary>A 64-bit order key for timers: FNV-1a over the fact sequences.</summary>
    public long OrderKey()
    {
        var hash = 14695981039346656037UL;
        for (var t = this; t is not null && t.Length > 0; t = t.Parent)
        {
            var seq = t.Fact is DataFact d ? d.Sequence : t.Fact is AggregateResult a ? SessionState.StableHash(a.PerKey) : 0;
            hash = (hash ^ (ulong)seq) * 1099511628211UL;
            hash = (hash ^ (ulong)t.Length) * 1099511628211UL;
        }

        return (long)hash;
    }

    /// <summary>The largest sequence among its data facts.</summary>
    public long MaxSequence()
    {
        long max = 0;
        for (var t = this; t is not null; t = t.Parent)
        {
            if (t.Fact is DataFact d && d.Sequence > max)
            {
                max = d.Sequence;
            }
        }

        return max;
    }
}

/// <summary>
/// What compiled expressions read: the partial match, the pattern's own fact, the item of <c>forall</c>, the items of
/// <c>any</c>/<c>all</c>, the clock, and the batched group of a storm-control firing. One per session, reused for every
/// evaluation (set the fields right before calling a compiled delegate).
/// </summary>
internal sealed class EvalContext
{
    public IMatch? Match;

    public DataFact? Current;

    public DataFact? ForallItem;

    public readonly RuleValue[] Locals = new RuleValue[Parser.MaxDepth + 2];

    /// <summary>Session clock (UTC ticks) for <c>now()</c>.</summary>
    public long Clock;

    /// <summary>The matches batched by <c>group by</c> / <c>throttle once after</c>, for their firing's actions.</summary>
    public IReadOnlyList<FrozenMatch>? Group;

    public EvalContext Set(IMatch? match, DataFact? current)
    {
        Match = match;
        Current = current;
        return this;
    }
}

/// <summary>Per-type information at run time.</summary>
internal sealed class TypeRuntime(BoundEventType declaration, FieldPath? timePath, long retentionTicks, AlphaNode? root)
{
    public BoundEventType Declaration { get; } = declaration;

    public string Name => Declaration.Name;

    public bool IsFact => Declaration.IsFact;

    public FieldPath? TimePath { get; } = timePath;

    public FieldPath? KeyPath { get; } = declaration.KeyPath is null ? null : FieldPath.Of([.. declaration.KeyPath]);

    /// <summary>How long an event of this type is held after its event time (ticks); 0 = only during its insertion.</summary>
    public long RetentionTicks { get; } = retentionTicks;

    /// <summary>The type node of the alpha network, or null when no rule uses the type.</summary>
    public AlphaNode? Root { get; } = root;

    public FieldPath[]? DedupPaths { get; } = declaration.Dedup is null ? null : [.. declaration.Dedup.Fields.Select(f => FieldPath.Of([.. f]))];

    public long DedupTicks { get; } = declaration.Dedup?.Window.Ticks ?? 0;

    /// <summary>For an event type with declared fields: how its held events keep their values only (null for facts and undeclared types).</summary>
    public EventShape? Shape { get; } = declaration.IsFact ? null : EventShape.For(declaration.Schema);

    /// <summary>
    /// Declared top-level fields in declared order: their names (UTF-8), JSON kinds (<see cref="ExprType.Any"/> for any kind) and
    /// whether an event must have them (declared without <c>?</c>), for <see cref="CheckSchema"/>.
    /// </summary>
    public (byte[] Name, ExprType Type, bool Required)[] Schema { get; } = declaration.Schema?.Fields is { } fields
        ? [.. fields.Select(f => (System.Text.Encoding.UTF8.GetBytes(f.Key), f.Value.Type is ExprType.Unknown ? ExprType.Any : f.Value.Type, !f.Value.Optional))]
        : [];

    /// <summary>
    /// How an object meets the declared top-level fields: <see cref="SchemaCheck.WrongType"/> when a field has a non-null JSON value
    /// of another kind (it wins over a missing one), <see cref="SchemaCheck.MissingField"/> when a field declared without <c>?</c>
    /// is absent or null, else <see cref="SchemaCheck.Conforms"/>. As a field lookup does, the last of duplicate names counts.
    /// </summary>
    public SchemaCheck CheckSchema(JsonElement data) => Schema.Length switch
    {
        0 => SchemaCheck.Conforms,
        <= 64 and > 1 => CheckInOnePass(data),
        _ => CheckByLookup(data),
    };

    /// <summary>
    /// Why <paramref name="data"/> breaks the declared fields (<see cref="SchemaCheck.WrongType"/>): the first declared field whose
    /// value is of another JSON kind, e.g. <c>field 'host' is declared string, but the event has a number</c>; null when none is.
    /// For reporting a refused event (a cold path: one lookup per declared field).
    /// </summary>
    public string? DescribeWrongType(JsonElement data)
    {
        if (FirstWrongType(data, out _, out var value) is not (>= 0 and var i))
        {
            return null;
        }

        var (name, type, _) = Schema[i];
        return $"field '{System.Text.Encoding.UTF8.GetString(name)}' is declared {type.ToString().ToLowerInvariant()}, but the {(IsFact ? "fact" : "event")} has {JsonKind(value.ValueKind)}";
    }

    private static string JsonKind(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    private SchemaCheck CheckByLookup(JsonElement data) =>
        FirstWrongType(data, out var missing, out _) >= 0 ? SchemaCheck.WrongType : missing ? SchemaCheck.MissingField : SchemaCheck.Conforms;

    /// <summary>
    /// One lookup per declared field, in declared order: the index of the first field whose non-null value is of another JSON kind
    /// (that value in <paramref name="value"/>), or -1; <paramref name="missing"/>: a required field before it (or anywhere, for -1)
    /// is absent or null.
    /// </summary>
    private int FirstWrongType(JsonElement data, out bool missing, out JsonElement value)
    {
        missing = false;
        for (var i = 0; i < Schema.Length; i++)
        {
            var (name, type, required) = Schema[i];
            if (!ValueOps.TryGetProperty(data, name, out value) || value.ValueKind == JsonValueKind.Null)
            {
                missing |= required;
                continue;
            }

            if (!HasDeclaredType(value, type))
            {
                return i;
            }
        }

        value = default;
        return -1;
    }

    /// <summary>
    /// <see cref="CheckSchema"/> in one pass over the object's properties, comparing raw names (one lookup per declared field
    /// scans the object each time). As a lookup does, the last of duplicate names counts; a name written with escapes is compared
    /// unescaped (by lookup).
    /// The search for a property's declared field starts after the field the previous property matched, so an event that lists
    /// its fields in the declared order costs one comparison per property.
    /// </summary>
    private SchemaCheck CheckInOnePass(JsonElement data)
    {
        var wrong = 0UL; // bit i: the last value of field i seen so far has the wrong type
        var present = 0UL; // bit i: the last value of field i seen so far is not null
        var next = 0; // where the previous property's field was found, plus one
        foreach (var property in data.EnumerateObject())
        {
            var raw = System.Runtime.InteropServices.JsonMarshal.GetRawUtf8PropertyName(property);
            if (raw.IndexOf((byte)'\\') >= 0)
            {
                return CheckByLookup(data); // a name written with escapes (rare): compare names unescaped, safely
            }

            for (var k = 0; k < Schema.Length; k++)
            {
                var i = next + k < Schema.Length ? next + k : next + k - Schema.Length;
                var (name, type, _) = Schema[i];
                if (!raw.SequenceEqual(name))
                {
                    continue;
                }

                var value = property.Value;
                var isNull = value.ValueKind == JsonValueKind.Null;
                var ok = isNull || HasDeclaredType(value, type);
                wrong = ok ? wrong & ~(1UL << i) : wrong | (1UL << i);
                present = isNull ? present & ~(1UL << i) : present | (1UL << i);
                next = i + 1 < Schema.Length ? i + 1 : 0;
                break;
            }
        }

        return wrong != 0 ? SchemaCheck.WrongType : (present & RequiredMask) != RequiredMask ? SchemaCheck.MissingField : SchemaCheck.Conforms;
    }

    /// <summary>Bit i set when <see cref="Schema"/>[i] is required (the first 64 fields; the one-pass check covers no more).</summary>
    private ulong RequiredMask { get; } = declaration.Schema?.Fields is { } required
        ? required.Values.Take(64).Select((f, i) => f.Optional ? 0UL : 1UL << i).Aggregate(0UL, (m, bit) => m | bit)
        : 0;

    /// <summary>True when a non-null JSON value has the kind a declared field type allows (a time: a string or a number).</summary>
    private static bool HasDeclaredType(JsonElement value, ExprType type) => type switch
    {
        ExprType.String => value.ValueKind == JsonValueKind.String,
        ExprType.Number => value.ValueKind == JsonValueKind.Number,
        ExprType.Bool => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        ExprType.Time => value.ValueKind is JsonValueKind.String or JsonValueKind.Number,
        ExprType.Object => value.ValueKind == JsonValueKind.Object,
        ExprType.Array => value.ValueKind == JsonValueKind.Array,
        _ => true,
    };
}

/// <summary>The result of <see cref="TypeRuntime.CheckSchema"/>.</summary>
internal enum SchemaCheck
{
    /// <summary>Every declared field present has a value of its kind, and every required one is present.</summary>
    Conforms,

    /// <summary>A field declared without <c>?</c> is absent or null (the event is applied; conditions reading it are false).</summary>
    MissingField,

    /// <summary>A declared field has a non-null value of another JSON kind (the event is refused).</summary>
    WrongType,
}

/// <summary>
/// The facts of one type by their identity key (<see cref="DataFact.FactKey"/>): a set of facts compared by that key, so the key is
/// stored once, in the fact (a dictionary would keep a second copy of it, 88 bytes, in its entry). Looked up through a probe fact.
/// </summary>
internal sealed class FactIndex
{
    private readonly HashSet<DataFact> _byKey = new(KeyComparer.Instance);
    private readonly DataFact _probe;

    public FactIndex(TypeRuntime type) => _probe = new DataFact("", default, 0, type, 0) { FactKey = default };

    public int Count => _byKey.Count;

    /// <summary>True when the lookup probe holds no key (between lookups it must not keep an event document alive).</summary>
    internal bool ProbeIsClear => _probe.FactKey.Count == 0;

    /// <summary>The facts, in no particular order.</summary>
    public IEnumerable<DataFact> Values => _byKey;

    /// <summary>The fact whose identity key is <paramref name="key"/>, if any.</summary>
    public bool TryGetValue(JoinKey key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out DataFact fact)
    {
        _probe.SetProbeKey(key);
        try
        {
            return _byKey.TryGetValue(_probe, out fact);
        }
        finally
        {
            _probe.SetProbeKey(default); // let go of the document the key may read from
        }
    }

    /// <summary>Adds <paramref name="fact"/>, replacing the fact with the same key, if any.</summary>
    public void Set(DataFact fact)
    {
        if (!_byKey.Add(fact)) // one lookup when the key is new, as it is for every caller (they remove the old fact first)
        {
            _byKey.Remove(fact);
            _byKey.Add(fact);
        }
    }

    /// <summary>Removes the fact whose key is that of <paramref name="fact"/> (whichever object it is).</summary>
    public bool Remove(DataFact fact) => _byKey.Remove(fact);

    private sealed class KeyComparer : IEqualityComparer<DataFact>
    {
        public static readonly KeyComparer Instance = new();

        public bool Equals(DataFact? x, DataFact? y) => ReferenceEquals(x, y) || (x is not null && y is not null && x.FactKey.Equals(y.FactKey));

        public int GetHashCode(DataFact obj) => obj.FactKey.GetHashCode();
    }
}

/// <summary>
/// The held form of an event of a declared type whose text is canonical: exactly the declared top-level fields, in declared order,
/// with no whitespace and no escapes in their names (<c>{"id":1,"device":"dev01166",…}</c>, what a producer that serializes a fixed
/// record writes). Only the values are kept — a byte of length each, then the values — and the names, quotes, colons, commas and
/// braces are written back when the text is read: a netops event keeps ~42 of its ~105 bytes. Any other text is kept as it is.
/// Encoding checks itself: the values are decoded again and compared with the text, byte for byte, before they replace it.
/// </summary>
internal sealed class EventShape
{
    /// <summary>Longest text shaped (the held text of a packed event is at most this long too).</summary>
    public const int MaxText = 2048;

    private readonly byte[][] _names;

    // Bytes of the text that are not values: the braces, the commas, and each name with its quotes and colon.
    private readonly int _overhead;

    private EventShape(byte[][] names)
    {
        _names = names;
        _overhead = 2 + (names.Length - 1) + names.Sum(n => n.Length + 3);
    }

    /// <summary>The shape of a declared field block (1 to 64 top-level fields), or null.</summary>
    public static EventShape? For(Language.FieldSchema? schema) =>
        schema?.Fields is { Count: > 0 and <= 64 } fields ? new EventShape([.. fields.Keys.Select(System.Text.Encoding.UTF8.GetBytes)]) : null;

    /// <summary>
    /// Writes the values of <paramref name="data"/> (whose text is <paramref name="raw"/>) to <paramref name="destination"/> when the
    /// text is canonical for this shape and every value is at most 255 bytes; false (nothing usable written) otherwise.
    /// </summary>
    public bool TryEncode(JsonElement data, ReadOnlySpan<byte> raw, Span<byte> destination, out int written)
    {
        written = 0;
        var n = _names.Length;
        if (raw.Length is < 2 or > MaxText || raw[0] != (byte)'{' || raw[^1] != (byte)'}' || raw.Length - _overhead + n > destination.Length)
        {
            return false;
        }

        ref var rawStart = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(raw);
        var pos = 1;
        var i = 0;
        var w = n;
        foreach (var property in data.EnumerateObject())
        {
            if (i == n)
            {
                return false; // more properties than declared fields
            }

            var name = _names[i];
            var start = pos + name.Length + 3;
            if (start > raw.Length || raw[pos] != (byte)'"' || !raw.Slice(pos + 1, name.Length).SequenceEqual(name)
                || raw[pos + 1 + name.Length] != (byte)'"' || raw[pos + 2 + name.Length] != (byte)':')
            {
                return false;
            }

            // The value must be the bytes right after the colon (no whitespace): it is a slice of the same text.
            var value = System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(property.Value);
            if (value.Length > 255 || System.Runtime.CompilerServices.Unsafe.ByteOffset(ref rawStart,
                    ref System.Runtime.InteropServices.MemoryMarshal.GetReference(value)) != start || w + value.Length > destination.Length)
            {
                return false;
            }

            destination[i] = (byte)value.Length;
            value.CopyTo(destination[w..]);
            w += value.Length;
            pos = start + value.Length;
            i++;
            if (i < n)
            {
                if (pos >= raw.Length || raw[pos] != (byte)',')
                {
                    return false;
                }

                pos++;
            }
        }

        if (i != n || pos != raw.Length - 1)
        {
            return false;
        }

        // Self-check: what is read back must be the text.
        Span<byte> check = stackalloc byte[raw.Length]; // at most MaxText (checked above)
        if (DecodedLength(destination[..w]) != raw.Length || !check[..Decode(destination[..w], check)].SequenceEqual(raw))
        {
            return false;
        }

        written = w;
        return true;
    }

    /// <summary>Length of the text the values in <paramref name="stored"/> stand for.</summary>
    public int DecodedLength(ReadOnlySpan<byte> stored) => _overhead + stored.Length - _names.Length;

    /// <summary>Writes the text back into <paramref name="destination"/> (at least <see cref="DecodedLength"/> bytes); returns its length.</summary>
    public int Decode(ReadOnlySpan<byte> stored, Span<byte> destination)
    {
        var n = _names.Length;
        var w = 0;
        var v = n;
        destination[w++] = (byte)'{';
        for (var i = 0; i < n; i++)
        {
            var name = _names[i];
            destination[w++] = (byte)'"';
            name.CopyTo(destination[w..]);
            w += name.Length;
            destination[w++] = (byte)'"';
            destination[w++] = (byte)':';
            var length = stored[i];
            stored.Slice(v, length).CopyTo(destination[w..]);
            w += length;
            v += length;
            destination[w++] = i < n - 1 ? (byte)',' : (byte)'}';
        }

        return w;
    }

    /// <summary>The text, in an array of its own (a snapshot writes it).</summary>
    public byte[] Decode(ReadOnlySpan<byte> stored)
    {
        var text = new byte[DecodedLength(stored)];
        Decode(stored, text);
        return text;
    }
}
