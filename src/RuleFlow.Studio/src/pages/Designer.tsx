import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import bundledSchema from '../../../../docs/workflow.schema.json';
import { api, ApiError, can, type Diagnostic, type InstanceDetails, type WorkflowDefinitionResponse } from '../lib/api';
import { useLive, useSession } from '../lib/session';
import { Link, navigate } from '../lib/router';
import { fieldsFor, stepFields, validateObject, type Schema } from '../lib/schemaForm';
import {
  addParallelBranch, addSwitchCase, branchNameProblem, caseValueProblem, caseValueText, insertInto, insertStep, insertTargets, locate,
  modelToGraph, moveStep, newStep, parallelBranches, parseCaseValue, parseWorkflowYaml, removeParallelBranch, removeStep,
  removeSwitchCase, renameParallelBranch, renameSwitchCase, setParallelJoin, shallowStep, STEP_KINDS, stepForPath, switchCases, toYaml,
  updateStep, type Json, type Step, type WorkflowModel,
} from '../workflow/model';
import { statusesFromJournal, stepStatusFromEvent } from '../workflow/status';
import { WorkflowGraph } from '../components/WorkflowGraph';
import { CodeEditor } from '../components/CodeEditor';
import { FieldInput } from '../components/Fields';
import { tabListKeyDown } from '../lib/tabs';

const NEW_WORKFLOW = `id: new-workflow
description: A new workflow.
input:
  schema:
    type: object
    properties: {}
steps:
  - id: start
    kind: set
    values: { started: true }
`;

const ROOT_FIELDS_SCHEMA: Schema = {
  type: 'object', required: ['id'],
  properties: {
    id: { $ref: '#/definitions/id' },
    description: { type: 'string' },
    version: { type: 'integer', minimum: 1, description: 'Declared version; without it every changed content becomes a new version.' },
    input: { type: ['object', 'null'], description: 'input.schema: the JSON Schema the instance input must fit (drives the run form).' },
    output: { description: 'The instance output (templates over the final scope).' },
  },
};

type SideTab = 'properties' | 'yaml' | 'problems';
const SIDE_TABS: readonly SideTab[] = ['properties', 'yaml', 'problems'];

/** The save notice, carried over the navigation from /workflows/new to /workflows/{id} (a new designer instance). */
let carriedNotice: { kind: 'ok' | 'error'; text: string } | undefined;

