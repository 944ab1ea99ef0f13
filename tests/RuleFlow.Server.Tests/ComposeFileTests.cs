using RuleFlow.Server.Hosting;
using RuleFlow.Server.Tests.Infrastructure;
using YamlDotNet.RepresentationModel;

namespace RuleFlow.Server.Tests;

/// <summary>No Docker engine runs here: check docker-compose.yml and the Dockerfile by reading them.</summary>
public sealed class ComposeFileTests
{
    private static YamlMappingNode Services()
    {
        var yaml = new YamlStream();
        using var reader = new StringReader(File.ReadAllText(Path.Combine(Paths.RepositoryRoot, "docker-compose.yml")));
        yaml.Load(reader);
        return (YamlMappingNode)((YamlMappingNode)yaml.Documents[0].RootNode)["services"];
    }

    private static Dictionary<string, string> Environment(YamlMappingNode service) =>
        ((YamlMappingNode)service["environment"]).Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => ((YamlScalarNode)kv.Value).Value ?? "");

    [Fact]
    public void Compose_runs_rabbitmq_postgres_and_ruleflow_with_health_checks()
    {
        var services = Services();
        Assert.Equal(["postgres", "rabbitmq", "ruleflow"], services.Children.Keys.Select(k => ((YamlScalarNode)k).Value).Order(StringComparer.Ordinal));
        foreach (var (name, node) in services.Children)
        {
            Assert.True(((YamlMappingNode)node).Children.ContainsKey("healthcheck"), $"{name} has no healthcheck");
        }

        var ruleflow = (YamlMappingNode)services["ruleflow"];
        Assert.Equal(".", ((YamlScalarNode)ruleflow["build"]).Value);
        var dependsOn = (YamlMappingNode)ruleflow["depends_on"];
        Assert.All(new[] { "rabbitmq", "postgres" }, d => Assert.Equal("service_healthy", ((YamlScalarNode)((YamlMappingNode)dependsOn[d])["condition"]).Value));

        var plugins = File.ReadAllText(Path.Combine(Paths.RepositoryRoot, "deploy", "rabbitmq", "enabled_plugins"));
        Assert.Contains("rabbitmq_management", plugins, StringComparison.Ordinal);
        Assert.Contains("rabbitmq_consistent_hash_exchange", plugins, StringComparison.Ordinal);
        Assert.Contains("deploy/rabbitmq/enabled_plugins:/etc/rabbitmq/enabled_plugins", File.ReadAllText(Path.Combine(Paths.RepositoryRoot, "docker-compose.yml")), StringComparison.Ordinal);
    }

    [Fact]
    public void Every_variable_the_server_needs_is_set_and_every_one_set_is_one_it_reads()
    {
        var environment = Environment((YamlMappingNode)Services()["ruleflow"]);
        foreach (var required in DeploymentVariables.Required)
        {
            Assert.True(environment.ContainsKey(required) && environment[required].Length > 0, $"docker-compose.yml does not set {required}");
        }

        var known = DeploymentVariables.Known();
        foreach (var variable in environment.Keys)
        {
            Assert.True(known.Contains(DeploymentVariables.Normalize(variable)), $"docker-compose.yml sets {variable}, which the server does not read");
        }

        Assert.Equal("Postgres", environment["RuleFlow__Store__Provider"]);
        Assert.StartsWith("amqp://", environment["RuleFlow__RabbitMq__Url"], StringComparison.Ordinal);
        Assert.Contains("@rabbitmq:5672", environment["RuleFlow__RabbitMq__Url"], StringComparison.Ordinal);
        Assert.Contains("Host=postgres", environment["RuleFlow__Store__ConnectionString"], StringComparison.Ordinal);
    }

    [Fact]
    public void No_secret_is_written_in_the_compose_file()
    {
        var services = Services();
        var all = services.Children.Values.OfType<YamlMappingNode>().Where(s => s.Children.ContainsKey("environment")).SelectMany(s => Environment(s)).ToList();
        foreach (var (name, value) in all.Where(kv => kv.Key.Contains("PASS", StringComparison.OrdinalIgnoreCase) || kv.Key.EndsWith("__Key", StringComparison.Ordinal)))
        {
            Assert.True(value.StartsWith("${", StringComparison.Ordinal), $"{name} holds a literal secret; take it from the environment");
        }

        Assert.All(all.Where(kv => kv.Value.Contains("Password=", StringComparison.Ordinal) || kv.Value.Contains("amqp://", StringComparison.Ordinal)),
            kv => Assert.Contains("${", kv.Value, StringComparison.Ordinal));
    }

    [Fact]
    public void The_dockerfile_builds_the_server_and_ships_rules_and_workflows_as_its_content_root()
    {
        var dockerfile = File.ReadAllText(Path.Combine(Paths.RepositoryRoot, "Dockerfile"));
        Assert.Contains("dotnet publish src/RuleFlow.Server/RuleFlow.Server.csproj", dockerfile, StringComparison.Ordinal);
        Assert.Contains("COPY rules/ rules/", dockerfile, StringComparison.Ordinal);
        Assert.Contains("COPY workflows/ workflows/", dockerfile, StringComparison.Ordinal);
        Assert.Contains("HEALTHCHECK", dockerfile, StringComparison.Ordinal);
        var port = ((YamlScalarNode)((YamlMappingNode)Services()["ruleflow"])["environment"]["ASPNETCORE_URLS"]).Value;
        Assert.Equal("http://0.0.0.0:8080", port);
        Assert.Contains("EXPOSE 8080", dockerfile, StringComparison.Ordinal);
    }

    [Fact]
    public void The_dockerfile_build_stage_has_every_file_the_server_build_reads_and_builds_the_studio_with_node()
    {
        var dockerfile = File.ReadAllText(Path.Combine(Paths.RepositoryRoot, "Dockerfile"));
        var stages = System.Text.RegularExpressions.Regex.Split(dockerfile, @"(?m)^FROM ");
        var build = Assert.Single(stages, st => st.Contains("dotnet publish", StringComparison.Ordinal));

        // Files outside src/ that the server project pulls in (embedded resources, imports) must be copied in that stage.
        var project = File.ReadAllText(Path.Combine(Paths.RepositoryRoot, "src", "RuleFlow.Server", "RuleFlow.Server.csproj"));
        var outside = System.Text.RegularExpressions.Regex.Matches(project, "Include=\"\\.\\./\\.\\./([^\"]+)\"")
            .Select(m => m.Groups[1].Value).Where(path => !path.StartsWith("src/", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(outside); // docs/workflow.schema.json at least
        foreach (var path in outside)
        {
            Assert.True(File.Exists(Path.Combine(Paths.RepositoryRoot, path)), $"{path} named by the server project does not exist");
            Assert.True(build.Contains($"COPY {path} ", StringComparison.Ordinal), $"the Dockerfile's build stage does not copy {path}, which the server build reads");
        }

        // The SDK image has no Node: the Studio is built in a Node stage and copied in; publish skips its own build.
        var studio = Assert.Single(stages, st => st.StartsWith("node:", StringComparison.Ordinal));
        Assert.Contains("npm ci", studio, StringComparison.Ordinal);
        Assert.Contains("npm run build", studio, StringComparison.Ordinal);
        Assert.Contains("COPY docs/workflow.schema.json docs/", studio, StringComparison.Ordinal); // the designer bundles the schema
        Assert.Contains("COPY --from=studio /src/src/RuleFlow.Server/wwwroot/studio/ src/RuleFlow.Server/wwwroot/studio/", build, StringComparison.Ordinal);
        Assert.Contains("-p:SkipStudioBuild=true", build, StringComparison.Ordinal);
    }
}
