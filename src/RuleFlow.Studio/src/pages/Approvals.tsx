import { useState } from 'react';
import { api, type Approval, type InstanceDetails } from '../lib/api';
import { useLive, useResource, useSession } from '../lib/session';
import { Link } from '../lib/router';
import { JsonView, time } from '../components/Json';
import { tabListKeyDown } from '../lib/tabs';

const VIEWS = ['mine', 'all'] as const;

export function ApprovalsPage() {
  const { me } = useSession();
  const [view, setView] = useState<'mine' | 'all'>('mine');
  const [done, setDone] = useState<string>();
  const mine = useResource<{ items: Approval[] }>('/api/approvals/mine');
  const all = useResource<{ items: Approval[] }>(view === 'all' ? '/api/approvals?state=pending' : null);
  useLive(['approval'], () => { mine.reload(); if (view === 'all') all.reload(); });
  const mineIds = new Set((mine.data?.items ?? []).map(a => a.id));
  const list = view === 'mine' ? mine : all;
  return (
    <section aria-labelledby="ap-title">
      <div className="toolbar">
        <h1 id="ap-title">Approvals</h1>
        <div role="tablist" aria-label="Which approvals" className="tabs inline" onKeyDown={e => tabListKeyDown(e, VIEWS, view, setView)}>
          <button type="button" role="tab" aria-selected={view === 'mine'} tabIndex={view === 'mine' ? 0 : -1} className={view === 'mine' ? 'active' : ''} onClick={() => setView('mine')}>
            Waiting for me ({mine.data?.items.length ?? '…'})
          </button>
          <button type="button" role="tab" aria-selected={view === 'all'} tabIndex={view === 'all' ? 0 : -1} className={view === 'all' ? 'active' : ''} onClick={() => setView('all')}>All pending</button>
        </div>
      </div>
      {done && <p className="notice ok" role="status" data-testid="approval-result">{done}</p>}
      {list.error && <p className="error" role="alert">{list.error}</p>}
      {list.data?.items.length === 0 && <p className="muted" data-testid="no-approvals">{view === 'mine' ? `Nothing waits for ${me?.user}.` : 'No pending approvals.'}</p>}
      <ul className="cards" aria-label="Approvals">
        {list.data?.items.map(a => <ApprovalCard key={a.id} approval={a} mayDecide={mineIds.has(a.id)} onDone={text => { setDone(text); mine.reload(); all.reload(); }} />)}
      </ul>
    </section>
  );
}

function ApprovalCard({ approval: a, mayDecide, onDone }: { approval: Approval; mayDecide: boolean; onDone: (text: string) => void }) {
  const [comment, setComment] = useState('');
  const [result, setResult] = useState<{ ok: false; text: string }>();
  const [busy, setBusy] = useState(false);
  const [evidence, setEvidence] = useState<InstanceDetails>();
  const decide = async (outcome: 'approve' | 'reject') => {
    setBusy(true);
    try {
      await api.post(`/api/approvals/${a.id}/${outcome}`, { comment });
      onDone(`${outcome === 'approve' ? 'Approved' : 'Rejected'}: ${a.workflow} · ${a.stepId} (instance ${a.instanceId.slice(0, 8)}).`);
    } catch (e) { setResult({ ok: false, text: (e as Error).message }); } finally { setBusy(false); }
  };
  const showEvidence = () => { api.get<InstanceDetails>(`/api/instances/${a.instanceId}`).then(setEvidence).catch(() => undefined); };
  const commentId = `comment-${a.id}`;
  return (
    <li className="card" data-testid={`approval-${a.id}`} aria-label={`Approval ${a.workflow} ${a.stepId}`}>
      <div className="card-head">
        <strong>{a.workflow}</strong> · step <code>{a.stepId}</code>
        <span className="spacer" />
        <small className="muted">asked {time(a.createdAt)}{a.dueAt ? ` · due ${time(a.dueAt)}` : ''}</small>
      </div>
      <pre className="message">{a.message}</pre>
      <p className="small muted">Assignees: {a.assignees.join(', ')}{a.required && a.required > 1 ? ` · ${a.required} approvals needed` : ''} ·
        instance <Link to={`/instances/${a.instanceId}`}>{a.instanceId.slice(0, 8)}</Link></p>
      {(a.decisions?.length ?? 0) > 0 && <ul className="small">{a.decisions!.map((d, i) => <li key={i}>{d.outcome} by {d.by} {time(d.at)}{d.comment ? `: ${d.comment}` : ''}</li>)}</ul>}
      <details onToggle={e => { if ((e.target as HTMLDetailsElement).open && !evidence) showEvidence(); }}>
        <summary>Evidence (instance input)</summary>
        {evidence ? <JsonView value={evidence.input} label="Instance input" /> : <p role="status">Loading…</p>}
      </details>
      {mayDecide ? (
        <div className="decide">
          <label htmlFor={commentId}>Comment</label>
          <input id={commentId} value={comment} onChange={e => setComment(e.target.value)} />
          <button type="button" onClick={() => decide('approve')} disabled={busy}>Approve</button>
          <button type="button" className="danger" onClick={() => decide('reject')} disabled={busy}>Reject</button>
        </div>
      ) : <p className="muted small" data-testid="not-assignee">You are not an assignee of this approval: you cannot decide it.</p>}
      {result && <p className="notice error" role="alert">{result.text}</p>}
    </li>
  );
}
