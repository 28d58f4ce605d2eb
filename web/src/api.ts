/**
 * The typed client of the MES REST API. Requests carry the session cookie (same origin);
 * errors arrive as RFC 9457 problem+json and are thrown as ApiError with the server's stable
 * `code`, the human `detail` and the per-field / per-line `errors`.
 *
 * New modules put their own endpoints in web/src/modules/<module>/api.ts and build them on
 * `http` from this file.
 */
import type { Role, UserRole } from './roles.ts';

export const API_BASE = '/api/v1';

export interface FieldError {
  field: string;
  code: string;
  message: string;
  line?: number;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  readonly errors: FieldError[];
  readonly details: Record<string, unknown> | undefined;
  readonly requestId: string | undefined;

  constructor(p: { status: number; code: string; title?: string; detail: string; errors?: FieldError[]; details?: Record<string, unknown>; requestId?: string }) {
    super(p.detail);
    this.name = 'ApiError';
    this.status = p.status;
    this.code = p.code;
    this.title = p.title ?? p.code;
    this.detail = p.detail;
    this.errors = p.errors ?? [];
    this.details = p.details;
    this.requestId = p.requestId;
  }
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}

/** Called when the server says the session is gone (401 on a normal call). */
let onUnauthenticated: (() => void) | null = null;
export function setUnauthenticatedHandler(fn: (() => void) | null) {
  onUnauthenticated = fn;
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  query?: Query;
  /** JSON body. */
  json?: unknown;
  /** Raw text body (CSV, YAML) with its content type. */
  text?: { body: string; contentType: string };
  signal?: AbortSignal;
  /** Do not report a 401 as an ended session (login, who-am-I). */
  quiet401?: boolean;
}

export function apiUrl(path: string, query?: Query): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  const s = qs.toString();
  return `${API_BASE}${path}${s ? `?${s}` : ''}`;
}

