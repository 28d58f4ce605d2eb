import { useState, type FormEvent } from 'react';
import { ApiError } from '../api.ts';
import { Button } from '../components/ui.tsx';
import { useSession } from '../session.tsx';

/** Username and password; the server's refusal (wrong password, throttled) is shown as it says it. */
export function LoginPage() {
  const { login, ended } = useSession();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(username.trim(), password);
    } catch (err) {
      setError(err instanceof ApiError ? err.detail : 'Login failed');
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login">
      <form className="login-card" onSubmit={(e) => void submit(e)} aria-labelledby="login-title">
        <div className="brand brand-large">
          <span className="brand-mark" aria-hidden="true">
            ▦
          </span>
          SMT MES
        </div>
        <h1 id="login-title">Log in</h1>
        {ended && !error ? <div className="notice notice-info">Your session has ended. Log in again to continue where you were.</div> : null}
        <label className="field">
          <span className="field-label">Username</span>
          <input name="username" autoComplete="username" autoCapitalize="off" autoCorrect="off" spellCheck={false} autoFocus value={username} onChange={(e) => setUsername(e.target.value)} required />
        </label>
        <label className="field">
          <span className="field-label">Password</span>
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        {error ? (
          <div className="login-error" role="alert">
            {error}
          </div>
        ) : null}
        <Button type="submit" variant="primary" busy={busy} className="btn-block">
          Log in
        </Button>
      </form>
    </main>
  );
}
