import { api, type ProductRevision } from '../../../api.ts';
import { DataTable } from '../../../components/DataTable.tsx';
import { ErrorPanel } from '../../../components/ErrorPanel.tsx';
import { Loading, Panel, formatDateTime } from '../../../components/ui.tsx';
import { useQuery } from '../../../hooks.ts';

function size(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function FilesTab({ rev }: { rev: ProductRevision }) {
  const q = useQuery(() => api.revisions.files(rev.id), [rev.id]);
  return (
    <Panel title="Engineering package files">
      <ErrorPanel error={q.error} />
      {q.loading && !q.data ? (
        <Loading />
      ) : (
        <DataTable
          rows={q.data}
          rowKey={(f) => f.id}
          empty="No files: Gerber, assembly drawing, centroid and BOM files are added through the API."
          columns={[
            { key: 'kind', header: 'Kind' },
            { key: 'filename', header: 'File', render: (f) => <a href={api.fileUrl(f.id)} download={f.filename}>{f.filename}</a> },
            { key: 'size', header: 'Size', align: 'right', render: (f) => size(f.size) },
            { key: 'sha256', header: 'SHA-256', render: (f) => <code title={f.sha256}>{f.sha256.slice(0, 16)}…</code> },
            { key: 'createdAt', header: 'Added', render: (f) => `${formatDateTime(f.createdAt)} by ${f.createdBy}` },
          ]}
        />
      )}
    </Panel>
  );
}
