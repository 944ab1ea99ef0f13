using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using RabbitMQ.Client;

namespace RuleFlow.Server.Tests.Infrastructure;

/// <summary>
/// A fresh virtual host on the real RabbitMQ that tools/test.sh starts (RULEFLOW_TEST_AMQP, management API at
/// RULEFLOW_TEST_AMQP_MANAGEMENT), so tests running in parallel never see each other's exchanges or queues.
/// </summary>
public sealed class TestBroker : IAsyncDisposable
{
    private readonly HttpClient _management;

    private TestBroker(string vhost, Uri url, HttpClient management)
    {
        VirtualHost = vhost;
        Url = url;
        _management = management;
    }

    public string VirtualHost { get; }

    /// <summary>amqp://guest:guest@127.0.0.1:port/vhost</summary>
    public Uri Url { get; }

    public static async Task<TestBroker> CreateAsync()
    {
        var amqp = Environment.GetEnvironmentVariable("RULEFLOW_TEST_AMQP")
            ?? throw new InvalidOperationException("RULEFLOW_TEST_AMQP is not set: run the tests through tools/test.sh, which starts RabbitMQ on 127.0.0.1");
        var managementUrl = Environment.GetEnvironmentVariable("RULEFLOW_TEST_AMQP_MANAGEMENT")
            ?? throw new InvalidOperationException("RULEFLOW_TEST_AMQP_MANAGEMENT is not set: run the tests through tools/test.sh");
        var management = new HttpClient { BaseAddress = new Uri(managementUrl) };
        management.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.ASCII.GetBytes("guest:guest")));
        var vhost = "ruleflow-test-" + Guid.NewGuid().ToString("N")[..10];
        (await management.PutAsync($"api/vhosts/{vhost}", null)).EnsureSuccessStatusCode();
        (await management.PutAsJsonAsync($"api/permissions/{vhost}/guest", new { configure = ".*", write = ".*", read = ".*" })).EnsureSuccessStatusCode();
        var baseUri = new Uri(amqp);
        return new TestBroker(vhost, new UriBuilder(baseUri) { Path = "/" + vhost }.Uri, management);
    }

    /// <summary>A server on a new content root (<see cref="ServerProcess.NewContentRoot"/>) that consumes from this broker.</summary>
    public ServerProcess NewServer() =>
        new(ServerProcess.NewContentRoot(), new Dictionary<string, string> { ["RuleFlow__RabbitMq__Url"] = Url.ToString() });

    public async Task<IConnection> ConnectAsync() =>
        await new ConnectionFactory { Uri = Url, ClientProvidedName = "ruleflow-test" }.CreateConnectionAsync();

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _management.DeleteAsync($"api/vhosts/{VirtualHost}");
        }
        finally
        {
            _management.Dispose();
        }
    }
}
