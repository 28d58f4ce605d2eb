import { useEffect, useRef, useState } from 'react';

export interface ScanInputProps {
  label: string;
  /** Called with the trimmed code when the scanner (or a person) ends it with Enter. */
  onScan(code: string): void | Promise<void>;
  placeholder?: string;
  /** Take focus back when the user taps somewhere that is not another control (default true). */
  holdFocus?: boolean;
  disabled?: boolean;
  id?: string;
  /** Shows the code last scanned under the field. */
  showLast?: boolean;
}

/** Whether a tap on `el` belongs to something else: a control, or a dialog (its backdrop included). */
function isControl(el: Element | null): boolean {
  return !!el && (el.matches('input, textarea, select, button, a, [contenteditable="true"], summary') || !!el.closest('dialog, [role="dialog"], .modal-backdrop'));
}

/**
 * The field a keyboard-wedge barcode scanner types into: the scanner sends the code followed by
 * Enter. The field is focused on load, cleared after each scan and keeps the focus, so the next
 * scan needs no tap. Scans that arrive while the previous one is still being handled are queued
 * in order, never dropped.
 */
export function ScanInput({ label, onScan, placeholder = 'Scan or type, then Enter', holdFocus = true, disabled, id, showLast = true }: ScanInputProps) {
  const ref = useRef<HTMLInputElement>(null);
  const [value, setValue] = useState('');
  const [last, setLast] = useState<string | null>(null);
  const queue = useRef<Promise<void>>(Promise.resolve());
  const onScanRef = useRef(onScan);
  onScanRef.current = onScan;

  useEffect(() => {
    if (!disabled) ref.current?.focus();
  }, [disabled]);

  useEffect(() => {
    if (!holdFocus) return;
    // A tap on empty space (not on another control) returns the focus to the scan field.
    const onPointerUp = (e: PointerEvent) => {
      const t = e.target as Element | null;
      if (isControl(t) || window.getSelection()?.toString()) return;
      ref.current?.focus();
    };
    document.addEventListener('pointerup', onPointerUp);
    return () => document.removeEventListener('pointerup', onPointerUp);
  }, [holdFocus]);

  const submit = () => {
    // Scanners may add stray whitespace or control characters around the code.
    const code = value.replace(/[\u0000-\u001f\u007f]+/g, '').trim();
    setValue('');
    if (!code) return;
    setLast(code);
    queue.current = queue.current.then(async () => {
      try {
        await onScanRef.current(code);
      } finally {
        ref.current?.focus();
      }
    });
  };

  return (
    <div className="scan">
      <label className="scan-label" htmlFor={id ?? 'scan-input'}>
        <span className="scan-icon" aria-hidden="true" />
        {label}
      </label>
      <input
        ref={ref}
        id={id ?? 'scan-input'}
        className="scan-input"
        value={value}
        disabled={disabled}
        placeholder={placeholder}
        autoComplete="off"
        autoCorrect="off"
        autoCapitalize="off"
        spellCheck={false}
        inputMode="text"
        enterKeyHint="go"
        onChange={(e) => setValue(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' || (e.key === 'Tab' && value !== '')) {
            // Some scanners end with Tab instead of Enter; that Tab must not move the focus away.
            e.preventDefault();
            submit();
          }
        }}
      />
      {showLast && last ? (
        <div className="scan-last">
          Last scan: <code>{last}</code>
        </div>
      ) : null}
    </div>
  );
}