async function request<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
  let body: BodyInit | undefined;
  if (o.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(o.json);
  } else if (o.text) {
    headers['content-type'] = o.text.contentType;
    body = o.text.body;
  }
  let res: Response;
  try {
    res = await fetch(apiUrl(path, o.query), { method, headers, body, credentials: 'same-origin', signal: o.signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError({ status: 0, code: 'NETWORK', title: 'No connection', detail: 'The MES server cannot be reached; check the network and try again' });
  }
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('content-type') ?? '';
  const isJson = /json/.test(type);
  const payload: unknown = isJson ? await res.json().catch(() => undefined) : await res.text().catch(() => '');
  if (res.ok) return payload as T;
  const p = (isJson && payload && typeof payload === 'object' ? payload : {}) as Partial<ApiError> & { errors?: FieldError[] };
  const err = new ApiError({
    status: res.status,
    code: typeof p.code === 'string' ? p.code : `HTTP_${res.status}`,
    title: typeof p.title === 'string' ? p.title : res.statusText,
    detail: typeof p.detail === 'string' ? p.detail : `The server answered ${res.status} ${res.statusText}`,
    errors: Array.isArray(p.errors) ? p.errors : [],
    ...(p.details ? { details: p.details } : {}),
    ...(typeof p.requestId === 'string' ? { requestId: p.requestId } : {}),
  });
  if (res.status === 401 && !o.quiet401) onUnauthenticated?.();
  throw err;
}

/** The transport: one function per HTTP method, paths relative to /api/v1. */
export const http = {
  get: <T>(path: string, query?: Query, signal?: AbortSignal) => request<T>('GET', path, { ...(query ? { query } : {}), ...(signal ? { signal } : {}) }),
  post: <T>(path: string, json?: unknown, query?: Query) => request<T>('POST', path, { json: json ?? {}, ...(query ? { query } : {}) }),
  put: <T>(path: string, json: unknown) => request<T>('PUT', path, { json }),
  patch: <T>(path: string, json: unknown) => request<T>('PATCH', path, { json }),
  del: <T>(path: string, query?: Query) => request<T>('DELETE', path, query ? { query } : {}),
  postText: <T>(path: string, body: string, contentType: string, query?: Query) => request<T>('POST', path, { text: { body, contentType }, ...(query ? { query } : {}) }),
  request,
};

// ---------------------------------------------------------------------------------------------
// Wire types (dates are ISO strings on the wire).

export interface Me { kind: 'user' | 'token' | 'system'; id: number | null; name: string; role: Role; stationIds?: number[] }
export interface User { id: number; username: string; displayName: string; role: UserRole; active: boolean; createdAt: string }
export interface ApiToken {
  id: number; name: string; role: Role; prefix: string; stationIds: number[]; createdAt: string; createdBy: string;
  expiresAt: string | null; revokedAt: string | null; lastUsedAt: string | null;
}
export interface Health { status: 'ok' | 'degraded'; version: string; database: { reachable: boolean; version?: string; schemaVersion?: number } }

export const STATION_TYPES = [
  'printer', 'spi', 'placement', 'reflow', 'aoi', 'axi', 'ict', 'fct', 'flying-probe',
  'visual', 'rework', 'depanel', 'coating', 'marking', 'packing', 'manual',
] as const;
export const MSL_LEVELS = ['1', '2', '2a', '3', '4', '5', '5a', '6'] as const;
export const PROGRAM_KINDS = ['printer', 'spi', 'placement', 'reflow', 'aoi', 'axi', 'ict', 'fct', 'flying-probe', 'marking', 'coating', 'other'] as const;

export interface Site { id: number; code: string; name: string; timezone: string }
export interface Line { id: number; siteId: number; code: string; name: string }
export interface Station { id: number; lineId: number | null; code: string; name: string; type: string; seq: number }
export interface Equipment {
  id: number; stationId: number; code: string; name: string; vendor: string | null; model: string | null;
  serialNumber: string | null; cfxHandle: string | null; lanes: number;
}

export interface Part { id: number; ipn: string; description: string; package: string | null; mslLevel: string; placed: boolean }
export interface AvlEntry {
  id: number; partId: number; ipn: string; manufacturerPartId: number; manufacturer: string; mpn: string;
  alternate: boolean; active: boolean; preference: number; notes: string;
}
export interface AlternatePermission {
  id: number; avlEntryId: number; scope: 'global' | 'product_revision' | 'work_order'; productRevisionId: number | null;
  workOrderId: number | null; reason: string; grantedBy: string; grantedAt: string;
}

export interface Product { id: number; code: string; name: string; customer: string }
export interface ProductRevision {
  id: number; productId: number; productCode: string; revision: string; state: 'draft' | 'released' | 'obsolete';
  bomRevision: string; gerberRevision: string; assemblyDrawingRevision: string; centroidRevision: string;
  derivedFromId: number | null; changeReason: string | null; createdAt: string; releasedAt: string | null; releasedBy: string | null;
}
export interface BomLine {
  id: number; lineNo: number; partId: number; ipn: string; description: string; mslLevel: string; quantity: number;
  refdes: string[]; side: string; doNotPlace: boolean; placed: boolean; notes: string;
}
export interface RouteStep {
  id: number; seq: number; name: string; stationType: string; stationId: number | null; required: boolean; isRepair: boolean; onFail: string;
  repairStepSeq: number | null; returnStepSeq: number | null; maxRepairLoops: number; firstArticleGate: boolean; samplingRate: number;
  instructions: string; checks: { code: string; text: string; signoff?: boolean }[]; attachments: { fileId: number; filename: string; sha256: string }[];
}
export interface Route { id: number; productRevisionId: number; name: string; steps: RouteStep[] }
export interface ParameterRange { name: string; unit?: string; min?: number; max?: number }
export interface Program {
  id: number; productRevisionId: number; name: string; revision: string; kind: string; checksum: string; stationType: string;
  stationId: number | null; equipmentId: number | null; state: 'draft' | 'released' | 'obsolete'; parameterRanges: ParameterRange[];
  createdAt: string; releasedAt: string | null; slots: { slot: string; partId: number; ipn: string; refdes: string[] }[];
}
export interface QualityPlan {
  productRevisionId: number; requiredSteps: string[]; traceDepth: string; materialLevel: string; processLevel: string;
  acceptanceClass: number; mixedLotsAllowed: boolean; tracePackage: string[]; notes: string;
}
export interface StoredFile { id: number; filename: string; contentType: string; size: number; sha256: string; createdAt: string; createdBy: string; kind?: string }
export interface ReleaseCheck { releasable: boolean; blockers: FieldError[] }
export interface BomImportResult { summary: { lines: number; partsCreated: number; avlEntriesCreated: number; placements: number }; columns: Record<string, string> }
export interface ImportReport { kind: string; created: number; updated: number; unchanged: number; notes: string[] }
export interface AuditRow {
  id: number; at: string; actorKind: string; actorName: string; action: string; entity: string; entityId: string | null;
  before: unknown; after: unknown; reason: string | null; signature: unknown;
}

type Crud<T extends { id: number }, F extends Query = Query> = {
  list(filter?: F): Promise<T[]>;
  get(id: number): Promise<T>;
  create(body: Partial<Omit<T, 'id'>>): Promise<T>;
  update(id: number, patch: Partial<Omit<T, 'id'>>): Promise<T>;
  remove(id: number): Promise<void>;
};
function crud<T extends { id: number }, F extends Query = Query>(path: string): Crud<T, F> {
  return {
    list: (filter) => http.get<T[]>(path, filter),
    get: (id) => http.get<T>(`${path}/${id}`),
    create: (body) => http.post<T>(path, body),
    update: (id, patch) => http.patch<T>(`${path}/${id}`, patch),
    remove: (id) => http.del<void>(`${path}/${id}`),
  };
}

// ---------------------------------------------------------------------------------------------
// Endpoints of the platform and master-data modules.

export const api = {
  health: () => http.get<Health>('/health'),
  auth: {
    login: (username: string, password: string) =>
      request<{ user: User; expiresAt: string }>('POST', '/auth/login', { json: { username, password }, quiet401: true }),
    logout: () => request<void>('POST', '/auth/logout', { json: {}, quiet401: true }),
    me: () => request<Me>('GET', '/auth/me', { quiet401: true }),
  },
  users: {
    list: () => http.get<User[]>('/users'),
    create: (body: { username: string; displayName?: string; role: UserRole; password: string }) => http.post<User>('/users', body),
    update: (id: number, patch: Partial<{ displayName: string; role: UserRole; active: boolean; password: string }>) => http.patch<User>(`/users/${id}`, patch),
  },
  tokens: {
    list: () => http.get<ApiToken[]>('/tokens'),
    create: (body: { name: string; role: Role; stations?: string[]; expiresAt?: string }) => http.post<{ token: string; info: ApiToken }>('/tokens', body),
    revoke: (id: number) => http.del<ApiToken>(`/tokens/${id}`),
  },
  sites: crud<Site>('/sites'),
  lines: crud<Line, { siteId?: number }>('/lines'),
  stations: crud<Station, { lineId?: number; type?: string }>('/stations'),
  equipment: crud<Equipment, { stationId?: number }>('/equipment'),
  parts: crud<Part, { ipn?: string; mslLevel?: string }>('/parts'),
  avl: {
    list: (filter: { partId?: number; ipn?: string; mpn?: string } = {}) => http.get<AvlEntry[]>('/avl', filter),
    put: (body: { ipn: string; manufacturer: string; mpn: string; alternate?: boolean; active?: boolean; preference?: number; notes?: string }) =>
      http.put<{ entry: AvlEntry; change: string }>('/avl', body),
    permissions: (id: number) => http.get<AlternatePermission[]>(`/avl/${id}/permissions`),
    grant: (id: number, body: { scope: AlternatePermission['scope']; productRevisionId?: number; workOrderId?: number; reason: string }) =>
      http.post<AlternatePermission>(`/avl/${id}/permissions`, body),
    revoke: (permissionId: number, reason: string) => http.del<void>(`/alternate-permissions/${permissionId}`, { reason }),
  },
  products: crud<Product, { code?: string; customer?: string }>('/products'),
  revisions: {
    list: (filter: { productId?: number; state?: string } = {}) => http.get<ProductRevision[]>('/product-revisions', filter),
    get: (id: number) => http.get<ProductRevision>(`/product-revisions/${id}`),
    create: (body: { productId: number; revision: string; bomRevision?: string; gerberRevision?: string; assemblyDrawingRevision?: string; centroidRevision?: string }) =>
      http.post<ProductRevision>('/product-revisions', body),
    update: (id: number, patch: Partial<Pick<ProductRevision, 'bomRevision' | 'gerberRevision' | 'assemblyDrawingRevision' | 'centroidRevision'>>) =>
      http.patch<ProductRevision>(`/product-revisions/${id}`, patch),
    releaseCheck: (id: number) => http.get<ReleaseCheck>(`/product-revisions/${id}/release-check`),
    release: (id: number) => http.post<ProductRevision>(`/product-revisions/${id}/release`),
    obsolete: (id: number, reason: string) => http.post<ProductRevision>(`/product-revisions/${id}/obsolete`, { reason }),
    derive: (id: number, revision: string, reason: string) => http.post<ProductRevision>(`/product-revisions/${id}/derive`, { revision, reason }),
    bom: (id: number) => http.get<BomLine[]>(`/product-revisions/${id}/bom`),
    importBom: (id: number, csv: string, opts: { createParts: boolean; mapping?: Record<string, string> }) => {
      const query: Query = { createParts: opts.createParts };
      for (const [field, header] of Object.entries(opts.mapping ?? {})) if (header.trim()) query[`map.${field}`] = header.trim();
      return http.postText<BomImportResult>(`/product-revisions/${id}/bom/import`, csv, 'text/csv', query);
    },
    route: (id: number) => http.get<Route>(`/product-revisions/${id}/route`),
    qualityPlan: (id: number) => http.get<QualityPlan>(`/product-revisions/${id}/quality-plan`),
    files: (id: number) => http.get<StoredFile[]>(`/product-revisions/${id}/files`),
  },
  programs: {
    list: (filter: { productRevisionId?: number; name?: string } = {}) => http.get<Program[]>('/programs', filter),
    get: (id: number) => http.get<Program>(`/programs/${id}`),
    release: (id: number) => http.post<Program>(`/programs/${id}/release`),
  },
  /** Download address of a stored file (the browser sends the session cookie). */
  fileUrl: (id: number) => apiUrl(`/files/${id}`),
  imports: {
    run: (kind: 'factory' | 'parts' | 'avl', text: string, contentType: string) => http.postText<ImportReport>(`/imports/${kind}`, text, contentType),
  },
  audit: {
    list: (q: { entity?: string; entityId?: string; actor?: string; beforeId?: number; limit?: number } = {}) => http.get<AuditRow[]>('/audit', q),
  },
};