export default function DesignerPage({ id }: { id: string | null }) {
  const { me } = useSession();
  const [schema, setSchema] = useState<Schema>(bundledSchema as Schema);
  const [yaml, setYaml] = useState<string>(id ? '' : NEW_WORKFLOW);
  const [model, setModel] = useState<WorkflowModel | undefined>(() => (id ? undefined : parseWorkflowYaml(NEW_WORKFLOW).model));
  const [parseError, setParseError] = useState<{ message: string; line?: number; column?: number }>();
  const [loadError, setLoadError] = useState<string>();
  const [meta, setMeta] = useState<{ version?: number; file?: string }>({});
  const [selected, setSelected] = useState<string>();
  /** Where the palette adds when the selected step is a container: a branch key of insertTargets, or '' for after it. */
  const [addTarget, setAddTarget] = useState<{ stepId: string; key: string }>();
  const [tab, setTab] = useState<SideTab>('properties');
  const [diagnostics, setDiagnostics] = useState<Diagnostic[]>([]);
  const [notice, setNotice] = useState<{ kind: 'ok' | 'error'; text: string } | undefined>(() => { const n = carriedNotice; carriedNotice = undefined; return n; });
  const [dirty, setDirty] = useState(false);
  const [saving, setSaving] = useState(false);
  const [running, setRunning] = useState(false);
  const [watch, setWatch] = useState<{ instanceId: string; state: string; statuses: Record<string, string> }>();
  const editable = can.author(me);

  useEffect(() => { api.get<Schema>('/api/workflows/schema').then(setSchema).catch(() => { /* bundled copy */ }); }, []);

  useEffect(() => {
    if (!id) return;
    api.get<WorkflowDefinitionResponse>(`/api/workflows/${encodeURIComponent(id)}/definition`)
      .then(d => {
        setYaml(d.yaml);
        setMeta({ version: d.version, file: d.file });
        const parsed = parseWorkflowYaml(d.yaml);
        setModel(parsed.model);
        setParseError(parsed.error);
      })
      .catch(e => setLoadError((e as Error).message));
  }, [id]);

  // YAML → model (the text is what the user typed; the graph follows when it parses)
  const onYaml = useCallback((text: string) => {
    setYaml(text);
    setDirty(true);
    const parsed = parseWorkflowYaml(text);
    setParseError(parsed.error);
    if (parsed.model) setModel(parsed.model);
  }, []);
  // model → YAML (graph and property panel edits)
  const applyModel = useCallback((next: WorkflowModel) => {
    setModel(next);
    setYaml(toYaml(next));
    setParseError(undefined);
    setDirty(true);
  }, []);

  // Server checks (never writes), debounced
  const validateSeq = useRef(0);
  useEffect(() => {
    if (!yaml || parseError) return;
    const seq = ++validateSeq.current;
    const t = setTimeout(() => {
      api.post<{ ok: boolean; diagnostics: Diagnostic[] }>('/api/workflows/validate', { yaml })
        .then(r => { if (seq === validateSeq.current) setDiagnostics(r.diagnostics ?? []); })
        .catch(() => { /* the save will say */ });
    }, 500);
    return () => clearTimeout(t);
  }, [yaml, parseError]);

  const graph = useMemo(() => (model ? modelToGraph(model) : undefined), [model]);
  const allDiagnostics = useMemo<Diagnostic[]>(() => [
    ...(parseError ? [{ severity: 'error', code: 'WF1001', message: parseError.message, line: parseError.line, column: parseError.column }] : []),
    ...diagnostics,
  ], [parseError, diagnostics]);
  const diagnosticStep = useCallback((d: Diagnostic) => d.stepId ?? (model ? stepForPath(model, d.path) : undefined), [model]);
  const problems = useMemo(() => {
    const out: Record<string, number> = {};
    for (const d of allDiagnostics) { const s = diagnosticStep(d); if (s && d.severity === 'error') out[s] = (out[s] ?? 0) + 1; }
    return out;
  }, [allDiagnostics, diagnosticStep]);

  const select = (stepId: string | undefined) => { setSelected(stepId); setTab('properties'); };
  const add = (kind: string) => {
    if (!model) return;
    const step = newStep(model, kind);
    const into = selected && addTarget?.stepId === selected && addTarget.key ? addTarget.key : undefined;
    applyModel(into ? insertInto(model, step, selected!, into) : insertStep(model, step, selected && locate(model, selected) ? selected : undefined));
    select(step.id);
  };

  const save = async () => {
    if (!model) return;
    const target = model.id;
    setSaving(true);
    setNotice(undefined);
    try {
      const r = await api.put<{ id: string; version: number; file: string; created?: boolean }>(`/api/workflows/${encodeURIComponent(target)}`,
        { yaml, ...(id === target && meta.version ? { expectedVersion: meta.version } : {}) });
      setMeta({ version: r.version, file: r.file });
      setDiagnostics([]);
      setDirty(false);
      const saved = { kind: 'ok' as const, text: `Saved ${r.id} version ${r.version} to ${r.file}` };
      setNotice(saved);
      if (id !== target) { carriedNotice = saved; navigate(`/workflows/${encodeURIComponent(target)}`); }
    } catch (e) {
      const err = e as ApiError;
      if (err.diagnostics?.length) { setDiagnostics(err.diagnostics); setTab('problems'); }
      setNotice({ kind: 'error', text: `Not saved: ${err.message}` });
    } finally { setSaving(false); }
  };

  // Run: watch the instance step by step. Live `step`/`instance` events move the graph; after each one the instance is read
  // again (debounced) so the state shown is the committed one. Events that arrive between the start request and its
  // answer are kept (the last 500) and replayed once the instance id is known.
  type Watch = { instanceId: string; state: string; statuses: Record<string, string> };
  const recent = useRef<{ event: string; json: Record<string, unknown> }[]>([]);
  const watchedId = useRef<string | undefined>(undefined);
  const refreshTimer = useRef<number | undefined>(undefined);
  const applyEvent = (w: Watch, json: Record<string, unknown>, event: string): Watch => {
    if (event === 'step' && json.instanceId === w.instanceId && typeof json.stepId === 'string') {
      return { ...w, statuses: { ...w.statuses, [json.stepId]: stepStatusFromEvent(String(json.status)) } };
    }
    if (event === 'instance' && json.id === w.instanceId && typeof json.state === 'string') return { ...w, state: json.state };
    return w;
  };
  const refreshWatch = useCallback((instanceId: string) => {
    api.get<InstanceDetails>(`/api/instances/${instanceId}`).then(d => setWatch(w => (w && w.instanceId === instanceId
      ? { ...w, state: d.state, statuses: { ...w.statuses, ...statusesFromJournal(d.journal ?? []) } } : w))).catch(() => undefined);
  }, []);
  useLive(['step', 'instance'], (json, event) => {
    recent.current.push({ event, json });
    if (recent.current.length > 500) recent.current.shift();
    const id = watchedId.current;
    if (!id || (json.instanceId !== id && json.id !== id)) return;
    setWatch(w => (w ? applyEvent(w, json, event) : w));
    window.clearTimeout(refreshTimer.current);
    refreshTimer.current = window.setTimeout(() => refreshWatch(id), 150);
  });
  useEffect(() => () => window.clearTimeout(refreshTimer.current), []);
  const started = (instanceId: string) => {
    setRunning(false);
    watchedId.current = instanceId;
    setWatch(recent.current.reduce((w, e) => applyEvent(w, e.json, e.event), { instanceId, state: 'running', statuses: {} } as Watch));
    refreshWatch(instanceId);
  };

  if (loadError) return <section><h1>Workflow {id}</h1><p className="error" role="alert">{loadError}</p><Link to="/workflows">Back to workflows</Link></section>;
  if (!model && !parseError) return <p role="status">Loading {id}…</p>;

  const selectedStep = model && selected ? locate(model, selected)?.step : undefined;
  const targets = selectedStep ? insertTargets(selectedStep) : [];
  const targetKey = selected && addTarget?.stepId === selected && targets.some(t => t.key === addTarget.key) ? addTarget.key : '';
  const stepDiagnostics = (stepId: string) => allDiagnostics.filter(d => diagnosticStep(d) === stepId);

  return (
    <section className="designer" aria-label="Workflow designer">
      <div className="toolbar">
        <h1>{id ? model?.id ?? id : 'New workflow'}</h1>
        <span className="muted">{meta.version ? `version ${meta.version}` : 'not saved yet'}{meta.file ? ` · ${meta.file}` : ''}{dirty ? ' · unsaved changes' : ''}</span>
        <span className="spacer" />
        {editable && <button type="button" onClick={save} disabled={saving || !!parseError || !model?.id}>{saving ? 'Saving…' : 'Save'}</button>}
        {can.operate(me) && id && <button type="button" className="secondary" onClick={() => setRunning(true)} disabled={dirty}
          title={dirty ? 'Save first: a run uses the saved version' : 'Start an instance'}>Run…</button>}
      </div>
      {notice && <p className={notice.kind === 'ok' ? 'notice ok' : 'notice error'} role={notice.kind === 'ok' ? 'status' : 'alert'} data-testid="designer-notice">{notice.text}</p>}
      {watch && (
        <p className="notice run" role="status" data-testid="run-status">
          Instance <Link to={`/instances/${watch.instanceId}`}>{watch.instanceId.slice(0, 8)}</Link> is <strong data-testid="run-state">{watch.state}</strong>
          {' '}<button type="button" className="ghost" onClick={() => { watchedId.current = undefined; setWatch(undefined); }}>Stop watching</button>
        </p>
      )}
      <div className="designer-body">
        {editable && (
          <nav className="palette" aria-label="Step kinds">
            <h2>Add step</h2>
            {targets.length > 0 ? (
              <div className="field">
                <label htmlFor="add-target" className="small">Add where</label>
                <select id="add-target" value={targetKey} onChange={e => setAddTarget({ stepId: selected!, key: e.target.value })}>
                  <option value="">after {selected}</option>
                  {targets.map(t => (
                    <option key={t.key} value={t.key}>into {t.label}{t.count === 0 ? ' (empty)' : ` (first of ${t.count})`}</option>
                  ))}
                </select>
              </div>
            ) : <p className="muted small">{selected ? `after ${selected}` : 'at the end'}</p>}
            {STEP_KINDS.map(k => (
              <button key={k} type="button" className="palette-item" onClick={() => add(k)} aria-label={`Add ${k} step`}>{k}</button>
            ))}
          </nav>
        )}
        <div className="canvas">
          {graph ? <WorkflowGraph graph={graph} statuses={watch?.statuses} problems={problems} selected={selected} onSelect={select} label="Workflow graph" />
            : <p className="error">The YAML does not parse; fix it in the YAML tab.</p>}
        </div>
        <aside className="side" aria-label="Details">
          <div role="tablist" aria-label="Panels" className="tabs" onKeyDown={e => tabListKeyDown(e, SIDE_TABS, tab, setTab)}>
            {SIDE_TABS.map(t => (
              <button key={t} type="button" role="tab" aria-selected={tab === t} aria-controls={`panel-${t}`} id={`tab-${t}`}
                tabIndex={tab === t ? 0 : -1} className={tab === t ? 'active' : ''} onClick={() => setTab(t)}>
                {t === 'problems' ? `Problems (${allDiagnostics.length})` : t === 'yaml' ? 'YAML' : 'Properties'}
              </button>
            ))}
          </div>
          <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="tabpanel">
            {tab === 'yaml' && (
              <CodeEditor value={yaml} onChange={editable ? onYaml : undefined} readOnly={!editable} language="yaml" label="Workflow YAML"
                markers={allDiagnostics} />
            )}
            {tab === 'problems' && (
              <ul className="problems" aria-label="Problems">
                {allDiagnostics.length === 0 && <li className="muted">No problems.</li>}
                {allDiagnostics.map((d, i) => {
                  const s = diagnosticStep(d);
                  return (
                    <li key={i} className={d.severity}>
                      <strong>{d.code}</strong> {d.message}
                      <small className="muted"> {d.line ? `line ${d.line}` : ''} {d.path ?? ''}</small>
                      {s && <button type="button" className="link" onClick={() => select(s)}>step {s}</button>}
                    </li>
                  );
                })}
              </ul>
            )}
            {tab === 'properties' && model && (selectedStep ? (
              <StepPanel key={selected} step={selectedStep} schema={schema} editable={editable} diagnostics={stepDiagnostics(selected!)}
                onChange={s => { const next = updateStep(model, selected!, s); applyModel(next); if (s.id !== selected) setSelected(s.id); }}
                onMove={d => applyModel(moveStep(model, selected!, d))}
                onEdit={edit => applyModel(edit(model))}
                onDelete={() => { applyModel(removeStep(model, selected!)); setSelected(undefined); }}
                onClose={() => setSelected(undefined)} />
            ) : (
              <RootPanel model={model} schema={schema} editable={editable} onChange={applyModel} onSelect={select}
                diagnostics={allDiagnostics.filter(d => !diagnosticStep(d))} />
            ))}
          </div>
        </aside>
      </div>
      {running && model && <RunDialog model={model} onClose={() => setRunning(false)} onStarted={started} />}
    </section>
  );
}

