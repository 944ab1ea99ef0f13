using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RabbitMQ.Client.Exceptions;
using Spectre.Console;
using RuleFlow.Rules.Testing;

namespace RuleFlow.Cli.Replay;

/// <summary>Settings of <c>ruleflow replay</c>.</summary>
/// <param name="File">Log or JSON-lines file.</param>
/// <param name="Format"><c>syslog</c> (BSD syslog → JSON) or <c>jsonl</c> (one JSON object per line, sent as is).</param>
/// <param name="AmqpUrl">Broker, when publishing over AMQP.</param>
/// <param name="HttpUrl">RuleFlow server, when posting over HTTP instead.</param>
/// <param name="Exchange">Exchange (AMQP).</param>
/// <param name="RoutingKey">Routing key (AMQP); also the event type over HTTP unless <paramref name="Type"/> is given.</param>
/// <param name="Type">Event type over HTTP.</param>
/// <param name="Year">Year for syslog lines without one.</param>
/// <param name="UtcOffset">UTC offset of the log's clock.</param>
/// <param name="Extractors">Extra fields.</param>
/// <param name="Rate">Events per second; 0 = as fast as possible.</param>
/// <param name="Progress">Show a progress bar (only on an interactive terminal).</param>
/// <param name="ApiKey">API key for the HTTP path.</param>
public sealed record ReplaySettings(
    string File,
    string Format,
    Uri? AmqpUrl,
    Uri? HttpUrl,
    string? Exchange,
    string? RoutingKey,
    string? Type,
    int Year,
    TimeSpan UtcOffset,
    IReadOnlyList<FieldExtractor> Extractors,
    double Rate,
    bool Progress,
    string? ApiKey);

/// <summary>Counts of a replay.</summary>
public sealed record ReplayResult(int Lines, int Published, int Skipped, int Unroutable, int Refused, TimeSpan Elapsed);

/// <summary>
/// <c>ruleflow replay &lt;file&gt;</c>: turns each line of a log into a JSON event and publishes it, in file order, one at a time
/// (order matters to event-time windows), with a deterministic message id per line so a second replay of the same file
/// is deduplicated by the server. Lines that cannot be parsed are reported with their number and skipped.
/// </summary>
public static class ReplayCommand
{
    /// <summary>Exit code: everything published.</summary>
    public const int Ok = 0;

    /// <summary>Exit code: bad arguments, unreadable file, or the broker/server cannot be reached.</summary>
    public const int Usage = 2;

    /// <summary>Exit code: some events were published but not delivered (unroutable or refused).</summary>
    public const int NotDelivered = 3;

