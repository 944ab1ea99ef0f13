// The workflow definition model as the YAML/JSON has it (docs/workflows.md), and the graph the designer draws from it.
// The model is the source of truth: the graph is derived from it (modelToGraph) and can give it back (graphToModel),
// so YAML → model → graph → model → YAML keeps every field, nested step lists and compensations.
import YAML from 'yaml';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Step = { id: string; kind: string; [key: string]: Json };
export type WorkflowModel = { id: string; steps: Step[]; [key: string]: Json };

export const STEP_KINDS = [
  'validate', 'approval', 'script', 'publish', 'http', 'delay', 'wait_until', 'wait_for_event',
  'if', 'switch', 'parallel', 'foreach', 'call', 'set', 'fail',
] as const;

/** A nested step list of a container step: `key` is its path inside the step (`then`, `cases.0.steps`, …). */
export interface Slot { key: string; label: string; steps: Step[] }

const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const stepList = (v: unknown): Step[] => (Array.isArray(v) ? (v.filter(isObject) as Step[]) : []);

/** The nested step lists of a step (if/switch/parallel/foreach), in display order. */
export function slotsOf(step: Step): Slot[] {
  const slots: Slot[] = [];
  switch (step.kind) {
    case 'if':
      if ('then' in step) slots.push({ key: 'then', label: 'then', steps: stepList(step.then) });
      if ('else' in step) slots.push({ key: 'else', label: 'else', steps: stepList(step.else) });
      break;
    case 'switch':
      if (Array.isArray(step.cases)) {
        step.cases.forEach((c, i) => {
          if (isObject(c)) slots.push({ key: `cases.${i}.steps`, label: `when ${JSON.stringify(c.when ?? null)}`, steps: stepList(c.steps) });
        });
      }
      if ('default' in step) slots.push({ key: 'default', label: 'default', steps: stepList(step.default) });
      break;
    case 'parallel':
      if (Array.isArray(step.branches)) {
        step.branches.forEach((b, i) => {
          if (isObject(b)) slots.push({ key: `branches.${i}.steps`, label: `branch ${typeof b.name === 'string' ? b.name : i + 1}`, steps: stepList(b.steps) });
        });
      }
      break;
    case 'foreach':
      if ('do' in step) slots.push({ key: 'do', label: 'each item', steps: stepList(step.do) });
      break;
  }
  return slots;
}

function setAtPath(target: Record<string, Json>, key: string, value: Json) {
  const parts = key.split('.');
  let node: Json = target;
  for (const part of parts.slice(0, -1)) node = (node as Record<string, Json>)[part];
  (node as Record<string, Json>)[parts[parts.length - 1]] = value;
}

/** A copy of the step whose nested step lists are emptied (their key and place kept, so the field order survives). */
export function shallowStep(step: Step): Step {
  const copy = structuredClone(step);
  for (const slot of slotsOf(step)) setAtPath(copy, slot.key, []);
  return copy;
}

export function parseWorkflowYaml(text: string): { model?: WorkflowModel; error?: { message: string; line?: number; column?: number } } {
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    return { error: { message: e.message.split('\n')[0], line: e.linePos?.[0].line, column: e.linePos?.[0].col } };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // e.g. more aliases than allowed (a "billion laughs" document)
    return { error: { message: e instanceof Error ? e.message : String(e), line: 1, column: 1 } };
  }
  if (!isObject(value)) return { error: { message: 'the document is not a mapping (WF1002)', line: 1, column: 1 } };
  if (!Array.isArray(value.steps)) return { model: { ...value, id: String(value.id ?? ''), steps: [] } as WorkflowModel };
  const bad = value.steps.findIndex(step => !isObject(step));
  if (bad >= 0) {
    // A step must be a mapping ("- " left empty, "- ~", "- text"): said where, instead of a graph that cannot be drawn.
    const node = doc.getIn(['steps', bad], true) as { range?: [number, number, number] } | undefined;
    const offset = node?.range?.[0];
    const line = offset === undefined ? undefined : text.slice(0, offset).split('\n').length;
    const column = offset === undefined ? undefined : offset - text.lastIndexOf('\n', offset - 1);
    return { error: { message: `steps[${bad}] is not a step (a mapping with id and kind)`, line, column } };
  }
  return { model: value as WorkflowModel };
}

