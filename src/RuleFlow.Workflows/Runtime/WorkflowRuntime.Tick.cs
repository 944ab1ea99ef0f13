using System.Globalization;
using System.Text.Json.Nodes;
using RuleFlow.Scripting;
using RuleFlow.Workflows.Definitions;
using RuleFlow.Workflows.Steps;

namespace RuleFlow.Workflows.Runtime;

/// <summary>The interpreter: one <see cref="Tick"/> changes one instance and becomes one commit.</summary>
public sealed partial class WorkflowRuntime
{
    /// <summary>
    /// Everything one step (or one decision, timer, event) changes in an instance, collected while the runtime works on
    /// the instance's execution state; <see cref="Build"/> turns it into ONE <see cref="InstanceCommit"/>.
    /// </summary>
    private sealed class Tick
    {
        private readonly WorkflowRuntime runtime;

        public Tick(WorkflowRuntime runtime, WorkflowDefinition definition, InstanceRecord instance, DateTimeOffset now)
        {
            this.runtime = runtime;
            Definition = definition;
            Instance = instance;
            Now = now;
            // In place, no copy: the caller owns the record (it was committed, or just read) and drops it when this tick's
            // commit fails; stores copy what they are given.
            Exec = instance.Execution;
            Outputs = instance.StepOutputs;
            Vars = instance.Variables;
            Journal = new JournalWriter(instance, now);
            Error = instance.Error;
        }

        public WorkflowDefinition Definition { get; }

        public InstanceRecord Instance { get; }

        public DateTimeOffset Now { get; }

        public ExecutionState Exec { get; }

        public JsonObject Outputs { get; }

        public JsonObject Vars { get; set; }

        public JournalWriter Journal { get; }

        public string? Error { get; set; }

        public bool Changed { get; set; }

        public InstanceState? EndState { get; private set; }

        public JsonNode? Output { get; private set; }

        public List<OutboxRecord> Outbox { get; } = [];

        public List<ApprovalInfo> NewApprovals { get; } = [];

        public List<ApprovalInfo> UpdatedApprovals { get; } = [];

        public List<Guid> CancelledApprovals { get; } = [];

        public List<TimerRecord> NewTimers { get; } = [];

        public List<Guid> DeletedTimers { get; } = [];

        public List<BookmarkRecord> NewBookmarks { get; } = [];

        public List<BookmarkRecord> DeletedBookmarks { get; } = [];

        public List<IncidentRecord> Incidents { get; } = [];

        public List<IncidentRecord> ResolvedIncidents { get; } = [];

        public List<(InstanceRecord Instance, IReadOnlyList<JournalRecord> Journal)> NewInstances { get; } = [];

        public List<Guid> CancelChildren { get; } = [];

        public InstanceCommit Build()
        {
            var exec = Exec;
            InstanceState state;
            if (EndState is { } end)
            {
                state = end;
            }
            else if (exec.Halted || exec.Frames.Exists(f => f.Status == FrameStatus.Failed))
            {
                state = InstanceState.Failed;
            }
            else if (exec.Undo.Count > 0 && exec.AfterUndo != "resume")
            {
                state = InstanceState.Compensating;
            }
            else if (exec.Undo.Count > 0 || exec.Frames.Exists(f => f.Status == FrameStatus.Ready))
            {
                state = InstanceState.Running;
            }
            else if (exec.Frames.Count > 0)
            {
                state = InstanceState.Waiting;
            }
            else
            {
                state = InstanceState.Running;
            }

            var waits = exec.Frames.Where(f => f.Wait is not null).Select(f => f.Wait!.Describe).ToList();
            var current = state == InstanceState.Compensating && exec.Undo.Count > 0
                ? exec.Undo[0].StepId
                : exec.Frames.Where(f => f.Status != FrameStatus.Children).Select(StepIdOf).FirstOrDefault(s => s is not null);
            var root = exec.Find("0");
            var next = Instance with
            {
                State = state,
                Execution = exec,
                StepOutputs = Outputs,
                Variables = Vars,
                StepIndex = root?.Index ?? Definition.Steps.Count,
                CurrentStep = EndState is null ? current : null,
                WaitingFor = state == InstanceState.Waiting && waits.Count > 0 ? string.Join("; ", waits) : null,
                Error = Error,
                Output = Output ?? Instance.Output,
                UpdatedAt = Now,
                EndedAt = EndState is null ? null : Now,
                JournalSequence = Journal.Sequence,
            };
            return new InstanceCommit(next)
            {
                PreviousState = Instance.State,
                Journal = Journal.Entries,
                Outbox = Outbox,
                NewApprovals = NewApprovals,
                UpdatedApprovals = UpdatedApprovals,
                CancelledApprovals = CancelledApprovals,
                NewTimers = NewTimers,
                DeletedTimers = DeletedTimers,
                NewBookmarks = NewBookmarks,
                DeletedBookmarks = DeletedBookmarks,
                Incidents = Incidents,
                ResolvedIncidents = ResolvedIncidents,
                NewInstances = NewInstances,
            };
        }

