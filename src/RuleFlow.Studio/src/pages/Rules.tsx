import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { api, ApiError, can, type Diagnostic } from '../lib/api';
import { useResource, useSession } from '../lib/session';
import { CodeEditor } from '../components/CodeEditor';
import { JsonView } from '../components/Json';
import { diagnosticsOf, isOwn } from '../lib/rules';

interface RuleFile { path: string; kind: string; size: number; modified: string }
interface TestRun { passed: number; failed: number; results: { name: string; passed: boolean; message?: string; line?: number }[] }
interface Explanation { rule: string; eventId: string; eventType: string; patterns: { index: number; text: string; type: string; typeMatches: boolean; passes: boolean; conditions: { text: string; met: boolean | null; note?: string }[] }[] }

export default function RulesPage() {
  const { me } = useSession();
  const files = useResource<RuleFile[] | { items: RuleFile[] }>('/api/rules/files');
  const list = useMemo(() => (Array.isArray(files.data) ? files.data : files.data?.items ?? []).slice().sort((a, b) => a.path.localeCompare(b.path)), [files.data]);
  const [path, setPath] = useState<string>();
  const [text, setText] = useState('');
  const [saved, setSaved] = useState('');
  const [diagnostics, setDiagnostics] = useState<Diagnostic[]>([]);
  const [notice, setNotice] = useState<{ ok: boolean; text: string }>();
  const [tests, setTests] = useState<TestRun>();
  const [revealLine, setRevealLine] = useState<number>();
  const editable = can.author(me);

  useEffect(() => { if (!path && list.length) setPath(list.find(f => f.path.endsWith('.rules'))?.path ?? list[0].path); }, [list, path]);
  useEffect(() => {
    if (!path) return;
    setNotice(undefined); setTests(undefined); setDiagnostics([]); setText(''); setSaved('');
    // A slower answer for a file selected before must not land in the editor of this one (a save would then write it here).
    let current = true;
    api.get<{ text: string }>(`/api/rules/files/${path.split('/').map(encodeURIComponent).join('/')}`)
      .then(r => { if (current) { setText(r.text); setSaved(r.text); } })
      .catch(e => { if (current) setNotice({ ok: false, text: (e as Error).message }); });
    return () => { current = false; };
  }, [path]);

  // live diagnostics from the server's checker, debounced
  const seq = useRef(0);
  useEffect(() => {
    if (!path || !path.endsWith('.rules') || (text === '' && saved === '')) return; // not loaded yet
    const mine = ++seq.current;
    const t = setTimeout(() => {
      api.post('/api/rules/check', { text, file: path })
        .then(r => { if (mine === seq.current) setDiagnostics(diagnosticsOf(r, path)); })
        .catch(e => { if (mine === seq.current) setNotice({ ok: false, text: `check failed: ${(e as Error).message}` }); });
    }, 350);
    return () => clearTimeout(t);
  }, [text, path]); // eslint-disable-line react-hooks/exhaustive-deps

  const save = async () => {
    if (!path) return;
    try {
      const r = await api.put<{ diagnostics?: Diagnostic[] }>(`/api/rules/files/${path.split('/').map(encodeURIComponent).join('/')}`, { text });
      setSaved(text);
      setDiagnostics(r?.diagnostics ?? []);
      setNotice({ ok: true, text: `Saved ${path}; the rules were reloaded.` });
      files.reload();
    } catch (e) {
      const err = e as ApiError;
      if (err.diagnostics.length) setDiagnostics(err.diagnostics);
      setNotice({ ok: false, text: `Not saved: ${err.message}` });
    }
  };
  const runTests = async () => {
    if (!path) return;
    try {
      const body = path.endsWith('.ruletest') ? { path } : { rulesPath: path, rulesText: text };
      setTests(await api.post<TestRun>('/api/rules/tests/run', body));
    } catch (e) { setNotice({ ok: false, text: `tests: ${(e as Error).message}` }); }
  };

  const errors = diagnostics.filter(d => d.severity === 'error').length; // the server refuses a save that causes any error
  return (
    <section className="rules" aria-labelledby="ru-title">
      <div className="toolbar">
        <h1 id="ru-title">Rules</h1>
        <code>{path}</code>{text !== saved && <span className="muted"> · unsaved</span>}
        <span className="spacer" />
        <button type="button" className="secondary" onClick={runTests} disabled={!path}>Run tests</button>
        {editable && <button type="button" onClick={save} disabled={!path || text === saved || errors > 0} title={errors ? 'Fix the errors first' : undefined}>Save</button>}
      </div>
      {notice && <p className={notice.ok ? 'notice ok' : 'notice error'} role={notice.ok ? 'status' : 'alert'}>{notice.text}</p>}
      <div className="rules-body">
        <nav className="file-tree" aria-label="Rule files">
          {files.error && <p className="error small">{files.error}</p>}
          <FileTree files={list} selected={path} onSelect={p => setPath(p)} />
        </nav>
        <div className="editor-column">
          <CodeEditor value={text} onChange={editable ? setText : undefined} readOnly={!editable} language="ruleflow" label={`Rule file ${path ?? ''}`}
            markers={diagnostics.filter(d => isOwn(d, path ?? ''))} revealLine={revealLine} />
          <div className="diagnostics" aria-live="polite">
            <h2>Diagnostics <small className="muted">({diagnostics.length})</small></h2>
            <ul className="problems" data-testid="rule-diagnostics">
              {diagnostics.length === 0 && <li className="muted">No problems.</li>}
              {diagnostics.map((d, i) => (
                <li key={i} className={d.severity}>
                  {isOwn(d, path ?? '') ? <button type="button" className="link" onClick={() => setRevealLine(d.line)}>line {d.line}:{d.column}</button>
                    : <span>{d.file}:{d.line}:{d.column}</span>}{' '}
                  <strong>{d.code}</strong> {d.message}{d.hint && <small className="muted"> — {d.hint}</small>}
                </li>
              ))}
            </ul>
          </div>
        </div>
        <aside className="side-narrow">
          {tests && (
            <section aria-label="Test results">
              <h2>Tests: {tests.passed} passed, {tests.failed} failed</h2>
              <ul className="problems">
                {tests.results.map((t, i) => <li key={i} className={t.passed ? 'ok' : 'error'}>{t.passed ? '✓' : '✗'} {t.name}{t.message && <small> — {t.message}</small>}</li>)}
              </ul>
            </section>
          )}
          <TryEvent />
        </aside>
      </div>
    </section>
  );
}

