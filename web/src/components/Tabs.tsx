import { Link } from '../router.tsx';

/** Tabs as links, so the address (and the back button) knows which tab is open. */
export function Tabs({ tabs, active }: { tabs: { id: string; label: string; to: string; count?: number }[]; active: string }) {
  return (
    <nav className="tabs" aria-label="Sections">
      {tabs.map((t) => (
        <Link key={t.id} to={t.to} className={`tab${t.id === active ? ' tab-active' : ''}`} aria-current={t.id === active ? 'page' : undefined}>
          {t.label}
          {t.count !== undefined ? <span className="tab-count">{t.count}</span> : null}
        </Link>
      ))}
    </nav>
  );
}