function StepPanel({ step, schema, editable, diagnostics, onChange, onMove, onEdit, onDelete, onClose }: {
  step: Step; schema: Schema; editable: boolean; diagnostics: Diagnostic[];
  onChange: (s: Step) => void; onMove: (d: -1 | 1) => void; onEdit: (edit: (m: WorkflowModel) => WorkflowModel) => void;
  onDelete: () => void; onClose: () => void;
}) {
  const fields = useMemo(() => stepFields(schema, step.kind)
    .filter(f => f.name !== 'cases' && f.name !== 'branches' && !(step.kind === 'parallel' && f.name === 'join')), [schema, step.kind]);
  const own = shallowStep(step);
  const byField = (name: string) => diagnostics.find(d => d.path?.match(new RegExp(`\\.${name}(\\b|\\[|\\.|$)`)))?.message;
  const set = (name: string, value: unknown) => {
    const next = { ...own } as Record<string, Json>;
    if (value === undefined) delete next[name]; else next[name] = value as Json;
    onChange(next as Step);
  };
  return (
    <form className="panel" aria-label={`Step ${step.id}`} onSubmit={e => e.preventDefault()}>
      <div className="panel-head">
        <h2>Step <code>{step.id}</code> <small className="muted">{step.kind}</small></h2>
        <button type="button" className="icon" aria-label="Close step properties" title="Close" onClick={onClose}>✕</button>
      </div>
      {editable && (
        <div className="row">
          <button type="button" className="icon" aria-label="Move step up" title="Move up" onClick={() => onMove(-1)}>↑</button>
          <button type="button" className="icon" aria-label="Move step down" title="Move down" onClick={() => onMove(1)}>↓</button>
          <button type="button" className="danger" onClick={onDelete}>Delete step</button>
        </div>
      )}
      {diagnostics.length > 0 && (
        <ul className="step-problems" aria-label="Problems of this step" data-testid="step-problems">
          {diagnostics.map((d, i) => <li key={i} className={d.severity}><strong>{d.code}</strong> {d.message}</li>)}
        </ul>
      )}
      {step.kind === 'switch' && <CasesEditor step={step} editable={editable} onEdit={onEdit} />}
      {step.kind === 'parallel' && <BranchesEditor step={step} editable={editable} onEdit={onEdit} />}
      <fieldset disabled={!editable}>
        <legend className="sr-only">Fields of {step.kind}</legend>
        {fields.map(f => (
          <FieldInput key={f.name} field={f} value={own[f.name]} onValue={v => set(f.name, v)} serverError={byField(f.name)} idPrefix={`step-${step.id}`} />
        ))}
      </fieldset>
    </form>
  );
}

