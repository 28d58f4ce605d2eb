import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { ApiError } from '../api.ts';
import { useAction } from '../hooks.ts';
import { FieldErrorTable } from './ErrorPanel.tsx';
import { Button } from './ui.tsx';
import { Verdict } from './Verdict.tsx';

export interface FileImportProps<R> {
  /** What the file is, e.g. "BOM file (CSV)". */
  label: string;
  accept: string;
  /** Sends the text; resolves to the server's answer. */
  onImport(text: string, filename: string): Promise<R>;
  /** The success sentence for the answer. */
  describe(result: R): ReactNode;
  /** Further controls (options, column mapping) shown above the button. */
  options?: ReactNode;
  buttonLabel?: string;
  /** Example of the expected content, shown as a placeholder of the paste box. */
  example?: string;
}

/**
 * Imports a file all-or-nothing: pick a file (or paste its text), send it, and see either the
 * success summary or every error by line number, as the server lists them.
 */
export function FileImport<R>({ label, accept, onImport, describe, options, buttonLabel = 'Import', example }: FileImportProps<R>) {
  const inputId = useId();
  const [text, setText] = useState('');
  const [filename, setFilename] = useState('');
  const [result, setResult] = useState<{ ok: true; value: R } | { ok: false; error: ApiError } | null>(null);
  const [run, state] = useAction(async () => onImport(text, filename || 'pasted.csv'));

  const pick = async (f: File | undefined) => {
    setResult(null);
    state.clearError();
    if (!f) return;
    setFilename(f.name);
    setText(await f.text());
  };

  const submit = async () => {
    setResult(null);
    const value = await run();
    if (value !== undefined) setResult({ ok: true, value });
  };
  const error = state.error;
  // Bring the answer into view: after a long form, it would otherwise appear below the fold.
  const resultRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (result || error) resultRef.current?.scrollIntoView({ block: 'start' });
  }, [result, error]);
  const lines = text ? text.split(/\r?\n/).filter((l) => l.trim() !== '').length : 0;

  return (
    <div className="import">
      <div className="import-pick">
        <label htmlFor={inputId} className="btn btn-secondary file-button">
          Choose file…
        </label>
        <input id={inputId} type="file" accept={accept} className="visually-hidden" onChange={(e) => void pick(e.target.files?.[0])} aria-label={label} />
        <span className="import-file" data-testid="import-file">
          {filename ? (
            <>
              <strong>{filename}</strong> · {lines} line{lines === 1 ? '' : 's'}
            </>
          ) : (
            <span className="muted">No file chosen ({label})</span>
          )}
        </span>
      </div>
      <details className="import-paste">
        <summary>Or paste the contents</summary>
        <textarea
          value={text}
          rows={8}
          placeholder={example}
          spellCheck={false}
          aria-label={`${label} contents`}
          onChange={(e) => {
            setText(e.target.value);
            setFilename(filename || 'pasted.csv');
            setResult(null);
            state.clearError();
          }}
        />
      </details>
      {options ? <div className="import-options">{options}</div> : null}
      <div className="form-actions">
        <Button variant="primary" onClick={() => void submit()} busy={state.busy} disabled={!text.trim()}>
          {buttonLabel}
        </Button>
      </div>
      <div ref={resultRef} className="import-result">
      {result?.ok ? <Verdict kind="go" size="compact" title="Imported" reason={describe(result.value)} /> : null}
      {error ? (
        <Verdict kind="nogo" size="compact" title="Nothing was imported" reason={error.detail} code={error.code}>
          {error.errors.length > 0 ? <FieldErrorTable errors={error.errors} /> : null}
        </Verdict>
      ) : null}
      </div>
    </div>
  );
}