        public string? StepIdOf(Frame frame) =>
            Definition.Sequences.TryGetValue(frame.Sequence, out var list) && frame.Index < list.Count ? list[frame.Index].Id : null;

        public StepDefinition? StepOf(Frame frame) =>
            Definition.Sequences.TryGetValue(frame.Sequence, out var list) && frame.Index < list.Count ? list[frame.Index] : null;

        /// <summary>Ends the instance; a child instance also notifies its caller through a durable timer.</summary>
        public void End(InstanceState state, string kind, JsonObject? data, JsonNode? output = null)
        {
            Changed = true;
            foreach (var frame in Exec.Frames.ToList())
            {
                Withdraw(frame);
            }

            Exec.Frames.Clear();
            Journal.Add(null, kind, data);
            EndState = state;
            Output = output;
            if (Instance.ParentInstanceId is { } parent)
            {
                NewTimers.Add(new TimerRecord(IdempotencyKeys.ToGuid(Instance.Id.ToString("D") + ":done"), parent, CallDoneTimer, Instance.ParentFrame ?? "0", Now,
                    new JsonObject { ["frame"] = Instance.ParentFrame, ["child"] = Instance.Id.ToString("D") }));
            }
        }

        /// <summary>Removes a frame and its descendants, withdrawing their waits (approvals cancelled, timers and bookmarks deleted, children cancelled).</summary>
        public void Withdraw(Frame frame)
        {
            Changed = true;
            if (frame.Wait is { } wait)
            {
                switch (wait.Kind)
                {
                    case "approval":
                        CancelledApprovals.Add(Guid.Parse(wait.Id));
                        break;
                    case "event":
                        DeletedBookmarks.Add(new BookmarkRecord(Guid.Parse(wait.Id), Instance.Id, frame.Id, StepIdOf(frame) ?? string.Empty, wait.Name ?? string.Empty, null, null, Now));
                        break;
                    case "call":
                        CancelChildren.Add(Guid.Parse(wait.Id));
                        break;
                }

                if (wait.TimerId is { } timer)
                {
                    DeletedTimers.Add(timer);
                }

                if (wait.TimeoutTimerId is { } timeout)
                {
                    DeletedTimers.Add(timeout);
                }

                frame.Wait = null;
            }

            if (frame.Container is { } container)
            {
                if (container.TimeoutTimerId is { } timeout)
                {
                    DeletedTimers.Add(timeout);
                }

                foreach (var childId in container.Children.ToList())
                {
                    if (Exec.Find(childId) is { } child)
                    {
                        Withdraw(child);
                    }
                }

                frame.Container = null;
            }

            Exec.Frames.Remove(frame);
        }

        public List<string> Ancestry(Frame frame)
        {
            var list = new List<string>();
            for (var f = frame; f is not null; f = f.Parent is null ? null : Exec.Find(f.Parent))
            {
                list.Insert(0, f.Id);
            }

            return list;
        }

