import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { fieldsFor, parseField, stepFields, toText, validateObject, type Schema } from './schemaForm';
import { STEP_KINDS } from '../workflow/model';

const workflowSchema = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../../docs/workflow.schema.json'), 'utf8')) as Schema;

describe('schema-driven forms', () => {
  it('has a property panel for every step kind', () => {
    for (const kind of STEP_KINDS) {
      const fields = stepFields(workflowSchema, kind);
      expect(fields.map(f => f.name)).toContain('id');
      expect(fields.map(f => f.name)).not.toContain('kind');
    }
  });

  it('picks widgets from the schema: required first, enums, durations, assignee lists, YAML for structures', () => {
    const fields = stepFields(workflowSchema, 'approval');
    const f = (n: string) => fields.find(x => x.name === n)!;
    expect(fields.slice(0, 3).map(x => x.name)).toEqual(['id', 'assignees', 'message']);
    expect(f('assignees')).toMatchObject({ widget: 'list', required: true, itemPattern: '^(role|user):[^\\s:]+$' });
    expect(f('message').widget).toBe('textarea');
    expect(f('on_timeout')).toMatchObject({ widget: 'select', options: ['approve', 'reject', 'escalate'] });
    expect(f('timeout')).toMatchObject({ widget: 'text', pattern: '^([0-9]+(ms|s|m|h|d))+$' });
    expect(f('required')).toMatchObject({ widget: 'integer', minimum: 1 });
    expect(f('compensate').widget).toBe('yaml');
    expect(f('retry').widget).toBe('yaml');
    expect(stepFields(workflowSchema, 'if').map(x => x.name)).not.toContain('then');
    // the kind's own fields before the ones every step has
    const script = stepFields(workflowSchema, 'script').map(x => x.name);
    expect(script[0]).toBe('id');
    expect(script.indexOf('script')).toBeLessThan(script.indexOf('description'));
    expect(script.slice(-5)).toEqual(['description', 'compensate', 'retry', 'timeout', 'on_error']);
  });

  it('validates inline', () => {
    const fields = stepFields(workflowSchema, 'approval');
    const f = (n: string) => fields.find(x => x.name === n)!;
    expect(parseField(f('timeout'), '24x').error).toMatch(/does not match/);
    expect(parseField(f('timeout'), '1h30m')).toEqual({ value: '1h30m' });
    expect(parseField(f('assignees'), 'role:approver, bob').error).toMatch(/'bob'/);
    expect(parseField(f('assignees'), 'role:approver, user:bob').value).toEqual(['role:approver', 'user:bob']);
    expect(parseField(f('required'), '0').error).toMatch(/at least 1/);
    expect(parseField(f('message'), ' ').error).toMatch(/required/);
    expect(parseField(f('id'), '9lives').error).toMatch(/does not match/);
    expect(parseField(f('compensate'), 'script: [').error).toMatch(/YAML/);
    expect(parseField(f('compensate'), 'script: x()').value).toEqual({ script: 'x()' });
    expect(toText(f('assignees'), ['role:a', 'user:b'])).toBe('role:a, user:b');
  });

  it('builds the run form from a workflow input schema', () => {
    const input: Schema = {
      type: 'object', required: ['ip'],
      properties: {
        ip: { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+\\.\\d+$' }, attempts: { type: 'integer', minimum: 0 },
        dry: { type: 'boolean' }, mode: { type: 'string', enum: ['a', 'b'] }, evidence: { type: 'array', items: { type: 'object' } },
      },
    };
    const fields = fieldsFor(input, input);
    expect(fields.map(f => [f.name, f.widget])).toEqual([
      ['ip', 'text'], ['attempts', 'integer'], ['dry', 'checkbox'], ['mode', 'select'], ['evidence', 'yaml'],
    ]);
    expect(validateObject(fields, {})).toEqual({ ip: 'ip is required' });
    expect(validateObject(fields, { ip: '1.2.3.4', attempts: -1 })).toEqual({ attempts: 'attempts must be at least 0' });
    expect(validateObject(fields, { ip: '1.2.3.4', evidence: [{ a: 1 }] })).toEqual({});
  });
});
