import { useRef, useState } from 'react';
import { useLive, useResource } from '../lib/session';
import { JsonView, time } from '../components/Json';

interface EventType { type: string; count: number; lastAt?: string }
interface EventItem { sequence: number; id: string; type: string; time: string; receivedAt: string; source?: string; data: unknown }
interface DeadLetter { id: number; at: string; source: string; messageId?: string; code: string; reason: string; bodyBytes: number; bodyPreview: string }

export function EventsPage() {
  const [type, setType] = useState<string>('');
  const types = useResource<EventType[] | { items: EventType[] }>('/api/events/types');
  const events = useResource<{ items: EventItem[]; total: number }>(`/api/events?pageSize=20${type ? `&type=${encodeURIComponent(type)}` : ''}`);
  const dead = useResource<{ items: DeadLetter[]; total: number }>('/api/events/dead-letters?pageSize=50');
  const timer = useRef<number | undefined>(undefined);
  useLive(['event'], () => {
    if (timer.current !== undefined) return;
    timer.current = window.setTimeout(() => { timer.current = undefined; types.reload(); events.reload(); dead.reload(); }, 1000);
  });
  const typeList = Array.isArray(types.data) ? types.data : types.data?.items ?? [];
  return (
    <section aria-labelledby="ev-title">
      <h1 id="ev-title">Events</h1>
      <div className="columns">
        <div>
          <h2>Event types</h2>
          {types.error && <p className="muted small">Types are not available: {types.error}</p>}
          <ul className="type-list" aria-label="Event types">
            <li><button type="button" className={type === '' ? 'link active' : 'link'} aria-pressed={type === ''} onClick={() => setType('')}>all types</button></li>
            {typeList.map(t => (
              <li key={t.type}>
                <button type="button" className={type === t.type ? 'link active' : 'link'} aria-pressed={type === t.type} onClick={() => setType(t.type)}>{t.type}</button>
                <small className="muted"> {t.count} · last {time(t.lastAt)}</small>
              </li>
            ))}
          </ul>
        </div>
        <div className="grow">
          <h2>Last events {type && <>of <code>{type}</code></>} <small className="muted">({events.data?.total ?? 0})</small></h2>
          {events.error && <p className="error" role="alert">{events.error}</p>}
          <table className="grid">
            <thead><tr><th scope="col">#</th><th scope="col">Type</th><th scope="col">Event time</th><th scope="col">Received</th><th scope="col">Id</th><th scope="col">Body</th></tr></thead>
            <tbody>
              {events.data?.items.map(e => (
                <tr key={e.sequence}>
                  <td>{e.sequence}</td><td>{e.type}</td><td className="nowrap">{time(e.time)}</td><td className="nowrap">{time(e.receivedAt)}</td>
                  <td><code className="small">{e.id.length > 18 ? e.id.slice(0, 18) + '…' : e.id}</code></td>
                  <td><details><summary>body</summary><JsonView value={e.data} /></details></td>
                </tr>
              ))}
              {events.data?.items.length === 0 && <tr><td colSpan={6} className="muted">No events.</td></tr>}
            </tbody>
          </table>
        </div>
      </div>
      <h2>Dead letters <small className="muted">({dead.data?.total ?? 0})</small></h2>
      {dead.error && <p className="error" role="alert">{dead.error}</p>}
      <table className="grid" aria-label="Dead letters">
        <thead><tr><th scope="col">At</th><th scope="col">Source</th><th scope="col">Code</th><th scope="col">Reason</th><th scope="col">Size</th><th scope="col">Body (start)</th></tr></thead>
        <tbody>
          {dead.data?.items.map(d => (
            <tr key={d.id}>
              <td className="nowrap">{time(d.at)}</td><td>{d.source}</td><td><code>{d.code}</code></td><td>{d.reason}</td><td>{d.bodyBytes} B</td>
              <td><code className="small preview">{d.bodyPreview}</code></td>
            </tr>
          ))}
          {dead.data?.items.length === 0 && <tr><td colSpan={6} className="muted">No dead letters.</td></tr>}
        </tbody>
      </table>
    </section>
  );
}