function FileTree({ files, selected, onSelect }: { files: RuleFile[]; selected?: string; onSelect: (p: string) => void }) {
  const groups = new Map<string, RuleFile[]>();
  for (const f of files) {
    const dir = f.path.split('/').slice(0, -1).join('/');
    if (!groups.has(dir)) groups.set(dir, []);
    groups.get(dir)!.push(f);
  }
  return (
    <ul className="tree" role="tree" aria-label="rules/">
      {[...groups.entries()].map(([dir, items]) => (
        <li key={dir} role="treeitem" aria-expanded="true" aria-selected={false}>
          <span className="dir">{dir}/</span>
          <ul role="group">
            {items.map(f => (
              <li key={f.path} role="treeitem" aria-selected={f.path === selected}>
                <button type="button" className={f.path === selected ? 'link active' : 'link'} onClick={() => onSelect(f.path)}
                  aria-current={f.path === selected ? 'true' : undefined}>
                  {f.path.split('/').pop()}
                </button>
              </li>
            ))}
          </ul>
        </li>
      ))}
    </ul>
  );
}

function TryEvent() {
  const [type, setType] = useState('ssh.auth');
  const [body, setBody] = useState('{\n  "timestamp": "2017-12-10T06:55:46Z",\n  "src_ip": "1.2.3.4",\n  "message": "Failed password for root"\n}');
  const [result, setResult] = useState<{ rules: Explanation[] }>();
  const [error, setError] = useState<string>();
  const run = useCallback(async () => {
    setError(undefined);
    let event: unknown;
    try { event = JSON.parse(body); } catch (e) { setError(`The event is not JSON: ${(e as Error).message}`); return; }
    try { setResult(await api.post<{ rules: Explanation[] }>('/api/rules/explain', { type, data: event, event })); }
    catch (e) { setError((e as Error).message); }
  }, [type, body]);
  return (
    <section aria-labelledby="try-title" className="try">
      <h2 id="try-title">Try an event</h2>
      <div className="field"><label htmlFor="try-type">Event type</label><input id="try-type" value={type} onChange={e => setType(e.target.value)} /></div>
      <div className="field"><label htmlFor="try-body">Event (JSON)</label><textarea id="try-body" className="mono" rows={7} value={body} onChange={e => setBody(e.target.value)} spellCheck={false} /></div>
      <button type="button" onClick={run}>Explain</button>
      {error && <p className="error" role="alert">{error}</p>}
      {result && (
        <ul className="explain" aria-label="Explanation">
          {(result.rules ?? []).map(r => {
            const matches = r.patterns?.some(p => p.passes);
            return (
              <li key={r.rule} className={matches ? 'ok' : ''}>
                <strong>{r.rule}</strong>: {matches ? 'a pattern matches this event' : 'no pattern matches'}
                <ul className="small">
                  {r.patterns?.map(p => (
                    <li key={p.index}>{p.passes ? '✓' : '✗'} <code>{p.text}</code>{!p.typeMatches && <span className="muted"> (type {p.type})</span>}
                      {p.typeMatches && p.conditions.filter(c => c.met === false).map((c, i) => <div key={i} className="muted">fails: <code>{c.text}</code>{c.note ? ` (${c.note})` : ''}</div>)}
                    </li>
                  ))}
                </ul>
              </li>
            );
          })}
          {!Array.isArray(result.rules) && <JsonView value={result} />}
        </ul>
      )}
    </section>
  );
}
