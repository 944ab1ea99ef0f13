using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;
using Microsoft.Net.Http.Headers;

namespace RuleFlow.Server.Studio;

/// <summary>
/// Serves RuleFlow Studio, the single-page web UI built from <c>src/RuleFlow.Studio</c> (Vite, <c>base: '/studio/'</c>)
/// into <c>wwwroot/studio</c> next to the server binary, at <c>/studio</c>. The static files are anonymous (the UI's API
/// calls carry the key); any path under <c>/studio/</c> that is not a file is answered with <c>index.html</c> (SPA fallback),
/// so a reload on <c>/studio/instances/…</c> works. Every answer carries <see cref="ContentSecurityPolicy"/>,
/// <c>X-Content-Type-Options: nosniff</c>, <c>X-Frame-Options: DENY</c> and <c>Referrer-Policy: no-referrer</c>.
/// </summary>
public static class StudioEndpoints
{
    /// <summary>Configuration key of the directory holding the built Studio (default: <c>wwwroot/studio</c> next to the binary).</summary>
    public const string PathKey = "RuleFlow:Studio:Path";

    private static readonly FileExtensionContentTypeProvider ContentTypes = new();

    /// <summary>
    /// The Content-Security-Policy of every Studio response. The Studio keeps the user's API key in the browser, so a script
    /// injected into it could act as that user: only the Studio's own bundled scripts run (no inline script, no eval, no other
    /// origin), it talks only to this server, and no other site may frame it. Inline styles stay allowed: the editor (Monaco)
    /// and the graph (React Flow) set them at run time.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; " +
        "worker-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>
    /// Maps <c>GET /studio</c> (redirect to <c>/studio/</c>) and <c>GET /studio/{**path}</c>: the file when it exists, else
    /// <c>index.html</c>. Hashed files under <c>assets/</c> are cached for a year; <c>index.html</c> is never cached. When the
    /// Studio was not built (<c>-p:SkipStudioBuild=true</c>), answers 404 with a text saying so.
    /// </summary>
    /// <param name="app">The application.</param>
    /// <returns>The application, for chaining.</returns>
    public static WebApplication MapStudio(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var configured = app.Configuration[PathKey];
        var directory = string.IsNullOrWhiteSpace(configured)
            ? Path.Combine(AppContext.BaseDirectory, "wwwroot", "studio")
            : Path.GetFullPath(configured, app.Environment.ContentRootPath);
        var files = Directory.Exists(directory) ? new PhysicalFileProvider(directory) : null;
        if (files is null)
        {
            app.Logger.LogInformation("RuleFlow Studio is not built ({Directory} is missing): /studio answers 404", directory);
        }

        app.MapGet("/studio/{**path}", (string? path, HttpContext http) => Serve(files, path, http))
            .AllowAnonymous().ExcludeFromDescription();
        return app;
    }

    private static IResult Serve(PhysicalFileProvider? files, string? path, HttpContext http)
    {
        var security = http.Response.Headers;
        security.ContentSecurityPolicy = ContentSecurityPolicy;
        security.XContentTypeOptions = "nosniff";
        security.XFrameOptions = "DENY"; // for browsers without frame-ancestors
        security["Referrer-Policy"] = "no-referrer";
        if (!http.Request.Path.Value!.EndsWith('/') && string.IsNullOrEmpty(path))
        {
            return Results.Redirect("/studio/"); // relative asset paths and the router need the slash
        }

        if (files is null)
        {
            return Results.Text("RuleFlow Studio is not built: build the server without -p:SkipStudioBuild=true (needs Node.js 20 and npm).",
                "text/plain", statusCode: StatusCodes.Status404NotFound);
        }

        var file = string.IsNullOrEmpty(path) ? null : files.GetFileInfo(path);
        var isAsset = file is { Exists: true, IsDirectory: false, PhysicalPath: not null };
        if (!isAsset)
        {
            // A missing hashed asset is a real 404 (a stale page asking for an old bundle), not the app.
            if (path is not null && path.StartsWith("assets/", StringComparison.Ordinal))
            {
                return Results.NotFound();
            }

            file = files.GetFileInfo("index.html");
            if (!file.Exists || file.PhysicalPath is null)
            {
                return Results.NotFound();
            }
        }

        var headers = http.Response.GetTypedHeaders();
        headers.CacheControl = isAsset && path!.StartsWith("assets/", StringComparison.Ordinal)
            ? new CacheControlHeaderValue { Public = true, MaxAge = TimeSpan.FromDays(365) }
            : new CacheControlHeaderValue { NoCache = true };
        if (!ContentTypes.TryGetContentType(file!.PhysicalPath!, out var contentType))
        {
            contentType = "application/octet-stream";
        }

        return Results.File(file.PhysicalPath!, contentType, lastModified: file.LastModified, enableRangeProcessing: false);
    }
}
