using System.CommandLine;
using RuleFlow.Bench;

// dotnet run -c Release --project tools/RuleFlow.Bench -- <benchmark> [options]; see docs/performance.md.
var root = new RootCommand("RuleFlow benchmarks: run in Release, on an otherwise idle machine, and report the numbers in docs/performance.md");
Benchmarks.Register(root);
return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
