namespace RuleFlow.Server.Hosting;

/// <summary>
/// Server settings, bound from the <c>RuleFlow</c> configuration section (appsettings.json, or environment
/// variables such as <c>RuleFlow__RabbitMq__Url</c>). Every default is an embedded default: a content root with only
/// <c>rules/</c> and <c>workflows/</c> runs as is.
/// </summary>
public sealed class RuleFlowOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "RuleFlow";

    /// <summary>Rule files directory, relative to the content root. Default <c>rules</c>.</summary>
    public string RulesPath { get; set; } = "rules";

    /// <summary>Reload the rule set when a rule file changes (the new set must compile, else the old one stays). Default true.</summary>
    public bool WatchRuleFiles { get; set; } = true;

    /// <summary>Workflow definitions directory, relative to the content root. Default <c>workflows</c>.</summary>
    public string WorkflowsPath { get; set; } = "workflows";

    /// <summary>Broker settings; with no <see cref="RabbitMqOptions.Url"/> the in-memory transport is used.</summary>
    public RabbitMqOptions RabbitMq { get; set; } = new();

    /// <summary>How messages become events.</summary>
    public IngestOptions Ingest { get; set; } = new();

    /// <summary>The rule session: lateness, snapshots, the idle clock.</summary>
    public RulesOptions Rules { get; set; } = new();

    /// <summary>API authentication.</summary>
    public AuthOptions Auth { get; set; } = new();
}

/// <summary>RabbitMQ settings (<c>RuleFlow:RabbitMq</c>).</summary>
public sealed class RabbitMqOptions
{
    /// <summary>
    /// Broker address, e.g. <c>amqp://guest:guest@127.0.0.1:5672/</c> (the path is the virtual host).
    /// Empty: MassTransit's in-memory transport, events over HTTP only.
    /// </summary>
    public string? Url { get; set; }

    /// <summary>The receive endpoint's queue. Default <c>ruleflow.events</c>; refused messages go to <c>{Queue}_error</c>.</summary>
    public string Queue { get; set; } = "ruleflow.events";

    /// <summary>Unacknowledged messages the broker may push ahead (AMQP prefetch); at least twice <see cref="BatchSize"/>. Default 200.</summary>
    public int PrefetchCount { get; set; } = 200;

    /// <summary>Most messages journaled in one transaction (1..1000). Default 100.</summary>
    public int BatchSize { get; set; } = 100;

    /// <summary>How long a batch waits to fill once its first message arrived, in ms (1..10,000). Default 5.</summary>
    public int BatchWaitMilliseconds { get; set; } = 5;

    /// <summary>
    /// Extra exchange bindings of the queue, added to those the rules' event declarations give and to the
    /// built-in one (the queue's own fanout exchange, named like the queue).
    /// </summary>
    public List<ExchangeBindingOptions> Bindings { get; set; } = [];
}

/// <summary>One binding of the ingest queue to an exchange.</summary>
public sealed class ExchangeBindingOptions
{
    /// <summary>Exchange name, e.g. <c>security.events</c>.</summary>
    public string Exchange { get; set; } = "";

    /// <summary>Exchange type: <c>topic</c> (default), <c>direct</c>, <c>fanout</c> or <c>headers</c>.</summary>
    public string Type { get; set; } = "topic";

    /// <summary>Routing-key pattern, e.g. <c>ssh.#</c>. Default <c>#</c>.</summary>
    public string RoutingKey { get; set; } = "#";
}

/// <summary>How messages become events (<c>RuleFlow:Ingest</c>).</summary>
public sealed class IngestOptions
{
    /// <summary>Largest accepted body, in bytes. Default 1,048,576 (1 MiB). Larger messages are dead-lettered (RF5003).</summary>
    public int MaxEventBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// A top-level JSON field whose string value is the event type (e.g. <c>type</c>). When unset or absent in a body,
    /// the type comes from the rules' event declarations matching the exchange and routing key, else the routing key.
    /// </summary>
    public string? TypeField { get; set; }

    /// <summary>
    /// Field holding the event time when the event type does not declare one (<c>time</c> clause): an ISO-8601 string
    /// (UTC when no offset is given) or Unix milliseconds. Default <c>timestamp</c>; absent → arrival time.
    /// </summary>
    public string TimeField { get; set; } = "timestamp";

    /// <summary>When true, events whose type no rule file declares are dead-lettered (RF5004). Default false.</summary>
    public bool RefuseUnknownTypes { get; set; }

    /// <summary>
    /// Largest lead of an event's time over the server's clock. An event further in the future is dead-lettered (RF5007):
    /// it would move the rule clock ahead and make every later event late. Default 1 hour.
    /// </summary>
    public TimeSpan MaxFutureSkew { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long journaled events are kept (for the API and for replay). Events older than this AND covered by a snapshot
    /// are pruned hourly. Default 7 days.
    /// </summary>
    public TimeSpan JournalRetention { get; set; } = TimeSpan.FromDays(7);
}

/// <summary>The rule session (<c>RuleFlow:Rules</c>).</summary>
public sealed class RulesOptions
{
    /// <summary>How far behind the rule clock an event may be and still be applied (beyond its type's window retention). Default 0.</summary>
    public TimeSpan AllowedLateness { get; set; }

    /// <summary>Working memory is snapshotted after this many journaled events (and on reload and shutdown). Default 10,000.</summary>
    public int SnapshotEvery { get; set; } = 10_000;

    /// <summary>
    /// When no event arrives for <see cref="IdleAfter"/>, the rule clock advances with the wall clock (lagging by
    /// <see cref="IdleAfter"/>), so absence rules, <c>once after</c> and <c>group … wait</c> fire on a quiet stream. Default true.
    /// </summary>
    public bool IdleClock { get; set; } = true;

    /// <summary>Quiet time before the idle clock moves, and its lag behind the wall clock. Default 5 s.</summary>
    public TimeSpan IdleAfter { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>API authentication (<c>RuleFlow:Auth</c>). With no key configured every request acts as a development user with all roles.</summary>
public sealed class AuthOptions
{
    /// <summary>API keys; a request sends one as <c>X-Api-Key: &lt;key&gt;</c> or <c>Authorization: ApiKey &lt;key&gt;</c>.</summary>
    public List<ApiKeyOptions> ApiKeys { get; set; } = [];
}

/// <summary>One API key and the identity it grants.</summary>
public sealed class ApiKeyOptions
{
    /// <summary>The secret key (keep it out of the repository: set it through the environment or a secret store).</summary>
    public string Key { get; set; } = "";

    /// <summary>User name the key authenticates as.</summary>
    public string User { get; set; } = "";

    /// <summary>Roles: <c>author</c>, <c>operator</c>, <c>approver</c>, <c>admin</c>.</summary>
    public List<string> Roles { get; set; } = [];
}
