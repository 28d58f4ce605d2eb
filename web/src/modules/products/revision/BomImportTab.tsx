import { useState } from 'react';
import { api, type BomImportResult, type ProductRevision } from '../../../api.ts';
import { FileImport } from '../../../components/FileImport.tsx';
import { Checkbox, Panel } from '../../../components/ui.tsx';
import { Link } from '../../../router.tsx';

const MAPPABLE = ['line', 'ipn', 'quantity', 'refdes', 'manufacturer', 'mpn', 'alternates', 'side', 'dnp', 'description', 'notes'] as const;

const EXAMPLE = `Item,Part Number,Description,Qty,Reference Designators,Manufacturer,MPN
1,R-10K-0402,Resistor 10k 1% 0402,2,"R1, R2",Yageo,RC0402FR-0710KL
2,C-100N-0402,Capacitor 100n 0402,1,C1,Murata,GRM155R71C104KA88D`;

/** Imports a BOM CSV into a draft revision: all or nothing, each error with its CSV line. */
export function BomImportTab({ rev }: { rev: ProductRevision }) {
  const [createParts, setCreateParts] = useState(true);
  const [mapping, setMapping] = useState<Record<string, string>>({});
  return (
    <Panel title={`Import a BOM into ${rev.productCode} revision ${rev.revision}`}>
      <p className="muted">
        The file replaces the whole BOM. Columns are found by their usual names (Item, Part Number, Qty, Reference Designators, Manufacturer, MPN, Alternates, Side, DNP…); map
        others below. A file with any error is refused whole, and every error is listed with its line.
      </p>
      <FileImport<BomImportResult>
        label="BOM file (CSV)"
        accept=".csv,text/csv,text/plain"
        example={EXAMPLE}
        buttonLabel="Import BOM"
        onImport={(text) => api.revisions.importBom(rev.id, text, { createParts, mapping })}
        describe={(r) => (
          <>
            {r.summary.lines} lines, {r.summary.placements} placements; {r.summary.partsCreated} parts and {r.summary.avlEntriesCreated} AVL entries created.{' '}
            <Link to={`/revisions/${rev.id}/bom`}>View the BOM</Link>
          </>
        )}
        options={
          <>
            <Checkbox label="Create parts that do not exist yet" checked={createParts} onChange={setCreateParts} />
            <details className="mapping">
              <summary>Column mapping</summary>
              <div className="form-grid">
                {MAPPABLE.map((f) => (
                  <label key={f} className="field">
                    <span className="field-label">{f}</span>
                    <input value={mapping[f] ?? ''} placeholder="header in the file" onChange={(e) => setMapping((m) => ({ ...m, [f]: e.target.value }))} />
                  </label>
                ))}
              </div>
            </details>
          </>
        }
      />
    </Panel>
  );
}
