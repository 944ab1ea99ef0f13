import { describe, expect, it } from 'vitest';
import {
  addParallelBranch, addSwitchCase, branchNameProblem, caseValueProblem, caseValueText, parseCaseValue, insertInto, insertTargets, locate, modelToGraph, newStep,
  parallelBranches, parseWorkflowYaml, removeParallelBranch, removeSwitchCase, renameParallelBranch, renameSwitchCase,
  setParallelJoin, switchCases, toYaml, type WorkflowModel,
} from './model';

const text = `
id: containers
steps:
  - id: check
    kind: if
    condition: "input.n > 1"
    then:
      - id: yes
        kind: set
        values: { a: 1 }
  - id: route
    kind: switch
    value: input.kind
    cases:
      - when: big
        steps: [ { id: c1, kind: set, values: { b: 1 } } ]
      - when: 3
        steps: []
    default: []
  - id: race
    kind: parallel
    branches:
      - name: a
        steps: [ { id: pa, kind: delay, duration: 1s } ]
      - steps: []
  - id: each
    kind: foreach
    items: input.items
    do: []
`;

const load = () => parseWorkflowYaml(text).model!;
/** YAML text of the model parses back to the same model. */
function roundTrips(model: WorkflowModel) {
  const back = parseWorkflowYaml(toYaml(model));
  expect(back.error).toBeUndefined();
  expect(back.model).toEqual(model);
}
const step = (model: WorkflowModel, id: string) => locate(model, id)!.step;

describe('switch cases', () => {
  it('lists, adds, renames and removes cases; the steps of the others stay', () => {
    let model = load();
    expect(switchCases(step(model, 'route'))).toEqual([{ when: 'big', count: 1 }, { when: 3, count: 0 }]);
    model = addSwitchCase(model, 'route', 'small');
    expect(switchCases(step(model, 'route'))).toEqual([{ when: 'big', count: 1 }, { when: 3, count: 0 }, { when: 'small', count: 0 }]);
    expect(toYaml(model)).toMatch(/- when: small\n\s+steps: \[\]/);
    roundTrips(model);
    model = renameSwitchCase(model, 'route', 0, 'huge');
    expect(step(model, 'route').cases).toEqual([
      { when: 'huge', steps: [{ id: 'c1', kind: 'set', values: { b: 1 } }] }, { when: 3, steps: [] }, { when: 'small', steps: [] },
    ]);
    roundTrips(model);
    model = removeSwitchCase(model, 'route', 0);
    expect(locate(model, 'c1')).toBeUndefined(); // its steps go with it
    expect(switchCases(step(model, 'route')).map(c => c.when)).toEqual([3, 'small']);
    expect(step(model, 'route').default).toEqual([]);
    roundTrips(model);
  });

  it('refuses a duplicate value and leaves other kinds alone', () => {
    const model = load();
    expect(caseValueProblem(step(model, 'route'), 'big')).toMatch(/already/);
    expect(caseValueProblem(step(model, 'route'), 'big', 0)).toBeUndefined(); // renaming a case to itself
    expect(caseValueProblem(step(model, 'route'), '3')).toBeUndefined(); // the string '3' is not the number 3
    expect(addSwitchCase(model, 'race', 'x')).toBe(model);
  });

  it('adds a case to a switch without cases', () => {
    const model = addSwitchCase({ id: 'w', steps: [{ id: 's', kind: 'switch', value: 'x' }] }, 's', 1);
    expect(model.steps[0].cases).toEqual([{ when: 1, steps: [] }]);
    roundTrips(model);
  });
});

describe('parallel branches', () => {
  it('lists, adds, renames and removes branches and sets join', () => {
    let model = load();
    expect(parallelBranches(step(model, 'race'))).toEqual([{ name: 'a', count: 1 }, { name: undefined, count: 0 }]);
    model = addParallelBranch(model, 'race', 'c');
    expect(parallelBranches(step(model, 'race')).map(b => b.name)).toEqual(['a', undefined, 'c']);
    model = renameParallelBranch(model, 'race', 1, 'b');
    expect(Object.keys((step(model, 'race').branches as object[])[1])).toEqual(['name', 'steps']); // name first
    model = renameParallelBranch(model, 'race', 0, 'first');
    expect(step(model, 'race').branches).toEqual([
      { name: 'first', steps: [{ id: 'pa', kind: 'delay', duration: '1s' }] }, { name: 'b', steps: [] }, { name: 'c', steps: [] },
    ]);
    roundTrips(model);
    model = removeParallelBranch(model, 'race', 1);
    expect(parallelBranches(step(model, 'race')).map(b => b.name)).toEqual(['first', 'c']);
    model = setParallelJoin(model, 'race', 'any');
    expect(Object.keys(step(model, 'race'))).toEqual(['id', 'kind', 'join', 'branches']);
    model = setParallelJoin(model, 'race', 2);
    expect(step(model, 'race').join).toBe(2);
    expect(toYaml(model)).toMatch(/kind: parallel\n\s+join: 2\n/);
    roundTrips(model);
    model = setParallelJoin(model, 'race', undefined);
    expect('join' in step(model, 'race')).toBe(false);
    roundTrips(model);
  });

  it('checks branch names', () => {
    const race = step(load(), 'race');
    expect(branchNameProblem(race, 'a')).toMatch(/already/);
    expect(branchNameProblem(race, 'a', 0)).toBeUndefined();
    expect(branchNameProblem(race, ' ')).toMatch(/name/);
    expect(branchNameProblem(race, 'z')).toBeUndefined();
  });
});