const plural = (n: number) => `${n} step${n === 1 ? '' : 's'}`;

/** A name/value input that is applied with Enter or its button; shows why a value is refused. */
function ItemInput({ id, label, initial, check, onApply, buttonLabel, buttonText, disabled }: {
  id: string; label: string; initial: string; check: (text: string) => string | undefined; onApply: (text: string) => void;
  buttonLabel: string; buttonText: string; disabled: boolean;
}) {
  const [text, setText] = useState(initial);
  const error = text === initial && initial !== '' ? undefined : check(text);
  const apply = () => { if (!error && text !== initial) { onApply(text); if (initial === '') setText(''); } };
  const touched = text !== initial;
  return (
    <>
      <label htmlFor={id} className="sr-only">{label}</label>
      <input id={id} value={text} disabled={disabled} aria-invalid={(touched && !!error) || undefined}
        aria-describedby={touched && error ? `${id}-error` : undefined} onChange={e => setText(e.target.value)}
        onKeyDown={e => { if (e.key === 'Enter') { e.preventDefault(); apply(); } }} />
      <button type="button" className="secondary" aria-label={buttonLabel} disabled={disabled || !touched || !!error} onClick={apply}>{buttonText}</button>
      {touched && error && <span id={`${id}-error`} className="field-error" role="alert">{error}</span>}
    </>
  );
}

