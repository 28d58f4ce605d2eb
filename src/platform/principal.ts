/** Who is calling: a logged-in user, an API token (machine, ERP, script) or the MES itself. */

export const USER_ROLES = ['admin', 'planner', 'process-engineer', 'quality-engineer', 'operator', 'technician', 'viewer'] as const;
export const TOKEN_ONLY_ROLES = ['machine', 'integration'] as const;
export const ROLES = [...USER_ROLES, ...TOKEN_ONLY_ROLES] as const;

export type UserRole = (typeof USER_ROLES)[number];
export type Role = (typeof ROLES)[number];

export interface Principal {
  kind: 'user' | 'token' | 'system';
  id: number | null;
  /** Username, token name, or the system component's name. */
  name: string;
  role: Role;
  /** For station-bound tokens: the stations this caller may act for. Undefined = all. */
  stationIds?: number[];
}

export const systemPrincipal = (component: string): Principal => ({ kind: 'system', id: null, name: component, role: 'admin' });

/** Role groups used in route declarations, so each route's audience reads as a sentence. */
export const R = {
  all: ROLES,
  people: USER_ROLES,
  admin: ['admin'],
  masterDataWrite: ['admin', 'process-engineer'],
  masterDataRead: ['admin', 'planner', 'process-engineer', 'quality-engineer', 'operator', 'technician', 'viewer', 'integration', 'machine'],
  planning: ['admin', 'planner', 'integration'],
  quality: ['admin', 'quality-engineer'],
  floor: ['admin', 'operator', 'technician', 'process-engineer', 'quality-engineer', 'machine'],
} as const satisfies Record<string, readonly Role[]>;
