import { api } from '../../api.ts';
import { menuFor } from '../../app/screens.ts';
import { PageHeader } from '../../components/ui.tsx';
import { useQuery } from '../../hooks.ts';
import { roleLabel } from '../../roles.ts';
import { Link } from '../../router.tsx';
import { useSession } from '../../session.tsx';

/** The start page: the screens this role may use, as large tiles. */
export function HomePage() {
  const { me } = useSession();
  const health = useQuery(() => api.health(), []);
  const sections = menuFor(me?.role).filter((s) => s.id !== 'start');
  return (
    <>
      <PageHeader title={`Welcome, ${me?.name ?? ''}`} subtitle={`Logged in as ${roleLabel(me?.role ?? '')}.`} />
      {sections.map((s) => (
        <section key={s.id} className="tile-section">
          <h2>{s.label}</h2>
          <div className="tiles">
            {s.entries.map((e) => (
              <Link key={e.path} to={e.path} className="tile">
                <span className="tile-title">{e.label}</span>
                {e.description ? <span className="tile-text">{e.description}</span> : null}
              </Link>
            ))}
          </div>
        </section>
      ))}
      <p className="muted footer-note">
        {health.data ? `MES ${health.data.version} · database ${health.data.database.reachable ? 'reachable' : 'UNREACHABLE'}` : ''}
        {health.data ? ' · ' : ''}
        <a href="/api/v1/docs">API documentation</a>
      </p>
    </>
  );
}
