import { Component, useEffect, type ErrorInfo, type ReactNode } from 'react';
import { Button, Empty, Loading, PageHeader } from '../components/ui.tsx';
import { roleLabel, allows } from '../roles.ts';
import { Link, useLocation } from '../router.tsx';
import { useSession } from '../session.tsx';
import { LoginPage } from './LoginPage.tsx';
import { findScreen, menuFor } from './screens.ts';

function Nav({ path }: { path: string }) {
  const { me } = useSession();
  const sections = menuFor(me?.role);
  const current = findScreen(path)?.screen.menu;
  return (
    <nav className="nav" aria-label="Main menu" data-testid="main-menu">
      {sections.map((s) => (
        <div key={s.id} className="nav-section">
          {s.label ? <div className="nav-heading">{s.label}</div> : null}
          {s.entries.map((e) => {
            const active = e.path === '/' ? path === '/' : e.path === current || path === e.path || path.startsWith(`${e.path}/`);
            return (
              <Link key={e.path} to={e.path} className={`nav-link${active ? ' nav-active' : ''}`} aria-current={active ? 'page' : undefined}>
                {e.label}
              </Link>
            );
          })}
        </div>
      ))}
    </nav>
  );
}

function TopBar() {
  const { me, logout } = useSession();
  return (
    <header className="topbar">
      <Link to="/" className="brand">
        <span className="brand-mark" aria-hidden="true">
          ▦
        </span>
        SMT MES
      </Link>
      <div className="topbar-user" data-testid="current-user">
        <span className="topbar-name">{me?.name}</span>
        <span className="role-chip">{roleLabel(me?.role ?? '')}</span>
        <Button variant="ghost" onClick={() => void logout()}>
          Log out
        </Button>
      </div>
    </header>
  );
}

/** Keeps one broken screen from taking the whole shell down. */
class ScreenBoundary extends Component<{ children: ReactNode; resetKey: string }, { error: Error | null }> {
  override state = { error: null as Error | null };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  override componentDidCatch(error: Error, info: ErrorInfo) {
    console.error(error, info.componentStack);
  }
  override componentDidUpdate(prev: { resetKey: string }) {
    if (prev.resetKey !== this.props.resetKey && this.state.error) this.setState({ error: null });
  }
  override render() {
    if (this.state.error) {
      return (
        <div className="error-panel" role="alert">
          <div className="error-detail">This screen failed: {this.state.error.message}</div>
        </div>
      );
    }
    return this.props.children;
  }
}

function Content() {
  const { path, query } = useLocation();
  const { me } = useSession();
  const found = findScreen(path);
  useEffect(() => {
    document.title = found ? `${found.screen.title} · SMT MES` : 'SMT MES';
  }, [found?.screen]);
  if (!found) {
    return (
      <>
        <PageHeader title="Not found" />
        <Empty>
          There is no screen at <code>{path}</code>. <Link to="/">Go to the start page</Link>.
        </Empty>
      </>
    );
  }
  if (!allows(found.screen.roles, me?.role)) {
    return (
      <>
        <PageHeader title={found.screen.title} />
        <Empty>Your role ({roleLabel(me?.role ?? '')}) may not open this screen.</Empty>
      </>
    );
  }
  const Screen = found.screen.component;
  return (
    <ScreenBoundary resetKey={path}>
      <Screen params={found.params} query={query} />
    </ScreenBoundary>
  );
}

export function App() {
  const { status } = useSession();
  const { path } = useLocation();
  if (status === 'loading') return <Loading what="Starting" />;
  if (status === 'anonymous') return <LoginPage />;
  return (
    <div className="shell">
      <TopBar />
      <div className="shell-body">
        <Nav path={path} />
        <main className="content" id="content">
          <Content />
        </main>
      </div>
    </div>
  );
}