function CasesEditor({ step, editable, onEdit }: { step: Step; editable: boolean; onEdit: (edit: (m: WorkflowModel) => WorkflowModel) => void }) {
  const cases = switchCases(step);
  const check = (except?: number) => (text: string) => {
    const parsed = parseCaseValue(text);
    return parsed.error ?? caseValueProblem(step, parsed.value!, except);
  };
  return (
    <section className="field" aria-labelledby={`cases-${step.id}`} data-testid="switch-cases">
      <h3 id={`cases-${step.id}`}>Cases</h3>
      <p className="muted small">Values are YAML: <code>big</code>, <code>3</code>, <code>"3"</code> (text). Add steps into a case with the palette's "Add where".</p>
      {cases.length === 0 && <p className="muted small">No cases: only <code>default</code> runs.</p>}
      <ul className="items">
        {cases.map((c, i) => {
          const text = caseValueText(c.when);
          return (
            <li key={`${i}:${text}`} className="row item-row">
              <ItemInput id={`case-${step.id}-${i}`} label={`Value of case ${i + 1}`} initial={text} check={check(i)} disabled={!editable}
                buttonLabel={`Rename case ${text}`} buttonText="Rename"
                onApply={t => onEdit(m => renameSwitchCase(m, step.id, i, parseCaseValue(t).value!))} />
              <small className="muted">{plural(c.count)}</small>
              {editable && <button type="button" className="danger" aria-label={`Remove case ${text}${c.count ? ` and its ${plural(c.count)}` : ''}`}
                onClick={() => onEdit(m => removeSwitchCase(m, step.id, i))}>Remove</button>}
            </li>
          );
        })}
      </ul>
      {editable && (
        <div className="row item-row">
          <ItemInput id={`new-case-${step.id}`} label="New case value" initial="" check={check()} disabled={!editable}
            buttonLabel="Add case" buttonText="Add case" onApply={t => onEdit(m => addSwitchCase(m, step.id, parseCaseValue(t).value!))} />
        </div>
      )}
      {'default' in step && <p className="muted small">default: {plural(Array.isArray(step.default) ? step.default.length : 0)}</p>}
    </section>
  );
}

