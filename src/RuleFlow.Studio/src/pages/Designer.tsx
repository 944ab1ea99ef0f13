import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import bundledSchema from '../../../../docs/workflow.schema.json';
import { api, ApiError, can, type Diagnostic, type InstanceDetails, type WorkflowDefinitionResponse } from '../lib/api';
import { useLive, useSession } from '../lib/session';
import { Link, navigate } from '../lib/router';
import { fieldsFor, stepFields, validateObject, type Schema } from '../lib/schemaForm';
import {
  insertStep, locate, modelToGraph, moveStep, newStep, parseWorkflowYaml, removeStep, shallowStep, STEP_KINDS, stepForPath, toYaml,
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
    applyModel(insertStep(model, step, selected && locate(model, selected) ? selected : undefined));
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
            <p className="muted small">{selected ? `after ${selected}` : 'at the end'}</p>
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

function StepPanel({ step, schema, editable, diagnostics, onChange, onMove, onDelete, onClose }: {
  step: Step; schema: Schema; editable: boolean; diagnostics: Diagnostic[];
  onChange: (s: Step) => void; onMove: (d: -1 | 1) => void; onDelete: () => void; onClose: () => void;
}) {
  const fields = useMemo(() => stepFields(schema, step.kind).filter(f => f.name !== 'cases' && f.name !== 'branches'), [schema, step.kind]);
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
      {(step.kind === 'switch' || step.kind === 'parallel') && <p className="muted small">Cases and branches: add steps inside them from the graph (select a nested step, then add), or edit them in the YAML tab.</p>}
      <fieldset disabled={!editable}>
        <legend className="sr-only">Fields of {step.kind}</legend>
        {fields.map(f => (
          <FieldInput key={f.name} field={f} value={own[f.name]} onValue={v => set(f.name, v)} serverError={byField(f.name)} idPrefix={`step-${step.id}`} />
        ))}
      </fieldset>
    </form>
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
