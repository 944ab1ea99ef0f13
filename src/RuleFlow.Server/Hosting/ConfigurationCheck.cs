using RuleFlow.Scripting;
using RuleFlow.Server.Auth;
using RuleFlow.Storage;
using RuleFlow.Workflows.Runtime;

namespace RuleFlow.Server.Hosting;

/// <summary>
/// Checks the configuration before anything starts, so a mistake is reported by its key and value (and the process
/// exits with code 2) instead of surfacing later as a stack trace from a library.
/// </summary>
public static class ConfigurationCheck
{
    /// <summary>The problems found, each naming its configuration key; empty when the configuration is usable.</summary>
    public static IReadOnlyList<string> Validate(RuleFlowOptions options, StoreOptions store, JwtAuthOptions? jwt = null, WorkflowOptions? workflows = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(store);
        var errors = new List<string>();
        var rabbit = options.RabbitMq;
        if (!string.IsNullOrWhiteSpace(rabbit.Url)
            && (!Uri.TryCreate(rabbit.Url, UriKind.Absolute, out var url) || url.Scheme is not ("amqp" or "amqps") || string.IsNullOrEmpty(url.Host)))
        {
            errors.Add($"RuleFlow:RabbitMq:Url is '{Redact(rabbit.Url)}'; it must be an amqp:// or amqps:// URL such as amqp://user:pass@127.0.0.1:5672/ (the path is the virtual host)");
        }

        if (string.IsNullOrWhiteSpace(rabbit.Queue))
        {
            errors.Add("RuleFlow:RabbitMq:Queue is empty; it names the ingest queue (default ruleflow.events)");
        }

        if (rabbit.BatchSize is < 1 or > 1000)
        {
            errors.Add($"RuleFlow:RabbitMq:BatchSize is {rabbit.BatchSize}; it must be between 1 and 1000");
        }

        if (rabbit.BatchWaitMilliseconds is < 1 or > 10_000)
        {
            errors.Add($"RuleFlow:RabbitMq:BatchWaitMilliseconds is {rabbit.BatchWaitMilliseconds}; it must be between 1 and 10000");
        }

        if (rabbit.PrefetchCount is < 1 or > 65_535)
        {
            errors.Add($"RuleFlow:RabbitMq:PrefetchCount is {rabbit.PrefetchCount}; it must be between 1 and 65535");
        }

        for (var i = 0; i < rabbit.Bindings.Count; i++)
        {
            var binding = rabbit.Bindings[i];
            if (string.IsNullOrWhiteSpace(binding.Exchange))
            {
                errors.Add($"RuleFlow:RabbitMq:Bindings:{i}:Exchange is empty");
            }

            if (binding.Type is not ("topic" or "direct" or "fanout" or "headers"))
            {
                errors.Add($"RuleFlow:RabbitMq:Bindings:{i}:Type is '{binding.Type}'; use topic, direct, fanout or headers");
            }
        }

        if (options.Ingest.MaxEventBytes < 2)
        {
            errors.Add($"RuleFlow:Ingest:MaxEventBytes is {options.Ingest.MaxEventBytes}; it must be at least 2 (an empty JSON object)");
        }

        if (store.Provider == StoreProvider.Postgres && string.IsNullOrWhiteSpace(store.ConnectionString))
        {
            errors.Add("RuleFlow:Store:Provider is Postgres but RuleFlow:Store:ConnectionString is empty, e.g. Host=127.0.0.1;Database=ruleflow;Username=ruleflow");
        }

        for (var i = 0; i < options.Auth.ApiKeys.Count; i++)
        {
            var key = options.Auth.ApiKeys[i];
            if (string.IsNullOrWhiteSpace(key.Key) || key.Key.Length < 16)
            {
                errors.Add($"RuleFlow:Auth:ApiKeys:{i}:Key is missing or shorter than 16 characters");
            }

            if (string.IsNullOrWhiteSpace(key.User))
            {
                errors.Add($"RuleFlow:Auth:ApiKeys:{i}:User is empty");
            }
        }

        if (jwt is not null && !string.IsNullOrWhiteSpace(jwt.SigningKey))
        {
            try
            {
                jwt.Key();
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                errors.Add($"RuleFlow:Auth:Jwt:SigningKey is not usable: {e.Message}");
            }
        }

        if (jwt is not null && !string.IsNullOrWhiteSpace(jwt.Authority) && !Uri.TryCreate(jwt.Authority, UriKind.Absolute, out _))
        {
            errors.Add($"RuleFlow:Auth:Jwt:Authority is '{jwt.Authority}'; it must be an absolute https URL of an OpenID provider");
        }

        if (workflows is not null)
        {
            CheckWorkflows(workflows, errors);
        }

        return errors;
    }

