import { useState, type FormEvent, type ReactElement, type ReactNode } from 'react';
import type { ApiError } from '../api.ts';
import { ErrorPanel } from './ErrorPanel.tsx';
import { Button, Field } from './ui.tsx';

export type FieldSpec =
  | { name: string; label: string; type?: 'text' | 'password' | 'datetime-local'; required?: boolean; hint?: ReactNode; placeholder?: string; pattern?: string; emptyAs?: null | undefined; wide?: boolean; readOnly?: boolean }
  | { name: string; label: string; type: 'number'; required?: boolean; hint?: ReactNode; min?: number; max?: number; step?: number | 'any'; emptyAs?: null | undefined; wide?: boolean; readOnly?: boolean }
  | { name: string; label: string; type: 'select'; options: readonly (string | { value: string; label: string })[]; required?: boolean; hint?: ReactNode; emptyAs?: null | undefined; emptyLabel?: string; wide?: boolean; readOnly?: boolean; numeric?: boolean }
  | { name: string; label: string; type: 'checkbox'; hint?: ReactNode; wide?: boolean; readOnly?: boolean };

export type FormValues = Record<string, string | boolean>;

/** Turns the form's text values into an API body: numbers as numbers, empty fields omitted or null. */
export function toBody(fields: FieldSpec[], values: FormValues, opts: { onlyChanged?: FormValues } = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    if (f.readOnly) continue;
    const v = values[f.name];
    if (opts.onlyChanged && opts.onlyChanged[f.name] === v) continue;
    if (f.type === 'checkbox') {
      out[f.name] = Boolean(v);
      continue;
    }
    const s = typeof v === 'string' ? v.trim() : '';
    if (s === '') {
      if ('emptyAs' in f && f.emptyAs === null) out[f.name] = null;
      continue;
    }
    out[f.name] = f.type === 'number' || (f.type === 'select' && f.numeric) ? Number(s) : s;
  }
  return out;
}

export function initialValues(fields: FieldSpec[], record?: Record<string, unknown>): FormValues {
  const v: FormValues = {};
  for (const f of fields) {
    const r = record?.[f.name];
    v[f.name] = f.type === 'checkbox' ? Boolean(r) : r === null || r === undefined ? '' : String(r);
  }
  return v;
}

export interface RecordFormProps {
  fields: FieldSpec[];
  initial: FormValues;
  submitLabel: string;
  onSubmit(values: FormValues): Promise<unknown>;
  onCancel?: () => void;
  busy?: boolean;
  error?: ApiError | undefined;
  title?: ReactNode;
  testId?: string;
}

/** A form for one record, laid out in a grid of large fields; server errors appear under it. */
export function RecordForm({ fields, initial, submitLabel, onSubmit, onCancel, busy, error, title, testId }: RecordFormProps) {
  const [values, setValues] = useState<FormValues>(initial);
  const set = (name: string, v: string | boolean) => setValues((s) => ({ ...s, [name]: v }));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void onSubmit(values);
  };
  return (
    <form className="record-form" onSubmit={submit} data-testid={testId}>
      {title ? <h3 className="form-title">{title}</h3> : null}
      <div className="form-grid">
        {fields.map((f) => {
          const common = { name: f.name, disabled: f.readOnly };
          let control: ReactNode;
          if (f.type === 'checkbox') {
            return (
              <div key={f.name} className={`field-checkbox${f.wide ? ' field-wide' : ''}`}>
                <label className="checkbox">
                  <input type="checkbox" {...common} checked={Boolean(values[f.name])} onChange={(e) => set(f.name, e.target.checked)} />
                  <span>{f.label}</span>
                </label>
                {f.hint ? <span className="field-hint">{f.hint}</span> : null}
              </div>
            );
          } else if (f.type === 'select') {
            control = (
              <select {...common} required={f.required} value={String(values[f.name] ?? '')} onChange={(e) => set(f.name, e.target.value)}>
                {!f.required || values[f.name] === '' ? <option value="">{f.emptyLabel ?? '—'}</option> : null}
                {f.options.map((o) => {
                  const opt = typeof o === 'string' ? { value: o, label: o } : o;
                  return (
                    <option key={opt.value} value={opt.value}>
                      {opt.label}
                    </option>
                  );
                })}
              </select>
            );
          } else if (f.type === 'number') {
            control = (
              <input type="number" {...common} required={f.required} min={f.min} max={f.max} step={f.step} value={String(values[f.name] ?? '')} onChange={(e) => set(f.name, e.target.value)} />
            );
          } else {
            control = (
              <input
                type={f.type ?? 'text'}
                {...common}
                required={f.required}
                placeholder={f.placeholder}
                pattern={f.pattern}
                autoComplete={f.type === 'password' ? 'new-password' : 'off'}
                value={String(values[f.name] ?? '')}
                onChange={(e) => set(f.name, e.target.value)}
              />
            );
          }
          return (
            <Field key={f.name} label={f.label} hint={f.hint} wide={f.wide} required={'required' in f && f.required}>
              {control as ReactElement<Record<string, unknown>>}
            </Field>
          );
        })}
      </div>
      <ErrorPanel error={error} />
      <div className="form-actions">
        <Button type="submit" variant="primary" busy={busy}>
          {submitLabel}
        </Button>
        {onCancel ? (
          <Button variant="ghost" onClick={onCancel}>
            Cancel
          </Button>
        ) : null}
      </div>
    </form>
  );
}
