using RuleFlow.Server.Auth;
using RuleFlow.Storage;

namespace RuleFlow.Server.Hosting;

/// <summary>
/// Checks the configuration before anything starts, so a mistake is reported by its key and value (and the process
/// exits with code 2) instead of surfacing later as a stack trace from a library.
/// </summary>
public static class ConfigurationCheck
{
    /// <summary>The problems found, each naming its configuration key; empty when the configuration is usable.</summary>
    public static IReadOnlyList<string> Validate(RuleFlowOptions options, StoreOptions store, JwtAuthOptions? jwt = null)
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

        return errors;
    }

    private static string Redact(string url) => StartupService.Redact(url);
}
