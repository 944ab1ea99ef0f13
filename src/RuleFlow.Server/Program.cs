using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.Options;
using RuleFlow.Scripting;
using RuleFlow.Server.Api;
using RuleFlow.Server.Auth;
using RuleFlow.Server.Hosting;
using RuleFlow.Server.Ingest;
using RuleFlow.Server.Rules;
using RuleFlow.Server.Studio;
using RuleFlow.Server.Workflows;
using RuleFlow.Storage;
using RuleFlow.Workflows;
using RuleFlow.Workflows.Runtime;

// RuleFlow server: where events enter (Ingest/), rules fire (Rules/, Ingest/EventPipeline.cs) and workflows run (Workflows/).

// Every regular expression made without a timeout of its own gets this one (the runtime reads it once, before the first Regex): the
// scripts' JavaScript regexes (Jint makes .NET Regex objects without a timeout, and its TimeoutInterval cannot stop one call) would
// otherwise let a backtracking pattern such as /^(a+)+$/ hold the rule session forever. The rules' own regexes have their own timeout.
AppContext.SetData("REGEX_DEFAULT_MATCH_TIMEOUT", ScriptSandbox.RegexTimeout);

var builder = WebApplication.CreateBuilder(args);

// Embedded defaults (appsettings.json next to the binary) sit below the content root's appsettings.json, the environment and the command line.
var embeddedDefaults = new JsonConfigurationSource { Path = Path.Combine(AppContext.BaseDirectory, "appsettings.json"), Optional = true };
embeddedDefaults.ResolveFileProvider();
builder.Configuration.Sources.Insert(0, embeddedDefaults);

// 127.0.0.1:5080 only when no address is configured any other way (ASPNETCORE_URLS, --urls, *_HTTP_PORTS, Kestrel endpoints).
if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["http_ports"])
    && string.IsNullOrEmpty(builder.Configuration["https_ports"]) && !builder.Configuration.GetSection("Kestrel:Endpoints").Exists())
{
    builder.WebHost.UseUrls("http://127.0.0.1:5080");
}

RuleFlowOptions options;
StoreOptions storeOptions;
WorkflowOptions workflowOptions;
try
{
    options = builder.Configuration.GetSection(RuleFlowOptions.Section).Get<RuleFlowOptions>() ?? new RuleFlowOptions();
    storeOptions = builder.Configuration.GetSection(StoreOptions.Section).Get<StoreOptions>() ?? new StoreOptions();
    workflowOptions = builder.Configuration.GetSection(WorkflowOptions.Section).Get<WorkflowOptions>() ?? new WorkflowOptions();
}
catch (InvalidOperationException e)
{
    // A value of the wrong type, e.g. RuleFlow__RabbitMq__BatchSize=lots.
    await Console.Error.WriteLineAsync($"RuleFlow cannot start: configuration error: {e.Message} {e.InnerException?.Message}").ConfigureAwait(false);
    return 2;
}

var configurationErrors = ConfigurationCheck.Validate(options, storeOptions,
    builder.Configuration.GetSection(JwtAuthOptions.Section).Get<JwtAuthOptions>(), workflowOptions);
if (configurationErrors.Count > 0)
{
    foreach (var error in configurationErrors)
    {
        await Console.Error.WriteLineAsync($"RuleFlow cannot start: {error}").ConfigureAwait(false);
    }

    return 2;
}

var services = builder.Services;
services.Configure<RuleFlowOptions>(builder.Configuration.GetSection(RuleFlowOptions.Section));
services.AddSingleton(TimeProvider.System);
services.AddSingleton<ServerState>();

// Store, workflows, scripts
services.AddRuleFlowStorage(storeOptions, builder.Environment.ContentRootPath);
services.AddRuleFlowWorkflowStore();
services.AddRuleFlowWorkflows(workflowOptions);
services.AddSingleton<IScriptHostModule, BlocklistModule>();
if (string.IsNullOrWhiteSpace(options.RabbitMq.Url))
{
    services.AddSingleton(sp => new InMemoryMessageTransport(1000, sp.GetRequiredService<ILogger<InMemoryMessageTransport>>()));
    services.AddSingleton<IMessageTransport>(sp => sp.GetRequiredService<InMemoryMessageTransport>());
    services.AddHostedService<InMemoryLoopback>();
}
else
{
    services.AddSingleton(sp => new RabbitMqPublisher(options.RabbitMq.Url, options.RabbitMq.Queue, sp.GetRequiredService<ILogger<RabbitMqPublisher>>()));
    services.AddSingleton<IMessageTransport>(sp => sp.GetRequiredService<RabbitMqPublisher>());
    services.AddSingleton<IDeadLetterQueue>(sp => sp.GetRequiredService<RabbitMqPublisher>());
}

// Rules and ingest
services.AddSingleton<RuleHost>();
services.AddSingleton<WorkflowEditor>();  // Studio (issue 5): validate and save workflow files
services.AddSingleton<RuleFileEditor>();
services.AddSingleton<LiveFeed>();        // Studio (issue 5): GET /api/stream, fed after durable commits
services.AddSingleton<IWorkflowObserver>(sp => sp.GetRequiredService<LiveFeed>());
services.AddHostedService(sp => sp.GetRequiredService<LiveFeed>());  // Studio (issue 5): read, check and write files of the rules directory
services.AddSingleton<IngestMetrics>();
services.AddSingleton<EventIntake>();
services.AddSingleton<ActionExecutor>();
services.AddSingleton<EventPipeline>();
services.AddSingleton<DeadLetters>();
services.AddSingleton<DeadLetterFilter>();
services.AddHostedService<StartupService>(); // before the bus: the rules' event declarations give its bindings
services.AddHostedService<WorkflowRuntimeService>();
services.AddHostedService<RuleFileWatcher>();
services.AddHostedService<RuleClockService>();
services.AddRuleFlowMessaging(options);

// HTTP API
services.AddRuleFlowAuthentication(builder.Configuration); // workflows (issue 4): API keys + JWT bearer, roles
services.AddHostedService<ApprovalDecisionConsumer>();     // workflows (issue 4): approval.decision over RabbitMQ
services.AddProblemDetails();
services.AddExceptionHandler<ApiExceptionHandler>();
services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
services.Configure<JsonOptions>(o =>
{
    o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
    o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
});
services.AddOpenApi();

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseAuthentication();
app.UseAuthorization();
app.MapOpenApi().AllowAnonymous();
app.MapHealthApi();
app.MapMeApi();          // Studio (issue 5)
app.MapStreamApi();      // Studio (issue 5)
app.MapEventsApi();
app.MapRulesApi();
app.MapRuleFilesApi();   // Studio (issue 5)
app.MapInstancesApi();
app.MapApprovalsApi();
app.MapWorkflowsApi();   // workflows (issue 4)
app.MapIncidentsApi();   // workflows (issue 4)
app.MapBlocklistApi();
app.MapStudio();         // the web UI at /studio (Studio/StudioEndpoints.cs)
app.MapGet("/", () => Results.Redirect("/health")).AllowAnonymous().ExcludeFromDescription();

await app.RunAsync().ConfigureAwait(false);
return 0;

/// <summary>The server's entry point (public for the test host).</summary>
public partial class Program;
