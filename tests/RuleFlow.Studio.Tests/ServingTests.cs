using System.Net;
using System.Text.RegularExpressions;

namespace RuleFlow.Studio.Tests;

/// <summary>How the server serves the built Studio at /studio (no browser needed).</summary>
[Collection(StudioCollection.Name)]
public sealed partial class ServingTests(StudioServer studio)
{
    [Fact]
    public async Task Static_files_are_anonymous_with_an_spa_fallback_and_cached_assets()
    {
        using var anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(studio.Url("/")) };

        using var bare = await anonymous.GetAsync("studio");
        Assert.Equal(HttpStatusCode.Redirect, bare.StatusCode);
        Assert.Equal("/studio/", bare.Headers.Location?.OriginalString);

        foreach (var path in new[] { "studio/", "studio/instances/0197aa00-0000-7000-8000-000000000000", "studio/rules" })
        {
            using var page = await anonymous.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
            Assert.True(page.Headers.CacheControl?.NoCache, path);
            var html = await page.Content.ReadAsStringAsync();
            Assert.Contains("<div id=\"root\"></div>", html, StringComparison.Ordinal);
            AssertSecurityHeaders(page, path);
            Assert.DoesNotContain("<script>", html, StringComparison.Ordinal); // no inline script: script-src 'self' would refuse it
        }

        var index = await anonymous.GetStringAsync("studio/");
        var asset = AssetPattern().Match(index);
        Assert.True(asset.Success, index);
        using var script = await anonymous.GetAsync(asset.Value.TrimStart('/'));
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        Assert.Equal(TimeSpan.FromDays(365), script.Headers.CacheControl?.MaxAge);
        AssertSecurityHeaders(script, asset.Value);

        using var missing = await anonymous.GetAsync("studio/assets/no-such-bundle.js");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var traversal = await anonymous.GetAsync("studio/..%2F..%2Fappsettings.json");
        Assert.Contains("<div id=\"root\"></div>", await traversal.Content.ReadAsStringAsync(), StringComparison.Ordinal); // the app, not the file

        // The API itself still wants a key.
        using var api = await anonymous.GetAsync("api/workflows");
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
    }

    private static void AssertSecurityHeaders(HttpResponseMessage response, string path)
    {
        var csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self';", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("object-src 'none'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-eval", csp, StringComparison.Ordinal);
        Assert.Equal(["nosniff"], response.Headers.GetValues("X-Content-Type-Options"));
        Assert.Equal(["DENY"], response.Headers.GetValues("X-Frame-Options"));
        Assert.True(response.Headers.Contains("Referrer-Policy"), path);
    }

    [GeneratedRegex("/studio/assets/index-[A-Za-z0-9_-]+\\.js")]
    private static partial Regex AssetPattern();
}