        /// <summary>The nearest frame (itself or an ancestor) with iteration-local outputs, or null.</summary>
        public Frame? LocalFrame(Frame frame)
        {
            for (var f = frame; f is not null; f = f.Parent is null ? null : Exec.Find(f.Parent))
            {
                if (f.Outputs is not null)
                {
                    return f;
                }
            }

            return null;
        }

        /// <summary><c>{ input, vars, steps, instance, item?, index? }</c> as a step in <paramref name="frame"/> sees it.</summary>
        public JsonObject Scope(Frame? frame, JsonObject? locals = null, JsonObject? localOutputs = null)
        {
            var steps = new JsonObject();
            foreach (var (id, output) in Outputs)
            {
                steps[id] = new JsonObject { ["output"] = output?.DeepClone() };
            }

            var chain = new List<Frame>();
            for (var f = frame; f is not null; f = f.Parent is null ? null : Exec.Find(f.Parent))
            {
                chain.Insert(0, f);
            }

            foreach (var f in chain)
            {
                if (f.Outputs is not null)
                {
                    foreach (var (id, output) in f.Outputs)
                    {
                        steps[id] = new JsonObject { ["output"] = output?.DeepClone() };
                    }
                }

                if (f.Locals is not null)
                {
                    locals = f.Locals;
                }
            }

            if (localOutputs is not null)
            {
                foreach (var (id, output) in localOutputs)
                {
                    steps[id] = new JsonObject { ["output"] = output?.DeepClone() };
                }
            }

            var scope = new JsonObject
            {
                ["input"] = Instance.Input.DeepClone(),
                ["vars"] = Vars.DeepClone(),
                ["steps"] = steps,
                ["instance"] = StepContext.InstanceInfo(Instance),
            };
            if (locals is not null)
            {
                scope["item"] = locals["item"]?.DeepClone();
                scope["index"] = locals["index"]?.DeepClone();
            }

            return scope;
        }

        public string KeyFor(Frame frame, string stepId) =>
            IdempotencyKeys.ForStep(Instance.Id, frame.Path.Length == 0 ? stepId : frame.Path + "/" + stepId);

        /// <summary>Journals the completion and moves the frame to its next step.</summary>
        public void CompleteStep(Frame frame, StepDefinition step, JsonNode? output, StepCompleted? completed = null, string kind = "step.completed")
        {
            Changed = true;
            var data = new JsonObject
            {
                ["kind"] = step.Kind,
                ["startedAt"] = (frame.StepStartedAt ?? Now).ToString("O", CultureInfo.InvariantCulture),
                ["endedAt"] = Now.ToString("O", CultureInfo.InvariantCulture),
                ["idempotencyKey"] = KeyFor(frame, step.Id),
            };
            if (frame.Path.Length > 0)
            {
                data["path"] = frame.Path;
            }

            if (completed?.Input is { } input)
            {
                data["input"] = input.DeepClone();
            }

            data["output"] = output?.DeepClone();
            if (completed is { Log.Count: > 0 })
            {
                data["log"] = new JsonArray(completed.Log.Select(l => (JsonNode?)JsonValue.Create(l)).ToArray());
            }

            if (completed is { Outbox.Count: > 0 })
            {
                data["messageIds"] = new JsonArray(completed.Outbox.Select(m => (JsonNode?)JsonValue.Create(m.Id)).ToArray());
                Outbox.AddRange(completed.Outbox);
            }

            Journal.Add(step.Id, kind, data, frame.Attempt);
            if (completed?.Variables is { } vars)
            {
                Vars = vars;
            }

            Advance(frame, step, output);
        }

        public void Advance(Frame frame, StepDefinition step, JsonNode? output)
        {
            Changed = true;
            var local = LocalFrame(frame);
            if (local?.Outputs is { } localOutputs)
            {
                localOutputs[step.Id] = output?.DeepClone();
            }
            else
            {
                Outputs[step.Id] = output?.DeepClone();
            }

            frame.Last = output?.DeepClone();
            if (step.Compensate.Count > 0)
            {
                Exec.Stack.Add(new CompensationEntry
                {
                    StepId = step.Id,
                    Frame = frame.Id,
                    Ancestry = Ancestry(frame),
                    Path = frame.Path,
                    Locals = NearestLocals(frame),
                    Outputs = local?.Outputs?.DeepClone() as JsonObject,
                });
            }

            frame.Index++;
            frame.Attempt = 1;
            frame.Wait = null;
            frame.Status = FrameStatus.Ready;
            frame.StepStartedAt = null;
        }

