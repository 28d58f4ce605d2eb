import { api, type User } from '../../api.ts';
import { EntityManager } from '../../components/EntityManager.tsx';
import type { FieldSpec } from '../../components/RecordForm.tsx';
import { Badge, PageHeader, formatDateTime } from '../../components/ui.tsx';
import { USER_ROLES, roleLabel } from '../../roles.ts';

const ROLE_OPTIONS = USER_ROLES.map((r) => ({ value: r, label: roleLabel(r) }));

const CREATE_FIELDS: FieldSpec[] = [
  { name: 'username', label: 'Username', required: true, pattern: '[a-z0-9][a-z0-9._\\-]{1,62}', hint: 'lower case, e.g. j.smith' },
  { name: 'displayName', label: 'Full name' },
  { name: 'role', label: 'Role', type: 'select', required: true, options: ROLE_OPTIONS },
  { name: 'password', label: 'Initial password', type: 'password', required: true, hint: 'at least 8 characters' },
];
const EDIT_FIELDS: FieldSpec[] = [
  { name: 'username', label: 'Username', readOnly: true },
  { name: 'displayName', label: 'Full name' },
  { name: 'role', label: 'Role', type: 'select', required: true, options: ROLE_OPTIONS },
  { name: 'password', label: 'New password', type: 'password', hint: 'leave empty to keep; a new password ends their sessions' },
  { name: 'active', label: 'Active (may log in)', type: 'checkbox' },
];

export function UsersPage() {
  return (
    <>
      <PageHeader title="Users" subtitle="People who log in to the MES, and what their role lets them do. Machines and ERP use API tokens." />
      <EntityManager<User>
        noun="user"
        canWrite
        testId="users"
        load={() => api.users.list()}
        create={(b) => api.users.create(b as Parameters<typeof api.users.create>[0])}
        update={(id, b) => api.users.update(id, b)}
        defaults={{ role: 'operator' }}
        searchText={(u) => `${u.username} ${u.displayName} ${u.role}`}
        fields={CREATE_FIELDS}
        editFields={EDIT_FIELDS}
        columns={[
          { key: 'username', header: 'Username', render: (u) => <strong>{u.username}</strong> },
          { key: 'displayName', header: 'Name' },
          { key: 'role', header: 'Role', render: (u) => roleLabel(u.role) },
          { key: 'active', header: 'State', render: (u) => (u.active ? <Badge tone="good">active</Badge> : <Badge tone="bad">inactive</Badge>) },
          { key: 'createdAt', header: 'Created', render: (u) => formatDateTime(u.createdAt) },
        ]}
      />
    </>
  );
}