function BranchesEditor({ step, editable, onEdit }: { step: Step; editable: boolean; onEdit: (edit: (m: WorkflowModel) => WorkflowModel) => void }) {
  const branches = parallelBranches(step);
  const join = step.join;
  const mode = typeof join === 'number' ? 'n' : join === 'any' ? 'any' : 'all';
  const [count, setCount] = useState(typeof join === 'number' ? String(join) : '1');
  useEffect(() => { if (typeof join === 'number') setCount(String(join)); }, [join]);
  const countError = /^\d+$/.test(count.trim()) && Number(count) >= 1 ? undefined : 'a whole number of branches, at least 1';
  return (
    <section className="field" aria-labelledby={`branches-${step.id}`} data-testid="parallel-branches">
      <h3 id={`branches-${step.id}`}>Branches</h3>
      <div className="row">
        <label htmlFor={`join-${step.id}`}>join</label>
        <select id={`join-${step.id}`} value={mode} disabled={!editable}
          onChange={e => onEdit(m => setParallelJoin(m, step.id, e.target.value === 'n' ? Math.max(1, Number(count) || 1) : e.target.value as 'all' | 'any'))}>
          <option value="all">all{join === undefined ? ' (default)' : ''}</option>
          <option value="any">any</option>
          <option value="n">a number of branches</option>
        </select>
        {mode === 'n' && (
          <>
            <label htmlFor={`join-n-${step.id}`} className="sr-only">Number of branches to wait for</label>
            <input id={`join-n-${step.id}`} type="number" min={1} step={1} value={count} disabled={!editable} style={{ width: 70 }}
              aria-invalid={!!countError || undefined} aria-describedby={countError ? `join-n-${step.id}-error` : undefined}
              onChange={e => {
                setCount(e.target.value);
                const n = Number(e.target.value);
                if (Number.isInteger(n) && n >= 1) onEdit(m => setParallelJoin(m, step.id, n));
              }} />
            {countError && <span id={`join-n-${step.id}-error`} className="field-error" role="alert">{countError}</span>}
          </>
        )}
      </div>
      <p className="muted small">Add steps into a branch with the palette's "Add where".</p>
      <ul className="items">
        {branches.map((b, i) => {
          const name = b.name ?? '';
          return (
            <li key={`${i}:${name}`} className="row item-row">
              <ItemInput id={`branch-${step.id}-${i}`} label={`Name of branch ${i + 1}`} initial={name} check={t => branchNameProblem(step, t, i)}
                disabled={!editable} buttonLabel={`Rename branch ${b.name ?? i + 1}`} buttonText="Rename"
                onApply={t => onEdit(m => renameParallelBranch(m, step.id, i, t))} />
              <small className="muted">{plural(b.count)}</small>
              {editable && <button type="button" className="danger" disabled={branches.length <= 1}
                title={branches.length <= 1 ? 'A parallel step needs at least one branch' : undefined}
                aria-label={`Remove branch ${b.name ?? i + 1}${b.count ? ` and its ${plural(b.count)}` : ''}`}
                onClick={() => onEdit(m => removeParallelBranch(m, step.id, i))}>Remove</button>}
            </li>
          );
        })}
      </ul>
      {editable && (
        <div className="row item-row">
          <ItemInput id={`new-branch-${step.id}`} label="New branch name" initial="" check={t => branchNameProblem(step, t)} disabled={!editable}
            buttonLabel="Add branch" buttonText="Add branch" onApply={t => onEdit(m => addParallelBranch(m, step.id, t))} />
        </div>
      )}
    </section>
  );
}

