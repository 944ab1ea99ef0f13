using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RuleFlow.Server.Tests.Infrastructure;

/// <summary>
/// A real RuleFlow server process (<c>dotnet RuleFlow.Server.dll</c>) on a free 127.0.0.1 port, with its own content root
/// (a temporary directory holding copies of the repository's rules/ and workflows/, plus whatever a test adds). It can be
/// killed with SIGKILL and started again on the same content root and database.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Dictionary<string, string> _environment;
    private readonly ConcurrentQueue<string> _log = new();
    private Process? _process;

    public ServerProcess(string contentRoot, IDictionary<string, string>? environment = null, int? port = null)
    {
        ContentRoot = contentRoot;
        Port = port ?? FreePort();
        _environment = new Dictionary<string, string>(environment ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        if (!_environment.ContainsKey("ASPNETCORE_URLS") && port is not 5080)
        {
            _environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{Port}";
        }

        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Port}/"), Timeout = TimeSpan.FromSeconds(60) };
    }

    public string ContentRoot { get; }

    public int Port { get; }

    public HttpClient Http { get; }

    /// <summary>Everything the server printed so far (for failure messages).</summary>
    public string Log => string.Join('\n', _log);

    /// <summary>A content root with copies of the repository's rules/ and workflows/ and nothing else.</summary>
    public static string NewContentRoot()
    {
        var root = Directory.CreateTempSubdirectory("ruleflow-server-").FullName;
        CopyDirectory(Path.Combine(Paths.RepositoryRoot, "rules"), Path.Combine(root, "rules"));
        CopyDirectory(Path.Combine(Paths.RepositoryRoot, "workflows"), Path.Combine(root, "workflows"));
        return root;
    }

    public void Start()
    {
        if (_process is { HasExited: false })
        {
            throw new InvalidOperationException("already running");
        }

        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = ContentRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Paths.ServerDll);
        info.ArgumentList.Add("--contentRoot");
        info.ArgumentList.Add(ContentRoot);
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["Logging__Console__FormatterOptions__SingleLine"] = "true";
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("RuleFlow__", StringComparison.Ordinal) || k.StartsWith("ASPNETCORE_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name); // only what the test sets
        }

        foreach (var (key, value) in _environment)
        {
            info.Environment[key] = value;
        }

        _process = Process.Start(info) ?? throw new InvalidOperationException("could not start the server");
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) _log.Enqueue(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _log.Enqueue("ERR " + e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Starts and waits until <c>/health</c> answers 200.</summary>
    public async Task StartAndWaitReadyAsync(TimeSpan? timeout = null)
    {
        Start();
        await WaitReadyAsync(timeout);
    }

    public async Task WaitReadyAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(90));
        string last = "no answer";
        while (DateTime.UtcNow < deadline)
        {
            if (_process is { HasExited: true })
            {
                throw new InvalidOperationException($"the server exited with code {_process.ExitCode}:\n{Log}");
            }

            try
            {
                using var response = await Http.GetAsync("health");
                last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"the server was not ready in time (last /health: {last}):\n{Log}");
    }

    /// <summary>Waits for the process to end by itself (e.g. refusing its configuration) and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _process!.WaitForExitAsync(cancel.Token);
        return _process.ExitCode;
    }

    /// <summary>SIGTERM, as <c>docker stop</c> or systemd sends: the host's graceful shutdown runs.</summary>
    public async Task TerminateAsync()
    {
        if (_process is { HasExited: false } process)
        {
            using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync();
        }
    }

    /// <summary>SIGKILL: no shutdown code runs, like a crash or an OOM kill.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    public async Task<JsonNode> GetJsonAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"GET {path} → {(int)response.StatusCode}: {text}");
        }

        return JsonNode.Parse(text)!;
    }

    /// <summary>GET with the status whatever it is (no answer yet: status 0 and no body).</summary>
    public async Task<(HttpStatusCode Status, JsonNode? Body)> GetAsync(string path)
    {
        try
        {
            using var response = await Http.GetAsync(path);
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
        }
        catch (HttpRequestException)
        {
            return (0, null);
        }
    }

    public async Task<(HttpStatusCode Status, JsonNode? Body)> PostJsonAsync(string path, object? body, IDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = body is null ? null : JsonContent.Create(body) };
        foreach (var (k, v) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(k, v);
        }

        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    /// <summary>Polls <paramref name="probe"/> until it returns true or the timeout passes (then fails with the server log).</summary>
    public async Task WaitUntilAsync(Func<Task<bool>> probe, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (DateTime.UtcNow < deadline)
        {
            if (await probe())
            {
                return;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"timed out waiting for {what}. Server log:\n{Log}");
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
        Http.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }

    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web);
}
