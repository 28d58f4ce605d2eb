import { useEffect, useRef, type ReactNode } from 'react';

export type VerdictKind = 'go' | 'nogo' | 'warn' | 'idle';

const ICON: Record<VerdictKind, string> = { go: '✓', nogo: '✕', warn: '!', idle: '…' };

export interface VerdictProps {
  kind: VerdictKind;
  /** The big word(s): "GO", "NO GO", "PASS", "BLOCKED". */
  title: ReactNode;
  /** The reason sentence, readable from a distance. */
  reason?: ReactNode;
  /** The stable machine-readable reason code, shown small. */
  code?: string;
  /** Anything else (lists of blockers, buttons) under the reason. */
  children?: ReactNode;
  /** Bumping this number replays the flash, e.g. for a repeated identical scan. */
  seq?: number;
  size?: 'full' | 'compact';
  /** Short beep on no-go (Web Audio), for stations where nobody watches the screen. */
  beep?: boolean;
}

function playBeep(kind: VerdictKind) {
  try {
    const Ctx = window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
    if (!Ctx) return;
    const ctx = new Ctx();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = kind === 'go' ? 1200 : 330;
    gain.gain.value = 0.2;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + (kind === 'go' ? 0.08 : 0.45));
    osc.onended = () => void ctx.close();
  } catch {
    /* no audio: the screen still shows the result */
  }
}

/**
 * The go / no-go result: a large green, red or amber block with an icon (not colour alone) and
 * the reason sentence, readable at two metres on a 1280×800 station screen. Announced to
 * screen readers as it changes.
 */
export function Verdict({ kind, title, reason, code, children, seq, size = 'full', beep }: VerdictProps) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el || kind === 'idle') return;
    el.classList.remove('verdict-flash');
    void el.offsetWidth; // restart the animation
    el.classList.add('verdict-flash');
    if (beep && (kind === 'nogo' || kind === 'go')) playBeep(kind);
  }, [kind, seq, beep]);
  return (
    <div ref={ref} className={`verdict verdict-${kind} verdict-${size}`} role={kind === 'nogo' ? 'alert' : 'status'} aria-live={kind === 'nogo' ? 'assertive' : 'polite'} data-verdict={kind}>
      <div className="verdict-icon" aria-hidden="true">
        {ICON[kind]}
      </div>
      <div className="verdict-body">
        <div className="verdict-title">{title}</div>
        {reason ? <div className="verdict-reason">{reason}</div> : null}
        {code ? <div className="verdict-code">{code}</div> : null}
        {children ? <div className="verdict-extra">{children}</div> : null}
      </div>
    </div>
  );
}
