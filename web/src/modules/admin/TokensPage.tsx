import { useState } from 'react';
import { api, type ApiToken } from '../../api.ts';
import { DataTable } from '../../components/DataTable.tsx';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { RecordForm, initialValues, type FieldSpec } from '../../components/RecordForm.tsx';
import { Badge, Button, Loading, PageHeader, Panel, formatDateTime } from '../../components/ui.tsx';
import { useAction, useQuery } from '../../hooks.ts';
import { ROLES, roleLabel, type Role } from '../../roles.ts';

function tokenState(t: ApiToken): 'revoked' | 'expired' | 'active' {
  if (t.revokedAt) return 'revoked';
  if (t.expiresAt && new Date(t.expiresAt).getTime() < Date.now()) return 'expired';
  return 'active';
}

/** API tokens for machines, ERP and scripts; the secret is shown once, at creation. */
export function TokensPage() {
  const q = useQuery(async () => {
    const [tokens, stations] = await Promise.all([api.tokens.list(), api.stations.list()]);
    return { tokens, stations };
  }, []);
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<{ name: string; token: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const stations = q.data?.stations ?? [];
  const fields: FieldSpec[] = [
    { name: 'name', label: 'Name', required: true, placeholder: 'e.g. AOI-1 CFX bridge' },
    { name: 'role', label: 'Role', type: 'select', required: true, options: ROLES.map((r) => ({ value: r, label: roleLabel(r) })) },
    { name: 'stations', label: 'Limited to stations', hint: `Station codes separated by commas; empty = all. Known: ${stations.map((s) => s.code).slice(0, 12).join(', ')}${stations.length > 12 ? '…' : ''}` },
    { name: 'expiresAt', label: 'Expires', type: 'datetime-local', hint: 'empty = never' },
  ];
  const [create, createState] = useAction(async (v: Record<string, string | boolean>) => {
    const stationCodes = String(v.stations ?? '')
      .split(/[\s,;]+/)
      .filter(Boolean);
    const expires = String(v.expiresAt ?? '');
    const r = await api.tokens.create({
      name: String(v.name).trim(),
      role: v.role as Role,
      ...(stationCodes.length ? { stations: stationCodes } : {}),
      ...(expires ? { expiresAt: new Date(expires).toISOString() } : {}),
    });
    setSecret({ name: r.info.name, token: r.token });
    setCopied(false);
    setCreating(false);
    q.reload();
  });
  const [revoke, revokeState] = useAction(async (t: ApiToken) => {
    await api.tokens.revoke(t.id);
    q.reload();
  });
  const codes = (ids: number[]) => (ids.length ? ids.map((id) => stations.find((s) => s.id === id)?.code ?? `#${id}`).join(', ') : 'all');

  return (
    <>
      <PageHeader title="API tokens" subtitle="Credentials for machines, CFX bridges, ERP and scripts. The secret is shown once; only its first characters are kept visible." />
      {secret ? (
        <div className="secret" role="status" data-testid="token-secret">
          <div>
            <strong>Token “{secret.name}” created.</strong> Copy it now: it will not be shown again.
          </div>
          <code className="secret-value">{secret.token}</code>
          <div className="form-actions">
            <Button
              variant="primary"
              onClick={() =>
                void navigator.clipboard?.writeText(secret.token).then(
                  () => setCopied(true),
                  () => setCopied(false),
                )
              }
            >
              {copied ? 'Copied' : 'Copy'}
            </Button>
            <Button variant="ghost" onClick={() => setSecret(null)}>
              Done
            </Button>
          </div>
        </div>
      ) : null}
      <Panel
        title={q.data ? `${q.data.tokens.filter((t) => tokenState(t) === 'active').length} active, ${q.data.tokens.filter((t) => tokenState(t) !== 'active').length} revoked or expired` : undefined}
        actions={
          <Button variant="primary" onClick={() => (setCreating(true), createState.clearError())}>
            New token
          </Button>
        }
      >
        {creating ? (
          <RecordForm title="New API token" fields={fields} initial={initialValues(fields, { role: 'machine' })} submitLabel="Create token" onSubmit={create} onCancel={() => setCreating(false)} busy={createState.busy} error={createState.error} />
        ) : null}
        <ErrorPanel error={q.error ?? revokeState.error} />
        {q.loading && !q.data ? (
          <Loading />
        ) : (
          <DataTable
            testId="tokens"
            rows={q.data?.tokens}
            rowKey={(t) => t.id}
            empty="No API tokens."
            columns={[
              { key: 'name', header: 'Name', render: (t) => <strong>{t.name}</strong> },
              { key: 'prefix', header: 'Starts with', render: (t) => <code>{t.prefix}…</code> },
              { key: 'role', header: 'Role', render: (t) => roleLabel(t.role) },
              { key: 'stations', header: 'Stations', render: (t) => codes(t.stationIds) },
              { key: 'created', header: 'Created', render: (t) => `${formatDateTime(t.createdAt)} by ${t.createdBy}` },
              { key: 'lastUsedAt', header: 'Last used', render: (t) => formatDateTime(t.lastUsedAt) || <span className="muted">never</span> },
              {
                key: 'state',
                header: 'State',
                render: (t) => {
                  const s = tokenState(t);
                  return <Badge tone={s === 'active' ? 'good' : 'bad'}>{s === 'active' && t.expiresAt ? `until ${formatDateTime(t.expiresAt)}` : s}</Badge>;
                },
              },
              {
                key: 'x',
                header: '',
                align: 'right',
                render: (t) =>
                  tokenState(t) === 'revoked' ? null : (
                    <Button variant="ghost" className="btn-danger-text" onClick={() => window.confirm(`Revoke token “${t.name}”? Whatever uses it stops working.`) && void revoke(t)}>
                      Revoke
                    </Button>
                  ),
              },
            ]}
          />
        )}
      </Panel>
    </>
  );
}
