import { useState } from 'react';
import { http } from '../api.ts';
import { useAction } from '../hooks.ts';
import { ErrorPanel } from './ErrorPanel.tsx';
import { Button, Notice } from './ui.tsx';
import './office.css';

const KEY = 'mes.labelPrinter';

/** The network label printer of this workstation (host[:port]), kept in the browser. */
export function useLabelPrinter(): [string, (v: string) => void] {
  const [v, setV] = useState(() => {
    try {
      return localStorage.getItem(KEY) ?? '';
    } catch {
      return '';
    }
  });
  const set = (s: string) => {
    setV(s);
    try {
      localStorage.setItem(KEY, s);
    } catch {
      /* private mode: kept for this page only */
    }
  };
  return [v, set];
}

/**
 * Label actions: preview (PNG image, a PDF link, or both), ZPL download, and sending the ZPL to the
 * workstation's network printer (raw TCP through the MES) when one is configured.
 * `base` is the API path of the label, e.g. /packages/12/label.
 */
export function LabelActions({ base, name, preview }: { base: string; name: string; preview: 'png' | 'pdf' | 'both' }) {
  const [printer, setPrinter] = useLabelPrinter();
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(printer);
  const [done, setDone] = useState<string | null>(null);
  const [print, state] = useAction(async () => {
    const [host, port] = printer.split(':');
    const r = await http.post<{ bytesWritten: number; printer: string }>(`${base}/print`, { host: host!.trim(), ...(port ? { port: Number(port) } : {}) });
    setDone(`Label sent to ${r.printer} (${r.bytesWritten} bytes)`);
  });
  const url = (format: string) => `/api/v1${base}?format=${format}`;
  return (
    <div className="label-actions" data-testid="label-actions">
      {preview !== 'pdf' ? <img className="label-preview" src={url('png')} alt={`Label of ${name}`} data-testid="label-preview" /> : null}
      <div className="toolbar">
        {preview !== 'png' ? (
          <a className="btn btn-secondary" href={url('pdf')} target="_blank" rel="noreferrer">
            Preview label (PDF)
          </a>
        ) : null}
        <a className="btn btn-secondary" href={url('zpl')} download={`${name}.zpl`}>
          Download ZPL
        </a>
        {printer && !editing ? (
          <>
            <Button variant="primary" busy={state.busy} onClick={() => void print()}>
              Print on {printer}
            </Button>
            <Button variant="ghost" onClick={() => (setDraft(printer), setEditing(true))}>
              Change printer
            </Button>
          </>
        ) : (
          <form
            className="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              setPrinter(draft.trim());
              setEditing(false);
            }}
          >
            <input aria-label="Label printer (host or host:port)" placeholder="Label printer host[:port]" value={draft} onChange={(e) => setDraft(e.target.value)} />
            <Button type="submit" disabled={!draft.trim()}>
              Use printer
            </Button>
          </form>
        )}
      </div>
      {done ? <Notice onClose={() => setDone(null)}>{done}</Notice> : null}
      <ErrorPanel error={state.error} onClose={state.clearError} />
    </div>
  );
}
