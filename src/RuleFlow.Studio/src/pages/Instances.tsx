import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { api, can, type InstanceDetails, type InstanceSummary, type WorkflowDefinitionResponse } from '../lib/api';
import { useLive, useResource, useSession } from '../lib/session';
import { Link, navigate, useRoute } from '../lib/router';
import { modelToGraph, parseWorkflowYaml } from '../workflow/model';
import { statusesFromJournal, stepStatusFromEvent } from '../workflow/status';
import { WorkflowGraph } from '../components/WorkflowGraph';
import { JsonView, time } from '../components/Json';

const STATES = ['running', 'waiting', 'compensating', 'completed', 'compensated', 'failed', 'cancelled'];

export function InstancesPage({ id }: { id?: string }) {
  return id ? <InstanceView id={id} /> : <InstanceList />;
}

function InstanceList() {
  const { query } = useRoute();
  const [filters, setFilters] = useState(() => ({
    workflow: query.get('workflow') ?? '', state: query.get('state') ?? '', correlationKey: query.get('correlationKey') ?? '',
    from: query.get('from') ?? '', to: query.get('to') ?? '',
  }));
  const [applied, setApplied] = useState(filters);
  const [page, setPage] = useState(1);
  const qs = useMemo(() => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(applied)) if (v) p.set(k, k === 'from' || k === 'to' ? new Date(v).toISOString() : v);
    p.set('page', String(page));
    p.set('pageSize', '50');
    return p.toString();
  }, [applied, page]);
  const { data, error, reload } = useResource<{ items: InstanceSummary[]; total: number }>(`/api/instances?${qs}`);
  const workflows = useResource<{ items: { id: string }[] }>('/api/workflows');
  // live: an instance changed → fetch the page again (at most every 500 ms)
  const pending = useRef<number | undefined>(undefined);
  useLive(['instance'], () => { if (pending.current === undefined) pending.current = window.setTimeout(() => { pending.current = undefined; reload(); }, 500); });
  useEffect(() => () => window.clearTimeout(pending.current), []);
  const submit = (e: FormEvent) => { e.preventDefault(); setPage(1); setApplied(filters); };
  const field = (name: keyof typeof filters, label: string, type = 'text') => (
    <div className="field inline">
      <label htmlFor={`f-${name}`}>{label}</label>
      <input id={`f-${name}`} type={type} value={filters[name]} onChange={e => setFilters({ ...filters, [name]: e.target.value })} list={name === 'workflow' ? 'wf-ids' : undefined} />
    </div>
  );
  return (
    <section aria-labelledby="in-title">
      <h1 id="in-title">Instances</h1>
      <form className="filters" onSubmit={submit} aria-label="Filter instances">
        {field('workflow', 'Workflow')}
        <datalist id="wf-ids">{workflows.data?.items.map(w => <option key={w.id} value={w.id} />)}</datalist>
        <div className="field inline">
          <label htmlFor="f-state">State</label>
          <select id="f-state" value={filters.state} onChange={e => setFilters({ ...filters, state: e.target.value })}>
            <option value="">any</option>
            {STATES.map(s => <option key={s} value={s}>{s}</option>)}
          </select>
        </div>
        {field('correlationKey', 'Correlation key')}
        {field('from', 'From', 'datetime-local')}
        {field('to', 'To', 'datetime-local')}
        <button type="submit">Filter</button>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      {data && (
        <>
          <table className="grid">
            <caption className="sr-only">Workflow instances</caption>
            <thead><tr><th scope="col">Instance</th><th scope="col">Workflow</th><th scope="col">State</th><th scope="col">Correlation key</th><th scope="col">Started</th><th scope="col">Updated</th></tr></thead>
            <tbody>
              {data.items.map(i => (
                <tr key={i.id} data-testid={`instance-row-${i.id}`}>
                  <td><Link to={`/instances/${i.id}`}><code>{i.id.slice(0, 8)}</code></Link></td>
                  <td>{i.workflow} <small className="muted">v{i.version}</small></td>
                  <td><span className={`badge st-${i.state}`}>{i.state}</span></td>
                  <td>{i.correlationKey ?? '—'}</td>
                  <td>{time(i.createdAt)}</td>
                  <td>{time(i.updatedAt)}</td>
                </tr>
              ))}
              {data.items.length === 0 && <tr><td colSpan={6} className="muted">No instances match.</td></tr>}
            </tbody>
          </table>
          <div className="row pager">
            <button type="button" className="ghost" disabled={page <= 1} onClick={() => setPage(p => p - 1)}>Previous</button>
            <span>page {page} · {data.total} instances</span>
            <button type="button" className="ghost" disabled={page * 50 >= data.total} onClick={() => setPage(p => p + 1)}>Next</button>
          </div>
        </>
      )}
    </section>
  );
}

