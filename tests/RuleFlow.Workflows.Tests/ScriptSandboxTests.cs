using System.Text.Json.Nodes;
using RuleFlow.Scripting;

namespace RuleFlow.Workflows.Tests;

public sealed class ScriptSandboxTests
{
    private static readonly ScriptCallContext Context = new(Guid.Empty, "step", "key-1");

    private static ScriptResult Run(string source, string input = "{}", ScriptingOptions? options = null, params IScriptHostModule[] modules) =>
        new ScriptSandbox(options ?? new ScriptingOptions()).Run(new ScriptRequest(
            source,
            new Dictionary<string, string> { ["input"] = input, ["vars"] = "{}" },
            Context,
            modules,
            ["vars"]));

    private static ScriptException Fails(string source, ScriptingOptions? options = null, params IScriptHostModule[] modules) =>
        Assert.Throws<ScriptException>(() => Run(source, "{\"a\":{\"b\":[1,2]}}", options, modules));

    [Fact]
    public void Returns_json_sets_vars_and_collects_log()
    {
        var result = Run("vars.count = input.n + 1;\nlog('n is', input.n, {x: 1});\nreturn { doubled: input.n * 2, list: [1, 'a', null] };", "{\"n\":20}");
        Assert.Equal("{\"doubled\":40,\"list\":[1,\"a\",null]}", result.ResultJson);
        Assert.Equal("{\"count\":21}", result.Globals["vars"]);
        Assert.Equal(["n is 20 {\"x\":1}"], result.Log);
    }

    [Fact]
    public void No_return_gives_null_result()
    {
        Assert.Null(Run("var x = 1;").ResultJson);
    }

