using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using RuleFlow.Scripting;
using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Workflows;

/// <summary>Registers the workflow engine.</summary>
public static class WorkflowServiceCollectionExtensions
{
    /// <summary>
    /// Adds the workflow runtime (<see cref="WorkflowRuntime"/> as <see cref="IWorkflowRuntime"/>), the definition registry
    /// (<see cref="IWorkflowDefinitionRegistry"/>), the script sandbox (<see cref="ScriptSandbox"/>) and the template
    /// renderer (<see cref="TemplateRenderer"/>), all singletons, and <see cref="TimeProvider.System"/> unless one is registered.
    /// </summary>
    /// <remarks>
    /// The host supplies: an <see cref="IWorkflowStore"/> and <see cref="IWorkflowQueries"/> (<c>AddRuleFlowWorkflowStore</c>
    /// in RuleFlow.Storage), an <see cref="IMessageTransport"/>, any number of <see cref="IScriptHostModule"/>s, and logging.
    /// At start it loads definitions with <see cref="WorkflowDefinitionLoader.LoadDirectory"/>, passes them to
    /// <see cref="IWorkflowDefinitionRegistry.RegisterAsync"/> (which sets the readiness flag) and runs
    /// <see cref="IWorkflowRuntime.RunAsync"/> in a hosted service.
    /// </remarks>
    /// <returns>The same service collection.</returns>
    public static IServiceCollection AddRuleFlowWorkflows(this IServiceCollection services, WorkflowOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.AddSingleton(options);
        services.AddSingleton(options.Scripting);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ScriptSandbox>();
        services.TryAddSingleton(_ => new TemplateRenderer());
        services.TryAddSingleton<IWorkflowDefinitionRegistry, WorkflowDefinitionRegistry>();
        services.TryAddSingleton<WorkflowRuntime>();
        services.TryAddSingleton<IWorkflowRuntime>(sp => sp.GetRequiredService<WorkflowRuntime>());
        return services;
    }

    /// <summary>
    /// Adds an <see cref="InMemoryWorkflowStore"/> as <see cref="IWorkflowStore"/> and <see cref="IWorkflowQueries"/>
    /// (one singleton): the runtime without a database, for tests and demos. Nothing survives the process.
    /// </summary>
    /// <returns>The same service collection.</returns>
    public static IServiceCollection AddRuleFlowInMemoryWorkflowStore(this IServiceCollection services)
    {
        services.TryAddSingleton<InMemoryWorkflowStore>();
        services.TryAddSingleton<IWorkflowStore>(sp => sp.GetRequiredService<InMemoryWorkflowStore>());
        services.TryAddSingleton<IWorkflowQueries>(sp => sp.GetRequiredService<InMemoryWorkflowStore>());
        return services;
    }
}