    /// <summary>Runs a replay and prints a summary.</summary>
    public static async Task<int> RunAsync(ReplaySettings settings, TextWriter output, TextWriter errors, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(errors);
        if (!System.IO.File.Exists(settings.File))
        {
            await errors.WriteLineAsync($"ruleflow replay: file '{settings.File}' does not exist").ConfigureAwait(false);
            return Usage;
        }

        if (settings.Format is not ("syslog" or "jsonl"))
        {
            await errors.WriteLineAsync($"ruleflow replay: --format '{settings.Format}' is unknown; use syslog or jsonl").ConfigureAwait(false);
            return Usage;
        }

        IEventPublisher publisher;
        string destination;
        try
        {
            (publisher, destination) = await ConnectAsync(settings, cancellationToken).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            await errors.WriteLineAsync($"ruleflow replay: {e.Message}").ConfigureAwait(false);
            return Usage;
        }
        catch (Exception e) when (e is BrokerUnreachableException or SocketException or OperationInterruptedException or HttpRequestException)
        {
            await errors.WriteLineAsync($"ruleflow replay: cannot publish to {Describe(settings)}: {Innermost(e).Message}").ConfigureAwait(false);
            return Usage;
        }

        await using (publisher.ConfigureAwait(false))
        {
            ReplayResult result;
            try
            {
                result = await ReplayAsync(settings, publisher, errors, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or AlreadyClosedException or OperationInterruptedException or IOException)
            {
                await errors.WriteLineAsync($"ruleflow replay: publishing to {destination} failed: {Innermost(e).Message}").ConfigureAwait(false);
                return Usage;
            }

            var seconds = Math.Max(result.Elapsed.TotalSeconds, 1e-6);
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"Replayed {Path.GetFileName(settings.File)}: {result.Lines:N0} lines, {result.Published:N0} published, {result.Skipped:N0} skipped, " +
                $"{result.Unroutable:N0} unroutable, {result.Refused:N0} refused in {result.Elapsed.TotalSeconds:F2} s " +
                $"({result.Lines / seconds:N0} lines/s) to {destination}")).ConfigureAwait(false);
            if (result.Unroutable > 0)
            {
                await errors.WriteLineAsync(
                    $"warning: {result.Unroutable:N0} event(s) reached no queue: is the RuleFlow server running with a binding for exchange " +
                    $"'{settings.Exchange}' and routing key '{settings.RoutingKey}'? (its rules' event declarations or RuleFlow:RabbitMq:Bindings)").ConfigureAwait(false);
            }

            return result.Unroutable + result.Refused > 0 ? NotDelivered : Ok;
        }
    }

    private static async Task<(IEventPublisher, string)> ConnectAsync(ReplaySettings settings, CancellationToken cancellationToken)
    {
        if (settings.HttpUrl is not null)
        {
            var type = settings.Type ?? settings.RoutingKey
                ?? throw new ArgumentException("over HTTP, give the event type with --type (or --routing-key)");
            return (new HttpPublisher(settings.HttpUrl, type, settings.ApiKey), $"{settings.HttpUrl} as type {type}");
        }

        if (string.IsNullOrWhiteSpace(settings.Exchange) || string.IsNullOrWhiteSpace(settings.RoutingKey))
        {
            throw new ArgumentException("over AMQP, give --exchange and --routing-key (or use --http URL to post to a server)");
        }

        var url = settings.AmqpUrl ?? throw new ArgumentException("no broker: give --url amqp://user:pass@host:5672/ or --http URL");
        var publisher = await AmqpPublisher.ConnectAsync(url, settings.Exchange, settings.RoutingKey, cancellationToken).ConfigureAwait(false);
        return (publisher, $"{Describe(settings)} exchange {settings.Exchange} routing key {settings.RoutingKey}");
    }

    private static async Task<ReplayResult> ReplayAsync(ReplaySettings settings, IEventPublisher publisher, TextWriter errors, CancellationToken cancellationToken)
    {
        var parser = new SyslogParser(settings.Year, settings.UtcOffset, settings.Extractors);
        int lines = 0, published = 0, skipped = 0, unroutable = 0, refused = 0;
        var stopwatch = Stopwatch.StartNew();
        var interactive = settings.Progress && AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;
        var total = interactive ? LineReader.Count(settings.File) : 0;
        var name = Path.GetFileName(settings.File);

        async Task RunAsync(Action<int>? advance)
        {
            foreach (var (number, text) in LineReader.Read(settings.File))
            {
                cancellationToken.ThrowIfCancellationRequested();
                lines++;
                advance?.Invoke(1);
                var (body, error) = Convert(settings.Format, parser, text);
                if (body is null)
                {
                    skipped++;
                    await errors.WriteLineAsync($"{name}:{number}: skipped: {error}: {Excerpt(text)}").ConfigureAwait(false);
                    continue;
                }

                if (settings.Rate > 0)
                {
                    var due = TimeSpan.FromSeconds(published / settings.Rate) - stopwatch.Elapsed;
                    if (due > TimeSpan.Zero)
                    {
                        await Task.Delay(due, cancellationToken).ConfigureAwait(false);
                    }
                }

                var (outcome, reason) = await publisher.PublishAsync(ReplayIds.For(settings.File, number, text), body, cancellationToken).ConfigureAwait(false);
                switch (outcome)
                {
                    case PublishOutcome.Published:
                        published++;
                        break;
                    case PublishOutcome.Unroutable:
                        unroutable++;
                        break;
                    default:
                        refused++;
                        await errors.WriteLineAsync($"{name}:{number}: refused: {reason}").ConfigureAwait(false);
                        break;
                }
            }
        }

        if (interactive)
        {
            await AnsiConsole.Progress().AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .StartAsync(async ctx =>
                {
                    var task = ctx.AddTask($"replaying {name}", maxValue: Math.Max(total, 1));
                    await RunAsync(n => task.Increment(n)).ConfigureAwait(false);
                }).ConfigureAwait(false);
        }
        else
        {
            await RunAsync(null).ConfigureAwait(false);
        }

        return new ReplayResult(lines, published, skipped, unroutable, refused, stopwatch.Elapsed);
    }

    /// <summary>One line to a JSON body, or null and why not.</summary>
    public static (byte[]? Body, string? Error) Convert(string format, SyslogParser parser, string line)
    {
        ArgumentNullException.ThrowIfNull(parser);
        ArgumentNullException.ThrowIfNull(line);
        if (line.Length == 0)
        {
            return (null, "empty line");
        }

        if (format == "jsonl")
        {
            try
            {
                return JsonNode.Parse(line) is JsonObject obj ? (Encoding.UTF8.GetBytes(obj.ToJsonString()), null) : (null, "not a JSON object");
            }
            catch (JsonException e)
            {
                return (null, $"not JSON: {e.Message}");
            }
        }

        var evt = parser.Parse(line, out var error);
        return evt is null ? (null, error) : (Encoding.UTF8.GetBytes(evt.ToJsonString()), null);
    }

    /// <summary>The destination without credentials, for messages.</summary>
    private static string Describe(ReplaySettings settings) =>
        settings.HttpUrl?.ToString() ?? (settings.AmqpUrl is { } u ? new UriBuilder(u) { UserName = "", Password = "" }.Uri.ToString() : "(no destination)");

    private static string Excerpt(string text) => text.Length <= 120 ? text : text[..120] + "…";

    private static Exception Innermost(Exception e) => e.InnerException is null ? e : Innermost(e.InnerException);
}
