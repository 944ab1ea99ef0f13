using System.Text.Json;
using System.Text.Json.Nodes;

namespace RuleFlow.Workflows.Runtime;

/// <summary>
/// Where an instance is, saved with every step (column <c>ExecutionJson</c>): the frames in progress (each runs one step
/// list: the top level, a branch of <c>if</c>/<c>switch</c>/<c>parallel</c>, an iteration of <c>foreach</c>), the
/// compensation stack (completed steps with <c>compensate</c>, in completion order) and the compensation queue (what
/// is being undone now). Mutable for the runtime, which works on a copy (<see cref="Clone"/>) per step; treat it as immutable elsewhere.
/// </summary>
public sealed class ExecutionState
{
    /// <summary>Frames in progress; the root frame has id <c>0</c>. Frames that ended are removed.</summary>
    public List<Frame> Frames { get; set; } = [];

    /// <summary>Completed steps that declare <c>compensate</c>, in completion order.</summary>
    public List<CompensationEntry> Stack { get; set; } = [];

    /// <summary>Compensations to run now, first one first.</summary>
    public List<CompensationEntry> Undo { get; set; } = [];

    /// <summary>What follows when <see cref="Undo"/> is empty: <c>compensated</c>, <c>cancelled</c> or <c>resume</c> (losers of a join).</summary>
    public string? AfterUndo { get; set; }

    /// <summary>True while a compensation kept failing (the instance is <c>failed</c> with an incident until retried or skipped).</summary>
    public bool Halted { get; set; }

    /// <summary>Next frame number.</summary>
    public int NextFrame { get; set; } = 1;

    /// <summary>A fresh state with a root frame at the first step.</summary>
    public static ExecutionState Start() => new() { Frames = [new Frame { Id = "0", Sequence = "" }] };

    /// <summary>A deep copy (typed, field by field; JSON values are deep-cloned).</summary>
    public ExecutionState Clone() => new()
    {
        Frames = Frames.ConvertAll(f => f.Clone()),
        Stack = Stack.ConvertAll(e => e.Clone()),
        Undo = Undo.ConvertAll(e => e.Clone()),
        AfterUndo = AfterUndo,
        Halted = Halted,
        NextFrame = NextFrame,
    };

    /// <summary>Serializes to JSON text (camelCase, nulls left out; source-generated, no reflection).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, ExecutionStateJson.Default.ExecutionState);

    /// <summary>Reads <see cref="ToJson"/>'s text; an empty or missing text gives <see cref="Start"/>.</summary>
    public static ExecutionState FromJson(string? json) =>
        string.IsNullOrWhiteSpace(json) || json == "[]" ? Start() : JsonSerializer.Deserialize(json, ExecutionStateJson.Default.ExecutionState) ?? Start();

    /// <summary>The frame with <paramref name="id"/>, or null.</summary>
    public Frame? Find(string id) => Frames.Find(f => f.Id == id);

}