/** YAML as a person would write it: block style, multi-line strings as `|` blocks, flow maps kept short. */
export function toYaml(model: WorkflowModel): string {
  return YAML.stringify(model, { lineWidth: 0, blockQuote: 'literal', aliasDuplicateObjects: false });
}

// ---------------------------------------------------------------------------------------------------------------------
// Graph

export type NodeKind = 'step' | 'compensation';
export interface GraphNode {
  id: string;
  type: NodeKind;
  /** The step this node is (or compensates). */
  stepId: string;
  kind: string;
  label: string;
  /** Where the step sits: parent container (undefined at the top), its slot, the index in that list. */
  parent?: { stepId: string; slot: string };
  index: number;
  depth: number;
  /** JSON path of the step in the definition, e.g. `$.steps[2].then[0]`. */
  path: string;
  /** The step without its nested step lists (type 'step'); the compensation (type 'compensation'). */
  data: Json;
}
export type EdgeKind = 'next' | 'branch' | 'join' | 'compensation';
export interface GraphEdge { id: string; source: string; target: string; kind: EdgeKind; label?: string }
export interface WorkflowGraph { root: Record<string, Json>; nodes: GraphNode[]; edges: GraphEdge[] }

export const compensationNodeId = (stepId: string) => `${stepId}::compensate`;

function describeCompensation(c: Json): string {
  const one = (a: Json): string => {
    if (!isObject(a)) return '?';
    if ('script' in a && !('kind' in a)) return 'script';
    if ('publish' in a) return `publish ${isObject(a.publish) ? String(a.publish.routing_key ?? '') : ''}`.trim();
    return String(a.kind ?? '?');
  };
  return Array.isArray(c) ? c.map(one).join(' → ') : one(c);
}

export function modelToGraph(model: WorkflowModel): WorkflowGraph {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const root: Record<string, Json> = {};
  for (const [k, v] of Object.entries(model)) root[k] = k === 'steps' ? [] : structuredClone(v);
  const used = new Set<string>();
  let edgeCount = 0;
  const edge = (source: string, target: string, kind: EdgeKind, label?: string) =>
    edges.push({ id: `e${edgeCount++}:${source}->${target}`, source, target, kind, ...(label ? { label } : {}) });

  type Exit = { id: string; label?: string };
  const walkList = (list: Step[], path: string, parent: GraphNode['parent'], depth: number, entry: Exit[]): Exit[] => {
    let exits = entry;
    list.forEach((step, index) => {
      const stepPath = `${path}[${index}]`;
      let id = typeof step.id === 'string' && step.id !== '' && !used.has(step.id) ? step.id : `#${stepPath}`;
      used.add(id);
      const node: GraphNode = {
        id, type: 'step', stepId: id, kind: String(step.kind ?? '?'), label: id, parent, index, depth, path: stepPath,
        data: shallowStep(step),
      };
      nodes.push(node);
      for (const e of exits) edge(e.id, id, 'next', e.label);
      exits = [{ id }];
      const slots = slotsOf(step);
      if (slots.length > 0) {
        const out: Exit[] = [];
        for (const slot of slots) {
          if (slot.steps.length === 0) { out.push({ id, label: slot.label }); continue; }
          const slotPath = `${stepPath}.${slot.key.replace(/\.(\d+)\./g, '[$1].')}`;
          const last = walkList(slot.steps, slotPath, { stepId: id, slot: slot.key }, depth + 1, [{ id, label: slot.label }]);
          for (const l of last) out.push({ id: l.id, label: l.label });
        }
        if (step.kind === 'if' && !('else' in step)) out.push({ id, label: 'else' });
        if (step.kind === 'switch' && !('default' in step)) out.push({ id, label: 'default' });
        exits = out;
      }
      if (step.compensate !== undefined) {
        const cid = compensationNodeId(id);
        nodes.push({
          id: cid, type: 'compensation', stepId: id, kind: 'compensation', label: `undo ${id}: ${describeCompensation(step.compensate)}`,
          parent, index, depth, path: `${stepPath}.compensate`, data: structuredClone(step.compensate),
        });
        edge(id, cid, 'compensation', 'compensate');
      }
    });
    return exits;
  };
  walkList(Array.isArray(model.steps) ? model.steps : [], '$.steps', undefined, 0, []);
  // Edges into a branch's first step are 'branch' edges, back out of a branch 'join' edges.
  const byId = new Map(nodes.map(n => [n.id, n]));
  for (const e of edges) {
    if (e.kind === 'compensation') continue;
    const s = byId.get(e.source)!, t = byId.get(e.target)!;
    if (t.parent?.stepId === s.id) e.kind = 'branch';
    else if (s.depth > t.depth) e.kind = 'join';
    else if (e.label && s.depth === t.depth && slotsOf({ ...(s.data as Step) }).length > 0) e.kind = 'join';
  }
  return { root, nodes, edges };
}

