import { useState } from 'react';
import { api, type ImportReport } from '../../api.ts';
import { FileImport } from '../../components/FileImport.tsx';
import { Field, PageHeader, Panel } from '../../components/ui.tsx';

const KINDS = {
  factory: {
    label: 'Factory document (YAML or JSON)',
    accept: '.yaml,.yml,.json,application/json,application/yaml,text/yaml',
    help: 'Sites, lines, stations, equipment, parts, AVL and products with revisions, BOM, route, programs and quality plan, referring to each other by code. Importing again updates by code.',
    example: 'sites:\n  - code: PLANT1\n    name: Main plant\nlines:\n  - code: SMT1\n    site: PLANT1\n    name: SMT line 1',
  },
  parts: { label: 'Parts (CSV)', accept: '.csv,text/csv', help: 'Columns: IPN, Description, Package, MSL, Placed.', example: 'IPN,Description,Package,MSL\nR-10K-0402,Resistor 10k 1%,0402,1' },
  avl: { label: 'AVL (CSV)', accept: '.csv,text/csv', help: 'Columns: IPN, Manufacturer, MPN, Alternate, Preference.', example: 'IPN,Manufacturer,MPN,Alternate\nR-10K-0402,Yageo,RC0402FR-0710KL,no' },
} as const;
type Kind = keyof typeof KINDS;

function contentType(kind: Kind, filename: string, text: string): string {
  if (kind !== 'factory') return 'text/csv';
  return /\.json$/i.test(filename) || /^\s*[{[]/.test(text) ? 'application/json' : 'application/yaml';
}

/** Master-data imports: all or nothing, every error listed by line or path. */
export function ImportPage() {
  const [kind, setKind] = useState<Kind>('factory');
  const k = KINDS[kind];
  return (
    <>
      <PageHeader title="Import master data" subtitle="A file is imported whole or not at all; every problem is listed with its line or path." />
      <Panel
        title={
          <Field label="What to import">
            <select value={kind} onChange={(e) => setKind(e.target.value as Kind)}>
              {(Object.keys(KINDS) as Kind[]).map((x) => (
                <option key={x} value={x}>
                  {KINDS[x].label}
                </option>
              ))}
            </select>
          </Field>
        }
      >
        <p className="muted">{k.help}</p>
        <FileImport<ImportReport>
          key={kind}
          label={k.label}
          accept={k.accept}
          example={k.example}
          onImport={(text, filename) => api.imports.run(kind, text, contentType(kind, filename, text))}
          describe={(r) => (
            <>
              {r.created} created, {r.updated} updated, {r.unchanged} unchanged.
              {r.notes.length ? (
                <ul>
                  {r.notes.map((n, i) => (
                    <li key={i}>{n}</li>
                  ))}
                </ul>
              ) : null}
            </>
          )}
        />
      </Panel>
    </>
  );
}
