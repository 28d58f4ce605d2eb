import { useMemo, useState } from 'react';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { Button } from '../../components/ui.tsx';
import { useQuery } from '../../hooks.ts';
import { floorApi, type DefectInput } from './api.ts';

export interface FailInput {
  defects: DefectInput[];
  /** Panel positions that failed (the others pass); empty for a single unit. */
  positions: number[];
}

/**
 * Recording a failure: defect codes picked from the catalogue (type to search by code, text or
 * category), each with the reference designator where it was found; for a panel, which
 * positions failed.
 */
export function FailDialog({ panelPositions, busy, onConfirm, onCancel }: { panelPositions: number[]; busy: boolean; onConfirm(f: FailInput): void; onCancel(): void }) {
  const codes = useQuery(() => floorApi.defectCodes(), []);
  const [search, setSearch] = useState('');
  const [refdes, setRefdes] = useState('');
  const [defects, setDefects] = useState<DefectInput[]>([]);
  const [positions, setPositions] = useState<number[]>(panelPositions.length === 1 ? panelPositions : []);
  const hits = useMemo(() => {
    const s = search.trim().toLowerCase();
    const active = (codes.data ?? []).filter((c) => c.active);
    if (!s) return active.slice(0, 12);
    return active.filter((c) => c.code.toLowerCase().includes(s) || c.description.toLowerCase().includes(s) || c.category.toLowerCase().includes(s)).slice(0, 12);
  }, [codes.data, search]);
  const add = (code: string) => {
    setDefects((d) => [...d, { code, refdes: refdes.trim() || null }]);
    setSearch('');
    setRefdes('');
  };
  const ready = defects.length > 0 && (panelPositions.length === 0 || positions.length > 0);
  return (
    <div className="fail-dialog" role="dialog" aria-modal="true" aria-label="Record a failure">
      <h2>Record a failure</h2>
      {panelPositions.length > 1 ? (
        <fieldset className="fail-positions">
          <legend>Failed panel positions</legend>
          {panelPositions.map((p) => (
            <label key={p} className="checkbox">
              <input type="checkbox" checked={positions.includes(p)} onChange={(e) => setPositions((ps) => (e.target.checked ? [...ps, p] : ps.filter((x) => x !== p)))} />
              <span>Position {p}</span>
            </label>
          ))}
        </fieldset>
      ) : null}
      <div className="fail-inputs">
        <label className="field">
          <span className="field-label">Reference designator</span>
          <input value={refdes} onChange={(e) => setRefdes(e.target.value.toUpperCase())} placeholder="e.g. U7" autoComplete="off" />
        </label>
        <label className="field fail-search">
          <span className="field-label">Defect code</span>
          <input
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && hits[0]) {
                e.preventDefault();
                add(hits[0].code);
              }
            }}
            placeholder="Search code, text or category"
            autoComplete="off"
            autoFocus
          />
        </label>
      </div>
      <ErrorPanel error={codes.error} />
      <div className="defect-list" role="listbox" aria-label="Matching defects">
        {hits.map((c) => (
          <button key={c.id} type="button" role="option" aria-selected={false} className="defect-option" onClick={() => add(c.code)}>
            <strong>{c.code}</strong> <span>{c.description}</span> <span className="muted">{c.category}</span>
          </button>
        ))}
        {codes.data && hits.length === 0 ? <p className="muted">No defect code matches “{search}”.</p> : null}
      </div>
      <div className="fail-chosen" data-testid="chosen-defects">
        {defects.length === 0 ? <span className="muted">No defect chosen yet.</span> : null}
        {defects.map((d, i) => (
          <span key={i} className="badge badge-bad defect-chip">
            {d.code}
            {d.refdes ? ` @ ${d.refdes}` : ''}
            <button type="button" className="chip-remove" aria-label={`Remove ${d.code}`} onClick={() => setDefects((all) => all.filter((_, j) => j !== i))}>
              ×
            </button>
          </span>
        ))}
      </div>
      <div className="form-actions">
        <Button variant="danger" busy={busy} disabled={!ready} onClick={() => onConfirm({ defects, positions })}>
          Record FAIL
        </Button>
        <Button variant="ghost" onClick={onCancel}>
          Cancel
        </Button>
      </div>
    </div>
  );
}