/** The model back from the graph: the step nodes in their places, nested lists refilled, compensations from the step data. */
export function graphToModel(graph: WorkflowGraph): WorkflowModel {
  const children = new Map<string, GraphNode[]>();
  const top: GraphNode[] = [];
  for (const node of graph.nodes) {
    if (node.type !== 'step') continue;
    if (!node.parent) top.push(node);
    else {
      const key = `${node.parent.stepId}\u0000${node.parent.slot}`;
      if (!children.has(key)) children.set(key, []);
      children.get(key)!.push(node);
    }
  }
  const build = (node: GraphNode): Step => {
    const step = structuredClone(node.data) as Step;
    for (const slot of slotsOf(step)) {
      const kids = (children.get(`${node.id}\u0000${slot.key}`) ?? []).sort((a, b) => a.index - b.index);
      setAtPath(step, slot.key, kids.map(build));
    }
    return step;
  };
  const model = structuredClone(graph.root) as WorkflowModel;
  model.steps = top.sort((a, b) => a.index - b.index).map(build);
  return model;
}

// ---------------------------------------------------------------------------------------------------------------------
// Edits (all return a new model)

interface Located { list: Step[]; index: number; step: Step; path: string }

export function locate(model: WorkflowModel, stepId: string): Located | undefined {
  const search = (list: Step[], path: string): Located | undefined => {
    for (let i = 0; i < list.length; i++) {
      const step = list[i];
      const p = `${path}[${i}]`;
      if (step.id === stepId) return { list, index: i, step, path: p };
      for (const slot of slotsOf(step)) {
        const parts = slot.key.split('.');
        let holder: Json = step;
        for (const part of parts.slice(0, -1)) holder = (holder as Record<string, Json>)[part];
        const arr = (holder as Record<string, Json>)[parts[parts.length - 1]];
        if (Array.isArray(arr)) {
          const found = search(arr as Step[], `${p}.${slot.key.replace(/\.(\d+)\./g, '[$1].')}`);
          if (found) return found;
        }
      }
    }
    return undefined;
  };
  return search(model.steps ?? [], '$.steps');
}

export function allStepIds(model: WorkflowModel): string[] {
  return modelToGraph(model).nodes.filter(n => n.type === 'step').map(n => n.stepId);
}

export function uniqueStepId(model: WorkflowModel, base: string): string {
  const ids = new Set(allStepIds(model));
  const clean = base.replace(/[^A-Za-z0-9_-]/g, '-').replace(/^[^A-Za-z]+/, '') || 'step';
  if (!ids.has(clean)) return clean;
  for (let n = 2; ; n++) if (!ids.has(`${clean}-${n}`)) return `${clean}-${n}`;
}