        private JsonObject? NearestLocals(Frame frame)
        {
            for (var f = frame; f is not null; f = f.Parent is null ? null : Exec.Find(f.Parent))
            {
                if (f.Locals is not null)
                {
                    return (JsonObject)f.Locals.DeepClone();
                }
            }

            return null;
        }

        /// <summary>A step failed: retry (durable timer), or apply on_error (continue, goto, fail → container / compensation / incident).</summary>
        public void FailStep(Frame frame, StepDefinition step, StepFailed failed, string kind = "step.failed")
        {
            Changed = true;
            var data = new JsonObject
            {
                ["kind"] = step.Kind,
                ["startedAt"] = (frame.StepStartedAt ?? Now).ToString("O", CultureInfo.InvariantCulture),
                ["endedAt"] = Now.ToString("O", CultureInfo.InvariantCulture),
                ["code"] = failed.Code,
                ["message"] = failed.Message,
            };
            if (frame.Path.Length > 0)
            {
                data["path"] = frame.Path;
            }

            if (failed.Details is not null)
            {
                data["details"] = failed.Details.DeepClone();
            }

            if (step.Retry is { } retry && retry.Retries(failed.Code) && frame.Attempt < retry.MaxAttempts)
            {
                var due = Now + retry.BackoffBefore(frame.Attempt + 1);
                data["retryAt"] = due.ToString("O", CultureInfo.InvariantCulture);
                Journal.Add(step.Id, kind, data, frame.Attempt);
                frame.Attempt++;
                var timer = new TimerRecord(IdempotencyKeys.ToGuid(KeyFor(frame, step.Id) + ":retry:" + frame.Attempt.ToString(CultureInfo.InvariantCulture)),
                    Instance.Id, RetryTimer, step.Id, due, new JsonObject { ["frame"] = frame.Id });
                NewTimers.Add(timer);
                frame.Status = FrameStatus.Waiting;
                frame.Wait = new WaitInfo { Kind = "retry", Id = timer.Id.ToString("D"), TimerId = timer.Id, Describe = "retry:" + step.Id + "@" + due.ToString("O", CultureInfo.InvariantCulture) };
                runtime.LogStepFailed(Instance.Id, step.Id, failed.Code, failed.Message + " (will retry)");
                return;
            }

            Journal.Add(step.Id, kind, data, frame.Attempt);
            runtime.LogStepFailed(Instance.Id, step.Id, failed.Code, failed.Message);
            switch (step.OnError.Action)
            {
                case OnErrorAction.Continue:
                    Advance(frame, step, new JsonObject { ["error"] = new JsonObject { ["code"] = failed.Code, ["message"] = failed.Message } });
                    return;
                case OnErrorAction.Goto:
                    var list = Definition.Sequences[frame.Sequence];
                    var target = list.ToList().FindIndex(s => s.Id == step.OnError.Target);
                    Outputs[step.Id] = new JsonObject { ["error"] = new JsonObject { ["code"] = failed.Code, ["message"] = failed.Message } };
                    frame.Index = target < 0 ? list.Count : target;
                    frame.Attempt = 1;
                    frame.Status = FrameStatus.Ready;
                    frame.Wait = null;
                    frame.StepStartedAt = null;
                    return;
            }

            if (step.Retry is not null && retryExhaustedIsIncident(failed.Code, step.Retry))
            {
                frame.Status = FrameStatus.Failed;
                frame.Wait = null;
                var message = $"step '{step.Id}' failed after {frame.Attempt} attempts: {failed.Message}";
                Error = message;
                Incidents.Add(new IncidentRecord(Guid.CreateVersion7(Now), Instance.Id, step.Id, "retry.exhausted", message, Now, null));
                Journal.Add(step.Id, "incident.opened", new JsonObject { ["kind"] = "retry.exhausted", ["message"] = message });
                return;
            }

            if (frame.Parent is { } parentId && Exec.Find(parentId) is { Container: { } container } parent
                && Definition.FindStep(container.StepId) is { } containerStep)
            {
                foreach (var childId in container.Children.ToList())
                {
                    if (Exec.Find(childId) is { } child)
                    {
                        Withdraw(child);
                    }
                }

                Withdraw(frame);
                parent.Container = null;
                parent.Status = FrameStatus.Ready;
                FailStep(parent, containerStep, failed with { Message = $"{step.Id}: {failed.Message}" });
                return;
            }

            BeginCompensation($"step '{step.Id}' failed: {failed.Message}", "compensated");

            static bool retryExhaustedIsIncident(string code, RetryPolicy retry) => retry.Retries(code);
        }