describe('inserting into a container', () => {
  it('offers every branch of a container, existing or not', () => {
    const model = load();
    expect(insertTargets(step(model, 'check'))).toEqual([{ key: 'then', label: 'then', count: 1 }, { key: 'else', label: 'else', count: 0 }]);
    expect(insertTargets(step(model, 'route'))).toEqual([
      { key: 'cases.0.steps', label: 'case "big"', count: 1 }, { key: 'cases.1.steps', label: 'case 3', count: 0 },
      { key: 'default', label: 'default', count: 0 },
    ]);
    expect(insertTargets(step(model, 'race'))).toEqual([
      { key: 'branches.0.steps', label: 'branch a', count: 1 }, { key: 'branches.1.steps', label: 'branch 2', count: 0 },
    ]);
    expect(insertTargets(step(model, 'each'))).toEqual([{ key: 'do', label: 'body', count: 0 }]);
    expect(insertTargets(step(model, 'yes'))).toEqual([]);
  });

  it('inserts as the first step of then, a missing else, an empty case, default, branch and body', () => {
    let model = load();
    const add = (kind: string, container: string, key: string) => {
      const s = newStep(model, kind);
      model = insertInto(model, s, container, key);
      return s.id;
    };
    const t = add('delay', 'check', 'then');
    expect(locate(model, t)?.path).toBe('$.steps[0].then[0]');
    expect(locate(model, 'yes')?.path).toBe('$.steps[0].then[1]');
    const e = add('set', 'check', 'else');
    expect(locate(model, e)?.path).toBe('$.steps[0].else[0]');
    expect(Object.keys(step(model, 'check'))).toEqual(['id', 'kind', 'condition', 'then', 'else']); // else after then
    const c = add('fail', 'route', 'cases.1.steps');
    expect(locate(model, c)?.path).toBe('$.steps[1].cases[1].steps[0]');
    const d = add('publish', 'route', 'default');
    expect(locate(model, d)?.path).toBe('$.steps[1].default[0]');
    const b = add('script', 'race', 'branches.1.steps');
    expect(locate(model, b)?.path).toBe('$.steps[2].branches[1].steps[0]');
    const body = add('approval', 'each', 'do');
    expect(locate(model, body)?.path).toBe('$.steps[3].do[0]');
    // the graph draws them in their branches
    const graph = modelToGraph(model);
    expect(graph.edges).toContainEqual(expect.objectContaining({ source: 'check', target: e, kind: 'branch', label: 'else' }));
    expect(graph.edges).toContainEqual(expect.objectContaining({ source: 'route', target: c, kind: 'branch', label: 'when 3' }));
    expect(graph.edges).toContainEqual(expect.objectContaining({ source: 'each', target: body, kind: 'branch' }));
    roundTrips(model);
  });

  it('creates a missing default and refuses a branch the step does not have', () => {
    let model: WorkflowModel = { id: 'w', steps: [{ id: 's', kind: 'switch', value: 'x', cases: [{ when: 1, steps: [] }] }] };
    model = insertInto(model, { id: 'n', kind: 'set', values: {} }, 's', 'default');
    expect(Object.keys(model.steps[0])).toEqual(['id', 'kind', 'value', 'cases', 'default']);
    roundTrips(model);
    expect(insertInto(model, { id: 'm', kind: 'set' }, 's', 'cases.5.steps')).toBe(model);
    expect(insertInto(model, { id: 'm', kind: 'set' }, 'n', 'then')).toBe(model);
    expect(insertInto(model, { id: 'm', kind: 'set' }, 'missing', 'then')).toBe(model);
  });
});

describe('case values as text', () => {
  it('shows and parses values so that they come back the same', () => {
    for (const v of ['big', 3, '3', true, 'true', null, 'a b', '', ' x', { a: 1 }, [1, 2]]) {
      expect(parseCaseValue(caseValueText(v as never)).value).toEqual(v);
    }
    expect(caseValueText('big')).toBe('big');
    expect(caseValueText('3')).toBe('"3"');
    expect(parseCaseValue('  ').error).toMatch(/value/);
    expect(parseCaseValue('[1').error).toMatch(/valid/);
  });
});
