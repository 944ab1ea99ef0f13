using RuleFlow.Scripting;
using RuleFlow.Storage.Blocklist;

namespace RuleFlow.Server.Workflows;

/// <summary>
/// The <c>blocklist</c> object scripts see: <c>blocklist.add(ip, reason?)</c> → true when added (false when already
/// there), <c>blocklist.remove(ip)</c> → true when removed, <c>blocklist.contains(ip)</c> → bool. Backed by the
/// <c>blocklist</c> table and shown at <c>GET /api/blocklist</c>. Add and remove are idempotent, so a step re-run after a
/// crash is safe. A value that is not an IP address raises a script error naming it.
/// </summary>
public sealed class BlocklistModule(BlocklistStore store) : IScriptHostModule
{
    /// <inheritdoc />
    public string Name => "blocklist";

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Delegate> CreateFunctions(ScriptCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new Dictionary<string, Delegate>(StringComparer.Ordinal)
        {
            ["add"] = new Func<string, string?, bool>((ip, reason) => store.Add(ip, reason, context.IdempotencyKey)),
            ["remove"] = new Func<string, bool>(store.Remove),
            ["contains"] = new Func<string, bool>(store.Contains),
        };
    }
}
