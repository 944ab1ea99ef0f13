using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using RuleFlow.Storage.Workflows;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Storage;

/// <summary>Registers the SQL workflow store.</summary>
public static class WorkflowStoreServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="SqlWorkflowStore"/> as <see cref="IWorkflowStore"/> and <see cref="EfWorkflowQueries"/> as
    /// <see cref="IWorkflowQueries"/> (singletons). Needs <c>AddRuleFlowStorage</c> (the context factory); group commit
    /// follows the registered <see cref="WorkflowOptions"/> (<c>AddRuleFlowWorkflows</c>). The schema (tables
    /// <c>wf_instances</c>, <c>wf_journal</c>, <c>wf_approvals</c>, <c>wf_timers</c>, <c>wf_bookmarks</c>, <c>wf_incidents</c>,
    /// <c>wf_definitions</c>, <c>outbox_messages</c>) is created by <see cref="StoreInitializer"/>.
    /// </summary>
    /// <returns>The same service collection.</returns>
    public static IServiceCollection AddRuleFlowWorkflowStore(this IServiceCollection services)
    {
        services.TryAddSingleton(sp => new SqlWorkflowStore(
            sp.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<RuleFlowDbContext>>(),
            sp.GetService<WorkflowOptions>(),
            sp.GetService<ILogger<SqlWorkflowStore>>()));
        services.TryAddSingleton<IWorkflowStore>(sp => sp.GetRequiredService<SqlWorkflowStore>());
        services.TryAddSingleton<EfWorkflowQueries>();
        services.TryAddSingleton<IWorkflowQueries>(sp => sp.GetRequiredService<EfWorkflowQueries>());
        return services;
    }
}
