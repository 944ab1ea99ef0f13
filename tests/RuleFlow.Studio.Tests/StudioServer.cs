using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using RuleFlow.Server.Tests.Infrastructure;

namespace RuleFlow.Studio.Tests;

/// <summary>
/// One real server (its own content root with copies of rules/ and workflows/, SQLite) with API keys for an author and
/// operator (alice), an approver (bob) and an operator who is not an approver (carol), and one headless Chromium
/// (Debian's /usr/bin/chromium, no browser download) for all the Studio tests.
/// </summary>
public sealed class StudioServer : IAsyncLifetime
{
    public const string AuthorKey = "studio-alice-author-operator-key";
    public const string ApproverKey = "studio-bob-approver-key-00000001";
    public const string NonApproverKey = "studio-carol-operator-key-000001";

    private IPlaywright? _playwright;

    public ServerProcess Server { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>Where the screenshots go: TestResults/studio-screenshots at the repository root.</summary>
    public string ScreenshotDirectory { get; } = Path.Combine(Paths.RepositoryRoot, "TestResults", "studio-screenshots");

    public string Url(string path) => $"http://127.0.0.1:{Server.Port}/{path.TrimStart('/')}";

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(ScreenshotDirectory);
        foreach (var stale in Directory.EnumerateFiles(ScreenshotDirectory, "FAILED-*.png"))
        {
            File.Delete(stale); // from an earlier run
        }

        var root = ServerProcess.NewContentRoot();
        var environment = new Dictionary<string, string>
        {
            ["RuleFlow__Auth__ApiKeys__0__Key"] = AuthorKey,
            ["RuleFlow__Auth__ApiKeys__0__User"] = "alice",
            ["RuleFlow__Auth__ApiKeys__0__Roles__0"] = "author",
            ["RuleFlow__Auth__ApiKeys__0__Roles__1"] = "operator",
            ["RuleFlow__Auth__ApiKeys__1__Key"] = ApproverKey,
            ["RuleFlow__Auth__ApiKeys__1__User"] = "bob",
            ["RuleFlow__Auth__ApiKeys__1__Roles__0"] = "approver",
            ["RuleFlow__Auth__ApiKeys__2__Key"] = NonApproverKey,
            ["RuleFlow__Auth__ApiKeys__2__User"] = "carol",
            ["RuleFlow__Auth__ApiKeys__2__Roles__0"] = "operator",
        };
        Server = new ServerProcess(root, environment);
        await Server.StartAndWaitReadyAsync();

        var chromium = Environment.GetEnvironmentVariable("RULEFLOW_CHROMIUM") ?? "/usr/bin/chromium";
        if (!File.Exists(chromium))
        {
            throw new InvalidOperationException($"{chromium} is missing: apt-get install -y chromium (tools/test.sh does), or set RULEFLOW_CHROMIUM");
        }

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    /// <summary>A new browser context at 1280×800, signed in to the Studio with <paramref name="apiKey"/>.</summary>
    public async Task<IPage> SignedInPageAsync(string apiKey)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 800 } });
        var page = await context.NewPageAsync();
        OpenPages.Add(page);
        page.PageError += (_, error) => BrowserLog.Enqueue($"page error: {error}");
        page.Console += (_, message) => { if (message.Type is "error" or "warning") BrowserLog.Enqueue($"console {message.Type}: {message.Text}"); };
        await page.GotoAsync(Url("/studio/"));
        await page.GetByLabel("API key").FillAsync(apiKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Navigation, new() { Name = "Main" })).ToBeVisibleAsync();
        return page;
    }

    /// <summary>Writes a full-page screenshot as a test artifact and returns its path.</summary>
    public async Task<string> ScreenshotAsync(IPage page, string name)
    {
        var path = Path.Combine(ScreenshotDirectory, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path });
        Console.WriteLine($"screenshot: {path}");
        return path;
    }

    /// <summary>Errors and warnings the pages of the running test logged (printed when it fails).</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> BrowserLog { get; } = new();

    /// <summary>The pages opened by the running test (screenshotted when it fails).</summary>
    public List<IPage> OpenPages { get; } = [];

    /// <summary>Runs a test body; when it fails, every page it opened is screenshotted as FAILED-name-N.png.</summary>
    public async Task RunAsync(string name, Func<Task> body)
    {
        OpenPages.Clear();
        BrowserLog.Clear();
        try
        {
            await body();
            // The Studio runs under its Content-Security-Policy: anything it refused is a defect (the UI may look fine without it).
            var refused = BrowserLog.Where(line => line.Contains("Content Security Policy", StringComparison.Ordinal)).ToList();
            if (refused.Count > 0)
            {
                throw new Xunit.Sdk.XunitException("the Content-Security-Policy refused:\n" + string.Join("\n", refused));
            }
        }
        catch
        {
            foreach (var line in BrowserLog)
            {
                Console.WriteLine(line);
            }

            for (var i = 0; i < OpenPages.Count; i++)
            {
                try
                {
                    await ScreenshotAsync(OpenPages[i], $"FAILED-{name}-{i}");
                }
                catch (PlaywrightException)
                {
                    // the page is gone; the test's own error says more
                }
            }

            throw;
        }
        finally
        {
            foreach (var page in OpenPages)
            {
                await page.Context.CloseAsync();
            }

            OpenPages.Clear();
        }
    }

    public HttpClient Api(string apiKey)
    {
        var client = new HttpClient { BaseAddress = new Uri(Url("/")), Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        return client;
    }

    public async Task<JsonNode> GetJsonAsync(string apiKey, string path)
    {
        using var client = Api(apiKey);
        var text = await client.GetStringAsync(path);
        return JsonNode.Parse(text)!;
    }

    public async Task<(int Status, string Body)> PostAsync(string apiKey, string path, object body)
    {
        using var client = Api(apiKey);
        using var response = await client.PostAsJsonAsync(path, body);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class StudioCollection : ICollectionFixture<StudioServer>
{
    public const string Name = "studio";
}
