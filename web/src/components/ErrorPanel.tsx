import type { ApiError, FieldError } from '../api.ts';

/** Sorts field errors by file line (when they have one), then by field. */
function sorted(errors: FieldError[]): FieldError[] {
  return [...errors].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || a.field.localeCompare(b.field));
}

/** "line 12: refdes" → "refdes" when the line is shown in its own column. */
function fieldName(e: FieldError): string {
  return e.line !== undefined ? e.field.replace(/^line \d+:\s*/, '') : e.field;
}

/** A table of field / line errors, e.g. every problem of an imported file. */
export function FieldErrorTable({ errors, caption }: { errors: FieldError[]; caption?: string }) {
  const withLines = errors.some((e) => e.line !== undefined);
  return (
    <div className="table-wrap error-table-wrap">
      <table className="table error-table" data-testid="field-errors">
        {caption ? <caption>{caption}</caption> : null}
        <thead>
          <tr>
            {withLines ? <th className="num">Line</th> : null}
            <th>Field</th>
            <th>Problem</th>
            <th>Code</th>
          </tr>
        </thead>
        <tbody>
          {sorted(errors).map((e, i) => (
            <tr key={i}>
              {withLines ? <td className="num">{e.line ?? ''}</td> : null}
              <td>
                <code>{fieldName(e)}</code>
              </td>
              <td>{e.message}</td>
              <td className="muted">
                <code>{e.code}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/**
 * Shows an API refusal: the server's sentence, its stable code, and every field or line error.
 */
export function ErrorPanel({ error, onClose }: { error: ApiError | undefined; onClose?: () => void }) {
  if (!error) return null;
  return (
    <div className="error-panel" role="alert" data-code={error.code}>
      <div className="error-head">
        <span className="error-icon" aria-hidden="true">
          ✕
        </span>
        <div className="error-text">
          <div className="error-detail">{error.detail}</div>
          <div className="error-code">
            {error.code}
            {error.status ? ` · HTTP ${error.status}` : ''}
            {error.requestId ? ` · request ${error.requestId}` : ''}
          </div>
        </div>
        {onClose ? (
          <button type="button" className="notice-close" onClick={onClose} aria-label="Dismiss">
            ×
          </button>
        ) : null}
      </div>
      {error.errors.length > 0 ? <FieldErrorTable errors={error.errors} /> : null}
    </div>
  );
}