function InstanceView({ id }: { id: string }) {
  const { me } = useSession();
  const { data, error, reload } = useResource<InstanceDetails>(`/api/instances/${id}`);
  const [yaml, setYaml] = useState<string>();
  const [live, setLive] = useState<Record<string, string>>({});
  const [selected, setSelected] = useState<string>();
  const [notice, setNotice] = useState<{ ok: boolean; text: string }>();
  useEffect(() => {
    if (!data) return;
    api.get<WorkflowDefinitionResponse>(`/api/workflows/${encodeURIComponent(data.workflow)}/definition?version=${data.version}`)
      .then(d => setYaml(d.yaml)).catch(() => setYaml(''));
  }, [data?.workflow, data?.version]); // eslint-disable-line react-hooks/exhaustive-deps
  useLive(['step', 'instance', 'approval', 'incident'], (json, event) => {
    if (event === 'step' && json.instanceId === id && typeof json.stepId === 'string') setLive(l => ({ ...l, [json.stepId as string]: stepStatusFromEvent(String(json.status)) }));
    if ((event === 'instance' && json.id === id) || (event !== 'instance' && json.instanceId === id)) reload();
  });
  const graph = useMemo(() => { const m = yaml ? parseWorkflowYaml(yaml).model : undefined; return m ? modelToGraph(m) : undefined; }, [yaml]);
  const statuses = useMemo(() => ({ ...statusesFromJournal(data?.journal ?? []), ...live }), [data, live]);
  useEffect(() => { setLive({}); }, [data]);

  const act = async (what: string, path: string, body: unknown = {}) => {
    setNotice(undefined);
    try { await api.post(path, body); setNotice({ ok: true, text: `${what}: done` }); reload(); }
    catch (e) { setNotice({ ok: false, text: `${what}: ${(e as Error).message}` }); }
  };
  if (error) return <section><h1>Instance</h1><p className="error" role="alert">{error}</p></section>;
  if (!data) return <p role="status">Loading…</p>;
  const finished = ['completed', 'compensated', 'cancelled'].includes(data.state);
  const journal = selected ? data.journal.filter(j => j.stepId === selected) : data.journal;
  return (
    <section className="instance" aria-labelledby="inst-title">
      <div className="toolbar">
        <h1 id="inst-title">{data.workflow} <small className="muted">v{data.version}</small> <code className="small">{data.id}</code></h1>
        <span className={`badge big st-${data.state}`} data-testid="instance-state">{data.state}</span>
        <span className="spacer" />
        {can.operate(me) && !finished && <button type="button" className="danger" onClick={() => act('Cancel', `/api/instances/${id}/cancel`, { reason: 'cancelled in RuleFlow Studio' })}>Cancel instance</button>}
        {can.operate(me) && data.state === 'failed' && <button type="button" onClick={() => act('Retry', `/api/instances/${id}/retry`)}>Retry</button>}
        <button type="button" className="ghost" onClick={() => navigate('/instances')}>All instances</button>
      </div>
      {notice && <p className={notice.ok ? 'notice ok' : 'notice error'} role={notice.ok ? 'status' : 'alert'}>{notice.text}</p>}
      <div className="instance-body">
        <div className="canvas small-canvas">
          {graph ? <WorkflowGraph graph={graph} statuses={statuses} selected={selected} onSelect={s => setSelected(x => (x === s ? undefined : s))} label="Instance graph" />
            : <p className="muted">{yaml === undefined ? 'Loading the definition…' : 'The definition of this version is not available.'}</p>}
        </div>
        <div className="instance-side">
          <dl className="facts">
            <dt>Correlation key</dt><dd>{data.correlationKey ?? '—'}</dd>
            <dt>Current step</dt><dd>{data.currentStep ?? '—'}</dd>
            <dt>Waiting for</dt><dd>{data.waitingFor ?? '—'}</dd>
            <dt>Started</dt><dd>{time(data.createdAt)}</dd>
            <dt>Updated</dt><dd>{time(data.updatedAt)}</dd>
            {data.parentInstanceId && <><dt>Parent</dt><dd><Link to={`/instances/${data.parentInstanceId}`}>{data.parentInstanceId.slice(0, 8)}</Link></dd></>}
          </dl>
          {data.error != null && <><h2>Error</h2><JsonView value={data.error} /></>}
          <h2>Lineage</h2>
          <Lineage value={data.lineage} messages={data.messages} />
          {(data.incidents?.length ?? 0) > 0 && (
            <>
              <h2>Incidents</h2>
              <ul className="cards">
                {data.incidents!.map(inc => (
                  <li key={inc.id} className="card">
                    <strong>{inc.kind}</strong> {inc.stepId && <>at <code>{inc.stepId}</code></>} · {inc.message}
                    {inc.resolvedAt ? <p className="muted small">resolved {time(inc.resolvedAt)}</p> : can.operate(me) && (
                      <div className="row">
                        {['retry', 'skip', 'compensate', 'acknowledge'].map(a => (
                          <button key={a} type="button" className="secondary" onClick={() => act(`Resolve (${a})`, `/api/incidents/${inc.id}/resolve`, { action: a })}>{a}</button>
                        ))}
                      </div>
                    )}
                  </li>
                ))}
              </ul>
            </>
          )}
          {data.approvals.length > 0 && (
            <>
              <h2>Approvals</h2>
              <ul className="small">{data.approvals.map(a => <li key={a.id}><code>{a.stepId}</code>: {a.state}{a.decidedBy ? ` by ${a.decidedBy}` : ''}{a.comment ? ` — “${a.comment}”` : ''}</li>)}</ul>
            </>
          )}
          <h2>Input</h2>
          <JsonView value={data.input} label="Instance input" />
          {data.output != null && <><h2>Output</h2><JsonView value={data.output} label="Instance output" /></>}
        </div>
      </div>
      <h2>Journal {selected && <>of <code>{selected}</code> <button type="button" className="link" onClick={() => setSelected(undefined)}>show all</button></>}</h2>
      <table className="grid journal" aria-label="Journal">
        <thead><tr><th scope="col">#</th><th scope="col">At</th><th scope="col">Step</th><th scope="col">Entry</th><th scope="col">Attempt</th><th scope="col">Input / output / error</th></tr></thead>
        <tbody>
          {journal.map(j => (
            <tr key={j.sequence} className={j.kind.includes('failed') ? 'failed' : ''}>
              <td>{j.sequence}</td><td className="nowrap">{time(j.at)}</td><td>{j.stepId ?? ''}</td><td><code>{j.kind}</code></td><td>{j.attempt}</td>
              <td>{j.data && Object.keys(j.data).length > 0 ? (
                <details><summary>{summary(j.data)}</summary><JsonView value={j.data} /></details>
              ) : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function summary(data: Record<string, unknown>): string {
  if (data.code) return `${data.code}: ${String(data.message ?? '')}`.slice(0, 120);
  const parts = ['input', 'output', 'error', 'comment', 'outcome'].filter(k => k in data);
  return parts.length ? parts.join(', ') : Object.keys(data).slice(0, 4).join(', ');
}

function Lineage({ value, messages }: { value: InstanceDetails['lineage']; messages: InstanceDetails['messages'] }) {
  if (!value) return <p className="muted small">Started by hand (no rule or event).</p>;
  const events = Array.isArray(value.eventIds) ? (value.eventIds as string[]) : [];
  return (
    <div className="lineage small">
      <ol>
        {events.length > 0 && <li>events: {events.map(e => <code key={e}>{e}</code>)}</li>}
        {value.rule != null && <li>rule <strong>{String(value.rule)}</strong>{value.activationId ? <> · activation <code>{String(value.activationId)}</code></> : null}</li>}
        <li>this instance</li>
        {(messages?.length ?? 0) > 0 && <li>published: {messages!.map(m => <span key={m.id}><code>{m.exchange}/{m.routingKey}</code> {m.sentAt ? 'sent' : 'pending'} </span>)}</li>}
      </ol>
      <details><summary>raw</summary><JsonView value={value} /></details>
    </div>
  );
}
