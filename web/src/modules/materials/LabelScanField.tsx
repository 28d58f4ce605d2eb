import { useEffect, useRef, useState } from 'react';

/**
 * The field a 2D-label scanner types into. Unlike ScanInput it keeps the ISO/IEC 15434 control
 * characters (GS, RS, EOT) the label carries, or their visible substitutes ({GS}, <GS>, ^]):
 * the server's parser needs them to split the fields. Enter ends the scan.
 */
export function LabelScanField({ onScan, label, id = 'label-scan' }: { onScan(raw: string): void | Promise<void>; label: string; id?: string }) {
  const ref = useRef<HTMLInputElement>(null);
  const [value, setValue] = useState('');
  const busy = useRef(false);
  useEffect(() => ref.current?.focus(), []);
  const submit = async () => {
    const raw = value.replace(/[\r\n]+$/, '');
    setValue('');
    if (!raw.trim() || busy.current) return;
    busy.current = true;
    try {
      await onScan(raw);
    } finally {
      busy.current = false;
      ref.current?.focus();
    }
  };
  return (
    <div className="scan">
      <label className="scan-label" htmlFor={id}>
        <span className="scan-icon" aria-hidden="true" />
        {label}
      </label>
      <input
        ref={ref}
        id={id}
        className="scan-input"
        value={value}
        autoComplete="off"
        spellCheck={false}
        placeholder="Scan the 2D code on the manufacturer's reel label"
        onChange={(e) => setValue(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter') {
            e.preventDefault();
            void submit();
          }
        }}
      />
    </div>
  );
}