    private static void CheckWorkflows(WorkflowOptions w, List<string> errors)
    {
        const string section = "RuleFlow:Workflows:";
        void Positive(string key, TimeSpan value)
        {
            if (value <= TimeSpan.Zero)
            {
                errors.Add($"{section}{key} is {value}; it must be a positive time such as 00:00:01");
            }
        }

        void AtMost(string key, TimeSpan value, TimeSpan maximum)
        {
            if (value > maximum)
            {
                errors.Add($"{section}{key} is {value}; it must be at most {maximum}");
            }
        }

        void AtLeast(string key, long value, long minimum)
        {
            if (value < minimum)
            {
                errors.Add($"{section}{key} is {value}; it must be at least {minimum}");
            }
        }

        Positive(nameof(w.PollInterval), w.PollInterval);
        Positive(nameof(w.CompensationRetryDelay), w.CompensationRetryDelay);
        Positive(nameof(w.OutboxRetryDelay), w.OutboxRetryDelay);
        Positive(nameof(w.OutboxMaxRetryDelay), w.OutboxMaxRetryDelay);
        Positive("Scripting:" + nameof(w.Scripting.TimeoutInterval), w.Scripting.TimeoutInterval);
        Positive("Scripting:" + nameof(w.Scripting.AbandonRunAfter), w.Scripting.AbandonRunAfter);
        AtMost("Scripting:" + nameof(w.Scripting.TimeoutInterval), w.Scripting.TimeoutInterval, ScriptingOptions.MaxWait);
        AtMost("Scripting:" + nameof(w.Scripting.AbandonRunAfter), w.Scripting.AbandonRunAfter, ScriptingOptions.MaxWait);
        AtLeast(nameof(w.MaxConcurrency), w.MaxConcurrency, 1);
        AtLeast(nameof(w.CompensationAttempts), w.CompensationAttempts, 1);
        AtLeast(nameof(w.OutboxBatchSize), w.OutboxBatchSize, 1);
        AtLeast(nameof(w.TimerBatchSize), w.TimerBatchSize, 1);
        AtLeast(nameof(w.GroupCommitMaxBatch), w.GroupCommitMaxBatch, 1);
        AtLeast("Scripting:" + nameof(w.Scripting.MaxStatements), w.Scripting.MaxStatements, 1);
        AtLeast("Scripting:" + nameof(w.Scripting.LimitRecursion), w.Scripting.LimitRecursion, 1);
        AtLeast("Scripting:" + nameof(w.Scripting.MaxArrayLength), w.Scripting.MaxArrayLength, 1);
        AtLeast("Scripting:" + nameof(w.Scripting.MaxAbandonedRuns), w.Scripting.MaxAbandonedRuns, 1);
        AtLeast("Scripting:" + nameof(w.Scripting.MaxResultChars), w.Scripting.MaxResultChars, 2);
        AtLeast("Scripting:" + nameof(w.Scripting.MaxInputChars), w.Scripting.MaxInputChars, 2);
        AtLeast("Scripting:" + nameof(w.Scripting.MaxLogLines), w.Scripting.MaxLogLines, 0);
        AtLeast("Scripting:" + nameof(w.Scripting.MaxLogLineChars), w.Scripting.MaxLogLineChars, 1);
    }

    private static string Redact(string url) => StartupService.Redact(url);
}