/** A new step of the kind with the fields the schema requires, filled with placeholders. */
export function newStep(model: WorkflowModel, kind: string): Step {
  const id = uniqueStepId(model, kind.replace(/_/g, '-'));
  const templates: Record<string, Record<string, Json>> = {
    validate: { value: 'input', schema: { type: 'object' } },
    approval: { assignees: ['role:approver'], message: 'Approve {{instance.workflow}}?', timeout: '24h', on_timeout: 'reject' },
    script: { script: 'return { ok: true };' },
    publish: { exchange: 'ruleflow.out', routing_key: 'example', body: { instance: '{{instance.id}}' } },
    http: { method: 'POST', url: 'https://example.invalid/hook' },
    delay: { duration: '1m' },
    wait_until: { until: '{{input.not_before}}' },
    wait_for_event: { event: 'example.ack', timeout: '1h' },
    if: { condition: 'true', then: [{ id: `${id}-then`, kind: 'set', values: { branch: 'then' } }] },
    switch: { value: 'input.kind', cases: [{ when: 'a', steps: [{ id: `${id}-a`, kind: 'set', values: { case: 'a' } }] }] },
    parallel: { join: 'all', branches: [{ name: 'a', steps: [{ id: `${id}-a`, kind: 'set', values: { branch: 'a' } }] }] },
    foreach: { items: 'input.items', do: [{ id: `${id}-item`, kind: 'set', values: { last: '{{item}}' } }] },
    call: { workflow: 'child', input: {} },
    set: { values: { key: 'value' } },
    fail: { message: 'stopped', code: 'WF4222' },
  };
  return { id, kind, ...(structuredClone(templates[kind] ?? {})) } as Step;
}

/** Inserts a step after `afterId` (in the same list), or at the end of the top-level list. */
export function insertStep(model: WorkflowModel, step: Step, afterId?: string): WorkflowModel {
  const copy = structuredClone(model);
  copy.steps = copy.steps ?? [];
  const at = afterId ? locate(copy, afterId) : undefined;
  if (at) at.list.splice(at.index + 1, 0, step);
  else copy.steps.push(step);
  return copy;
}

export function removeStep(model: WorkflowModel, stepId: string): WorkflowModel {
  const copy = structuredClone(model);
  const at = locate(copy, stepId);
  if (at) at.list.splice(at.index, 1);
  return copy;
}

export function moveStep(model: WorkflowModel, stepId: string, delta: -1 | 1): WorkflowModel {
  const copy = structuredClone(model);
  const at = locate(copy, stepId);
  if (!at) return model;
  const to = at.index + delta;
  if (to < 0 || to >= at.list.length) return model;
  [at.list[at.index], at.list[to]] = [at.list[to], at.list[at.index]];
  return copy;
}

/** Replaces the step's own fields (its nested step lists are kept as they are). */
export function updateStep(model: WorkflowModel, stepId: string, fields: Step): WorkflowModel {
  const copy = structuredClone(model);
  const at = locate(copy, stepId);
  if (!at) return model;
  const next = structuredClone(fields);
  for (const slot of slotsOf(at.step)) {
    const m = /^(cases|branches)\.(\d+)\.steps$/.exec(slot.key);
    if (m) {
      // The panel edits `when`/`name`; the steps (and a case or branch it did not send) stay.
      const [, arrayKey, i] = m;
      if (!Array.isArray(next[arrayKey])) next[arrayKey] = [];
      const arr = next[arrayKey] as Json[];
      const original = (at.step[arrayKey] as Json[])[Number(i)];
      if (!isObject(arr[Number(i)])) arr[Number(i)] = structuredClone(original);
    }
    setAtPath(next, slot.key, slot.steps);
  }
  at.list[at.index] = next;
  return copy;
}

