// Forms generated from JSON Schema: the designer's property panel (docs/workflow.schema.json, one definition per step
// kind) and the run dialog (a workflow's input.schema). Pure functions; the React side only renders FieldSpecs.
import YAML from 'yaml';

export type Schema = { [key: string]: unknown };
export type Widget = 'text' | 'textarea' | 'number' | 'integer' | 'checkbox' | 'select' | 'list' | 'yaml';
export interface FieldSpec {
  name: string;
  label: string;
  widget: Widget;
  required: boolean;
  description?: string;
  options?: string[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  /** For 'list': the pattern every item must match. */
  itemPattern?: string;
}

const MULTILINE = new Set(['script', 'message', 'condition', 'expression', 'description', 'until']);

export function resolveRef(schema: Schema | undefined, root: Schema): Schema | undefined {
  let current = schema;
  for (let guard = 0; current && typeof current.$ref === 'string' && guard < 20; guard++) {
    const ref = current.$ref as string;
    if (!ref.startsWith('#/')) return current;
    let target: unknown = root;
    for (const part of ref.slice(2).split('/')) target = (target as Schema | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    const { $ref: _ignored, ...rest } = current;
    void _ignored;
    current = { ...(target as Schema), ...rest };
  }
  return current;
}

function typesOf(s: Schema): string[] {
  if (Array.isArray(s.type)) return s.type as string[];
  if (typeof s.type === 'string') return [s.type];
  return [];
}

/** One field for one property schema. */
export function fieldFor(name: string, raw: Schema | undefined, root: Schema, required: boolean): FieldSpec {
  const s = resolveRef(raw ?? {}, root) ?? {};
  const base = { name, label: name.replace(/_/g, ' '), required, description: typeof s.description === 'string' ? s.description : undefined };
  if (Array.isArray(s.enum) && s.enum.every(v => typeof v === 'string')) return { ...base, widget: 'select', options: s.enum as string[] };
  const variants = Array.isArray(s.oneOf) ? (s.oneOf as Schema[]).map(v => resolveRef(v, root) ?? {}) : [];
  // "one string or a list of them" (assignees, errors): a comma-separated list.
  if (variants.length === 2) {
    const str = variants.find(v => typesOf(v).join() === 'string');
    const arr = variants.find(v => typesOf(v).join() === 'array');
    if (str && arr) {
      const item = resolveRef(arr.items as Schema, root) ?? {};
      return { ...base, widget: 'list', itemPattern: (item.pattern ?? str.pattern) as string | undefined };
    }
  }
  const types = typesOf(s);
  if (types.length === 1) {
    switch (types[0]) {
      case 'string':
        return { ...base, widget: MULTILINE.has(name) ? 'textarea' : 'text', pattern: s.pattern as string | undefined };
      case 'integer':
        return { ...base, widget: 'integer', minimum: s.minimum as number | undefined, maximum: s.maximum as number | undefined };
      case 'number':
        return { ...base, widget: 'number', minimum: s.minimum as number | undefined, maximum: s.maximum as number | undefined };
      case 'boolean':
        return { ...base, widget: 'checkbox' };
      case 'array':
        if (typesOf(resolveRef(s.items as Schema, root) ?? {}).join() === 'string') return { ...base, widget: 'list' };
    }
  }
  return { ...base, widget: 'yaml' };
}

/** Fields for an object schema, required ones first; `skip` leaves out properties handled elsewhere. */
export function fieldsFor(schema: Schema | undefined, root: Schema, skip: string[] = []): FieldSpec[] {
  const s = resolveRef(schema, root);
  if (!s || typeof s.properties !== 'object' || s.properties === null) return [];
  const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
  const fields = Object.entries(s.properties as Record<string, Schema>)
    .filter(([name]) => !skip.includes(name))
    .map(([name, prop]) => fieldFor(name, prop, root, required.has(name)));
  return [...fields.filter(f => f.required), ...fields.filter(f => !f.required)];
}

/** The property panel of a step kind, from the workflow schema's `step_<kind>` definition. */
export function stepFields(workflowSchema: Schema, kind: string): FieldSpec[] {
  const definitions = workflowSchema.definitions as Record<string, Schema> | undefined;
  const def = definitions?.[`step_${kind}`];
  const fields = fieldsFor(def, workflowSchema, ['kind', 'then', 'else', 'do', 'default', 'steps']);
  // id, then what this kind is about, then the fields every step has.
  const common = ['description', 'compensate', 'retry', 'timeout', 'on_error'];
  return [...fields.filter(f => !common.includes(f.name)), ...common.map(n => fields.find(f => f.name === n)).filter((f): f is FieldSpec => !!f)];
}

/** Text shown in an input for a value. */
export function toText(field: FieldSpec, value: unknown): string {
  if (value === undefined || value === null) return '';
  switch (field.widget) {
    case 'list': return Array.isArray(value) ? value.join(', ') : String(value);
    case 'yaml': return YAML.stringify(value, { lineWidth: 0 }).trimEnd();
    case 'checkbox': return value ? 'true' : 'false';
    default: return typeof value === 'string' ? value : JSON.stringify(value);
  }
}

export interface Parsed { value?: unknown; error?: string; empty?: boolean }

/** Parses and checks one input: the value to store, or the error to show next to the field. */
export function parseField(field: FieldSpec, text: string): Parsed {
  const trimmed = text.trim();
  if (trimmed === '' && field.widget !== 'checkbox') {
    return field.required ? { error: `${field.label} is required`, empty: true } : { empty: true };
  }
  switch (field.widget) {
    case 'integer':
    case 'number': {
      const n = Number(trimmed);
      if (!Number.isFinite(n)) return { error: `${field.label} must be a number` };
      if (field.widget === 'integer' && !Number.isInteger(n)) return { error: `${field.label} must be a whole number` };
      if (field.minimum !== undefined && n < field.minimum) return { error: `${field.label} must be at least ${field.minimum}` };
      if (field.maximum !== undefined && n > field.maximum) return { error: `${field.label} must be at most ${field.maximum}` };
      return { value: n };
    }
    case 'checkbox':
      return { value: trimmed === 'true' };
    case 'list': {
      const items = trimmed.split(',').map(s => s.trim()).filter(Boolean);
      if (field.itemPattern) {
        const re = new RegExp(field.itemPattern);
        const bad = items.find(i => !re.test(i));
        if (bad) return { error: `'${bad}' does not match ${field.itemPattern}` };
      }
      return { value: items };
    }
    case 'select':
      return field.options?.includes(trimmed) ? { value: trimmed } : { error: `${field.label} must be one of ${field.options?.join(', ')}` };
    case 'yaml': {
      try {
        return { value: YAML.parse(text) };
      } catch (e) {
        return { error: `not valid YAML: ${(e as Error).message.split('\n')[0]}` };
      }
    }
    default:
      if (field.pattern && !new RegExp(field.pattern).test(text)) return { error: `${field.label} does not match ${field.pattern}` };
      return { value: text };
  }
}

/** Checks a whole object against the fields (used before starting a workflow and by the property panel). */
export function validateObject(fields: FieldSpec[], value: Record<string, unknown>): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const v = value[f.name];
    if (v === undefined || v === '') {
      if (f.required) errors[f.name] = `${f.label} is required`;
      continue;
    }
    const parsed = parseField(f, toText(f, v));
    if (parsed.error) errors[f.name] = parsed.error;
  }
  return errors;
}
