using System.CommandLine;
using RuleFlow.Cli;
using RuleFlow.Cli.Replay;
using RuleFlow.Rules.Testing;

var root = new RootCommand("ruleflow: tools for RuleFlow rule authors and operators");

var checkPaths = new Argument<string[]>("paths")
{
    Description = "Rule files (*.rules), workflow files (*.yaml) or directories; default: rules/ and workflows/",
    Arity = ArgumentArity.ZeroOrMore,
};
var checkFormat = new Option<string>("--format") { Description = "text (default) or json (one document, for editors)", DefaultValueFactory = _ => "text" };
var check = new Command("check", "Print every error and warning of every rule, rule test and workflow file; exit 1 on any error");
check.Arguments.Add(checkPaths);
check.Options.Add(checkFormat);
check.SetAction(result => CheckCommand.Run(result.GetValue(checkPaths) ?? [], Console.Out, Console.Error, result.GetValue(checkFormat) == "json"));
root.Subcommands.Add(check);

var testPaths = new Argument<string[]>("paths") { Description = "Rule test files (*.ruletest) or directories; default: rules/", Arity = ArgumentArity.ZeroOrMore };
var test = new Command("test", "Run the rule tests on a virtual clock; a failing test shows its expected and actual firings");
test.Arguments.Add(testPaths);
test.SetAction(result => TestCommand.Run(result.GetValue(testPaths) ?? [], Console.Out, Console.Error));
root.Subcommands.Add(test);

var explainRule = new Option<string>("--rule") { Description = "The rule to explain", Required = true };
var explainEvents = new Option<string>("--events") { Description = "JSON-lines file of events: { \"type\", \"time\", \"id\", \"data\" } per line, or bare objects with --type", Required = true };
var explainRules = new Option<string[]>("--rules") { Description = "Rule files or directories (default: rules/)", AllowMultipleArgumentsPerToken = true };
var explainType = new Option<string?>("--type") { Description = "Event type of bare event objects" };
var explainFormat = new Option<string>("--format") { Description = "text (default) or json (the final report)", DefaultValueFactory = _ => "text" };
var explain = new Command("explain", "Which conditions each event met, what is held in windows and until when, and why the rule did or did not fire");
foreach (var option in new Option[] { explainRule, explainEvents, explainRules, explainType, explainFormat })
{
    explain.Options.Add(option);
}

explain.SetAction(result => ExplainCommand.Run(result.GetValue(explainRule)!, result.GetValue(explainEvents)!, result.GetValue(explainRules) ?? [],
    result.GetValue(explainType), result.GetValue(explainFormat) == "json", Console.Out, Console.Error));
root.Subcommands.Add(explain);

var fmtPaths = new Argument<string[]>("paths") { Description = "Rule files or directories; default: rules/", Arity = ArgumentArity.ZeroOrMore };
var fmtCheck = new Option<bool>("--check") { Description = "Write nothing; list the files that are not formatted and exit 1 if any" };
var fmt = new Command("fmt", "Rewrite rule files in the canonical layout, keeping comments");
fmt.Arguments.Add(fmtPaths);
fmt.Options.Add(fmtCheck);
fmt.SetAction(result => FmtCommand.Run(result.GetValue(fmtPaths) ?? [], result.GetValue(fmtCheck), Console.Out, Console.Error));
root.Subcommands.Add(fmt);

var file = new Argument<string>("file") { Description = "The log (BSD syslog) or JSON-lines file to replay" };
var format = new Option<string>("--format") { Description = "syslog (BSD syslog lines → JSON events) or jsonl (JSON objects, sent as is)", DefaultValueFactory = _ => "syslog" };
var url = new Option<string?>("--url")
{
    Description = "RabbitMQ to publish to (default: $RULEFLOW_AMQP_URL, else amqp://guest:guest@127.0.0.1:5672/)",
};
var http = new Option<string?>("--http") { Description = "Post to a RuleFlow server's HTTP ingest instead, e.g. http://127.0.0.1:5080/" };
var exchange = new Option<string?>("--exchange") { Description = "Exchange to publish to, e.g. security.events" };
var routingKey = new Option<string?>("--routing-key") { Description = "Routing key, e.g. ssh.auth (over HTTP: the event type unless --type)" };
var type = new Option<string?>("--type") { Description = "Event type over HTTP" };
var year = new Option<int>("--year") { Description = "Year of syslog lines without one (rolls over at Dec→Jan); default: this year", DefaultValueFactory = _ => DateTime.UtcNow.Year };
var utcOffset = new Option<string>("--utc-offset") { Description = "UTC offset of the log's clock, e.g. +08:00; default 00:00", DefaultValueFactory = _ => "00:00" };
var extract = new Option<string[]>("--extract") { Description = "Extra field from the message: name=regex (group 'name' or 1); repeatable", AllowMultipleArgumentsPerToken = false };
var rate = new Option<double>("--rate") { Description = "Events per second; 0 (default) = as fast as the broker confirms", DefaultValueFactory = _ => 0 };
var noProgress = new Option<bool>("--no-progress") { Description = "No progress bar" };
var apiKey = new Option<string?>("--api-key") { Description = "API key for --http (default: $RULEFLOW_API_KEY)" };
var replay = new Command("replay", "Turn each line of a log into a JSON event and publish it, in order, with a progress bar");
replay.Arguments.Add(file);
foreach (var option in new Option[] { format, url, http, exchange, routingKey, type, year, utcOffset, extract, rate, noProgress, apiKey })
{
    replay.Options.Add(option);
}

replay.SetAction(async (result, cancellationToken) =>
{
    List<FieldExtractor> extractors;
    TimeSpan offset;
    try
    {
        extractors = (result.GetValue(extract) ?? []).Select(FieldExtractor.Parse).ToList();
        var offsetText = result.GetValue(utcOffset)!.TrimStart('+');
        offset = TimeSpan.Parse(offsetText, System.Globalization.CultureInfo.InvariantCulture);
    }
    catch (FormatException e)
    {
        await Console.Error.WriteLineAsync($"ruleflow replay: {e.Message}").ConfigureAwait(false);
        return ReplayCommand.Usage;
    }

    var httpUrl = result.GetValue(http);
    var amqp = result.GetValue(url) ?? Environment.GetEnvironmentVariable("RULEFLOW_AMQP_URL") ?? "amqp://guest:guest@127.0.0.1:5672/";
    if (!Uri.TryCreate(amqp, UriKind.Absolute, out var amqpUri) || (httpUrl is not null && !Uri.TryCreate(httpUrl, UriKind.Absolute, out _)))
    {
        await Console.Error.WriteLineAsync("ruleflow replay: --url and --http must be absolute URLs").ConfigureAwait(false);
        return ReplayCommand.Usage;
    }

    var settings = new ReplaySettings(
        result.GetValue(file)!, result.GetValue(format)!, amqpUri, httpUrl is null ? null : new Uri(httpUrl.EndsWith('/') ? httpUrl : httpUrl + "/"),
        result.GetValue(exchange), result.GetValue(routingKey), result.GetValue(type), result.GetValue(year), offset, extractors,
        result.GetValue(rate), !result.GetValue(noProgress), result.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("RULEFLOW_API_KEY"));
    return await ReplayCommand.RunAsync(settings, Console.Out, Console.Error, cancellationToken).ConfigureAwait(false);
});
root.Subcommands.Add(replay);

return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
