import type { RouteStep } from '../../api.ts';
import { Empty } from '../../components/ui.tsx';
import { floorApi, signoffChecks, tickChecks } from './api.ts';

const IMAGE = /\.(png|jpe?g|gif|webp|svg)$/i;
const PDF = /\.pdf$/i;

/**
 * The route step's work instructions as frozen in the work order's build basis: the text, the
 * required checks (each ticked before the unit may pass), the checks signed off when the step
 * completes, images inline and PDF documents.
 */
export function WorkInstructions({ step, checked, onToggle }: { step: Omit<RouteStep, 'id'> | null; checked: Set<string>; onToggle(code: string): void }) {
  if (!step) return <Empty>Scan a unit: its route step's work instructions appear here.</Empty>;
  const images = step.attachments.filter((a) => IMAGE.test(a.filename));
  const docs = step.attachments.filter((a) => !IMAGE.test(a.filename));
  const ticks = tickChecks(step);
  const signoffs = signoffChecks(step);
  return (
    <div className="wi" data-testid="work-instructions">
      <h2 className="wi-title">
        Step {step.seq} · {step.name}
      </h2>
      {step.instructions ? <p className="wi-text">{step.instructions}</p> : <p className="muted">This step has no written instructions.</p>}
      {ticks.length > 0 ? (
        <fieldset className="wi-checks" data-testid="required-checks">
          <legend>Required checks ({ticks.filter((c) => checked.has(c.code)).length} of {ticks.length} done)</legend>
          {ticks.map((c) => (
            <label key={c.code} className={`wi-check${checked.has(c.code) ? ' wi-check-done' : ''}`}>
              <input type="checkbox" checked={checked.has(c.code)} onChange={() => onToggle(c.code)} />
              <span>
                {c.text} <code className="muted">{c.code}</code>
              </span>
            </label>
          ))}
        </fieldset>
      ) : null}
      {signoffs.length > 0 ? (
        <div className="wi-signoffs" data-testid="signoff-required">
          <h3>
            <span aria-hidden="true">✍</span> Sign-off when completing
          </h3>
          <ul>
            {signoffs.map((c) => (
              <li key={c.code}>
                {c.text} <code className="muted">{c.code}</code>
              </li>
            ))}
          </ul>
          <p className="muted">PASS or FAIL asks for your signature (password re-entered) for these checks.</p>
        </div>
      ) : null}
      {images.map((a) => (
        <figure key={a.fileId} className="wi-figure">
          <img src={floorApi.fileUrl(a.fileId)} alt={a.filename} />
          <figcaption>{a.filename}</figcaption>
        </figure>
      ))}
      {docs.length ? (
        <ul className="wi-docs">
          {docs.map((a) => (
            <li key={a.fileId}>
              <a className="btn btn-secondary" href={floorApi.fileUrl(a.fileId)} target="_blank" rel="noreferrer">
                {PDF.test(a.filename) ? 'PDF' : 'File'} · {a.filename}
              </a>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
