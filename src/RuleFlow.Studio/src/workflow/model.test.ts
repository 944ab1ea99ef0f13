import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import {
  compensationNodeId, graphToModel, insertStep, locate, modelToGraph, moveStep, newStep, parseWorkflowYaml, removeStep,
  stepForPath, toYaml, updateStep, type WorkflowModel,
} from './model';

const workflowsDir = path.resolve(__dirname, '../../../../workflows');
const shipped = fs.readdirSync(workflowsDir).filter(f => f.endsWith('.yaml'));

const nested = `
id: nested
input:
  schema: { type: object }
steps:
  - id: init
    kind: set
    values: { n: 1 }
    compensate:
      script: |
        vars.n = 0;
  - id: big
    kind: if
    condition: "vars.n > 10"
    then:
      - id: mark
        kind: set
        values: { size: big }
        compensate: [ { script: "x();" }, { publish: { exchange: a, routing_key: b } } ]
    else: []
  - id: route
    kind: switch
    value: "vars.size"
    cases:
      - when: big
        steps: [ { id: c1, kind: set, values: { a: 1 } }, { id: c2, kind: fail, message: no } ]
      - when: 3
        steps: [ { id: c3, kind: delay, duration: 1s } ]
    default: [ { id: d1, kind: set, values: { d: 1 } } ]
  - id: race
    kind: parallel
    join: any
    branches:
      - name: a
        steps: [ { id: pa, kind: delay, duration: 1s } ]
      - name: b
        steps:
          - id: each
            kind: foreach
            items: "input.ips"
            do: [ { id: add, kind: script, script: "return 1;", compensate: { script: "undo();" } } ]
  - id: done
    kind: publish
    exchange: x
    routing_key: y
`;

function roundTrip(model: WorkflowModel): WorkflowModel {
  const back = graphToModel(modelToGraph(model));
  const reparsed = parseWorkflowYaml(toYaml(back));
  expect(reparsed.error).toBeUndefined();
  return reparsed.model!;
}