        /// <summary>Withdraws every frame and queues the compensation of every completed step, last first.</summary>
        public void BeginCompensation(string reason, string after)
        {
            Changed = true;
            foreach (var frame in Exec.Frames.ToList())
            {
                Withdraw(frame);
            }

            Error = reason;
            var undo = Enumerable.Reverse(Exec.Stack).ToList();
            Exec.Stack.Clear();
            Exec.Undo = [.. Exec.Undo, .. undo];
            Exec.AfterUndo = after;
            if (Exec.Undo.Count == 0)
            {
                FinishUndo();
                return;
            }

            Journal.Add(null, after == "cancelled" ? "instance.cancelling" : "instance.compensating", new JsonObject
            {
                ["reason"] = reason,
                ["steps"] = new JsonArray(Exec.Undo.Select(e => (JsonNode?)JsonValue.Create(e.StepId)).ToArray()),
            });
        }

        public void FinishUndo()
        {
            var after = Exec.AfterUndo;
            Exec.AfterUndo = null;
            switch (after)
            {
                case "cancelled":
                    End(InstanceState.Cancelled, "instance.cancelled", new JsonObject { ["reason"] = Error });
                    break;
                case "resume":
                    Changed = true;
                    break;
                default:
                    End(InstanceState.Compensated, "instance.compensated", new JsonObject { ["reason"] = Error });
                    break;
            }
        }

        /// <summary>Cancels the frames (losers of a join) and queues the compensation of what they completed, last first.</summary>
        public void CancelLosers(IReadOnlyList<string> frameIds)
        {
            if (frameIds.Count == 0)
            {
                return;
            }

            foreach (var id in frameIds)
            {
                if (Exec.Find(id) is { } frame)
                {
                    Withdraw(frame);
                }
            }

            var losers = Exec.Stack.Where(e => e.Ancestry.Any(frameIds.Contains)).ToList();
            if (losers.Count == 0)
            {
                return;
            }

            Exec.Stack.RemoveAll(losers.Contains);
            losers.Reverse();
            Exec.Undo = [.. losers, .. Exec.Undo];
            Exec.AfterUndo ??= "resume";
            Journal.Add(null, "branches.compensating", new JsonObject
            {
                ["frames"] = new JsonArray(frameIds.Select(f => (JsonNode?)JsonValue.Create(f)).ToArray()),
                ["steps"] = new JsonArray(losers.Select(e => (JsonNode?)JsonValue.Create(e.StepId)).ToArray()),
            });
        }

        /// <summary>Starts child frames for a container step.</summary>
        public void StartChildren(Frame frame, StepDefinition step, int needed, IEnumerable<(string Sequence, int Slot, string Path, JsonObject? Locals)> children, JsonArray? items = null)
        {
            Changed = true;
            var container = new ContainerInfo { StepId = step.Id, Needed = needed, Items = items };
            frame.Container = container;
            frame.Status = FrameStatus.Children;
            foreach (var (sequence, slot, path, locals) in children)
            {
                AddChild(frame, container, sequence, slot, path, locals);
            }

            if (step.Timeout is { } timeout)
            {
                var timer = new TimerRecord(IdempotencyKeys.ToGuid(KeyFor(frame, step.Id) + ":timeout"), Instance.Id, StepTimeoutTimer, step.Id, Now + timeout,
                    new JsonObject { ["frame"] = frame.Id });
                NewTimers.Add(timer);
                container.TimeoutTimerId = timer.Id;
            }
        }