function RootPanel({ model, schema, editable, onChange, onSelect, diagnostics }: {
  model: WorkflowModel; schema: Schema; editable: boolean; onChange: (m: WorkflowModel) => void; onSelect: (id: string) => void; diagnostics: Diagnostic[];
}) {
  const fields = useMemo(() => fieldsFor(ROOT_FIELDS_SCHEMA, { ...schema, ...ROOT_FIELDS_SCHEMA, definitions: schema.definitions }), [schema]);
  const graph = modelToGraph(model);
  return (
    <div className="panel">
      <h2>Workflow</h2>
      {diagnostics.length > 0 && (
        <ul className="step-problems">{diagnostics.map((d, i) => <li key={i} className={d.severity}><strong>{d.code}</strong> {d.message}</li>)}</ul>
      )}
      <fieldset disabled={!editable}>
        <legend className="sr-only">Workflow fields</legend>
        {fields.map(f => (
          <FieldInput key={f.name} field={f} value={model[f.name]} idPrefix="workflow"
            onValue={v => { const next = { ...model } as WorkflowModel; if (v === undefined) delete next[f.name]; else next[f.name] = v as Json; onChange(next); }} />
        ))}
      </fieldset>
      <h3>Steps</h3>
      <ol className="outline" aria-label="Steps outline">
        {graph.nodes.filter(n => n.type === 'step').map(n => (
          <li key={n.id} style={{ paddingLeft: n.depth * 14 }}>
            <button type="button" className="link" onClick={() => onSelect(n.stepId)}>{n.stepId}</button> <small className="muted">{n.kind}</small>
          </li>
        ))}
      </ol>
    </div>
  );
}

function RunDialog({ model, onClose, onStarted }: { model: WorkflowModel; onClose: () => void; onStarted: (id: string) => void }) {
  const inputSchema = ((model.input as Record<string, Json> | null | undefined)?.schema ?? { type: 'object' }) as Schema;
  const fields = useMemo(() => fieldsFor(inputSchema, inputSchema), [inputSchema]);
  const [value, setValue] = useState<Record<string, unknown>>({});
  const [correlationKey, setCorrelationKey] = useState('');
  const [error, setError] = useState<string>();
  const [errors, setErrors] = useState<Record<string, string>>({});
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => { dialog.current?.showModal(); }, []);
  const submit = async () => {
    const found = validateObject(fields, value);
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    try {
      const r = await api.post<{ id: string }>('/api/instances', { workflow: model.id, input: value, ...(correlationKey ? { correlationKey } : {}) });
      dialog.current?.close();
      onStarted(r.id);
    } catch (e) { setError((e as Error).message); }
  };
  return (
    <dialog ref={dialog} className="dialog" aria-labelledby="run-title" onClose={onClose}>
      <form method="dialog" onSubmit={e => { e.preventDefault(); void submit(); }}>
        <h2 id="run-title">Run {model.id}</h2>
        {fields.length === 0 && <p className="muted">This workflow's input schema has no properties: it starts with an empty input.</p>}
        {fields.map(f => (
          <FieldInput key={f.name} field={f} value={value[f.name]} idPrefix="run" serverError={errors[f.name]}
            onValue={v => {
              setErrors(old => { const next = { ...old }; delete next[f.name]; return next; });
              setValue(old => { const next = { ...old }; if (v === undefined) delete next[f.name]; else next[f.name] = v; return next; });
            }} />
        ))}
        <div className="field">
          <label htmlFor="run-correlation">correlation key <small className="muted">(optional)</small></label>
          <input id="run-correlation" value={correlationKey} onChange={e => setCorrelationKey(e.target.value)} />
        </div>
        {error && <p className="error" role="alert">{error}</p>}
        <div className="row">
          <button type="submit">Start</button>
          <button type="button" className="ghost" onClick={() => dialog.current?.close()}>Cancel</button>
        </div>
      </form>
    </dialog>
  );
}