    [Fact]
    public void Script_cannot_reach_GetType_from_inputs_host_functions_or_log()
    {
        var blocklist = new TestBlocklistModule();
        var result = Run("""
            function probe(v) {
              if (v === null || v === undefined) { return 'none'; }
              return typeof v.GetType + '/' + typeof v.getType + '/' + typeof (v.constructor && v.constructor.GetType);
            }
            var hostResult = blocklist.add('1.2.3.4', 'r');
            var logResult = log('x');
            return {
              input: probe(input), nested: probe(input.a), array: probe(input.a.b), proto: probe(Object.getPrototypeOf(input)),
              hostFn: probe(blocklist.add), hostObj: probe(blocklist), hostResult: probe(hostResult), hostResultType: typeof hostResult,
              log: probe(log), logResult: probe(logResult),
              system: typeof System, importNs: typeof importNamespace, require: typeof require, clr: typeof clr,
              ownKeys: Object.getOwnPropertyNames(blocklist.add).sort().join(',')
            };
            """, "{\"a\":{\"b\":[1,2]}}", null, blocklist);
        var output = JsonNode.Parse(result.ResultJson!)!.AsObject();
        foreach (var key in new[] { "input", "nested", "array", "proto", "hostFn", "hostObj", "log" })
        {
            Assert.Equal("undefined/undefined/undefined", output[key]!.GetValue<string>());
        }

        Assert.Equal("boolean", output["hostResultType"]!.GetValue<string>());
        Assert.Equal("none", output["logResult"]!.GetValue<string>());
        foreach (var key in new[] { "system", "importNs", "require", "clr" })
        {
            Assert.Equal("undefined", output[key]!.GetValue<string>());
        }

        Assert.DoesNotContain("GetType", output["ownKeys"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public void Script_cannot_read_files()
    {
        var path = Path.Combine(Path.GetTempPath(), "ruleflow-probe-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(path, "TOPSECRET");
        try
        {
            var escaped = path.Replace("\\", "\\\\", StringComparison.Ordinal);
            var attempts = new[]
            {
                $"return System.IO.File.ReadAllText('{escaped}');",
                $"return importNamespace('System.IO').File.ReadAllText('{escaped}');",
                $"return input.GetType().Assembly.GetType('System.IO.File').GetMethod('ReadAllText').Invoke(null, ['{escaped}']);",
                $"return log.GetType().Assembly;",
                $"return require('fs').readFileSync('{escaped}');",
            };
            foreach (var source in attempts)
            {
                var error = Fails(source);
                Assert.Equal(ScriptErrorKind.Runtime, error.Kind);
                Assert.DoesNotContain("TOPSECRET", error.Message, StringComparison.Ordinal);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Host_function_returning_a_clr_object_is_refused_at_registration()
    {
        var module = new ObjectModule();
        var error = Assert.Throws<InvalidOperationException>(() => Run("return leak.get();", "{}", null, module));
        Assert.Contains("not supported", error.Message, StringComparison.Ordinal);
    }

    private sealed class ObjectModule : IScriptHostModule
    {
        public string Name => "leak";

        public IReadOnlyDictionary<string, Delegate> CreateFunctions(ScriptCallContext context) =>
            new Dictionary<string, Delegate> { ["get"] = new Func<FileInfo>(() => new FileInfo("/etc/passwd")) };
    }

    [Fact]
    public void Infinite_loop_ends_with_the_statement_limit()
    {
        var error = Fails("while (true) { }");
        Assert.Equal(ScriptErrorKind.StatementLimit, error.Kind);
        Assert.Contains("MaxStatements", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Infinite_loop_ends_with_the_timeout_when_statements_are_unlimited()
    {
        var options = new ScriptingOptions { MaxStatements = int.MaxValue, TimeoutInterval = TimeSpan.FromMilliseconds(300) };
        var error = Fails("for (;;) { var x = 1; }", options);
        Assert.Equal(ScriptErrorKind.Timeout, error.Kind);
    }

    [Fact]
    public void Deep_recursion_is_stopped()
    {
        var error = Fails("function f(n) { return f(n + 1); }\nreturn f(0);");
        Assert.Equal(ScriptErrorKind.Recursion, error.Kind);
    }

    [Theory]
    [InlineData("var a = 1;\nvar f = x => x * 2;", 2, 12, "arrow function")]
    [InlineData("var who = 'a';\n\nvar s = `hi ${who}`;", 3, 9, "template literal")]
    [InlineData("class A {}", 1, 1, "class")]
    [InlineData("var o = {a: 1};\nvar {a} = o;", 2, 5, "destructuring")]
    [InlineData("var xs = [1];\nMath.max(...xs);", 2, 10, "spread")]
    public void Es6_syntax_is_reported_with_line_column_and_the_es51_rule(string source, int line, int column, string construct)
    {
        var error = Fails(source);
        Assert.Equal(ScriptErrorKind.Syntax, error.Kind);
        Assert.Equal(line, error.Line);
        Assert.Equal(column, error.Column);
        Assert.Contains("ECMAScript 5.1", error.Message, StringComparison.Ordinal);
        Assert.Contains(construct, error.Message, StringComparison.Ordinal);
        var check = ScriptSandbox.CheckSyntax(source);
        Assert.NotNull(check);
        Assert.Equal((line, column), (check.Line, check.Column));
    }

    [Theory]
    [InlineData("unary", "nest more than 256 levels deep")]
    [InlineData("plus", "nest more than 256 levels deep")]
    [InlineData("ifs", "nest more than 256 levels deep")]
    [InlineData("regex", "nest more than 256 levels deep")]
    [InlineData("comment", "nest more than 256 levels deep")]
    [InlineData("long", "at most 16,384 are allowed")]
    public void Nesting_that_could_exhaust_the_stack_is_a_syntax_error_not_a_crash(string shape, string message)
    {
        // Jint parses and evaluates recursively: 10,000 nested parentheses overflowed the stack (the process ended) when a rule file or
        // workflow was checked or loaded, or the script ran.
        var source = shape switch
        {
            "unary" => "return " + new string('!', 16_000) + "1;",
            "plus" => "return 1" + string.Concat(Enumerable.Repeat(" + 1", 4_000)) + ";",
            "ifs" => string.Concat(Enumerable.Repeat("if (1) ", 2_000)) + "return 1;",
            "regex" => "var r = /\"/; return " + new string('!', 8_000) + "1;", // a quote in a regex hides nothing
            "comment" => "// a comment\r return " + string.Concat(Enumerable.Repeat("- ", 4_000)) + "1;", // \r ends a line comment
            _ => "return 1;" + new string(' ', 20_000),
        };
        var check = ScriptSandbox.CheckSyntax(source);
        Assert.NotNull(check);
        Assert.Contains(message, check.Message, StringComparison.Ordinal);
        var failed = Fails(source);
        Assert.Equal(ScriptErrorKind.Syntax, failed.Kind);
    }

    [Theory]
    [InlineData("eval", "var s = '1'; for (var i = 0; i < 8000; i++) s = '!' + s; return eval(s);", "SyntaxError: eval: expressions or statements nest more than 256 levels deep")]
    [InlineData("eval-long", "var s = '1'; for (var i = 0; i < 20000; i++) s = '(' + s + ')'; return eval(s);", "SyntaxError: eval: the script is 40,001 characters long; at most 16,384")]
    [InlineData("eval-html-comment", "var s = '1'; for (var i = 0; i < 8000; i++) s = '!' + s; return eval('-->c\\n' + s);", "SyntaxError: eval: expressions or statements nest more than 256")]
    [InlineData("Function", "var s = '1'; for (var i = 0; i < 5000; i++) s = '[' + s + ']'; return new Function('return ' + s)();", "SyntaxError: Function: expressions or statements nest more than 256")]
    [InlineData("Function-params", "var s = 'x'; for (var i = 0; i < 8000; i++) s = '!' + s; return Function('x', 'return ' + s)(1);", "SyntaxError: Function: expressions or statements nest more than 256")]
    [InlineData("JSON.parse-object", "var s = '1'; for (var i = 0; i < 20000; i++) s = '[' + s + ']'; return JSON.parse({ toString: function () { return s; } });", "SyntaxError: JSON.parse: the text nests more than 256 levels deep")]
    [InlineData("cyclic-join", "var a = [1]; a.push(a); return String(a);", "RangeError: toString: built-in methods nest into each other more than 1,024 deep (a value that contains itself, or built-ins handed to each other)")]
    [InlineData("constructor", "var s = '1'; for (var i = 0; i < 8000; i++) s = '!' + s; return (function () {}).constructor('return ' + s)();", "SyntaxError: Function: expressions or statements nest more than 256")]
    [InlineData("JSON.parse", "var s = '1'; for (var i = 0; i < 20000; i++) s = '[' + s + ']'; return JSON.parse(s);", "SyntaxError: JSON.parse: the text nests more than 256 levels deep")]
    [InlineData("join", "var o = 1; for (var i = 0; i < 20000; i++) o = [o]; return '' + o;", "RangeError: toString: built-in methods nest into each other more than 1,024 deep (a value that contains itself, or built-ins handed to each other)")]
    public void What_a_script_builds_too_deep_for_the_stack_is_an_error_not_a_crash(string _, string source, string message)
    {
        // Jint's parser, JSON and array built-ins recurse once per level: 20,000 levels built while running overflowed the stack.
        var failed = Fails(source);
        Assert.Equal(ScriptErrorKind.Runtime, failed.Kind);
        Assert.Contains(message, failed.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("var o = { get x() { return this.x; } }; return o.x;")]
    [InlineData("var o = { toString: function () { return '' + this; } }; return '' + o;")]
    [InlineData("var o = { valueOf: function () { return this * 2; } }; return o * 1;")]
    public void Implicit_calls_that_recurse_for_ever_end_with_a_limit_not_a_crash(string source)
    {
        // Jint counts only calls written as calls against its recursion limit: these recursed until the 1.5 MB stack of a thread-pool
        // thread overflowed (then, on the script thread's large stack, until the statement limit, 2-3 s later). Every call counts now,
        // and the error names the function entered one level too deep.
        var failed = Fails(source);
        Assert.Equal(ScriptErrorKind.Recursion, failed.Kind);
        Assert.Contains(CallDepthError, failed.Message, StringComparison.Ordinal);
        Assert.Equal(1, failed.Line);
    }

    private const string CallDepthError =
        "script functions nest more than 64 calls deep (LimitRecursion; calls made implicitly, by getters, setters, toString, valueOf and built-ins, count too)";

    [Theory]
    [InlineData("object", "{ a: ", " }")]
    [InlineData("plus", "1 + (", ")")]
    [InlineData("unary", "-(", ")")]
    public void Implicit_recursion_through_deep_expressions_ends_with_a_range_error_not_a_crash(string _, string open, string close)
    {
        // Each level evaluates an expression as deep as a script's tree may be before it recurses: ~0.2 MB of stack a level, so
        // the statement limit (one statement a level) came long after the 512 MB stack of the script thread was gone: the process ended.
        string Source(int levels) =>
            "var o = { get x() { return " + string.Concat(Enumerable.Repeat(open, levels)) + "this.x" + string.Concat(Enumerable.Repeat(close, levels)) + "; } }; return o.x;";
        var deepest = Enumerable.Range(1, 256).Last(n => ScriptSandbox.CheckSyntax(Source(n)) is null); // as deep as a script may nest
        Assert.True(deepest > 100, $"{deepest}");
        var failed = Fails(Source(deepest));
        Assert.Equal(ScriptErrorKind.Recursion, failed.Kind);
        Assert.Contains(CallDepthError, failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Call_depth_counts_every_function_and_code_made_by_eval_and_Function()
    {
        // Jint's own limit counted each function on its own (64 each): five functions calling each other in a ring went 320 deep.
        // LimitRecursion (64) is now the depth of all calls, the script's own body included.
        var ring = "abcde";
        var mutual = string.Concat(ring.Select((f, i) => $"function {f}(n) {{ return n == 0 ? 0 : 1 + {ring[(i + 1) % 5]}(n - 1); }} "));
        Assert.Equal("60", Run(mutual + "return a(60);").ResultJson);
        var deep = Fails(mutual + "return a(100);");
        Assert.Equal(ScriptErrorKind.Recursion, deep.Kind);
        Assert.Contains(CallDepthError, deep.Message, StringComparison.Ordinal);

        // Functions made by eval and Function are counted like the script's own.
        Assert.Contains(CallDepthError, Fails("return eval('({ get x() { return this.x; } })').x;").Message, StringComparison.Ordinal);
        Assert.Contains(CallDepthError, Fails("return Function('return { get x() { return this.x; } }')().x;").Message, StringComparison.Ordinal);

        // The depth starts again at 0 for each run of the same engine.
        var sandbox = new ScriptSandbox(new ScriptingOptions());
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("60", sandbox.Run(new ScriptRequest(mutual + "return a(60);", new Dictionary<string, string>(), Context)).ResultJson);
        }

        Assert.Equal(1, sandbox.EnginesCreated);

        // A depth under 1 is refused when the sandbox is made, not by each run.
        Assert.Equal("options.LimitRecursion", Assert.Throws<ArgumentOutOfRangeException>(() => new ScriptSandbox(new ScriptingOptions { LimitRecursion = 0 })).ParamName);
    }

    [Fact]
    public void A_function_that_throws_can_be_called_and_caught_any_number_of_times()
    {
        // Jint's recursion limit never forgot a call that ended in an exception: after 64 caught throws from one function, every later
        // call of it failed with an error the script could not catch. And Jint's JSON parser threw a host exception for a malformed
        // text, which the script could not catch either.
        Assert.Equal("[1000,1000,1000]", Run("""
            function check(x) { if (x % 1 == 0) throw new Error('bad ' + x); return x; }
            var thrown = 0, notCallable = 0, malformed = 0;
            for (var i = 0; i < 1000; i++) {
              try { check(i); } catch (e) { thrown++; }
              try { undefined(); } catch (e) { notCallable++; }
              try { JSON.parse(['{', '01', '1e'][i % 3]); } catch (e) { if (e instanceof SyntaxError) malformed++; }
            }
            return [thrown, notCallable, malformed];
            """).ResultJson);
    }

    [Theory]
    [InlineData("var o = {}; Object.defineProperty(o, 'name', { get: Error.prototype.toString }); return String(o.name);", "toString")]
    public void Built_ins_used_as_getters_or_valueOf_that_recurse_end_with_a_range_error_not_a_crash(string source, string method)
    {
        // No statement runs and no script function is entered: each overflowed the 256 MB stack and ended the process (review).
        var result = TryRun(source);
        Assert.Contains($"{method}: {NestError}", result, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("var o = {}; Object.defineProperty(o, 'length', { get: Array.prototype.pop }); return o.length;", "pop")]
    [InlineData("var o = { valueOf: Array.prototype.pop }; o.length = o; return +o;", "pop")]
    [InlineData("var o = {}; Object.defineProperty(o, 'length', { get: Array.prototype.indexOf }); try { return o.length; } catch (e) { return e.message; }", "indexOf")]
    public void An_array_method_refuses_a_length_given_by_a_getter_or_an_object(string source, string method)
    {
        // These recursed through the length without a statement (the review's crashes); an array method now reads the length without
        // calling anything, since the method would read it again and could get another number than the one checked.
        Assert.Contains($"Array.prototype.{method}: an array-like whose length is a getter or an object is not supported in RuleFlow scripts", TryRun(source), StringComparison.Ordinal);
    }

    private const string NestError = "built-in methods nest into each other more than 1,024 deep (a value that contains itself, or built-ins handed to each other)";

    private static string TryRun(string source)
    {
        try
        {
            return Run(source).ResultJson ?? "null";
        }
        catch (ScriptException e)
        {
            return e.Message;
        }
    }

    [Fact]
    public void A_toJSON_that_nests_the_serializer_without_end_is_a_range_error()
    {
        // concat makes a new array around the object each time: Jint's serializer nested without running a statement, so its timeout
        // never came (22 minutes to overflow the stack, by the review's estimate). The sandbox's serializer counts the depth as it goes.
        var failed = Fails("var o = {}; o.toJSON = Array.prototype.concat; return JSON.stringify(o);");
        Assert.Equal(ScriptErrorKind.Runtime, failed.Kind);
        Assert.Contains("RangeError: JSON.stringify: the value nests arrays or objects more than 256 levels deep", failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void First_runs_on_many_threads_at_once_do_not_race()
    {
        // The first guards were evaluated through Jint's static, unsynchronized type table: 8 sandboxes starting together failed
        // runs with "An item with the same key has already been added" (review: 8 of 15 processes).
        for (var round = 0; round < 5; round++)
        {
            var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
            using var start = new Barrier(8);
            var threads = Enumerable.Range(0, 8).Select(_ => new Thread(() =>
            {
                var sandbox = new ScriptSandbox(new ScriptingOptions());
                start.SignalAndWait();
                try
                {
                    sandbox.Run(new ScriptRequest("function f() { return { get x() { return 1; } }.x; } return f();", new Dictionary<string, string>(), Context));
                }
                catch (Exception e)
                {
                    failures.Add(e.Message);
                }
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            Assert.Empty(failures);
        }
    }

    [Fact]
    public void Eval_and_Function_keep_their_meaning()
    {
        // eval is indirect: global code, its completion value, a declaration on the global object unless the code is strict; what is
        // not a string comes back as it is; what it throws, the script can catch.
        Assert.Equal("""[2,"number","undefined",5,3]""", Run("""
            var v = eval('1; 2');
            eval('var g = 1');
            eval('"use strict"; var h = 1');
            var caught; try { eval('throw 3'); } catch (e) { caught = e; }
            return [v, typeof g, typeof h, eval(5), caught];
            """).ResultJson);

        // Function makes its function in the global scope, not the caller's.
        Assert.Equal("""["undefined",6]""", Run("var local = 1; return [Function('return typeof local')(), new Function('a', 'b', 'return a * b')(2, 3)];").ResultJson);

        // An error in eval'd code is reported at the script's line that called eval (not at the eval text's own line).
        var located = Fails("var a = 1;\nvar b = 2;\n\n\neval('1;\\n\\nnull.x');");
        Assert.Equal(5, located.Line);
        Assert.Contains("TypeError", located.Message, StringComparison.Ordinal);

        // Parameters or a body that close the function early are refused, as Jint's own Function refused them.
        Assert.Contains("SyntaxError: Function: the parameters and body do not make one function",
            Fails("return Function('){}), (function () { return 1; })(), (function (', '');").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deep_values_are_refused_by_the_serializers_and_deep_recursion_through_expressions_runs()
    {
        // Jint serializes recursively, checking for cycles in time quadratic in the depth (20,000 levels: 7 s the timeout does not
        // interrupt): a value nested over 256 deep is a RangeError, also when a getter makes it while it is serialized (90,000 levels
        // made by a getter took 44 s before the serializer counted the depth as it goes).
        const string Deep = "var d = 1; for (var i = 0; i < 20000; i++) d = [d]; ";
        Assert.Contains("RangeError: JSON.stringify: the value nests arrays or objects more than 256 levels deep", Fails(Deep + "return JSON.stringify(d);").Message, StringComparison.Ordinal);
        Assert.Contains("RangeError: the result nests arrays or objects more than 256 levels deep", Fails(Deep + "return { a: d };").Message, StringComparison.Ordinal);
        Assert.Equal(["[unserializable]"], Run(Deep + "log(d); return 1;").Log);
        Assert.Contains("RangeError: JSON.stringify: the value nests arrays or objects more than 256 levels deep",
            Fails("var d = 1; for (var i = 0; i < 2000; i++) d = [d]; return JSON.stringify({ get a() { return d; } }).length;").Message, StringComparison.Ordinal);
        Assert.Contains("RangeError: the result nests arrays or objects more than 256 levels deep",
            Fails("return { get a() { var d = 1; for (var i = 0; i < 90000; i++) d = [d]; return d; } };").Message, StringComparison.Ordinal);
        Assert.Equal("517", Run("var d = 1; for (var i = 0; i < 255; i++) d = [d]; return JSON.stringify({ get a() { return d; } }).length;").ResultJson);

        // 62 calls deep, each 40 levels of nested expressions: 2,480 levels of evaluation (it overflowed a 1.5 MB stack).
        var nested = "function f(n) { return n <= 0 ? 0 : " + string.Concat(Enumerable.Repeat("-(", 40)) + "f(n - 1)" + new string(')', 40) + "; } return f(62);";
        Assert.Equal("0", Run(nested).ResultJson);
    }

    [Theory]
    [InlineData("var o = { length: 1, toString: Array.prototype.join }; o[0] = o; return '' + o;", "join")]
    [InlineData("var o = { join: Array.prototype.toString }; return o.join();", "toString")]
    [InlineData("var o = { toISOString: Date.prototype.toJSON }; return o.toISOString();", "valueOf")] // toJSON calls valueOf, then toISOString: the limit meets valueOf
    [InlineData("var o = { toString: Object.prototype.toLocaleString }; return '' + o;", "toLocaleString")]
    public void Built_ins_given_to_each_other_that_recurse_without_a_statement_end_with_a_range_error(string source, string method)
    {
        // No statement runs, so neither the statement limit nor the timeout would end them: they overflowed any stack.
        Assert.Contains($"RangeError: {method}: built-in methods nest into each other more than 1,024 deep (a value that contains itself, or built-ins handed to each other)", Fails(source).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_guarded_built_ins_still_work_and_errors_keep_their_messages()
    {
        var result = Run("""
            var deep = '1'; for (var i = 0; i < 20000; i++) deep = '[' + deep + ']';
            var caught; try { JSON.parse(deep); } catch (e) { caught = e.name + ': ' + e.message; }
            log({ nested: [1, [2, [3]]] });
            return {
              sum: eval('1 + 2') + new Function('a', 'return a * 2')(4) + Function('return 1')(),
              parsed: JSON.parse('{"a":[[1]]}').a[0][0],
              joined: [1, [2, 3]].join('-') + String([4, [5]]),
              functions: (function () {} instanceof Function) && eval instanceof Function && (function () {}).constructor === Function,
              messages: new RangeError('big').message + '|' + new TypeError('t').message + '|' + new SyntaxError('s').message,
              caught: caught
            };
            """);
        Assert.Equal("""{"sum":12,"parsed":1,"joined":"1-2,34,5","functions":true,"messages":"big|t|s","caught":"SyntaxError: JSON.parse: the text nests more than 256 levels deep"}""", result.ResultJson);
        Assert.Equal(["""{"nested":[1,[2,[3]]]}"""], result.Log);
    }

    [Fact]
    public void Nesting_within_the_bounds_parses_and_runs_from_a_caller_with_a_small_stack()
    {
        // 250 levels of each shape, called from a 1 MB thread: the caller only waits while the engine's own thread runs the script.
        string[] sources =
        [
            "return " + new string('(', 250) + "1" + new string(')', 250) + ";",
            "return " + new string('!', 250) + "1;",
            "return 1" + string.Concat(Enumerable.Repeat(" + 1", 250)) + ";",
            "return " + new string('[', 250) + new string(']', 250) + ".length;",
            "// a comment with ((((( and a string ')))))(((((\n" + string.Concat(Enumerable.Repeat("if (1) ", 120)) + "return 2;",
        ];
        var results = new string[sources.Length];
        var thread = new Thread(() =>
        {
            for (var i = 0; i < sources.Length; i++)
            {
                results[i] = Run(sources[i]).ResultJson ?? "null";
            }
        }, 1024 * 1024);
        thread.Start();
        thread.Join();
        Assert.Equal(["1", "true", "251", "1", "2"], results);
        Assert.Null(ScriptSandbox.CheckSyntax("var s = '" + new string('(', 300) + "'; /* " + new string('[', 300) + " */ return s.length;"));

        // Parentheses leave no level in the syntax tree: 8,000 of them parse (on the parse thread's stack) and run flat.
        Assert.Equal("1", Run("return " + new string('(', 8_000) + "1" + new string(')', 8_000) + ";").ResultJson);

        // Arrays nested 256 deep still join (each level goes through toString and join).
        Assert.Equal("\"1\"", Run("var d = 1; for (var i = 0; i < 255; i++) d = [d]; return String(d);").ResultJson);

        // Function converts its arguments once: an object's toString cannot show the check one text and the parse another.
        Assert.Equal("[1,1]", Run("var n = 0; var f = Function({ toString: function () { n++; return 'return 1'; } }); return [f(), n];").ResultJson);
    }

    [Fact]
    public void Runtime_error_reports_the_script_line_and_column()
    {
        var error = Fails("var a = 1;\nvar b = 2;\n  var c = input.missing.deeper;");
        Assert.Equal(ScriptErrorKind.Runtime, error.Kind);
        Assert.Equal(3, error.Line);
        Assert.Contains("TypeError", error.Message, StringComparison.Ordinal);
        Assert.Contains("line 3", error.Message, StringComparison.Ordinal);

        var thrown = Fails("throw new Error('boom');");
        Assert.Equal(1, thrown.Line);
        Assert.Equal(1, thrown.Column);
        Assert.Contains("Error: boom", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Result_over_the_cap_is_refused()
    {
        var options = new ScriptingOptions { MaxResultChars = 1000 };
        var error = Fails("var s = ''; for (var i = 0; i < 200; i++) { s += 'xxxxxxxxxx'; } return s;", options);
        Assert.Equal(ScriptErrorKind.TooLarge, error.Kind);
    }

    [Fact]
    public void Host_function_failure_can_be_caught_or_fails_the_script()
    {
        var flaky = new FlakyModule(int.MaxValue);
        var caught = Run("try { flaky.fail(); return 'no'; } catch (e) { return e.message; }", "{}", null, flaky);
        Assert.Equal("\"flaky.fail failed: always fails\"", caught.ResultJson);
        var error = Fails("flaky.fail();", null, flaky);
        Assert.Equal(ScriptErrorKind.HostFunction, error.Kind);
        Assert.Contains("always fails", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Globals_do_not_leak_between_executions()
    {
        Run("leaked = 42; Object.prototype.polluted = true;");
        Assert.Equal("[\"undefined\",\"undefined\"]", Run("return [typeof leaked, typeof ({}).polluted];").ResultJson);
    }

    private static ScriptResult RunOn(ScriptSandbox sandbox, string source) =>
        sandbox.Run(new ScriptRequest(source, new Dictionary<string, string> { ["input"] = "{}", ["vars"] = "{}" }, Context, null, ["vars"]));

    [Fact]
    public void A_reused_engine_carries_nothing_from_one_run_to_the_next()
    {
        var sandbox = new ScriptSandbox(new ScriptingOptions());
        string[] attacks =
        [
            "leaked = 42;",
            "this.leaked = 42;",
            "(0, eval)('var leaked = 42;');",
            "Function('return this')().leaked = 42;",
            "Object.prototype.polluted = true; Array.prototype.polluted = true;",
            "Object.defineProperty(Object.prototype, 'polluted', { value: true });",
            "Math.max = function () { return 'polluted'; }; JSON.stringify = null; parseInt = null;",
            "Array.prototype.push.polluted = true; Object.keys.polluted = true;",
            "Object.prototype.toString = function () { return 'polluted'; };",
            "Error.prototype.message = 'polluted';",
            "vars.polluted = true; input.polluted = true; log.polluted = true;",
        ];
        foreach (var attack in attacks)
        {
            try
            {
                RunOn(sandbox, attack);
            }
            catch (ScriptException)
            {
                // Refused outright is fine too.
            }

            var probe = RunOn(sandbox, """
                return [typeof leaked, typeof ({}).polluted, typeof [].polluted, Math.max(1, 2), typeof JSON.stringify, typeof parseInt,
                  typeof [].push.polluted, typeof Object.keys.polluted, String({}), new Error('m').message, typeof vars.polluted,
                  typeof input.polluted, typeof log.polluted];
                """);
            Assert.True("[\"undefined\",\"undefined\",\"undefined\",2,\"function\",\"function\",\"undefined\",\"undefined\",\"[object Object]\",\"m\",\"undefined\",\"undefined\",\"undefined\"]"
                == probe.ResultJson, $"after '{attack}': {probe.ResultJson}");
        }
    }

    [Fact]
    public void Engines_are_reused_while_runs_leave_nothing_behind_and_dropped_when_they_do()
    {
        var sandbox = new ScriptSandbox(new ScriptingOptions());
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("3", RunOn(sandbox, "var x = 1; vars.y = 2; return x + vars.y;").ResultJson);
        }

        Assert.Equal(1, sandbox.EnginesCreated);
        RunOn(sandbox, "leaked = 1;");
        RunOn(sandbox, "return 1;");
        Assert.Equal(2, sandbox.EnginesCreated);
        Assert.Throws<ScriptException>(() => RunOn(sandbox, "throw new Error('x');"));
        RunOn(sandbox, "return 1;");
        Assert.Equal(3, sandbox.EnginesCreated);
    }

    [Fact]
    public void Limits_are_reset_before_every_run_on_a_reused_engine()
    {
        var sandbox = new ScriptSandbox(new ScriptingOptions { MaxStatements = 1000 });
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal("600", RunOn(sandbox, "var n = 0; for (var i = 0; i < 300; i++) { n += 2; } return n;").ResultJson);
        }

        Assert.Equal(1, sandbox.EnginesCreated);
        Assert.Equal(ScriptErrorKind.StatementLimit, Assert.Throws<ScriptException>(() => RunOn(sandbox, "while (true) { }")).Kind);
    }

    [Fact]
    public void Common_overrides_on_objects_still_work_with_frozen_built_ins()
    {
        var sandbox = new ScriptSandbox(new ScriptingOptions());
        var result = RunOn(sandbox, """
            var e = new Error(); e.message = 'm'; e.name = 'Custom';
            var o = {}; o.toString = function () { return 'mine'; }; o.valueOf = function () { return 7; };
            function P() {} P.prototype.toString = function () { return 'p'; };
            return [e.message, e.name, String(e), String(o), o + 1, String(new P())];
            """);
        Assert.Equal("[\"m\",\"Custom\",\"Custom: m\",\"mine\",8,\"p\"]", result.ResultJson);
    }

    [Theory]
    [InlineData("var o = {}; o.valueOf = Number.bind(null, o); return +o;", "a bound function")]
    [InlineData("var o = {}; o.toString = String.bind(null, o); return '' + o;", "a bound function")]
    [InlineData("var o = {}; o.toString = Error.bind(null, o); return '' + o;", "a bound function")]
    [InlineData("var o = {}; o.toString = Function.bind(null, o); return '' + o;", "a bound function")]
    [InlineData("var o = {}; o.toString = RegExp.bind(null, o); return '' + o;", "a bound function")]
    [InlineData("var o = {}; o.toJSON = JSON.stringify.bind(null, o); return JSON.stringify(o);", "stringify")]
    public void A_bound_function_that_recurses_ends_with_a_range_error_not_a_crash(string source, string reached)
    {
        // Jint's bind called the constructor directly, which converted the object again: no statement, no script function, no
        // wrapped built-in, until the stack overflowed and the process ended (second review).
        Assert.Contains($"RangeError: {reached}: {NestError}", Fails(source).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Log_and_host_functions_bound_as_toJSON_end_without_a_crash()
    {
        // log(o) serializes o, whose toJSON logs o again: it overflowed the stack. The innermost log finds the nesting too deep and
        // writes [unserializable]; the outer ones get undefined from toJSON.
        var logged = Run("var o = {}; o.toJSON = log.bind(null, o); log(o); return 1;");
        Assert.Equal("1", logged.ResultJson);
        Assert.Equal("[unserializable] ", logged.Log[0]);

        var failed = Fails("var o = {}; o.toJSON = echo.text.bind(null, o); return echo.text(o);", null, new EchoModule());
        Assert.Contains("RangeError: echo.text: " + NestError, failed.Message, StringComparison.Ordinal);
    }

    private sealed class EchoModule : IScriptHostModule
    {
        public string Name => "echo";

        public IReadOnlyDictionary<string, Delegate> CreateFunctions(ScriptCallContext context) =>
            new Dictionary<string, Delegate> { ["text"] = new Func<string, string>(text => text) };
    }

    [Fact]
    public async Task A_run_that_does_not_stop_is_given_up_on_and_calls_no_host_function_after_its_deadline()
    {
        // A host function that waits (a database call on a locked row) held its caller for as long as it lasted: Run waited for the
        // script thread without a bound. Given up on, the run fails; its thread calls nothing more once the wait ends.
        using var release = new ManualResetEventSlim();
        var module = new WaitingModule(release);
        var sandbox = new ScriptSandbox(new ScriptingOptions
        {
            TimeoutInterval = TimeSpan.FromMilliseconds(200), AbandonRunAfter = TimeSpan.FromMilliseconds(300), MaxAbandonedRuns = 1,
        });
        ScriptRequest Request(string source) => new(source, new Dictionary<string, string>(), Context, [module]);

        var started = System.Diagnostics.Stopwatch.StartNew();
        var error = Assert.Throws<ScriptException>(() => sandbox.Run(Request("hold.wait(); hold.after(); return 1;")));
        Assert.Equal(ScriptErrorKind.Timeout, error.Kind);
        Assert.Contains("did not stop within 300 ms more (AbandonRunAfter)", error.Message, StringComparison.Ordinal);
        Assert.InRange(started.Elapsed.TotalSeconds, 0.45, 10);
        Assert.Equal((1, 1L), (sandbox.AbandonedRunning, sandbox.AbandonedTotal));

        // While MaxAbandonedRuns runs go on, no other starts.
        var refused = Assert.Throws<ScriptException>(() => sandbox.Run(Request("hold.after(); return 2;")));
        Assert.Equal(ScriptErrorKind.Unavailable, refused.Kind);
        Assert.Contains("1 runs given up on are still running (MaxAbandonedRuns 1)", refused.Message, StringComparison.Ordinal);

        release.Set(); // the host function returns; the script thread meets its deadline at the next call, and ends
        await RuntimeTests.WaitUntilAsync(() => sandbox.AbandonedRunning == 0);
        Assert.Equal(0, module.AfterCalls);
        Assert.Equal("3", sandbox.Run(Request("return 3;")).ResultJson);
        Assert.Equal("4", sandbox.Run(Request("hold.after(); return 4;")).ResultJson);
        Assert.Equal(1, module.AfterCalls);

        Assert.Throws<ArgumentOutOfRangeException>(() => new ScriptSandbox(new ScriptingOptions { MaxAbandonedRuns = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ScriptSandbox(new ScriptingOptions { AbandonRunAfter = TimeSpan.Zero }));

        // The caller's wait is TimeoutInterval + AbandonRunAfter: one near TimeSpan.MaxValue overflowed in every Run.
        Assert.Throws<ArgumentOutOfRangeException>(() => new ScriptSandbox(new ScriptingOptions { TimeoutInterval = TimeSpan.MaxValue }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ScriptSandbox(new ScriptingOptions { AbandonRunAfter = TimeSpan.FromDays(2) }));
        Assert.Equal("1", new ScriptSandbox(new ScriptingOptions { TimeoutInterval = ScriptingOptions.MaxWait, AbandonRunAfter = ScriptingOptions.MaxWait })
            .Run(new ScriptRequest("return 1;", new Dictionary<string, string>(), Context)).ResultJson);
    }

    private sealed class WaitingModule(ManualResetEventSlim release) : IScriptHostModule
    {
        private int afterCalls;

        public int AfterCalls => Volatile.Read(ref afterCalls);

        public string Name => "hold";

        public IReadOnlyDictionary<string, Delegate> CreateFunctions(ScriptCallContext context) => new Dictionary<string, Delegate>
        {
            ["wait"] = new Func<bool>(() => release.Wait(TimeSpan.FromSeconds(60))),
            ["after"] = new Action(() => Interlocked.Increment(ref afterCalls)),
        };
    }

    [Fact]
    public void Every_object_a_script_can_reach_from_the_built_ins_is_frozen_and_no_run_sees_another_runs_data()
    {
        // The originals behind Object.prototype.toString/valueOf/toLocaleString and Error.prototype.toString (served by getters) were
        // not frozen: one run gave toString a 'call' that recorded what later runs on the engine passed to it (seventh review).
        var sandbox = new ScriptSandbox(new ScriptingOptions());
        ScriptResult RunOn(string source) => sandbox.Run(new ScriptRequest(source, new Dictionary<string, string>(), Context));
        var stash = RunOn("""
            var stash = [], caught = [];
            try { Object.defineProperty(Object.prototype.toString, 'call', { value: function (v) { stash.push(JSON.stringify(v)); return '[object Array]'; } }); } catch (e) { caught.push(e.name); }
            try { Object.prototype.valueOf.stash = stash; } catch (e) { caught.push(e.name); }
            return caught;
            """);
        Assert.Equal("""["TypeError"]""", stash.ResultJson);
        Assert.Equal("[true,null]", RunOn("return [Object.prototype.toString.call({ apiKey: 'secret' }) === '[object Object]', Object.prototype.valueOf.stash === undefined ? null : 1];").ResultJson);
        Assert.Equal(1, sandbox.EnginesCreated); // the same engine: the second run would have seen the first's

        Assert.Equal("[]", RunOn("""
            var seen = [], open = [];
            function walk(o, path, depth) {
              if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.indexOf(o) >= 0 || depth > 8) return;
              seen.push(o);
              if (!Object.isFrozen(o)) open.push(path);
              var names = Object.getOwnPropertyNames(o);
              for (var i = 0; i < names.length; i++) {
                var d = Object.getOwnPropertyDescriptor(o, names[i]);
                if ('value' in d) { walk(d.value, path + '.' + names[i], depth + 1); continue; }
                walk(d.get, path + '.get ' + names[i], depth + 1);
                walk(d.set, path + '.set ' + names[i], depth + 1);
                try { walk(o[names[i]], path + '.' + names[i], depth + 1); } catch (e) { }
              }
            }
            var globals = Object.getOwnPropertyNames(this);
            for (var i = 0; i < globals.length; i++) if (globals[i] !== 'log') walk(this[globals[i]], globals[i], 0);
            return seen.length > 200 ? open : ['only ' + seen.length + ' objects walked'];
            """).ResultJson);
    }

    [Fact]
    public void Inputs_nested_deeper_than_JSON_parse_allows_are_refused_before_parsing()
    {
        // Jint's JSON parser is quadratic in depth and ran before the deadline: 2 million levels (4 MiB) took 199 s (seventh review).
        var deep = new string('[', 1_000_000) + new string(']', 1_000_000);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var error = Assert.Throws<ScriptException>(() => Run("return 1;", deep));
        Assert.Equal(ScriptErrorKind.TooLarge, error.Kind);
        Assert.Equal("script input 'input' nests arrays and objects more than 256 levels deep, the most scripts take", error.Message);
        Assert.InRange(started.Elapsed.TotalSeconds, 0, 5);
        Assert.Equal("256", Run("var d = 0; for (var x = input; x instanceof Array; x = x[0]) d++; return d;",
            new string('[', 256) + "\"[[[\"" + new string(']', 256)).ResultJson); // brackets inside strings do not count
    }

    [Fact]
    public void Bound_functions_keep_every_argument_and_work_with_new_and_instanceof()
    {
        Assert.Equal("[1,1,3]", Run("function f(a, b, c) { return [a, b, c]; } return f.bind(null, 1)(1, 3);").ResultJson); // Jint dropped the second 1
        Assert.Equal("[5,true,true,1,\"x\"]", Run("""
            function F(a, b) { this.s = a + b; }
            var G = F.bind(null, 2);
            var g = new G(3);
            var self = function () { return this.v; }.bind({ v: 'x' });
            return [g.s, g instanceof F, g instanceof G, G.length, self()];
            """).ResultJson);
        Assert.Contains("TypeError: a bound function whose target is not a constructor cannot be used with new",
            Fails("var f = Math.max.bind(null); return new f();").Message, StringComparison.Ordinal);
        Assert.Contains("TypeError: Function.prototype.bind: this is not a function", Fails("return Function.prototype.bind.call({}, null);").Message, StringComparison.Ordinal);

        // instanceof asks a bound function's target, which may be bound too: one reduce makes a chain of any length, without a
        // statement per level (2.7 million levels took 15 s to make; a longer chain overflows the stack), so it counts as built-ins nest.
        Assert.Contains("RangeError: instanceof a bound function: built-in methods nest into each other more than 1,024 deep", Run("""
            var a = []; for (var i = 0; i < 2000; i++) a.push(0);
            var g = a.reduce(Function.prototype.call.bind(Function.prototype.bind), function () {});
            try { return ({}) instanceof g; } catch (e) { return String(e); }
            """).ResultJson, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_takes_array_likes_up_to_65536_arguments()
    {
        Assert.Equal("5", Run("return Math.max.apply(null, { length: '2', 0: 1, 1: 5 });").ResultJson); // a host error in Jint's own
        Assert.Equal("65535", Run("var a = []; a.length = 65536; for (var i = 0; i < 65536; i += 4096) a[i] = i; a[65535] = 65535; return Math.max.apply(null, a.join(',').split(',').map(Number));").ResultJson);
        Assert.Contains("RangeError: Function.prototype.apply: 65,537 arguments", Fails("var a = []; a.length = 65537; return Math.max.apply(null, a);").Message, StringComparison.Ordinal);
        Assert.Equal("0", Run("return (function () { return arguments.length; }).apply(null, { length: 4294967296 });").ResultJson); // ES5 ToUint32: 2^32 is 0
        Assert.Contains("RangeError: Function.prototype.apply: 1,000,000,000 arguments; RuleFlow scripts pass at most 65,536",
            Fails("return Array.apply(null, { length: 1e9 }).length;").Message, StringComparison.Ordinal); // Jint's took 11 GB in 60 s
        Assert.Contains("TypeError: Function.prototype.apply: an array-like whose length is a getter or an object",
            Fails("return Math.max.apply(null, { get length() { return 1; } });").Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("var a = []; a.length = 4294967295; return a.indexOf(1);", "indexOf", "4,294,967,295")]
    [InlineData("var a = []; a.length = 4294967295; a.forEach(function () {}); return 1;", "forEach", "4,294,967,295")]
    [InlineData("var a = []; a.length = 2147483647; a.sort(); return 1;", "sort", "2,147,483,647")]
    [InlineData("var a = []; a.length = 600000; return a.concat(a).length;", "concat", "1,200,000")]
    [InlineData("return Array.prototype.lastIndexOf.call({ length: 1e7 }, 1);", "lastIndexOf", "10,000,000")]
    public void Array_methods_refuse_arrays_longer_than_MaxArrayLength(string source, string method, string length)
    {
        // Jint walks every index up to the length, holes too, without checking the deadline: indexOf and forEach ran for minutes,
        // sort ended the process (a 2-billion-element copy: out of memory).
        var failed = Fails(source);
        Assert.Contains($"RangeError: Array.prototype.{method}: an array of {length} elements; RuleFlow scripts' built-ins take at most 1,048,576 (MaxArrayLength)",
            failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MaxArrayLength_is_an_option_and_arrays_within_it_work()
    {
        var small = new ScriptingOptions { MaxArrayLength = 10 };
        Assert.Equal("[10,\"1,2,3\",[1,2,3]]", Run("var a = [1,2,3,4,5,6,7,8,9,10]; return [a.length, a.slice(0, 3).join(), a.slice(0, 3).sort()];", "{}", small).ResultJson);
        Assert.Contains("RangeError: Array.prototype.indexOf: an array of 11 elements", Fails("return [1,2,3,4,5,6,7,8,9,10,11].indexOf(1);", small).Message, StringComparison.Ordinal);
        Assert.Contains("RangeError: the result holds an array of 11 elements", Fails("var a = []; a.length = 11; return a;", small).Message, StringComparison.Ordinal);
        Assert.Equal("options.MaxArrayLength", Assert.Throws<ArgumentOutOfRangeException>(() => new ScriptSandbox(new ScriptingOptions { MaxArrayLength = 0 })).ParamName);
    }

    [Fact]
    public void Join_and_sort_check_the_deadline_inside_one_call()
    {
        // Jint's join was quadratic (400,001 holes took 39 s in one call, and the run then ended with the timeout at its next
        // statement) and did not check the timeout inside. Within a 1 s timeout the sandbox's join of 400,001 holes takes ~0.2 s.
        Assert.Equal("400000", Run("return new Array(400001).join('1').length;", "{}", new ScriptingOptions { TimeoutInterval = TimeSpan.FromSeconds(1) }).ResultJson);
        var loose = new ScriptingOptions { MaxArrayLength = int.MaxValue, TimeoutInterval = TimeSpan.FromMilliseconds(300) };
        var started = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(ScriptErrorKind.Timeout, Fails("var a = []; a.length = 2000000000; return a.join('').length;", loose).Kind);
        Assert.InRange(started.Elapsed.TotalSeconds, 0.3, 30); // it ends at its deadline, not after 2 billion elements

        // A sort without a comparison function checks the deadline too (Jint's own would stop only at the statement after the sort).
        Assert.Equal(ScriptErrorKind.Timeout, Fails("var a = JSON.parse('[' + new Array(1000000).join('7,') + '7]'); a.sort(); return a.length;", loose).Kind);
    }

    [Fact]
    public async Task Multiline_regex_literals_with_a_dollar_are_built()
    {
        // Jint puts \r? before each $ of a multiline literal, but its loop never moved past a $ at the start or after a backslash:
        // /\$/m never finished building (the run hung past any timeout), and [$] became a class that matched "?" (fifth review).
        var run = Task.Run(() => Run("""
            return [/\$/m.test('a$'), /$/m.test('a'), /a[$]/m.test('a?'), /a[$]/m.test('a$'), /a\\$/m.test('a\\'), /^b$/m.test('a\r\nb\r\nc'),
              eval('/$/m').test('x'), /x$/.source];
            """).ResultJson);
        Assert.Equal("[true,true,false,true,true,true,true,\"x$\"]", await run.WaitAsync(TimeSpan.FromSeconds(30))); // TimeoutException: it hung
        Assert.Equal("false", Run("return /[]$]/m.test('(');").ResultJson); // ']' first in a class is a member, as .NET reads it
    }

    [Fact]
    public void A_number_literal_too_wide_for_Jints_parser_is_a_syntax_error()
    {
        // Jint's parser converted hex literals to 64 and octal ones to 32 bits without a check: an OverflowException left Run (it
        // ended a probe's process) and the definition check (sixth review).
        foreach (var source in new[] { "return 0xffffffffffffffffffff;", "var a = 1;\nreturn 07777777777777777777777777;" })
        {
            var failed = Fails(source);
            Assert.Equal(ScriptErrorKind.Syntax, failed.Kind);
            Assert.Contains("a number literal is too large for Jint 2.10.4's parser", failed.Message, StringComparison.Ordinal);
            Assert.NotNull(ScriptSandbox.CheckSyntax(source));
        }

        Assert.Equal(2, Fails("var a = 1;\nreturn 07777777777777777777777777;").Line);
        Assert.StartsWith("\"SyntaxError: eval: a number literal is too large", Run("try { return eval('0xfffffffffffffffffffff'); } catch (e) { return String(e); }").ResultJson, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ParseFloat_and_parseInt_read_any_text_in_one_pass()
    {
        // Jint's parseFloat raised to the exponent one step at a time with an int counter: '1e-2147483647' never returned, '1e400'
        // was a host error; its parseInt parsed the text again without its last character for each non-digit from the end:
        // 262,144 characters took 10.4 s and 1.6 GB (sixth review).
        var run = Task.Run(() => Run("""
            var z = 'z'; for (var i = 0; i < 18; i++) z += z;
            return [parseFloat('1e-2147483647'), parseFloat('0e2147483647'), parseFloat('1e400'), parseFloat('  -1.5e3xyz'), parseFloat('.5'),
              parseFloat('-.5e-1'), parseFloat('-Infinityx'), parseFloat('x'), parseFloat('1e'), parseFloat('\u00a0\u2028 7'), 1 / parseFloat('-0'),
              parseInt('1' + z), parseInt('  0x1F'), parseInt('08'), parseInt('-12px'), parseInt('ff', 16), parseInt('0x', 16), parseInt('z', 37),
              parseInt('11', 2), parseInt(''), parseInt('7', 0), 1 / parseInt('-0'), parseInt('Z', 36)].map(String);
            """).ResultJson);
        Assert.Equal("""["0","0","Infinity","-1500","0.5","-0.05","-Infinity","NaN","1","7","-Infinity","1","31","8","-12","255","NaN","NaN","3","NaN","7","-Infinity","35"]""",
            await run.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void Replace_counts_what_it_inserts_and_expands_patterns_as_before()
    {
        // a.replace(/(?:)/g, '$`') of 32,768 characters built 537 million (2.2 GB) in one call (sixth review).
        Assert.Contains("RangeError: String.prototype.replace makes a string of more than 33,554,432 characters",
            Fails("var a = 'a'; for (var i = 0; i < 15; i++) a += a; return a.replace(/(?:)/g, '$`').length;").Message, StringComparison.Ordinal);
        Assert.Contains("RangeError: String.prototype.replace makes a string of more than 33,554,432 characters",
            Fails("var a = 'a'; for (var i = 0; i < 15; i++) a += a; return a.replace(/(?:)/g, function () { return a; }).length;").Message, StringComparison.Ordinal);
        Assert.Equal("""["a[bac$]c","a<1>b<2>","abb13c","$2$1$0","a$b$","a0|cba","x-y"]""", Run("""
            return ['abc'.replace('b', "[$&$`$'$$]"), 'a1b2'.replace(/(\d)/g, '<$1>'), 'abc'.replace(/(b)/, function (m, p, o, s) { return m + p + o + s.length; }),
              'x'.replace(/x/, '$2$1$0'), 'aXbX'.replace(/x/gi, '$'), 'abc'.replace(/(a)(b)(c)/, '$10|$3$2$1'), 'x_y'.replace('_', { toString: function () { return '-'; } })];
            """).ResultJson);
    }

    [Fact]
    public void String_indexOf_and_lastIndexOf_are_linear_for_long_search_texts()
    {
        // Jint's lastIndexOf compared at every place: 262,144 characters against 131,073 took 14.3 s in one call (sixth review).
        var started = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal("[-1,-1]", Run("""
            var a = 'a'; for (var i = 0; i < 18; i++) a += a;
            var b = 'a'; for (i = 0; i < 17; i++) b += b; b += 'b';
            return [a.lastIndexOf(b), a.indexOf(b)];
            """, "{}", new ScriptingOptions { TimeoutInterval = TimeSpan.FromSeconds(60) }).ResultJson);
        Assert.InRange(started.Elapsed.TotalSeconds, 0, 5);

        // ES5.1 §15.5.4.7-8 positions, by .NET's search (up to 256 characters) and by Knuth-Morris-Pratt (longer).
        Assert.Equal("[2,304,304,2,2,-1,-1,4,1,1,3,3,-1,0,0,-1,0]", Run("""
            var p = ''; for (var i = 0; i < 300; i++) p += String.fromCharCode(97 + (i * 7) % 26);
            var s = 'xx' + p + 'yy' + p + 'zz';
            return [s.indexOf(p), s.lastIndexOf(p), s.indexOf(p, 3), s.lastIndexOf(p, 303), s.lastIndexOf(p, 2), s.lastIndexOf(p, 1), s.indexOf(p, 305),
              'abcabc'.lastIndexOf('bc'), 'abcabc'.lastIndexOf('bc', 3), 'abc'.lastIndexOf('', 1), 'abc'.lastIndexOf('', 9), 'abc'.indexOf('', 9),
              'abc'.lastIndexOf('c', -5), 'abc'.lastIndexOf('a', NaN), 'aXa'.indexOf('a', -3), ''.lastIndexOf('a'), ''.indexOf('')];
            """, "{}", new ScriptingOptions { MaxStatements = 10_000 }).ResultJson);
    }

    [Fact]
    public void Split_by_a_long_text_is_linear_and_follows_ES5()
    {
        // .NET's search compares at every place a long separator could match, and Jint's split searched again: these two splits took
        // 66 s (seventh review). A separator of more than 256 characters is found by Knuth-Morris-Pratt.
        var started = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal("[1,524288]", Run("""
            var a = 'a'; for (var i = 0; i < 21; i++) a += a;
            var b = 'a'; for (i = 0; i < 19; i++) b += b; b += 'b';
            var parts = a.split(b); return [parts.length, a.split(b)[0].length / 4];
            """, "{}", new ScriptingOptions { TimeoutInterval = TimeSpan.FromSeconds(120) }).ResultJson);
        Assert.InRange(started.Elapsed.TotalSeconds, 0, 5);

        // The same parts as a short separator's (ES5.1 §15.5.4.14).
        Assert.Equal("[true,true,true,true,true,true,true]", Run("""
            var p = ''; for (var i = 0; i < 300; i++) p += String.fromCharCode(97 + (i * 7) % 26);
            var s = 'xx' + p + 'yy' + p + p + 'zz' + p;
            var r = s.split(p);
            return [r.length === 5 && r[0] === 'xx' && r[1] === 'yy' && r[2] === '' && r[3] === 'zz' && r[4] === '',
              s.split(p, 2).join('|') === 'xx|yy', s.split(p, 0).length === 0, ''.split(p).length === 1 && ''.split(p)[0] === '',
              p.split(p).join('|') === '|', 'abc'.split(p)[0] === 'abc', s.replace(p, '#') === 'xx#yy' + p + p + 'zz' + p];
            """, "{}", new ScriptingOptions { MaxStatements = 100_000 }).ResultJson);
    }

    [Fact]
    public void Patterns_built_at_run_time_are_bounded_and_RegExp_stays_RegExp()
    {
        // .NET builds a regex in time quadratic in its alternatives, in one call: 'x'.search of a 1.57-million-character pattern took
        // 21 s, far past the timeout (seventh review). Every way a script builds a pattern from text is bounded at 32,768 characters.
        var started = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal("""["SyntaxError: RegExp: the pattern is 1,572,866 characters long; RuleFlow scripts build patterns of at most 32,768 (building one takes time that grows with the square of its length, in one call)",5,true]""", Run("""
            var p = new Array(262145).join('ab|cd|') + 'ef', errors = [];
            var ways = [function () { return new RegExp(p); }, function () { return RegExp(p, 'g'); }, function () { return 'x'.search(p); },
              function () { return 'x'.match(p); }, function () { return new (/x/.constructor)(p); }];
            for (var i = 0; i < ways.length; i++) { try { ways[i](); } catch (e) { errors.push(String(e)); } }
            return [errors[0], errors.length, errors[4] === errors[0]];
            """).ResultJson);
        Assert.InRange(started.Elapsed.TotalSeconds, 0, 5);
        Assert.Equal("[true,true,true,true,1,[\"b\"],\"/a|b/g\",true,2]", Run("""
            var q = new Array(5462).join('ab|cd|') + 'ef'; // 32,762 characters: built
            return [/x/ instanceof RegExp, new RegExp('a|b') instanceof RegExp, Object.getPrototypeOf(/x/).constructor === RegExp,
              RegExp.prototype.constructor === RegExp, 'xab'.search(new RegExp('a|b')), 'abc'.match('b'), String(RegExp('a|b', 'g')),
              new RegExp(q).test('ef'), RegExp.length];
            """).ResultJson);
    }

    [Fact]
    public void One_match_makes_captures_of_at_most_MaxBuiltStringChars()
    {
        // Captures inside lookaheads overlap: 16 of them over 33 million characters made 1.18 GB of strings in one exec (seventh review).
        const string Long = """var s = 'a'; for (var i = 0; i < 22; i++) s += s; var re = new RegExp(new Array(17).join('(?=[\\s\\S]([\\s\\S]*))')); """;
        Assert.Contains("RangeError: RegExp.prototype.exec (the captures of one match) makes a string of more than 33,554,432 characters",
            Fails(Long + "return re.exec(s).length;").Message, StringComparison.Ordinal);
        Assert.Contains("RangeError: RegExp.prototype.exec (the captures of one match)", Fails(Long + "return s.match(re).length;").Message, StringComparison.Ordinal);
        Assert.Contains("RangeError: String.prototype.replace (the captures of one match)",
            Fails(Long + "return s.replace(re, function () { return ''; }).length;").Message, StringComparison.Ordinal);
        Assert.Contains("RangeError: String.prototype.replace (the captures of one match)",
            Fails(Long + "return s.replace(new RegExp(re.source, 'g'), 'x').length;").Message, StringComparison.Ordinal);
        Assert.Equal("""[17,"aaa",4194303,["a","a",null],["ab","a"],2,["b",null],3]""", Run(Long + """
            var small = re.exec(s.substring(0, 4));
            var g = /(a)?b/g, first = g.exec('abb'), afterFirst = g.lastIndex, second = g.exec('abb');
            return [re.exec(s.substring(0, 1000)).length, small[16], (/(a*)$/).exec(s.substring(1))[1].length, /(a)(x)?/.exec('ab'), first, afterFirst, second, g.lastIndex];
            """, "{}", new ScriptingOptions { TimeoutInterval = TimeSpan.FromSeconds(20) }).ResultJson);
    }

    [Fact]
    public void Encoders_concat_and_the_names_of_a_String_object_count_before_they_build()
    {
        // One call made one long string or list from a long string (seventh review): encodeURIComponent of 33.5 million '\uffff'
        // made 302 million characters (1.3 GB), concat of 30 copies ran out of memory, getOwnPropertyNames(new String(s)) took 25 s.
        const string Long = "var s = '\uffff'; for (var i = 0; i < 22; i++) s += s; "; // 4,194,304 characters
        Assert.Contains("RangeError: encodeURIComponent makes a string of more than 33,554,432 characters",
            Fails(Long + "return encodeURIComponent(s).length;").Message, StringComparison.Ordinal);
        Assert.Contains("RangeError: encodeURI makes a string of more than 33,554,432 characters", Fails(Long + "return encodeURI(s).length;").Message, StringComparison.Ordinal);
        Assert.Contains("RangeError: String.prototype.concat makes a string of more than 33,554,432 characters",
            Fails(Long + "return s.concat(s, s, s, s, s, s, s, s).length;").Message, StringComparison.Ordinal);
        Assert.Contains("RangeError: Object.getOwnPropertyNames: a String object of 4,194,304 characters has a name for each",
            Fails(Long + "return Object.getOwnPropertyNames(new String(s)).length;").Message, StringComparison.Ordinal);

        // Within the bounds, the same results as before, each argument converted once.
        Assert.Equal("""["a%20b%2F%C3%A9%F0%9F%98%80","a%20b/%C3%A9",33554430,"ab1[object Object]null",1,["0","1","length"],["x"],"x"]""", Run("""
            var n = 0, o = { toString: function () { n++; return 'x'; } };
            var t = '\uffff'; for (var i = 0; i < 22; i++) t += t;
            return [encodeURIComponent('a b/\u00e9\ud83d\ude00'), encodeURI('a b/\u00e9'), encodeURIComponent(t.substring(0, 3728270)).length,
              'a'.concat('b', 1, {}, null), (function () { 'y'.concat(o); return n; })(), Object.getOwnPropertyNames(new String('ab')), Object.getOwnPropertyNames({ x: 1 }),
              encodeURIComponent(o).substring(0, 1)];
            """).ResultJson);
    }

    [Fact]
    public void Replace_by_a_text_finds_it_as_indexOf_does_and_follows_ES5()
    {
        // Jint's replace searched for a text pattern at every place it could start: 524,290 characters in 4 million took 37 s in one
        // call, past the run's abandonment (eighth review).
        var started = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal("[4194304,4194304]", Run("""
            var s = 'ab'; for (var i = 0; i < 21; i++) s += s;
            var h = 'ab'; for (i = 0; i < 18; i++) h += h;
            return [s.replace(h + 'bb', 'x').length, s.replace(h + 'bb', function () { return 'y'; }).length];
            """).ResultJson);
        Assert.InRange(started.Elapsed.TotalSeconds, 0, 5);
        Assert.Equal("""["a-c","a[b]c","abc","b0abc|bc","xabab","$b",[1,2],"xb"]""", Run("""
            var order = [], r = 'ab'.replace({ toString: function () { order.push(1); return 'a'; } }, { toString: function () { order.push(2); return 'x'; } });
            return ['abc'.replace('b', '-'), 'abc'.replace('b', '[$&]'), 'abc'.replace('x', '-'), 'abc'.replace('a', function (m, at, all) { return 'b' + at + all + '|'; }),
              'abab'.replace('', 'x'), 'ab'.replace('a', '$$'), order, r];
            """).ResultJson);
    }

    [Fact]
    public void A_pattern_with_a_long_run_of_literal_characters_is_refused_where_it_is_built()
    {
        // .NET finds a pattern's literal run with one search that never checks the match timeout: a run of 32,766 over 33 million
        // characters took 10.5 s, and 4 minutes with 'i' (eighth review). Runs of more than 256 are refused, at run time and in literals.
        Assert.Equal("""["SyntaxError","SyntaxError","SyntaxError",true,true,true]""", Run("""
            var h = new Array(258).join('a'), e = [];
            try { new RegExp(h); } catch (x) { e.push(x.name); }
            try { 'x'.search(h + 'b'); } catch (x) { e.push(x.name); }
            try { 'x'.match(new Array(129).join('\\.') + new Array(130).join('\\-')); } catch (x) { e.push(x.name); }
            var ok = new RegExp(new Array(257).join('a')), classes = new RegExp(new Array(300).join('[a]')), escapes = new RegExp(new Array(300).join('\\d'));
            return e.concat([ok.test(new Array(257).join('a')), classes.test(new Array(300).join('a')), escapes.test(new Array(300).join('1'))]);
            """).ResultJson);
        // Escapes are one literal each to .NET, joined with their neighbours: they neither break a run nor count their digits.
        Assert.Equal("""["SyntaxError","SyntaxError","SyntaxError",true,true]""", Run("""
            var e = [], a252 = new Array(253).join('a');
            try { new RegExp(a252 + '\\u0061' + new Array(5).join('a')); } catch (x) { e.push(x.name); }
            try { new RegExp(a252 + '\\x61\\n\\t\\cJ\\0'); } catch (x) { e.push(x.name); }
            try { new RegExp(new Array(130).join('\\u0061') + new Array(130).join('\\.')); } catch (x) { e.push(x.name); }
            return e.concat([new RegExp('\\u00e9' + new Array(254).join('a')).test('\u00e9' + new Array(254).join('a')),
              new RegExp(a252 + '\\d' + a252).test(a252 + '7' + a252)]);
            """).ResultJson);

        var literal = Fails("return /" + new string('a', 300) + "/.test('a');");
        Assert.Equal(ScriptErrorKind.Syntax, literal.Kind);
        Assert.Contains("a regular expression literal: the pattern has a run of 300 literal characters", literal.Message, StringComparison.Ordinal);
        Assert.Equal((1, 8), (literal.Line, literal.Column));
        Assert.Contains("run of 300 literal", ScriptSandbox.CheckSyntax("var f = eval;\nreturn /" + new string('b', 300) + "/;")!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RegExp_test_checks_the_captures_as_exec_does_and_a_lone_surrogate_is_escaped_in_JSON()
    {
        // Jint's test made every capture: 40 nested groups over 16 million characters took 1.35 GB (eighth review).
        const string Long = """var s = 'a'; for (var i = 0; i < 24; i++) s += s; s = 'b' + s.slice(1); var p = 'a*'; for (i = 0; i < 40; i++) p = '(' + p + ')'; """;
        Assert.Contains("RangeError: RegExp.prototype.exec (the captures of one match) makes a string of more than 33,554,432 characters",
            Fails(Long + "return new RegExp('b' + p).test(s);").Message, StringComparison.Ordinal);
        Assert.Equal("[true,false,true,2]", Run(Long + "var g = /a/g; return [new RegExp('b' + p).test(s.substring(0, 1000)), /x/.test('ab'), g.test('ba'), g.lastIndex];").ResultJson);

        // A lone surrogate was written raw: a result no JSON parser reads (the workflow step failed as a crash).
        var result = Run("""return ['\ud800', 'a\udc00b', '\ud83d\ude00', JSON.stringify('\udbff')];""");
        Assert.Equal("""["\ud800","a\udc00b","😀","\"\\udbff\""]""", result.ResultJson);
        Assert.NotNull(System.Text.Json.Nodes.JsonNode.Parse(result.ResultJson!));
    }

    [Fact]
    public void RegExp_prototype_is_an_empty_pattern()
    {
        // Jint made RegExp.prototype a RegExp with no pattern: using it as one was a host error no catch saw (sixth review).
        Assert.Equal("""[[""],"/(?:)/",["a","b","c"],true,"TypeError: RegExp.prototype.toString: this is not a RegExp"]""", Run("""
            var e; try { RegExp.prototype.toString.call({}); } catch (x) { e = String(x); }
            return [RegExp.prototype.exec('x'), String(RegExp.prototype), 'abc'.split(RegExp.prototype), RegExp.prototype.test('x'), e];
            """).ResultJson);
    }

    [Fact]
    public void Sort_keeps_holes_as_holes_after_undefined()
    {
        // Jint's sort wrote every index back, holes as undefined (fourth review); ES5.1 sorts holes last and keeps them holes.
        Assert.Equal("""[3,false,1,3,6,"3|2|1|||",false,false,true,5,"x",false,"1,2,3"]""", Run("""
            var a = [3,,1]; a.sort();
            var b = [3, undefined, , 1, , 2]; b.sort(function (x, y) { return y - x; });
            var c = []; c.length = 5; c[4] = 'x'; c.sort();
            return [a.length, 2 in a, a[0], a[1], b.length, b.join('|'), 4 in b, 5 in b, 3 in b, c.length, c[0], 1 in c, [1,2,3].sort().join()];
            """).ResultJson);
    }

    [Fact]
    public void JSON_stringify_follows_the_standard_where_Jints_did_not()
    {
        var result = Run("""
            var e = [];
            return [
              JSON.stringify([e, e]),
              JSON.stringify({ a: [], b: { c: 1 } }, null, 2),
              JSON.stringify({ a: 1, b: 2, c: 3 }, ['c', 'a', 'c']),
              JSON.stringify({ a: 1 }, { x: 'a' }),
              JSON.stringify({ a: 1, b: 'x' }, function (k, v) { return typeof v === 'number' ? v * 2 : v; }),
              JSON.stringify([undefined, function () {}, NaN, new Number(3), new String('s'), new Boolean(false)]),
              JSON.stringify({ u: undefined, f: function () {}, d: new Date(0) }),
              JSON.stringify('\u0001"\\\n'),
              JSON.stringify([1, [2]], null, '--'),
              String(JSON.stringify(undefined)),
              JSON.stringify((function () { var b = new Boolean(false); b.valueOf = function () { return 'changed'; }; return [b]; })())
            ];
            """).ResultJson;
        Assert.Equal("""
            ["[[],[]]","{\n  \"a\": [],\n  \"b\": {\n    \"c\": 1\n  }\n}","{\"c\":3,\"a\":1}","{\"a\":1}","{\"a\":2,\"b\":\"x\"}","[null,null,null,3,\"s\",false]","{\"d\":\"1970-01-01T00:00:00.000Z\"}","\"\\u0001\\\"\\\\\\n\"","[\n--1,\n--[\n----2\n--]\n]","undefined","[false]"]
            """, result);
        Assert.Contains("TypeError: JSON.stringify: the value contains itself (a cyclic reference has no JSON form)",
            Fails("var a = []; a.push(a); return JSON.stringify(a);").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void JSON_parse_follows_the_standard_where_Jints_did_not()
    {
        // Jint's ignored the reviver and took trailing commas; '01' was "Unexpected token {0}" (fourth review).
        Assert.Equal("""
            [{"a":10,"b":[10,20,{"c":30}]},{"b":2},["0","0","1","1",""],"s"]
            """.Trim(), Run("""
            var seen = [];
            JSON.parse('[1,[2,3]]', function (k, v) { seen.push(k); return v; });
            return [JSON.parse('{"a":1,"b":[1,2,{"c":3}]}', function (k, v) { return typeof v === 'number' ? v * 10 : v; }),
              JSON.parse('{"a":1,"b":2}', function (k, v) { return k === 'a' ? undefined : v; }), seen, JSON.parse(' "s" ')];
            """).ResultJson);
        foreach (var (text, at) in new[] { ("[1,]", "line 1, byte 4"), ("{\"a\":1,}", "line 1, byte 8"), ("01", "line 1, byte 2"), ("{\"a\":\n  nope}", "line 2, byte 4") })
        {
            Assert.Equal($"\"SyntaxError: JSON.parse: the text is not JSON at {at} of that line\"",
                Run("try { JSON.parse(input.text); } catch (e) { return String(e); }", System.Text.Json.JsonSerializer.Serialize(new { text })).ResultJson);
        }

        // Raw U+2028 and U+2029 are allowed in JSON strings; Jint's parser refused them (fifth review).
        Assert.Equal("4", Run("return JSON.parse('\"a\\u2028b\\u2029\"').length;").ResultJson);

        // A reviver that puts its holder under a key not yet walked makes a cycle: the walk stops at the depth bound.
        Assert.Contains("RangeError: JSON.parse: the reviver walks values nested more than 256 levels deep",
            Fails("return JSON.parse('{\"a\":1,\"b\":2}', function (k, v) { if (k === 'a') { this.b = this; } return v; });").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Number_toString_with_a_radix_takes_numbers_past_2_to_the_63()
    {
        // Jint cast to a 64-bit integer, which saturates, then indexed its digits out of bounds: a host error (fourth review).
        Assert.Equal("""["10000000000000000",198,"-1000000000000000000000000000000000000000000000000000000000000","ff","0.1","1121202011211211122211100012101112","123"]""",
            Run("return [Math.pow(2, 64).toString(16), (1e308).toString(36).length, (-Math.pow(2, 60)).toString(2), (255).toString(16), (0.5).toString(2), Math.pow(2, 53).toString(3), (123).toString()];").ResultJson);

        // The radix is converted once: a valueOf that gave 10, then 16, reached Jint's broken path (fifth review).
        Assert.Equal("\"18446744073709552000\"", Run("var c = 0; return Math.pow(2, 64).toString({ valueOf: function () { return c++ ? 16 : 10; } });").ResultJson);
    }

    [Fact]
    public void Split_makes_at_most_MaxArrayLength_parts()
    {
        // Jint's split made one element per part in one call (~1.3 µs each): 's.split("")' of 33 million characters took 45 s and 6 GB.
        Assert.Equal("""[["a","b","c"],["a","b"],["a",",","b",",","c"],["a","b"],["a,b,c"],["a","b","c"],["x"]]""",
            Run("var s = 'a,b,c'; return [s.split(','), s.split(',', 2), s.split(/(,)/), 'a1b2c'.split(/\\d/, 2), s.split(), s.split(',', -1), 'x'.split(/(?:)/)];").ResultJson);
        const string Long = "var s = 'a,'; for (var i = 0; i < 21; i++) s += s; ";
        Assert.Contains("RangeError: String.prototype.split: 2,097,153 parts; RuleFlow scripts' built-ins make arrays of at most 1,048,576 (MaxArrayLength)",
            Fails(Long + "return s.split(',').length;").Message, StringComparison.Ordinal);
        Assert.Contains("RangeError: String.prototype.split: 4,194,304 parts", Fails(Long + "return s.split('').length;").Message, StringComparison.Ordinal);
        Assert.Contains("RangeError: String.prototype.split: more than 1,048,576 parts", Fails(Long + "return s.split(/,/).length;", new ScriptingOptions { TimeoutInterval = TimeSpan.FromSeconds(20) }).Message, StringComparison.Ordinal); // ~1 s of matching
        Assert.Equal("1000", Run(Long + "return s.split(',', 1000).length;").ResultJson);

        // Captures inside a lookahead overlap: the parts of 32,768 characters added up to 537 million (1.2 GB; fifth review).
        Assert.Contains("RangeError: String.prototype.split makes a string of more than 33,554,432 characters",
            Fails("var s = new Array(32769).join('a'); return s.split(/(?=(a*))/).length;").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Split_by_a_regular_expression_follows_ES5_and_checks_the_deadline_between_matches()
    {
        // ES5.1 §15.5.4.14's results (Jint's dropped the last part after an empty match: 'ab'.split(/x*/) was ["a"]).
        Assert.Equal("""[["a","b"],[],[""],["","a",""],["a","1",null,"b","2",null,"c"],["a","b","c"],["a","1"],["A",null,"B","bold","/","B","and",null,"CODE","coded","/","CODE",""],["a","b"],["","b"],["",""],["abc"]]""",
            Run("""
                return ['ab'.split(/x*/), ''.split(/x*/), ''.split(/a/), ',a,'.split(/,/), 'a1b2c'.split(/(\d)|(x)/), 'abc'.split(new RegExp('')),
                  'a1b2c'.split(/(\d)/, 2), 'A<B>bold</B>and<CODE>coded</CODE>'.split(/<(\/)?([^<>]+)>/), 'ab'.split(/a*?/), 'ab'.split(/a*/),
                  'x'.split(/x/), 'abc'.split(/$/)];
                """).ResultJson);

        // A pattern that looks ahead to the end is tried at every place over the whole rest of the text: 262,144 characters took
        // 19.5 s in Jint's split, one call the timeout did not interrupt. The sandbox's checks the deadline before each match.
        var started = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(ScriptErrorKind.Timeout, Fails("var s = 'a'; for (var i = 0; i < 18; i++) s += s; return s.split(/(?=a*$)/).length;",
            new ScriptingOptions { TimeoutInterval = TimeSpan.FromSeconds(1) }).Kind);
        Assert.InRange(started.Elapsed.TotalSeconds, 1, 6);
    }

    [Fact]
    public void IndexOf_and_lastIndexOf_check_the_deadline_between_elements()
    {
        // Comparing two strings of equal length costs their length: 4,096 references to a string of 16,777,216 characters, searched
        // for another of that length, took 10 s in Jint's indexOf, one call the timeout did not interrupt.
        const string Setup = "var s = 'x'; for (var i = 0; i < 24; i++) s += s; var t = s.slice(1) + 'y'; var a = [s]; for (var j = 0; j < 12; j++) a = a.concat(a); ";
        foreach (var search in new[] { "a.indexOf(t)", "a.lastIndexOf(t)" })
        {
            var started = System.Diagnostics.Stopwatch.StartNew();
            Assert.Equal(ScriptErrorKind.Timeout, Fails(Setup + "return " + search + ";", new ScriptingOptions { TimeoutInterval = TimeSpan.FromSeconds(1) }).Kind);
            Assert.InRange(started.Elapsed.TotalSeconds, 1, 6);
        }

        // ES5.1 §15.4.4.14-15: strict equality, holes skipped, the start position counted from the end when negative.
        Assert.Equal("[1,3,-1,-1,3,1,-1,2,-1,3,-1,1,1]", Run("""
            var a = [1, 2, , 2, NaN, '2'];
            return [a.indexOf(2), a.indexOf(2, 2), a.indexOf(NaN), a.indexOf(undefined), a.lastIndexOf(2), a.lastIndexOf(2, 2),
              a.lastIndexOf(2, -6), Array.prototype.indexOf.call('abc', 'c'), [].indexOf(1), a.indexOf(2, -3), a.indexOf(2, 9),
              a.indexOf(2, -100), Array.prototype.lastIndexOf.call({ length: 2, 1: 'x' }, 'x')];
            """).ResultJson);
    }

    [Fact]
    public void Prototype_chains_are_at_most_1024_objects_long()
    {
        // Jint looks a property up the chain by recursion: a missing property of an object at the end of a chain of 1.6 million (two
        // reduce(Object.create) over an array of 800,000) overflowed a 72 MB stack, which ends the process; on the default 256 MB stack
        // ~2.8 million did.
        var options = new ScriptingOptions { ThreadStackBytes = 72 * 1024 * 1024, TimeoutInterval = TimeSpan.FromSeconds(30), MaxStatements = 1_000_000 };
        var failed = Fails("var a = []; for (var i = 0; i < 800000; i++) a.push(0); var c = a.reduce(Object.create, {}); c = a.reduce(Object.create, c); return c.missing;", options);
        Assert.Contains("RangeError: Object.create: the object would have a prototype chain of more than 1,024 objects, the most RuleFlow scripts make", failed.Message, StringComparison.Ordinal);

        // new makes chains too, one object at a time; the error is one the script can catch, and ordinary inheritance works.
        Assert.Equal("""[1022,"RangeError: new: the object would have a prototype chain of more than 1,024 objects, the most RuleFlow scripts make",5,true,1024,"RangeError"]""", Run("""
            function F() { this.x = 1; }
            var o = {}, made = 0, err = null;
            try { for (var i = 0; i < 2000; i++) { F.prototype = o; o = new F(); made++; } } catch (e) { err = String(e); }
            function P(a) { this.a = a; } P.prototype.get = function () { return this.a; };
            function Q(a) { P.call(this, a); } Q.prototype = Object.create(P.prototype);
            var q = new Q(5), c = {};
            for (var k = 0; k < 1022; k++) c = Object.create(c);
            var n = 0; for (var p = c; p; p = Object.getPrototypeOf(p)) n++;
            var more; try { Object.create(c); more = 'made'; } catch (e) { more = e.name; }
            return [made, err, q.get(), q instanceof P, n, more];
            """, "{}", new ScriptingOptions { MaxStatements = 1_000_000 }).ResultJson);
    }

    [Fact]
    public void Array_methods_bound_the_lookups_along_a_prototype_chain()
    {
        // Each element missing from an array-like is looked up along the whole chain: 1,048,576 of them at the end of a chain of
        // 1,000 objects took 6.5 s in one indexOf (10,000 objects: 62 s).
        const string Chain = "var c = {}; for (var i = 0; i < 1000; i++) c = Object.create(c); var o = Object.create(c); ";
        var options = new ScriptingOptions { MaxStatements = 1_000_000 };
        Assert.Contains("RangeError: Array.prototype.indexOf: 1,048,576 elements read through prototype chains of up to 1,024 objects make 1,051,721,728 lookups; RuleFlow scripts' built-ins make at most 16,777,216 (16 × MaxArrayLength)",
            Fails(Chain + "o.length = 1048576; return Array.prototype.indexOf.call(o, 1);", options).Message, StringComparison.Ordinal);
        Assert.Equal("-1", Run(Chain + "o.length = 16000; return Array.prototype.indexOf.call(o, 1);", "{}", options).ResultJson);

        // A length ES5 takes modulo 2^32 and Jint's methods saturate is refused: the method would walk another length (fifth review).
        foreach (var length in new[] { "-1", "4294967297", "1.5" })
        {
            Assert.Contains($"TypeError: Array.prototype.indexOf: an array-like whose length is not a whole number from 0 to 4,294,967,295 ({length}) is not supported",
                Fails($"return Array.prototype.indexOf.call({{ length: {length}, 0: 'a' }}, 'a');").Message, StringComparison.Ordinal);
        }

        Assert.Equal("[1,-1]", Run("return [Array.prototype.indexOf.call({ length: '2', 1: 'a' }, 'a'), Array.prototype.indexOf.call({ 0: 'a' }, 'a')];").ResultJson);

        // An array's own chain is 3 objects: the longest array the sandbox takes is walked.
        Assert.Equal("-1", Run("var a = []; a.length = 1048576; return a.indexOf(1);").ResultJson);
    }

    [Fact]
    public void An_allocation_NET_refuses_fails_the_run_and_the_sandbox_goes_on()
    {
        // Jint's sort copies the array first: 2,147,483,647 elements is past .NET's largest array, an OutOfMemoryException the
        // sandbox let through (it ended the probe's process). Within MaxArrayLength by default it is refused before; here it is raised.
        var sandbox = new ScriptSandbox(new ScriptingOptions { MaxArrayLength = int.MaxValue });
        var failed = Assert.Throws<ScriptException>(() => sandbox.Run(new ScriptRequest("var a = []; a.length = 2147483647; a.sort(); return 1;", new Dictionary<string, string>(), Context)));
        Assert.Equal(ScriptErrorKind.TooLarge, failed.Kind);
        Assert.Contains("the script asked for more memory than the process could give", failed.Message, StringComparison.Ordinal);
        Assert.Equal("2", sandbox.Run(new ScriptRequest("return 1 + 1;", new Dictionary<string, string>(), Context)).ResultJson);
    }

    [Fact]
    public void A_run_that_nears_the_end_of_its_stack_ends_with_a_recursion_error()
    {
        // The last line of the guards: within every other bound this run takes ~130 MB of stack (a toJSON bound to JSON.stringify
        // over data 250 deep). On a 72 MB stack, 64 MB of which are kept free, the check ends it; without the check it overflows the
        // stack and the test process ends.
        const string Deep = "var d = {}; var cur = d; for (var i = 0; i < 250; i++) { cur.a = {}; cur = cur.a; } cur.toJSON = JSON.stringify.bind(null, d); try { JSON.stringify(d); } catch (e) { return e.message; }";
        var failed = Fails(Deep, new ScriptingOptions { ThreadStackBytes = 72 * 1024 * 1024, TimeoutInterval = TimeSpan.FromSeconds(30) });
        Assert.Equal(ScriptErrorKind.Recursion, failed.Kind);
        Assert.Contains("the script nests too deeply for its stack (72 MB, of which 64 MB are kept free)", failed.Message, StringComparison.Ordinal);

        // On the default 256 MB stack the same run ends with the built-in nesting bound, which the script catches.
        Assert.Contains(NestError, Run(Deep, "{}", new ScriptingOptions { TimeoutInterval = TimeSpan.FromSeconds(30) }).ResultJson, StringComparison.Ordinal);
    }

    [Fact]
    public void A_global_match_that_can_match_empty_moves_on()
    {
        // Jint's match moved lastIndex on only after an empty match at 0: 'ab'.match(/x*/g) matched at 1 for ever (2 GB in 30 s).
        Assert.Equal("""[["","",""],["1","22"],null,["","","",""],"b",["",""]]""",
            Run("""return ["ab".match(/x*/g), "a1b22".match(/\d+/g), "abc".match(/z/g), "aaa".match(/a*?/g), "Ab".match(/b/i)[0], "x".match(/(?:)/g)];""").ResultJson);
        Assert.Contains("RangeError: String.prototype.match: more than 10 matches", Fails("return 'aaaaaaaaaaaa'.match(/a/g);", new ScriptingOptions { MaxArrayLength = 10 }).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Dates_far_from_1970_are_NaN_at_once_and_months_fold_into_years()
    {
        // Jint walked a year at a time from 1970 with an int counter: Date.UTC(3e9, 0) never ended; Date.UTC(1970, 100000) took 5.9 s.
        // It also read a NaN month as 0, and Date.UTC with one argument failed with a host error (ES5.1: NaN).
        Assert.Equal("""[true,915148800000,true,"NaN","NaN",true,"2019-12-15T00:00:00.000Z","2021-03-02T00:00:00.000Z","2023-02-15T00:00:00.000Z",true,"string",7,true,"NaN","NaN","NaN","NaN"]""",
            Run("""
                var e = new Date(Date.UTC(2020, 5, 15)); e.setUTCMonth(-1);
                var f = new Date(Date.UTC(2020, 5, 15)); f.setUTCMonth(14, 2);
                var g = new Date(Date.UTC(2020, 5, 15)); g.setUTCFullYear(2021, 25);
                return [Date.UTC(2020, 13, 1) === Date.UTC(2021, 1, 1), Date.UTC(99, 0), Date.UTC(2020, -1, 1) === Date.UTC(2019, 11, 1),
                  String(Date.UTC(3e9, 0)), String(new Date(3e9, 0).getTime()), Date.UTC(1970, 100000) === Date.UTC(10303, 4),
                  e.toISOString(), f.toISOString(), g.toISOString(), new Date(2020, 0) instanceof Date, typeof Date(), Date.length,
                  new Date(0).constructor === Date, String(new Date(2020, 1e10).getTime()),
                  String(Date.UTC(2020)), String(Date.UTC(2020, NaN)), String(new Date(2020, 0).setFullYear(2021, NaN))];
                """).ResultJson);
    }

    [Fact]
    public async Task Dates_are_computed_with_ES5_arithmetic_at_any_value()
    {
        // Jint's local setters converted through a loop over years from 1970 on an unclipped time: new Date(0).setDate(1e20) never
        // returned (Run waited for ever) and setMilliseconds(1e20) took 26 s (fourth review). Each is NaN at once now.
        var huge = Task.Run(() => Run("""
            var d = new Date(0);
            return [d.setDate(1e20), new Date(0).setMilliseconds(1e20), new Date(0).setSeconds(1e15, 1e15), new Date(0).setHours(1e13),
              new Date(0).setFullYear(2000, 0, 1e81), new Date(0).setDate(-1e81), new Date(2000, 0, 2147483647, 5).getTime()];
            """).ResultJson);
        Assert.Equal("[null,null,null,null,null,null,null]", await huge.WaitAsync(TimeSpan.FromSeconds(30))); // TimeoutException: it did not return

        // Before 1970 and outside years 1-9999: Jint's remainders went negative, its local getters failed with a host error before
        // year 1, and its text forms threw a RangeError with no message.
        Assert.Equal("""
            ["1969-12-31T00:00:00.000Z","1969-12-31T23:59:59.999Z",[999,59,1969,31,11,3],-62198755200000,-1,23,"+275760-09-13T00:00:00.000Z","-271821-04-20T00:00:00.000Z","Invalid Date",null,"2020-03-02T00:00:00.000Z","2020-01-01T00:00:00.000Z",null,["2000-02-29T13:45:30.123Z",2,0,101],"Thu Jan 01 1970 00:00:00 GMT"]
            """.Trim(), Run("""
            var m = new Date(Date.UTC(2020, 0, 31)); m.setMonth(1);
            var n = new Date(NaN); n.setFullYear(2020);
            var o = new Date(-1);
            return [new Date(-86400000).toISOString(), o.toISOString(),
              [o.getUTCMilliseconds(), o.getSeconds(), o.getFullYear(), o.getDate(), o.getMonth(), o.getDay()],
              new Date(-1, 0).getTime(), new Date(-62198755200000).getFullYear(), new Date(-62135596800001).getHours(),
              new Date(8.64e15).toISOString(), new Date(-8.64e15).toISOString(), String(new Date(NaN)), JSON.parse(JSON.stringify([new Date(NaN)]))[0],
              m.toISOString(), n.toISOString(), new Date(NaN).setHours(1),
              [new Date(2000, 1, 29, 13, 45, 30, 123).toISOString(), new Date(2000, 1, 29).getDay(), new Date(0).getTimezoneOffset(), new Date(1e12).getYear()],
              new Date(0).toUTCString()];
            """).ResultJson);
        // A setter reads the time value before it converts its arguments (ES5.1 §15.9.5, step 1; fifth review).
        Assert.Equal("[60000,null]", Run("""
            var d = new Date(0), n = new Date(NaN);
            return [d.setUTCMinutes({ valueOf: function () { d.setTime(5 * 3600000); return 1; } }),
              n.setUTCMinutes({ valueOf: function () { n.setTime(0); return 1; } })];
            """).ResultJson);
        Assert.Contains("RangeError: Date.prototype.toString: the year 10000 has no text form in RuleFlow scripts (years 1 to 9999 have)",
            Fails("return new Date(253402300800000).toString();").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Date_prototypes_own_time_cannot_be_set()
    {
        // Date.prototype is itself a Date, shared by every run on a pooled engine; freezing it does not cover its time value, so one
        // run's setTime was the next run's Date.prototype.getTime() (fourth review).
        var sandbox = new ScriptSandbox(new ScriptingOptions());
        foreach (var set in new[] { "Date.prototype.setTime(12345)", "Date.prototype.setFullYear.call(Date.prototype, 2001)", "Date.prototype.setYear(99)" })
        {
            var failed = Assert.Throws<ScriptException>(() => sandbox.Run(new ScriptRequest("return " + set + ";", new Dictionary<string, string>(), Context)));
            Assert.Contains("Date.prototype's own time cannot be set in RuleFlow scripts (every run shares it)", failed.Message, StringComparison.Ordinal);
        }

        Assert.Equal("null", sandbox.Run(new ScriptRequest("return Date.prototype.getTime();", new Dictionary<string, string>(), Context)).ResultJson);
    }

    [Fact]
    public void A_regex_literal_does_not_carry_what_one_run_set_on_it_into_the_next()
    {
        // Jint keeps a non-global regex literal's object on the parsed script, which a pooled engine keeps: the next run of the same
        // script saw this run's object (review).
        var sandbox = new ScriptSandbox(new ScriptingOptions());
        const string Source = "var r = /secret/; var seen = r.stash; r.stash = input.n; return seen === undefined ? 'clean' : 'leaked ' + seen;";
        for (var n = 0; n < 3; n++)
        {
            Assert.Equal("\"clean\"", sandbox.Run(new ScriptRequest(Source, new Dictionary<string, string> { ["input"] = $"{{\"n\":{n}}}" }, Context)).ResultJson);
        }

        Assert.Equal(1, sandbox.EnginesCreated); // the same engine ran all three
    }


    [Fact]
    public void A_regex_literal_passed_to_a_call_is_not_carried_into_the_next_run()
    {
        // Jint keeps the evaluated arguments of a call whose arguments are all literals on the call itself, a regex literal's object
        // among them: resetting the literal did not reach it, and id(/x/) was this run's object in the next run (fourth review).
        var sandbox = new ScriptSandbox(new ScriptingOptions());
        const string Source = "function id(r) { return r; } var r = id(/x/); var seen = r.leak; r.leak = input.n; return seen === undefined ? 'clean' : 'leaked ' + seen;";
        for (var n = 0; n < 3; n++)
        {
            Assert.Equal("\"clean\"", sandbox.Run(new ScriptRequest(Source, new Dictionary<string, string> { ["input"] = $"{{\"n\":{n}}}" }, Context)).ResultJson);
        }

        Assert.Equal(1, sandbox.EnginesCreated);
    }

    [Fact]
    public void A_global_object_made_non_extensible_is_not_pooled()
    {
        // Object.preventExtensions (or seal, freeze) of the global object kept its property count, so the engine was pooled, and the
        // next run's input and log could not be set: 'log is not defined' (fourth review).
        var sandbox = new ScriptSandbox(new ScriptingOptions());
        foreach (var freeze in new[] { "preventExtensions", "seal", "freeze" })
        {
            Assert.Equal("false", sandbox.Run(new ScriptRequest($"var g = Function('return this')(); Object.{freeze}(g); return Object.isExtensible(g);", new Dictionary<string, string>(), Context)).ResultJson);
            var next = sandbox.Run(new ScriptRequest("log('hi'); return input.n;", new Dictionary<string, string> { ["input"] = "{\"n\":7}" }, Context));
            Assert.Equal(("7", "hi"), (next.ResultJson, Assert.Single(next.Log)));
        }
    }

    [Fact]
    public void A_thrown_error_is_described_without_running_the_scripts_getters()
    {
        // The run is over when its error is described: a getter on the thrown error that threw made Run throw Jint's own exception,
        // which no caller catches (one that looped, Jint's statement-limit exception; fourth review).
        foreach (var getter in new[] { "throw new Error('x');", "for (;;) {}", "return g();" })
        {
            var failed = Fails($"function g() {{ {getter} }} var e = new RangeError('m'); Object.defineProperty(e, 'name', {{ get: g }}); throw e;");
            Assert.Equal(ScriptErrorKind.Runtime, failed.Kind);
            Assert.StartsWith("Error: m (script line 1", failed.Message, StringComparison.Ordinal); // the name a getter gives is not read
        }

        Assert.StartsWith("RangeError: m (script line 1", Fails("throw new RangeError('m');").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Failures_inside_Jint_that_a_script_cannot_catch_are_named_with_their_place()
    {
        // Jint 2.10.4 fails with a host exception on these (fourth review); the message says why and where instead of "script engine
        // error: The value is not a string".
        var thrown = Fails("function f() {\n  throw { code: 1 };\n}\ntry { f(); } catch (e) { return 'caught'; }");
        Assert.StartsWith("the script threw an object whose message is not a string (throw {} or throw { code: 1 }): Jint 2.10.4 cannot carry it out of a function", thrown.Message, StringComparison.Ordinal);
        Assert.Equal(2, thrown.Line);
        var empty = Fails("var a = [1];\nreturn a[''];");
        Assert.StartsWith("an array's property named '' (the empty string) was used", empty.Message, StringComparison.Ordinal);
        Assert.Equal(2, empty.Line);
    }

    [Fact]
    public void Strings_the_sandbox_builds_are_capped()
    {
        // 800 copies of a 2-million-character string joined took 3.3 GB; 700 of them serialized, 3 GB.
        const string Big = "var s = 'x'; for (var i = 0; i < 21; i++) s += s; ";
        Assert.Contains("RangeError: Array.prototype.join makes a string of more than 33,554,432 characters", Fails(Big + "return Array(801).join(s).length;").Message, StringComparison.Ordinal);
        Assert.Contains("RangeError: JSON.stringify: the value makes a string of more than 33,554,432 characters",
            Fails(Big + "var a = []; for (var j = 0; j < 20; j++) a.push(s); return JSON.stringify(a).length;").Message, StringComparison.Ordinal);
        Assert.Equal("31457326", Run(Big + "var a = []; for (var j = 0; j < 15; j++) a.push(s); return JSON.stringify(a).length;").ResultJson);
    }
}