/** The step a diagnostic's JSON path (`$.steps[2].then[0].script`) is about: the deepest step whose path prefixes it. */
export function stepForPath(model: WorkflowModel, jsonPath: string | undefined): string | undefined {
  if (!jsonPath) return undefined;
  let best: GraphNode | undefined;
  for (const node of modelToGraph(model).nodes) {
    if (node.type !== 'step') continue;
    if ((jsonPath === node.path || jsonPath.startsWith(node.path + '.') || jsonPath.startsWith(node.path + '['))
      && (!best || node.path.length > best.path.length)) best = node;
  }
  return best?.stepId;
}

// ---------------------------------------------------------------------------------------------------------------------
// Containers: where a new step can go, switch cases and parallel branches

/** A place a new step can be inserted into as the first step of a container's branch (`key` as in Slot). */
export interface InsertTarget { key: string; label: string; count: number }

/** The branches of a container step a step can be added into, existing or not yet there (an `if` without `else`). */
export function insertTargets(step: Step): InsertTarget[] {
  const slots = slotsOf(step);
  const count = (key: string) => slots.find(s => s.key === key)?.steps.length ?? 0;
  switch (step.kind) {
    case 'if':
      return [{ key: 'then', label: 'then', count: count('then') }, { key: 'else', label: 'else', count: count('else') }];
    case 'switch': {
      const cases = slots.filter(s => s.key.startsWith('cases.')).map(s => ({ key: s.key, label: `case ${s.label.slice(5)}`, count: s.steps.length }));
      return [...cases, { key: 'default', label: 'default', count: count('default') }];
    }
    case 'parallel':
      return slots.map(s => ({ key: s.key, label: s.label, count: s.steps.length }));
    case 'foreach':
      return [{ key: 'do', label: 'body', count: count('do') }];
    default:
      return [];
  }
}

/** A copy of `obj` with `key` set to `value`; a new key goes right after `after` (field order kept for readable YAML). */
function withKey(obj: Record<string, Json>, key: string, value: Json, after: string): Record<string, Json> {
  if (key in obj || !(after in obj)) return { ...obj, [key]: value };
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(obj)) {
    out[k] = v;
    if (k === after) out[key] = value;
  }
  return out;
}

const AFTER: Record<string, string> = { else: 'then', default: 'cases', do: 'items', then: 'condition' };

/** Inserts a step as the first step of a container's branch (`slotKey` from insertTargets), creating the list if needed. */
export function insertInto(model: WorkflowModel, step: Step, containerId: string, slotKey: string): WorkflowModel {
  const copy = structuredClone(model);
  const at = locate(copy, containerId);
  if (!at || !insertTargets(at.step).some(t => t.key === slotKey)) return model;
  const m = /^(cases|branches)\.(\d+)\.steps$/.exec(slotKey);
  if (m) {
    const item = (at.step[m[1]] as Json[])[Number(m[2])] as Record<string, Json>;
    const list = Array.isArray(item.steps) ? (item.steps as Json[]) : [];
    item.steps = [structuredClone(step), ...list];
  } else {
    const list = Array.isArray(at.step[slotKey]) ? (at.step[slotKey] as Json[]) : [];
    at.list[at.index] = withKey(at.step, slotKey, [structuredClone(step), ...list], AFTER[slotKey] ?? 'kind') as Step;
  }
  return copy;
}

/** Edits a container's `cases`/`branches` array in a copy of the model; `undefined` when the step is not of that kind. */
function editItems(model: WorkflowModel, stepId: string, kind: 'switch' | 'parallel', edit: (items: Json[]) => void): WorkflowModel {
  const copy = structuredClone(model);
  const at = locate(copy, stepId);
  if (!at || at.step.kind !== kind) return model;
  const key = kind === 'switch' ? 'cases' : 'branches';
  if (!Array.isArray(at.step[key])) at.step[key] = [];
  edit(at.step[key] as Json[]);
  return copy;
}

const sameJson = (a: Json | undefined, b: Json | undefined) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** The cases of a switch step (value and number of steps). */
export function switchCases(step: Step): { when: Json; count: number }[] {
  return (Array.isArray(step.cases) ? step.cases : []).map(c => ({ when: isObject(c) ? (c.when ?? null) : null, count: isObject(c) ? stepList(c.steps).length : 0 }));
}