describe('YAML ⇄ graph mapping', () => {
  it('finds the shipped workflows', () => expect(shipped.length).toBeGreaterThanOrEqual(3));

  for (const file of shipped) {
    it(`round-trips workflows/${file}: parse → graph → YAML → parse gives the same model`, () => {
      const { model, error } = parseWorkflowYaml(fs.readFileSync(path.join(workflowsDir, file), 'utf8'));
      expect(error).toBeUndefined();
      expect(roundTrip(model!)).toEqual(model);
      // every step is a node, every compensation a node with a compensation edge
      const graph = modelToGraph(model!);
      const stepNodes = graph.nodes.filter(n => n.type === 'step');
      expect(stepNodes.length).toBeGreaterThanOrEqual(model!.steps.length);
      for (const n of graph.nodes.filter(n => n.type === 'compensation')) {
        expect(graph.edges).toContainEqual(expect.objectContaining({ source: n.stepId, target: n.id, kind: 'compensation' }));
      }
    });
  }

  it('round-trips nested steps of if/switch/parallel/foreach and compensations', () => {
    const { model } = parseWorkflowYaml(nested);
    expect(roundTrip(model!)).toEqual(model);
    const keys = (o: object) => Object.keys(o);
    const back = graphToModel(modelToGraph(model!));
    // field order is kept (readable diffs)
    expect(keys(back.steps[1])).toEqual(keys(model!.steps[1]));
    expect(keys(back.steps[2])).toEqual(keys(model!.steps[2]));
  });

  it('draws nested steps with branch and join edges and their JSON paths', () => {
    const graph = modelToGraph(parseWorkflowYaml(nested).model!);
    const node = (id: string) => graph.nodes.find(n => n.id === id)!;
    expect(node('mark')).toMatchObject({ parent: { stepId: 'big', slot: 'then' }, depth: 1, path: '$.steps[1].then[0]' });
    expect(node('c3')).toMatchObject({ parent: { stepId: 'route', slot: 'cases.1.steps' }, path: '$.steps[2].cases[1].steps[0]' });
    expect(node('add')).toMatchObject({ parent: { stepId: 'each', slot: 'do' }, depth: 2, path: '$.steps[3].branches[1].steps[0].do[0]' });
    const edge = (s: string, t: string) => graph.edges.find(e => e.source === s && e.target === t);
    expect(edge('init', 'big')?.kind).toBe('next');
    expect(edge('big', 'mark')).toMatchObject({ kind: 'branch', label: 'then' });
    expect(edge('mark', 'route')?.kind).toBe('join');
    expect(edge('big', 'route')).toMatchObject({ kind: 'join', label: 'else' }); // empty else goes straight on
    expect(edge('c1', 'c2')?.kind).toBe('next');
    expect(edge('route', 'd1')).toMatchObject({ kind: 'branch', label: 'default' });
    expect(edge('pa', 'done')?.kind).toBe('join');
    expect(edge('add', 'done')?.kind).toBe('join');
    // compensations: a node and a distinct edge for each step that declares one, nested too
    const comps = graph.nodes.filter(n => n.type === 'compensation').map(n => n.stepId).sort();
    expect(comps).toEqual(['add', 'init', 'mark']);
    expect(edge('mark', compensationNodeId('mark'))).toMatchObject({ kind: 'compensation' });
    expect(node(compensationNodeId('mark')).label).toBe('undo mark: script → publish b');
  });

  it('edits: insert, move, update and remove keep the rest of the model', () => {
    let model = parseWorkflowYaml(nested).model!;
    const step = newStep(model, 'approval');
    expect(step).toMatchObject({ id: 'approval', kind: 'approval', assignees: ['role:approver'] });
    model = insertStep(model, step, 'mark');
    expect(locate(model, 'approval')?.path).toBe('$.steps[1].then[1]');
    model = moveStep(model, 'approval', -1);
    expect(locate(model, 'approval')?.path).toBe('$.steps[1].then[0]');
    model = updateStep(model, 'race', { id: 'race', kind: 'parallel', join: 'all', branches: [] });
    expect(locate(model, 'pa')).toBeDefined(); // nested lists are kept when the panel edits the container
    expect(locate(model, 'race')!.step.join).toBe('all');
    model = removeStep(model, 'approval');
    expect(roundTrip(model)).toEqual(model);
    expect(newStep(model, 'set').id).toBe('set');
    expect(newStep({ id: 'x', steps: [{ id: 'set', kind: 'set' }] }, 'set').id).toBe('set-2');
  });

  it('maps a diagnostic path to the step it concerns', () => {
    const model = parseWorkflowYaml(nested).model!;
    expect(stepForPath(model, '$.steps[3].branches[1].steps[0].do[0].script')).toBe('add');
    expect(stepForPath(model, '$.steps[1].condition')).toBe('big');
    expect(stepForPath(model, '$.steps[10]')).toBeUndefined();
    expect(stepForPath(model, '$.id')).toBeUndefined();
  });

  it('reports YAML errors with a line', () => {
    const { error } = parseWorkflowYaml('id: x\nsteps:\n  - id: a\n   kind: b\n');
    expect(error?.line).toBeGreaterThan(1);
    expect(parseWorkflowYaml('- a').error?.message).toMatch(/mapping/);
  });

  it('refuses a step that is not a mapping, naming its index and line, instead of failing to draw', () => {
    for (const item of ['-', '- ~', '- just text']) {
      const text = `id: x\nsteps:\n  - id: a\n    kind: set\n    values: { v: 1 }\n  ${item}\n`;
      const { model, error } = parseWorkflowYaml(text);
      expect(model).toBeUndefined();
      expect(error?.message).toBe('steps[1] is not a step (a mapping with id and kind)');
      expect(error?.line).toBe(6);
    }
  });

  it('turns a document with too many aliases into an error, not an exception', () => {
    const anchors = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 6; i++) anchors.push(`${'b'.repeat(i)}: &${'b'.repeat(i)} [${Array(10).fill(i === 1 ? '*a' : `*${'b'.repeat(i - 1)}`).join(', ')}]`);
    const { model, error } = parseWorkflowYaml(`id: x\n${anchors.join('\n')}\nsteps: []\n`);
    expect(model).toBeUndefined();
    expect(error?.message).toMatch(/alias/i);
  });
});
