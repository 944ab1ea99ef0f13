import { useState } from 'react';
import { api, can, type WorkflowSummary } from '../lib/api';
import { useResource, useSession } from '../lib/session';
import { Link } from '../lib/router';

interface Version { version: number; contentHash: string; source?: string; registeredAt: string; current: boolean }

export function WorkflowsPage() {
  const { me } = useSession();
  const { data, error } = useResource<{ items: WorkflowSummary[] }>('/api/workflows');
  return (
    <section aria-labelledby="wf-title">
      <div className="toolbar">
        <h1 id="wf-title">Workflows</h1>
        <span className="spacer" />
        {can.author(me) && <Link to="/workflows/new" className="button">New workflow</Link>}
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      {!data && !error && <p role="status">Loading…</p>}
      {data && (
        <table className="grid">
          <caption className="sr-only">Workflow definitions</caption>
          <thead><tr><th scope="col">Workflow</th><th scope="col">Version</th><th scope="col">Steps</th><th scope="col">Description</th><th scope="col">File</th><th scope="col">History</th></tr></thead>
          <tbody>
            {data.items.map(w => <WorkflowRow key={w.id} w={w} />)}
            {data.items.length === 0 && <tr><td colSpan={6} className="muted">No workflows loaded.</td></tr>}
          </tbody>
        </table>
      )}
    </section>
  );
}

function WorkflowRow({ w }: { w: WorkflowSummary }) {
  const [versions, setVersions] = useState<Version[]>();
  const [open, setOpen] = useState(false);
  const toggle = () => {
    setOpen(o => !o);
    if (!versions) api.get<{ items: Version[] }>(`/api/workflows/${encodeURIComponent(w.id)}/versions`).then(r => setVersions(r.items)).catch(() => setVersions([]));
  };
  return (
    <>
      <tr>
        <td><Link to={`/workflows/${encodeURIComponent(w.id)}`}>{w.id}</Link></td>
        <td>{w.version}</td>
        <td>{w.steps}</td>
        <td>{w.description}</td>
        <td className="muted small">{w.source}</td>
        <td><button type="button" className="ghost" aria-expanded={open} onClick={toggle}>{open ? 'Hide versions' : 'Versions'}</button></td>
      </tr>
      {open && (
        <tr className="sub"><td colSpan={6}>
          {!versions ? 'Loading…' : (
            <ul className="inline-list">
              {versions.map(v => <li key={v.version}>v{v.version}{v.current ? ' (current)' : ''} · {new Date(v.registeredAt).toLocaleString()} · <code>{v.contentHash.slice(0, 12)}</code></li>)}
            </ul>
          )}
        </td></tr>
      )}
    </>
  );
}
