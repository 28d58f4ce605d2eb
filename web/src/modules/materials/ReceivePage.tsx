import { useState } from 'react';
import { isApiError } from '../../api.ts';
import { LabelActions } from '../../components/LabelActions.tsx';
import { Button, Checkbox, Field, KeyValues, PageHeader, Panel } from '../../components/ui.tsx';
import { Verdict } from '../../components/Verdict.tsx';
import { FieldErrorTable } from '../../components/ErrorPanel.tsx';
import { LabelScanField } from './LabelScanField.tsx';
import { locationText, materialsApi, type ReceiveResult, type ReceiveScanBody } from './api.ts';

type Outcome =
  /** `body`: the request answered, so that "Receive it now" books exactly what the preview showed. */
  | { ok: true; r: ReceiveResult; seq: number; preview: boolean; body: ReceiveScanBody }
  | { ok: false; code: string; detail: string; errors: { field: string; code: string; message: string }[]; seq: number; preview: boolean };

const LABEL_FIELDS: [string, string][] = [
  ['mpn', 'MPN (1P)'],
  ['manufacturer', 'Manufacturer (1V)'],
  ['quantity', 'Quantity (Q)'],
  ['lotCode', 'Lot (1T)'],
  ['dateCode', 'Date code (9D/10D)'],
  ['countryOfOrigin', 'Country of origin (4L)'],
  ['packageSerial', 'Package serial (3S/S)'],
  ['customerPartNumber', 'Customer part (P)'],
  ['purchaseOrder', 'Purchase order (K)'],
];

function show(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object' && 'raw' in (v as Record<string, unknown>)) return String((v as { raw: unknown }).raw);
  return String(v);
}

/**
 * Goods receipt: scan the manufacturer's 2D reel label (EIGP 114). The server parses it, checks
 * the MPN against the AVL and creates the package; the parsed fields, the new package and its
 * MES label are shown, or the refusal with the data identifier at fault. "Check only" asks the
 * server what receiving would do (nothing is written) and offers to receive it then.
 */
export function ReceivePage() {
  const [place, setPlace] = useState('');
  const [ipn, setIpn] = useState('');
  const [quarantine, setQuarantine] = useState(false);
  const [checkOnly, setCheckOnly] = useState(false);
  const [out, setOut] = useState<Outcome | null>(null);
  const [receiving, setReceiving] = useState(false);
  const send = async (body: ReceiveScanBody, preview: boolean) => {
    const seq = (out?.seq ?? 0) + 1;
    try {
      const r = await (preview ? materialsApi.previewScan(body) : materialsApi.receiveScan(body));
      setOut({ ok: true, r, seq, preview, body });
    } catch (e) {
      if (!isApiError(e)) throw e;
      setOut({ ok: false, code: e.code, detail: e.detail, errors: e.errors, seq, preview });
    }
  };
  const onScan = (scan: string) =>
    send({
      scan, ...(ipn.trim() ? { ipn: ipn.trim() } : {}), ...(place.trim() ? { location: { kind: 'store' as const, place: place.trim() } } : {}), ...(quarantine ? { quarantine: true } : {}),
    }, checkOnly);
  const what = (r: ReceiveResult) =>
    `${r.package.quantity} × ${r.package.mpn} for ${r.package.ipn}, ${r.lotCreated ? 'new lot' : 'existing lot'} ${r.lot.lotCode ?? ''} · ${locationText(r.package.location)}${r.package.status === 'quarantined' ? ' · in quarantine' : ''}`;
  const label = out?.ok ? (out.r.label ?? {}) : {};
  return (
    <>
      <PageHeader title="Receive material" subtitle="Scan the 2D code of the manufacturer's label: MPN, quantity, lot and date code come from the label." />
      <Panel className="scan-panel">
        <div className="form-grid">
          <Field label="Store place" hint="Where the package goes, e.g. A-03-2">
            <input value={place} onChange={(e) => setPlace(e.target.value)} />
          </Field>
          <Field label="Part number (IPN)" hint="Only when the MPN is approved for several parts">
            <input value={ipn} onChange={(e) => setIpn(e.target.value)} />
          </Field>
          <div className="field-checkbox">
            <Checkbox label="Receive into quarantine (incoming inspection)" checked={quarantine} onChange={setQuarantine} />
          </div>
          <div className="field-checkbox">
            <Checkbox label="Check only: show what would be received, receive nothing" checked={checkOnly} onChange={setCheckOnly} />
          </div>
        </div>
        <LabelScanField label="Scan the manufacturer's label" onScan={onScan} />
      </Panel>
      {out === null ? (
        <Verdict kind="idle" title="Ready" reason="Waiting for a label scan." />
      ) : out.ok && out.preview ? (
        <Verdict kind="warn" seq={out.seq} title="Preview" reason={`Not received. Receiving would book ${what(out.r)}.`}>
          <div className="toolbar">
            <Button
              variant="primary"
              busy={receiving}
              onClick={async () => {
                setReceiving(true);
                try {
                  await send(out.body, false);
                } finally {
                  setReceiving(false);
                }
              }}
            >
              Receive it now
            </Button>
          </div>
        </Verdict>
      ) : out.ok ? (
        <Verdict kind="go" seq={out.seq} title="Received" reason={`${out.r.package.code}: ${what(out.r)}`} />
      ) : (
        <Verdict kind="nogo" seq={out.seq} beep title={out.preview ? 'Would be refused' : 'Not received'} reason={out.detail} code={out.code}>
          {out.errors.length ? <FieldErrorTable errors={out.errors} /> : null}
        </Verdict>
      )}
      {out?.ok ? (
        <div className="two-col">
          <Panel title="Read from the label">
            <div data-testid="parsed-label">
              <KeyValues items={LABEL_FIELDS.filter(([k]) => label[k] !== undefined && label[k] !== null).map(([k, name]) => [name, <span className="mono" data-field={k}>{show(label[k])}</span>])} />
            </div>
          </Panel>
          {out.preview ? (
            <Panel title="The package it would be">
              <KeyValues
                items={[
                  ['Part', out.r.package.ipn],
                  ['MPN', `${out.r.package.manufacturer} ${out.r.package.mpn}`],
                  ['Quantity', String(out.r.package.quantity)],
                  ['Lot', `${out.r.lot.lotCode ?? '—'}${out.r.lotCreated ? ' (new)' : ` (existing, #${out.r.lot.id})`}`],
                  ['MSL', out.r.package.msd.level],
                  ['Location', locationText(out.r.package.location)],
                ]}
              />
              <p className="muted">The package ID is assigned when it is received.</p>
            </Panel>
          ) : (
            <Panel title={`MES label ${out.r.package.code}`}>
              <LabelActions base={`/packages/${out.r.package.id}/label`} name={out.r.package.code} preview="png" />
            </Panel>
          )}
        </div>
      ) : null}
    </>
  );
}