        public void AddChild(Frame frame, ContainerInfo container, string sequence, int slot, string path, JsonObject? locals)
        {
            var child = new Frame
            {
                Id = Exec.NextFrame++.ToString(CultureInfo.InvariantCulture),
                Parent = frame.Id,
                Sequence = sequence,
                Slot = slot,
                Path = path,
                Locals = locals,
                Outputs = locals is null ? null : [],
            };
            Exec.Frames.Add(child);
            container.Children.Add(child.Id);
        }

        /// <summary>A frame reached the end of its list: the instance completes, or its container counts it.</summary>
        public void FinishFrame(Frame frame)
        {
            Changed = true;
            if (frame.Parent is null)
            {
                JsonNode? output = frame.Last?.DeepClone();
                if (Definition.Output is { } template)
                {
                    try
                    {
                        output = runtime.templates.RenderValue(template, Scope(frame));
                    }
                    catch (TemplateException ex)
                    {
                        output = new JsonObject { ["error"] = "output template failed: " + ex.Message };
                    }
                }

                End(InstanceState.Completed, "instance.completed", new JsonObject { ["output"] = output?.DeepClone() }, output);
                return;
            }

            var parent = Exec.Find(frame.Parent)!;
            var container = parent.Container!;
            var step = Definition.FindStep(container.StepId)!;
            Exec.Frames.Remove(frame);
            container.Children.Remove(frame.Id);
            container.Done++;
            var slotName = step is ParallelStep parallel ? parallel.BranchNames[frame.Slot] : frame.Slot.ToString(CultureInfo.InvariantCulture);
            container.Results[slotName] = frame.Last?.DeepClone();
            if (step is ForeachStep && container.Items is { } items && container.NextItem < items.Count && container.Done < container.Needed)
            {
                var i = container.NextItem++;
                AddChild(parent, container, step.Id + ".do", i, ItemPath(parent, step.Id, i), new JsonObject { ["item"] = items[i]?.DeepClone(), ["index"] = i });
            }

            if (container.Done < container.Needed)
            {
                return;
            }

            var losers = container.Children.ToList();
            if (container.TimeoutTimerId is { } timeout)
            {
                DeletedTimers.Add(timeout);
            }

            parent.Container = null;
            parent.Status = FrameStatus.Ready;
            JsonNode? output2 = step switch
            {
                ParallelStep => container.Results.DeepClone(),
                ForeachStep => new JsonArray(Enumerable.Range(0, container.Items?.Count ?? 0)
                    .Select(i => container.Results[i.ToString(CultureInfo.InvariantCulture)]?.DeepClone()).ToArray()),
                _ => frame.Last?.DeepClone(),
            };
            CancelLosers(losers);
            CompleteStep(parent, step, output2);
        }

        public string ItemPath(Frame parent, string stepId, int index) =>
            (parent.Path.Length == 0 ? string.Empty : parent.Path + "/") + stepId + "[" + index.ToString(CultureInfo.InvariantCulture) + "]";
    }

    /// <summary>Numbers journal entries of one commit after the instance's last sequence.</summary>
    private sealed class JournalWriter(InstanceRecord instance, DateTimeOffset now)
    {
        private readonly List<JournalRecord> entries = [];

        public long Sequence { get; private set; } = instance.JournalSequence;

        public IReadOnlyList<JournalRecord> Entries => entries;

        public void Add(string? stepId, string kind, JsonNode? data, int attempt = 1)
        {
            Sequence++;
            entries.Add(new JournalRecord(instance.Id, Sequence, now, stepId, kind, attempt, data));
        }
    }
}