/// <summary>The source-generated serializer of <see cref="ExecutionState"/> (the <c>ExecutionJson</c> column, written on every step).</summary>
[System.Text.Json.Serialization.JsonSourceGenerationOptions(
    PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
[System.Text.Json.Serialization.JsonSerializable(typeof(ExecutionState))]
internal sealed partial class ExecutionStateJson : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>Frame states.</summary>
public static class FrameStatus
{
    /// <summary>Its current step is to run.</summary>
    public const string Ready = "ready";

    /// <summary>Its current step waits on a bookmark or timer (<see cref="Frame.Wait"/>).</summary>
    public const string Waiting = "waiting";

    /// <summary>Its current step is a container waiting for child frames.</summary>
    public const string Children = "children";

    /// <summary>Its current step failed after its retries; an incident is open.</summary>
    public const string Failed = "failed";
}

/// <summary>One step list in progress.</summary>
public sealed class Frame
{
    /// <summary>Frame id (<c>0</c> for the root).</summary>
    public string Id { get; set; } = "0";

    /// <summary>Parent frame id, or null for the root.</summary>
    public string? Parent { get; set; }

    /// <summary>Key of the step list (<see cref="Definitions.WorkflowDefinition.Sequences"/>).</summary>
    public string Sequence { get; set; } = "";

    /// <summary>Index of the current step in the list.</summary>
    public int Index { get; set; }

    /// <summary><see cref="FrameStatus"/>.</summary>
    public string Status { get; set; } = FrameStatus.Ready;

    /// <summary>1-based attempt of the current step.</summary>
    public int Attempt { get; set; } = 1;

    /// <summary>Stable position for idempotency keys: <c>""</c> at the top, <c>loop[2]</c> in an iteration, nested <c>a[1]/b[0]</c>.</summary>
    public string Path { get; set; } = "";

    /// <summary>Slot in the parent container (branch or item index).</summary>
    public int Slot { get; set; }

    /// <summary>What the current step waits for, or null.</summary>
    public WaitInfo? Wait { get; set; }

    /// <summary><c>{ item, index }</c> in a foreach iteration frame, else null.</summary>
    public JsonObject? Locals { get; set; }

    /// <summary>Step outputs local to a foreach iteration frame, else null.</summary>
    public JsonObject? Outputs { get; set; }

    /// <summary>Output of the last completed step (the frame's result).</summary>
    public JsonNode? Last { get; set; }

    /// <summary>The container step in progress (if/switch/parallel/foreach), or null.</summary>
    public ContainerInfo? Container { get; set; }

    /// <summary>When the current step started (for the journal).</summary>
    public DateTimeOffset? StepStartedAt { get; set; }

    /// <summary>A deep copy.</summary>
    public Frame Clone() => new()
    {
        Id = Id, Parent = Parent, Sequence = Sequence, Index = Index, Status = Status, Attempt = Attempt, Path = Path, Slot = Slot,
        Wait = Wait?.Clone(), Locals = (JsonObject?)Locals?.DeepClone(), Outputs = (JsonObject?)Outputs?.DeepClone(), Last = Last?.DeepClone(),
        Container = Container?.Clone(), StepStartedAt = StepStartedAt,
    };
}

/// <summary>What a frame waits for.</summary>
public sealed class WaitInfo
{
    /// <summary><c>approval</c>, <c>timer</c>, <c>event</c>, <c>signal</c>, <c>call</c>, <c>retry</c>.</summary>
    public string Kind { get; set; } = "";

    /// <summary>Approval id, bookmark id, child instance id or timer id.</summary>
    public string Id { get; set; } = "";

    /// <summary>Event type or signal name, else null.</summary>
    public string? Name { get; set; }

    /// <summary>The timer that ends the wait (delay, retry, approval or event timeout), or null.</summary>
    public Guid? TimerId { get; set; }

    /// <summary>The generic step timeout timer, or null.</summary>
    public Guid? TimeoutTimerId { get; set; }

    /// <summary>Readable: <c>approval:&lt;id&gt;</c>, <c>event:type=value</c>, <c>signal:name</c>, <c>timer:&lt;time&gt;</c>, <c>call:&lt;id&gt;</c>.</summary>
    public string Describe { get; set; } = "";

    /// <summary>A copy.</summary>
    public WaitInfo Clone() => (WaitInfo)MemberwiseClone();
}

/// <summary>A container step in progress.</summary>
public sealed class ContainerInfo
{
    /// <summary>The container step.</summary>
    public string StepId { get; set; } = "";

    /// <summary>Child frame ids still in progress.</summary>
    public List<string> Children { get; set; } = [];

    /// <summary>Children that completed.</summary>
    public int Done { get; set; }

    /// <summary>Children needed to complete (all, 1 for any, N).</summary>
    public int Needed { get; set; }

    /// <summary>Foreach items, else null.</summary>
    public JsonArray? Items { get; set; }

    /// <summary>Next foreach item to start.</summary>
    public int NextItem { get; set; }

    /// <summary>Results by slot (branch name or item index).</summary>
    public JsonObject Results { get; set; } = [];

    /// <summary>Generic step timeout timer, or null.</summary>
    public Guid? TimeoutTimerId { get; set; }

    /// <summary>A deep copy.</summary>
    public ContainerInfo Clone() => new()
    {
        StepId = StepId, Children = [.. Children], Done = Done, Needed = Needed, Items = (JsonArray?)Items?.DeepClone(), NextItem = NextItem,
        Results = (JsonObject)Results.DeepClone(), TimeoutTimerId = TimeoutTimerId,
    };
}

/// <summary>A completed step to undo later.</summary>
public sealed class CompensationEntry
{
    /// <summary>The step.</summary>
    public string StepId { get; set; } = "";

    /// <summary>The frame it ran in.</summary>
    public string Frame { get; set; } = "";

    /// <summary>Frame ids from the root to <see cref="Frame"/> (to find the entries of a cancelled branch).</summary>
    public List<string> Ancestry { get; set; } = [];

    /// <summary>The frame's idempotency path.</summary>
    public string Path { get; set; } = "";

    /// <summary><c>{ item, index }</c> when it ran in a foreach iteration, else null.</summary>
    public JsonObject? Locals { get; set; }

    /// <summary>Iteration-local outputs when it completed, else null.</summary>
    public JsonObject? Outputs { get; set; }

    /// <summary>A deep copy.</summary>
    public CompensationEntry Clone() => new()
    {
        StepId = StepId, Frame = Frame, Ancestry = [.. Ancestry], Path = Path, Locals = (JsonObject?)Locals?.DeepClone(), Outputs = (JsonObject?)Outputs?.DeepClone(),
    };
}
