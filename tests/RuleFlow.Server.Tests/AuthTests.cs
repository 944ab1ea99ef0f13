using System.Net;
using System.Text;
using RuleFlow.Server.Tests.Infrastructure;

namespace RuleFlow.Server.Tests;

/// <summary>API keys: anonymous access ends, /health stays open, only an assignee may decide an approval.</summary>
public sealed class AuthTests
{
    [Fact]
    public async Task With_api_keys_configured_callers_must_authenticate_and_only_approvers_decide()
    {
        var approverKey = "approver-" + Guid.NewGuid().ToString("N");
        var operatorKey = "operator-" + Guid.NewGuid().ToString("N");
        await using var server = new ServerProcess(ServerProcess.NewContentRoot(), new Dictionary<string, string>
        {
            ["RuleFlow__Auth__ApiKeys__0__Key"] = approverKey,
            ["RuleFlow__Auth__ApiKeys__0__User"] = "alice",
            ["RuleFlow__Auth__ApiKeys__0__Roles__0"] = "approver",
            ["RuleFlow__Auth__ApiKeys__1__Key"] = operatorKey,
            ["RuleFlow__Auth__ApiKeys__1__User"] = "oscar",
            ["RuleFlow__Auth__ApiKeys__1__Roles__0"] = "operator",
        });
        await server.StartAndWaitReadyAsync();
        Assert.DoesNotContain("No authentication configured", server.Log, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("health")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Http.GetAsync("api/instances")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(server, HttpMethod.Get, "api/instances", "wrong-key")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send(server, HttpMethod.Get, "api/instances", operatorKey)).StatusCode);

        // An operator starts the workflow (through validation, to the approval).
        var start = await Send(server, HttpMethod.Post, "api/instances", operatorKey,
            """{"workflow":"block-source-ip","input":{"ip":"198.51.100.7","host":"test","attempts":5},"correlationKey":"198.51.100.7"}""");
        Assert.Equal(HttpStatusCode.Created, start.StatusCode);
        string approvalId = "";
        await server.WaitUntilAsync(async () =>
        {
            var list = System.Text.Json.Nodes.JsonNode.Parse(await (await Send(server, HttpMethod.Get, "api/approvals?state=pending", operatorKey)).Content.ReadAsStringAsync())!;
            var items = list["items"]!.AsArray();
            approvalId = items.Count == 1 ? items[0]!["id"]!.GetValue<string>() : "";
            return items.Count == 1;
        }, "a pending approval");

        var refused = await Send(server, HttpMethod.Post, $"api/approvals/{approvalId}/approve", operatorKey, """{"comment":"not mine to decide"}""");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("WF4030", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var approved = await Send(server, HttpMethod.Post, $"api/approvals/{approvalId}/approve", approverKey, """{"comment":"ok"}""");
        Assert.Equal(HttpStatusCode.OK, approved.StatusCode);
        Assert.Contains("\"decidedBy\":\"alice\"", await approved.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static async Task<HttpResponseMessage> Send(ServerProcess server, HttpMethod method, string path, string key, string? body = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add("X-Api-Key", key);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        return await server.Http.SendAsync(request);
    }
}
