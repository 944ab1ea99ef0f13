using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace RuleFlow.Studio.Tests;

/// <summary>
/// RuleFlow Studio end to end: a real server on 127.0.0.1, Debian's Chromium headless, three users. Each test writes
/// screenshots of the screens it visits to TestResults/studio-screenshots.
/// </summary>
[Collection(StudioCollection.Name)]
public sealed class StudioTests(StudioServer studio, ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    static StudioTests()
    {
        SetDefaultExpectTimeout((float)Patience.TotalMilliseconds);
    }

    [Fact]
    public async Task Design_save_run_and_approve_a_workflow_with_a_compensation()
    {
        await studio.RunAsync("designer", async () =>
        {
            var page = await studio.SignedInPageAsync(StudioServer.AuthorKey);
            await page.GetByRole(AriaRole.Link, new() { Name = "New workflow" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "New workflow" })).ToBeVisibleAsync();

            // Three steps: the template's `start` (set), an approval, a script with a compensation.
            await page.Locator("#workflow-id").FillAsync("studio-e2e");
            await page.Locator("#workflow-input").FillAsync("schema:\n  type: object\n  required: [ip]\n  properties:\n    ip: { type: string }\n    attempts: { type: integer, minimum: 0 }\n");
            await page.GetByRole(AriaRole.Button, new() { Name = "Add approval step" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Step approval approval" })).ToBeVisibleAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "Add script step" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Step script script" })).ToBeVisibleAsync();
            await page.Locator("#step-script-compensate").FillAsync("script: |\n  log('undone');\n");

            // The server's checks land on the step they concern: a script that does not parse.
            await page.Locator("#step-script-script").FillAsync("return (;");
            await Expect(page.GetByTestId("step-problems")).ToContainTextAsync("WF1020");
            await Expect(page.GetByTestId("node-script")).ToContainTextAsync("⚠ 1");
            await studio.ScreenshotAsync(page, "01-designer-diagnostic");
            await page.Locator("#step-script-script").FillAsync("return { ip: input.ip };");
            await Expect(page.GetByTestId("step-problems")).ToHaveCountAsync(0);
            await Expect(page.Locator(".react-flow__edge.edge-compensation")).ToHaveCountAsync(1);
            await Expect(page.GetByTestId("node-undo script: script")).ToBeVisibleAsync();
            await Expect(page.GetByTestId("node-approval")).ToBeVisibleAsync();
            await studio.ScreenshotAsync(page, "01-designer");

            // The side panel's tabs follow the WAI-ARIA tab pattern: arrow keys move the selection and the focus.
            await page.GetByRole(AriaRole.Tab, new() { Name = "Properties" }).FocusAsync();
            await page.Keyboard.PressAsync("ArrowRight");
            var yamlTab = page.GetByRole(AriaRole.Tab, new() { Name = "YAML" });
            await Expect(yamlTab).ToHaveAttributeAsync("aria-selected", "true");
            await Expect(yamlTab).ToBeFocusedAsync();
            await Expect(page.GetByTestId("editor-yaml")).ToContainTextAsync("id: studio-e2e");
            await studio.ScreenshotAsync(page, "02-designer-yaml");

            await page.GetByRole(AriaRole.Button, new() { Name = "Save", Exact = true }).ClickAsync();
            await Expect(page.GetByTestId("designer-notice")).ToContainTextAsync("Saved studio-e2e version 1 to workflows/studio-e2e.yaml");
            var file = Path.Combine(studio.Server.ContentRoot, "workflows", "studio-e2e.yaml");
            Assert.True(File.Exists(file), $"{file} was not written");
            var yaml = await File.ReadAllTextAsync(file);
            output.WriteLine(yaml);
            Assert.Contains("kind: approval", yaml, StringComparison.Ordinal);
            Assert.Contains("compensate:", yaml, StringComparison.Ordinal);
            Assert.Contains("log('undone');", yaml, StringComparison.Ordinal);

            // Run it from the designer; it stops at the approval.
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "studio-e2e" })).ToBeVisibleAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "Run…" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Run studio-e2e" })).ToBeVisibleAsync();
            var dialog = page.GetByRole(AriaRole.Dialog);
            await dialog.GetByRole(AriaRole.Button, new() { Name = "Start", Exact = true }).ClickAsync();
            await Expect(dialog.GetByRole(AriaRole.Alert).First).ToContainTextAsync("ip is required"); // the form from the input schema
            await dialog.GetByLabel("ip").FillAsync("192.0.2.7");
            await dialog.GetByLabel("attempts").FillAsync("-1");
            await Expect(dialog.GetByRole(AriaRole.Alert).First).ToContainTextAsync("attempts must be at least 0");
            await dialog.GetByLabel("attempts").FillAsync("6");
            await studio.ScreenshotAsync(page, "03-run-dialog");
            await dialog.GetByRole(AriaRole.Button, new() { Name = "Start", Exact = true }).ClickAsync();
            await Expect(page.GetByTestId("run-state")).ToHaveTextAsync("waiting");
            await Expect(page.GetByTestId("node-approval")).ToHaveAttributeAsync("data-status", "waiting");
            await Expect(page.GetByTestId("node-start")).ToHaveAttributeAsync("data-status", "completed");
            var href = await page.GetByTestId("run-status").GetByRole(AriaRole.Link).GetAttributeAsync("href");
            var instanceId = href!.Split('/').Last();
            await studio.ScreenshotAsync(page, "03-run-from-designer-waiting");

            // Approve from the inbox as an approver.
            var approver = await studio.SignedInPageAsync(StudioServer.ApproverKey);
            await approver.GetByRole(AriaRole.Link, new() { Name = "Approvals" }).ClickAsync();
            var card = approver.Locator("li.card", new() { HasText = "studio-e2e" });
            await Expect(card).ToBeVisibleAsync();
            await card.GetByLabel("Comment").FillAsync("looks right");
            await studio.ScreenshotAsync(approver, "04-approvals-inbox");
            await card.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
            await Expect(approver.GetByTestId("approval-result")).ToContainTextAsync("Approved: studio-e2e");
            await Expect(card).ToHaveCountAsync(0);

            // What bob's role (approver only) may not do is not offered.
            await approver.GetByRole(AriaRole.Link, new() { Name = "Workflows" }).ClickAsync();
            await Expect(approver.GetByRole(AriaRole.Link, new() { Name = "block-source-ip" })).ToBeVisibleAsync();
            await Expect(approver.GetByRole(AriaRole.Link, new() { Name = "New workflow" })).ToHaveCountAsync(0);
            await approver.GetByRole(AriaRole.Link, new() { Name = "block-source-ip" }).ClickAsync();
            await Expect(approver.GetByTestId("node-approve")).ToBeVisibleAsync();
            await Expect(approver.GetByRole(AriaRole.Button, new() { Name = "Save", Exact = true })).ToHaveCountAsync(0);
            await Expect(approver.GetByRole(AriaRole.Button, new() { Name = "Run…" })).ToHaveCountAsync(0);
            await Expect(approver.GetByRole(AriaRole.Navigation, new() { Name = "Step kinds" })).ToHaveCountAsync(0);
            await Expect(approver.Locator("#workflow-id")).ToBeDisabledAsync();
            await studio.ScreenshotAsync(approver, "04-designer-read-only");

            // The designer that started it sees it complete (live), and so does the instance page.
            await Expect(page.GetByTestId("run-state")).ToHaveTextAsync("completed");
            await Expect(page.GetByTestId("node-script")).ToHaveAttributeAsync("data-status", "completed");
            await page.GotoAsync(studio.Url($"/studio/instances/{instanceId}"));
            await Expect(page.GetByTestId("instance-state")).ToHaveTextAsync("completed");
            await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Journal" })).ToContainTextAsync("approval.decided");
            await studio.ScreenshotAsync(page, "05-instance");
            var instance = await studio.GetJsonAsync(StudioServer.AuthorKey, $"api/instances/{instanceId}");
            Assert.Equal("completed", (string?)instance["state"]);
            Assert.Equal("192.0.2.7", (string?)instance["input"]?["ip"]);
            Assert.Equal(6, (int?)instance["input"]?["attempts"]);
        });
    }

    [Fact]
    public async Task A_non_approver_is_not_offered_the_decision_and_is_refused()
    {
        await studio.RunAsync("non-approver", async () =>
        {
            var (status, body) = await studio.PostAsync(StudioServer.AuthorKey, "api/instances",
                new { workflow = "block-source-ip", input = new { ip = "10.9.8.7", host = "web-1", attempts = 5 } });
            Assert.True(status == 201, body);
            var instanceId = (string)JsonNode.Parse(body)!["id"]!;
            string? approvalId = null;
            await studio.Server.WaitUntilAsync(async () =>
            {
                var pending = await studio.GetJsonAsync(StudioServer.AuthorKey, "api/approvals?state=pending");
                approvalId = pending["items"]!.AsArray().FirstOrDefault(a => (string?)a!["instanceId"] == instanceId)?["id"]?.GetValue<string>();
                return approvalId is not null;
            }, "the approval of block-source-ip");

            var page = await studio.SignedInPageAsync(StudioServer.NonApproverKey);
            await page.GetByRole(AriaRole.Link, new() { Name = "Approvals" }).ClickAsync();
            await Expect(page.GetByTestId("no-approvals")).ToContainTextAsync("Nothing waits for carol");
            await page.GetByRole(AriaRole.Tab, new() { Name = "All pending" }).ClickAsync();
            var card = page.GetByTestId($"approval-{approvalId}");
            await Expect(card).ToBeVisibleAsync();
            await Expect(card.GetByTestId("not-assignee")).ToBeVisibleAsync();
            await Expect(card.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToHaveCountAsync(0);
            await studio.ScreenshotAsync(page, "06-approvals-non-approver");

            // And the server refuses the decision itself.
            var (refused, problem) = await studio.PostAsync(StudioServer.NonApproverKey, $"api/approvals/{approvalId}/approve", new { comment = "me?" });
            Assert.True(refused is 403, $"{refused} {problem}");
            Assert.Contains("WF4030", problem, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task A_rule_error_is_shown_at_its_line_while_typing()
    {
        await studio.RunAsync("rules", async () =>
        {
            var page = await studio.SignedInPageAsync(StudioServer.AuthorKey);
            await page.GetByRole(AriaRole.Link, new() { Name = "Rules" }).ClickAsync();

            // The tests of a rule file run from the editor (kubernetes.ruletest needs no shared datasets).
            await page.GetByRole(AriaRole.Button, new() { Name = "kubernetes.rules", Exact = true }).ClickAsync();
            await Expect(page.GetByTestId("editor-ruleflow")).ToContainTextAsync("k8s.event");
            await page.GetByRole(AriaRole.Button, new() { Name = "Run tests" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Test results" })).ToContainTextAsync(new System.Text.RegularExpressions.Regex(@"Tests: [1-9]\d* passed, 0 failed"));
            await studio.ScreenshotAsync(page, "09-rules-tests");

            await page.GetByRole(AriaRole.Button, new() { Name = "ssh-bruteforce.rules", Exact = true }).ClickAsync();
            var editor = page.GetByTestId("editor-ruleflow");
            await Expect(editor).ToContainTextAsync("rule \"ssh-bruteforce\"");
            await Expect(page.GetByTestId("rule-diagnostics")).ToContainTextAsync("No problems.");

            // Line 12 becomes an unknown event type: `    oops == 5`.
            await editor.Locator(".view-lines").ClickAsync();
            await page.Keyboard.PressAsync("Control+Home");
            for (var i = 0; i < 10; i++)
            {
                await page.Keyboard.PressAsync("ArrowDown");
            }

            await page.Keyboard.PressAsync("End");
            await page.Keyboard.PressAsync("Enter");
            await page.Keyboard.PressAsync("Shift+Home");
            await page.Keyboard.TypeAsync("    oops == 5");
            var diagnostics = page.GetByTestId("rule-diagnostics");
            await Expect(diagnostics).ToContainTextAsync("line 12:5 RF2001");
            await Expect(editor.Locator(".squiggly-error").First).ToBeVisibleAsync();
            await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Save", Exact = true })).ToBeDisabledAsync();
            await studio.ScreenshotAsync(page, "07-rules-diagnostic");

            // Try an event: the explain output names the rule.
            await page.GetByRole(AriaRole.Button, new() { Name = "Explain" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.List, new() { Name = "Explanation" })).ToContainTextAsync("ssh-bruteforce");
            await studio.ScreenshotAsync(page, "08-rules-explain");
        });
    }

    [Fact]
    public async Task A_switch_case_added_in_the_panel_is_in_the_yaml_and_filled_from_the_palette()
    {
        await studio.RunAsync("switch-case", async () =>
        {
            var page = await studio.SignedInPageAsync(StudioServer.AuthorKey);
            await page.GetByRole(AriaRole.Link, new() { Name = "New workflow" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "New workflow" })).ToBeVisibleAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "Add switch step" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Step switch switch" })).ToBeVisibleAsync();
            await Expect(page.GetByLabel("Value of case 1")).ToHaveValueAsync("a");

            // A value the switch already has is refused inline; a new one is added with Enter.
            var newCase = page.GetByLabel("New case value");
            await newCase.FillAsync("a");
            await Expect(page.GetByTestId("switch-cases").GetByRole(AriaRole.Alert)).ToContainTextAsync("there is already a case");
            await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Add case" })).ToBeDisabledAsync();
            await newCase.FillAsync("big");
            await newCase.PressAsync("Enter");
            await Expect(page.GetByLabel("Value of case 2")).ToHaveValueAsync("big");
            await Expect(page.GetByTestId("switch-cases")).ToContainTextAsync("0 steps");
            // The server's checks run as for any edit: an empty case is WF1015 on the switch.
            await Expect(page.GetByTestId("step-problems")).ToContainTextAsync("WF1015");
            await studio.ScreenshotAsync(page, "03-designer-switch-cases");

            // The palette adds into the empty case.
            await page.GetByLabel("Add where").SelectOptionAsync("cases.1.steps");
            await page.GetByRole(AriaRole.Button, new() { Name = "Add set step" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Step set set" })).ToBeVisibleAsync();
            await Expect(page.GetByTestId("node-set")).ToBeVisibleAsync();
            await Expect(page.GetByRole(AriaRole.Tab, new() { Name = "Problems (0)" })).ToBeVisibleAsync();
            await studio.ScreenshotAsync(page, "03-designer-switch-case");

            await page.GetByRole(AriaRole.Tab, new() { Name = "YAML" }).ClickAsync();
            await Expect(page.GetByTestId("editor-yaml")).ToContainTextAsync("when: big");
            await Expect(page.GetByTestId("editor-yaml")).ToContainTextAsync("id: set");
            await studio.ScreenshotAsync(page, "03-designer-switch-case-yaml");
        });
    }

    [Fact]
    public async Task Every_screen_renders_at_1280x800()
    {
        await studio.RunAsync("screens", async () =>
        {
            var page = await studio.SignedInPageAsync(StudioServer.AuthorKey);
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Workflows" })).ToBeVisibleAsync();
            await Expect(page.GetByRole(AriaRole.Link, new() { Name = "block-source-ip" })).ToBeVisibleAsync();
            await studio.ScreenshotAsync(page, "10-workflows");

            await page.GetByRole(AriaRole.Link, new() { Name = "block-source-ip" }).ClickAsync();
            await Expect(page.GetByTestId("node-approve")).ToBeVisibleAsync();
            await Expect(page.Locator(".react-flow__edge.edge-compensation")).ToHaveCountAsync(2);

            // Keyboard: focus a node of the graph, Enter selects it and the property panel shows the step.
            await page.Locator(".react-flow__node[data-id='approve']").FocusAsync();
            await page.Keyboard.PressAsync("Enter");
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Step approve approval" })).ToBeVisibleAsync();
            await Expect(page.GetByLabel("assignees")).ToHaveValueAsync("role:approver");
            await studio.ScreenshotAsync(page, "11-designer-block-source-ip");

            await page.GetByRole(AriaRole.Link, new() { Name = "Instances" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Instances" })).ToBeVisibleAsync();
            await studio.ScreenshotAsync(page, "12-instances");

            // One event and one refused body, for the Events screen.
            using (var api = studio.Api(StudioServer.AuthorKey))
            {
                using var good = await api.PostAsync("api/events/ssh.auth", new StringContent(
                    "{\"timestamp\":\"2017-12-10T06:55:46Z\",\"host\":\"LabSZ\",\"src_ip\":\"1.2.3.4\",\"message\":\"Failed password for root\"}",
                    Encoding.UTF8, "application/json"));
                Assert.True(good.IsSuccessStatusCode, await good.Content.ReadAsStringAsync());
                using var bad = await api.PostAsync("api/events/ssh.auth", new StringContent("{not json", Encoding.UTF8, "application/json"));
                Assert.Equal(400, (int)bad.StatusCode);
            }

            await page.GetByRole(AriaRole.Link, new() { Name = "Events" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Dead letters" })).ToBeVisibleAsync();
            await Expect(page.GetByRole(AriaRole.List, new() { Name = "Event types" })).ToContainTextAsync("ssh.auth");
            await Expect(page.GetByRole(AriaRole.Table).First).ToContainTextAsync("1.2.3.4");
            await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Dead letters" })).ToContainTextAsync("RF5001");
            await studio.ScreenshotAsync(page, "13-events");

            // Signing out forgets the key.
            await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
            await Expect(page.GetByLabel("API key")).ToBeVisibleAsync();
            await studio.ScreenshotAsync(page, "00-sign-in");
        });
    }
}