/** Why a case value cannot be used (already a case of this switch), or undefined. */
export function caseValueProblem(step: Step, when: Json, exceptIndex?: number): string | undefined {
  return switchCases(step).some((c, i) => i !== exceptIndex && sameJson(c.when, when)) ? `there is already a case ${JSON.stringify(when)}` : undefined;
}

/** Adds a case (with no steps yet) at the end of a switch's cases. */
export function addSwitchCase(model: WorkflowModel, stepId: string, when: Json): WorkflowModel {
  return editItems(model, stepId, 'switch', items => { items.push({ when, steps: [] }); });
}

export function removeSwitchCase(model: WorkflowModel, stepId: string, index: number): WorkflowModel {
  return editItems(model, stepId, 'switch', items => { items.splice(index, 1); });
}

/** Changes a case's `when` value (its steps stay). */
export function renameSwitchCase(model: WorkflowModel, stepId: string, index: number, when: Json): WorkflowModel {
  return editItems(model, stepId, 'switch', items => { if (isObject(items[index])) (items[index] as Record<string, Json>).when = when; });
}

/** The branches of a parallel step (name, if any, and number of steps). */
export function parallelBranches(step: Step): { name?: string; count: number }[] {
  return (Array.isArray(step.branches) ? step.branches : []).map(b => ({
    name: isObject(b) && typeof b.name === 'string' ? b.name : undefined, count: isObject(b) ? stepList(b.steps).length : 0,
  }));
}

export function branchNameProblem(step: Step, name: string, exceptIndex?: number): string | undefined {
  if (name.trim() === '') return 'a branch needs a name';
  return parallelBranches(step).some((b, i) => i !== exceptIndex && b.name === name) ? `there is already a branch ${name}` : undefined;
}

/** Adds a named branch (with no steps yet) at the end of a parallel's branches. */
export function addParallelBranch(model: WorkflowModel, stepId: string, name: string): WorkflowModel {
  return editItems(model, stepId, 'parallel', items => { items.push({ name, steps: [] }); });
}

export function removeParallelBranch(model: WorkflowModel, stepId: string, index: number): WorkflowModel {
  return editItems(model, stepId, 'parallel', items => { items.splice(index, 1); });
}

/** Names a branch (a branch without a name gets `name` before its steps). */
export function renameParallelBranch(model: WorkflowModel, stepId: string, index: number, name: string): WorkflowModel {
  return editItems(model, stepId, 'parallel', items => {
    const item = items[index];
    if (isObject(item)) items[index] = 'name' in item ? { ...item, name } : { name, ...item };
  });
}

/** Sets a parallel's `join`: 'all' | 'any' | a number of branches (≥ 1); `undefined` removes it (all is the default). */
export function setParallelJoin(model: WorkflowModel, stepId: string, join: 'all' | 'any' | number | undefined): WorkflowModel {
  const copy = structuredClone(model);
  const at = locate(copy, stepId);
  if (!at || at.step.kind !== 'parallel') return model;
  if (join === undefined) delete at.step.join;
  else at.list[at.index] = withKey(at.step, 'join', join, 'kind') as Step;
  return copy;
}

/** A case value as typed in the panel: `big`, `3`, `"3"` (the string), `true` … (YAML flow scalars). */
export function caseValueText(when: Json): string {
  if (typeof when === 'string') {
    try { if (YAML.parse(when) === when && when.trim() === when && when !== '') return when; } catch { /* quote it */ }
  }
  return JSON.stringify(when);
}

export function parseCaseValue(text: string): { value?: Json; error?: string } {
  if (text.trim() === '') return { error: 'a case needs a value' };
  try {
    return { value: YAML.parse(text) as Json };
  } catch (e) {
    return { error: `not a valid value: ${(e as Error).message.split('\n')[0]}` };
  }
}
