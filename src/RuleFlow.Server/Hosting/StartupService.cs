using Microsoft.Extensions.Options;
using RuleFlow.Rules;
using RuleFlow.Server.Ingest;
using RuleFlow.Server.Rules;
using RuleFlow.Server.Workflows;
using RuleFlow.Storage;
using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Server.Hosting;

/// <summary>
/// Brings the server up in order: rule files are read while the host starts (the bus binds the exchanges their event
/// declarations name); then, in the background, the store is created or opened (retried until it answers), workflow
/// definitions are loaded and versioned, working memory is rebuilt from the event journal, interrupted rule firings are
/// carried out, and the server is marked ready. Events wait for readiness; <c>/health</c> answers 503 until then.
/// </summary>
public sealed class StartupService(
    IHostEnvironment environment,
    IOptions<RuleFlowOptions> options,
    ServerState state,
    RuleHost rules,
    StoreInitializer store,
    IWorkflowDefinitionRegistry registry,
    EventPipeline pipeline,
    RuleFlow.Server.Auth.JwtAuthOptions jwt,
    ILogger<StartupService> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _initialization;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        logger.LogInformation("RuleFlow starting in {ContentRoot}", environment.ContentRootPath);
        if (string.IsNullOrWhiteSpace(settings.RabbitMq.Url))
        {
            state.Transport = "in-memory";
            logger.LogWarning(
                "No broker configured (RuleFlow:RabbitMq:Url is empty): using MassTransit's in-memory transport; send events with POST /api/events/<type>. " +
                "Set RuleFlow__RabbitMq__Url=amqp://user:pass@host:5672/ to consume from RabbitMQ");
        }
        else
        {
            state.Transport = "rabbitmq";
            logger.LogInformation("Consuming from RabbitMQ at {Broker}, queue {Queue}", Redact(settings.RabbitMq.Url), settings.RabbitMq.Queue);
        }

        if (settings.Auth.ApiKeys.Count == 0 && !jwt.IsConfigured)
        {
            logger.LogWarning("No authentication configured (RuleFlow:Auth:ApiKeys and RuleFlow:Auth:Jwt are empty): every API request acts as the " +
                "development user 'developer' with all roles. Configure API keys or JWT before exposing this server");
        }

        rules.EnsureLoaded();
        _initialization = Task.Run(() => InitializeAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        try
        {
            var delay = TimeSpan.FromSeconds(1);
            while (true)
            {
                try
                {
                    await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
                    state.MarkStoreReady();
                    state.StartupError = null;
                    break;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    state.StartupError = $"store: {e.Message}";
                    logger.LogError(e, "Cannot open the store; retrying in {DelaySeconds} s", delay.TotalSeconds);
                    await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                    delay = TimeSpan.FromSeconds(Math.Min(delay.TotalSeconds * 2, 30));
                }
            }

            var directory = Path.GetFullPath(Path.Combine(environment.ContentRootPath, options.Value.WorkflowsPath));
            WorkflowLoadResult loaded;
            if (Directory.Exists(directory))
            {
                loaded = WorkflowDefinitionLoader.LoadDirectory(directory);
            }
            else
            {
                logger.LogWarning("Workflows directory {WorkflowsDirectory} does not exist: no workflows are loaded", directory);
                loaded = new WorkflowLoadResult([], []);
            }

            foreach (var file in loaded.Files)
            {
                foreach (var diagnostic in file.Diagnostics)
                {
                    logger.Log(diagnostic.IsError ? LogLevel.Error : LogLevel.Warning, "{Diagnostic}", diagnostic.ToString());
                }

                if (!file.Succeeded)
                {
                    logger.LogError("Workflow file {WorkflowFile} failed to load; its workflow is not available", file.Path);
                }
            }

            state.WorkflowFilesFailed = [.. loaded.Files.Where(f => !f.Succeeded).Select(f => WorkflowEditor.RelativeTo(environment.ContentRootPath, f.Path))];

            var registered = await StoreRetry.RunAsync(ct => registry.RegisterAsync(loaded.Definitions, ct), logger, "registering workflows", cancellationToken)
                .ConfigureAwait(false);
            foreach (var definition in registered)
            {
                logger.LogInformation("Workflow {Workflow} version {Version} loaded ({StepCount} steps)", definition.Id, definition.Version, definition.Steps.Count);
            }

            // Rules that start a workflow should name a loaded one and give what its input schema requires (the Studio refuses
            // a workflow edit that breaks this; files edited by hand are reported: the log, GET /api/rules).
            rules.CheckWorkflowStarts();

            state.WorkflowsLoaded = true;
            await pipeline.RecoverAsync(cancellationToken).ConfigureAwait(false);
            state.RulesLoaded = true;
            state.MarkReady();
            logger.LogInformation("RuleFlow ready: {RuleCount} rule(s), {WorkflowCount} workflow(s), transport {Transport}",
                rules.Current.Rules.Count, registered.Count, state.Transport);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping before start-up finished.
        }
        catch (Exception e)
        {
            state.StartupError = e.Message;
            logger.LogCritical(e, "RuleFlow start-up failed; the server stays up to report it at /health");
        }
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_initialization is not null)
        {
            await _initialization.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _stopping.Dispose();

    /// <summary>An AMQP URL without its password.</summary>
    public static string Redact(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.UserInfo.Length > 0
            ? new UriBuilder(uri) { Password = "" }.Uri.ToString()
            : url;
}

/// <summary>Runs the workflow runtime's loop (<see cref="IWorkflowRuntime.RunAsync"/>) once the server is ready.</summary>
public sealed class WorkflowRuntimeService(IWorkflowRuntime runtime, ServerState state, ILogger<WorkflowRuntimeService> logger) : BackgroundService
{
    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await state.Ready.WaitAsync(stoppingToken).ConfigureAwait(false);
        logger.LogInformation("Workflow runtime running");
        await runtime.RunAsync(stoppingToken).ConfigureAwait(false);
    }
}
