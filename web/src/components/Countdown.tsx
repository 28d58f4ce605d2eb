import { useEffect, useState } from 'react';
import './office.css';

/** Now, re-rendered every `ms` milliseconds (for countdowns). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/** "3 d 04:05:06" / "04:05:06" / "−00:12:00" for a duration in milliseconds. */
export function formatDuration(ms: number): string {
  const neg = ms < 0;
  let s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const p = (n: number) => String(n).padStart(2, '0');
  const hms = `${p(Math.floor(s / 3600))}:${p(Math.floor((s % 3600) / 60))}:${p(s % 60)}`;
  return `${neg ? '−' : ''}${d ? `${d} d ` : ''}${hms}`;
}

/**
 * Time left until `until` (ISO), counting down live. Amber under `warnMs`, red when run out.
 * `data-remaining-ms` carries the value for tests.
 */
export function Countdown({ until, warnMs = 8 * 3600_000 }: { until: string; warnMs?: number }) {
  const now = useNow();
  const left = new Date(until).getTime() - now;
  const cls = left <= 0 ? 'countdown countdown-bad' : left < warnMs ? 'countdown countdown-warn' : 'countdown';
  return (
    <span className={cls} data-remaining-ms={Math.round(left)} title={`until ${new Date(until).toISOString()}`}>
      {left <= 0 ? `expired ${formatDuration(-left)} ago` : formatDuration(left)}
    </span>
  );
}
