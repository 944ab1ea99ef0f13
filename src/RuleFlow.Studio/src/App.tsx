import { Component, lazy, Suspense, useState, type FormEvent, type ReactNode } from 'react';
import { useSession } from './lib/session';
import { Link, useRoute } from './lib/router';
import { WorkflowsPage } from './pages/Workflows';
import { InstancesPage } from './pages/Instances';
import { ApprovalsPage } from './pages/Approvals';
import { EventsPage } from './pages/Events';

const DesignerPage = lazy(() => import('./pages/Designer'));
const RulesPage = lazy(() => import('./pages/Rules'));

const NAV = [
  { to: '/workflows', label: 'Workflows' },
  { to: '/instances', label: 'Instances' },
  { to: '/approvals', label: 'Approvals' },
  { to: '/rules', label: 'Rules' },
  { to: '/events', label: 'Events' },
];

export function App() {
  const { me, checking, signOut, streamState } = useSession();
  const { path } = useRoute();
  if (checking) return <p className="center" role="status">Connecting to the server…</p>;
  if (!me) return <SignIn />;
  const section = '/' + (path.split('/')[1] || 'workflows');
  return (
    <div className="shell">
      <a className="skip" href="#main">Skip to content</a>
      <header className="topbar">
        <span className="brand">RuleFlow Studio</span>
        <nav aria-label="Main">
          {NAV.map(n => (
            <Link key={n.to} to={n.to} className={section === n.to ? 'active' : ''} aria-current={section === n.to ? 'page' : undefined}>{n.label}</Link>
          ))}
        </nav>
        <span className="spacer" />
        <span className={`live ${streamState.startsWith('open') ? 'on' : 'off'}`} title={`live updates: ${streamState}`} aria-label={`live updates ${streamState}`} role="status">
          {streamState.startsWith('open') ? '● live' : '○ offline'}
        </span>
        <span className="who" data-testid="who">
          {me.user} <small>({me.roles.join(', ') || 'no roles'})</small>
          {me.authMode === 'development' && <span className="badge warn" title="No API keys are configured: every request acts as the development user with all roles">development mode</span>}
        </span>
        {me.authMode !== 'development' && <button type="button" className="ghost" onClick={signOut}>Sign out</button>}
      </header>
      <main className="content" id="main" tabIndex={-1}>
        <PageErrorBoundary key={path}>
          <Suspense fallback={<p role="status">Loading…</p>}>
            <Page path={path} />
          </Suspense>
        </PageErrorBoundary>
      </main>
    </div>
  );
}

/** A page that throws while rendering shows what went wrong instead of blanking the whole app (reset when the path changes). */
class PageErrorBoundary extends Component<{ children: ReactNode }, { error?: Error }> {
  state: { error?: Error } = {};
  static getDerivedStateFromError(error: Error) { return { error }; }
  render() {
    if (!this.state.error) return this.props.children;
    return (
      <div role="alert" className="error" data-testid="page-error">
        <p>This page failed: {this.state.error.message}</p>
        <button type="button" onClick={() => this.setState({ error: undefined })}>Try again</button>
      </div>
    );
  }
}

function Page({ path }: { path: string }) {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  switch (parts[0] ?? 'workflows') {
    case 'workflows':
      if (parts[1] === 'new') return <DesignerPage key="new" id={null} />;
      return parts[1] ? <DesignerPage key={parts[1]} id={parts[1]} /> : <WorkflowsPage />;
    case 'instances': return <InstancesPage id={parts[1]} />;
    case 'approvals': return <ApprovalsPage />;
    case 'rules': return <RulesPage />;
    case 'events': return <EventsPage />;
    default: return <p>Nothing here. <Link to="/workflows">Workflows</Link></p>;
  }
}

function SignIn() {
  const { signIn } = useSession();
  const [key, setKey] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try { await signIn(key.trim()); } catch (err) { setError((err as Error).message.includes('401') || (err as { status?: number }).status === 401 ? 'This API key is not valid.' : (err as Error).message); }
    finally { setBusy(false); }
  };
  return (
    <main className="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">RuleFlow Studio</h1>
        <p>Sign in with your API key (RuleFlow:Auth:ApiKeys). It is kept in this tab only.</p>
        <label htmlFor="api-key">API key</label>
        <input id="api-key" type="password" autoComplete="current-password" value={key} onChange={e => setKey(e.target.value)} required autoFocus />
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy || key.trim() === ''}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </main>
  );
}
