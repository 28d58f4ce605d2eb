import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; its default export arrives wrapped under Node's ESM loader.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv) => Ajv;
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from 'typebox';
import { AppError, ERROR_STATUS, translateDbError, type FieldError } from './errors.ts';
import type { Principal, Role } from './principal.ts';

export type App = FastifyInstance<any, any, any, any, TypeBoxTypeProvider>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Who may call this route: a list of roles, or 'public' (no authentication: only health,
     * login and the API description). Every /api route must declare it.
     */
    roles?: readonly Role[] | 'public';
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyInstance {
    /** Every /api route with the roles it admits: the permission table, for tests and docs. */
    routeTable: RouteEntry[];
  }
}

export const SESSION_COOKIE = 'mes_session';

export interface RouteEntry {
  method: string;
  url: string;
  roles: readonly Role[] | 'public';
}

export interface Authenticator {
  authenticateSession(token: string): Promise<Principal | null>;
  authenticateToken(token: string): Promise<Principal | null>;
}

/** The RFC 9457 problem document every error response uses. */
export const Problem = Type.Object(
  {
    type: Type.String({ description: 'URI identifying the problem type' }),
    title: Type.String({ description: 'Short summary of the problem type' }),
    status: Type.Integer({ description: 'HTTP status code' }),
    detail: Type.String({ description: 'Human-readable explanation of this occurrence' }),
    instance: Type.Optional(Type.String({ description: 'The request path' })),
    code: Type.String({ description: 'Stable machine-readable error code' }),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          field: Type.String(),
          code: Type.String(),
          message: Type.String(),
          line: Type.Optional(Type.Integer()),
        }),
      ),
    ),
    details: Type.Optional(Type.Object({}, { additionalProperties: true })),
    requestId: Type.Optional(Type.String()),
  },
  { $id: 'Problem' },
);

const TITLES: Partial<Record<keyof typeof ERROR_STATUS, string>> = {
  VALIDATION_FAILED: 'Validation failed',
  UNAUTHENTICATED: 'Authentication required',
  FORBIDDEN: 'Not permitted',
  NOT_FOUND: 'Not found',
  DUPLICATE: 'Already exists',
  REFERENCE_NOT_FOUND: 'Referenced record not found',
  INTERNAL: 'Internal error',
};

function problemBody(err: AppError, req: FastifyRequest) {
  return {
    type: `urn:mes:problem:${err.code.toLowerCase().replace(/_/g, '-')}`,
    title: TITLES[err.code] ?? err.code.toLowerCase().replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase()),
    status: err.status,
    detail: err.message,
    instance: req.url.split('?')[0],
    code: err.code,
    ...(err.errors ? { errors: err.errors } : {}),
    ...(err.details ? { details: err.details } : {}),
    requestId: String(req.id),
  };
}

export function sendProblem(reply: FastifyReply, req: FastifyRequest, err: AppError) {
  if (err.code === 'LOGIN_THROTTLED' && typeof err.details?.retryAfterSeconds === 'number') {
    reply.header('retry-after', String(err.details.retryAfterSeconds));
  }
  if (err.status === 401) reply.header('www-authenticate', 'Bearer realm="mes"');
  return reply.code(err.status).type('application/problem+json').send(problemBody(err, req));
}

function validationToAppError(err: FastifyError): AppError {
  const part = err.validationContext ?? 'body';
  const errors: FieldError[] = (err.validation ?? []).map((v) => {
    const params = v.params as Record<string, unknown>;
    let field = `/${part}${v.instancePath}`;
    if (v.keyword === 'required' && typeof params.missingProperty === 'string') field += `/${params.missingProperty}`;
    if (v.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') field += `/${params.additionalProperty}`;
    const message =
      v.keyword === 'additionalProperties' ? 'is not a known field' : v.keyword === 'required' ? 'is required' : (v.message ?? 'is invalid');
    return { field, code: v.keyword, message };
  });
  return new AppError('VALIDATION_FAILED', `Invalid ${part}: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}`, { errors });
}

/** Maps anything thrown by a handler or by Fastify itself to an AppError; unknown errors become INTERNAL. */
export function toAppError(e: unknown): { appError: AppError; internal: boolean } {
  const t = translateDbError(e);
  if (t instanceof AppError) return { appError: t, internal: t.status >= 500 };
  const fe = t as FastifyError;
  if (fe && Array.isArray(fe.validation)) return { appError: validationToAppError(fe), internal: false };
  switch (fe?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { appError: new AppError('PAYLOAD_TOO_LARGE', 'The request body is larger than the server accepts'), internal: false };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { appError: new AppError('UNSUPPORTED_MEDIA_TYPE', 'Unsupported content type; send application/json'), internal: false };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { appError: new AppError('INVALID_JSON', 'The JSON body is empty'), internal: false };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { appError: new AppError('INVALID_JSON', 'The body is not valid JSON'), internal: false };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { appError: new AppError('BAD_REQUEST', 'Content-Length does not match the body'), internal: false };
  }
  if (fe instanceof SyntaxError || (fe?.statusCode === 400 && /JSON/i.test(fe.message))) {
    return { appError: new AppError('INVALID_JSON', 'The body is not valid JSON'), internal: false };
  }
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { appError: new AppError('BAD_REQUEST', fe.message), internal: false };
  }
  return { appError: new AppError('INTERNAL', 'An internal error occurred; it has been logged with the request id'), internal: true };
}

export interface HttpOptions {
  bodyLimit: number;
  logLevel: string;
  auth: Authenticator;
  version: string;
}

/**
 * Builds the Fastify instance with the API conventions: problem+json errors, authentication
 * of every non-public route, role checks declared per route, and the OpenAPI document.
 * Modules add their routes to the returned app.
 */
export async function createHttpApp(opts: HttpOptions): Promise<App> {
  const app = Fastify({
    bodyLimit: opts.bodyLimit,
    logger: opts.logLevel === 'silent' ? false : { level: opts.logLevel },
    logController: new LogController({ disableRequestLogging: opts.logLevel !== 'debug' && opts.logLevel !== 'trace' }),
    trustProxy: false,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Bodies are JSON and checked strictly (no type coercion: "5" is not 5); query strings and
  // path parameters are text and are coerced to the schema's types.
  const strictAjv = new Ajv({ allErrors: true, removeAdditional: false, coerceTypes: false, useDefaults: true, strict: false });
  const coercingAjv = new Ajv({ allErrors: true, removeAdditional: false, coerceTypes: 'array', useDefaults: true, strict: false });
  addFormats(strictAjv);
  addFormats(coercingAjv);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strictAjv : coercingAjv).compile(schema));

  app.decorateRequest('principal', null);
  // Files (engineering package, attachments) arrive as raw bytes; CSV imports as text.
  app.addContentTypeParser(['text/csv', 'text/plain', 'application/yaml', 'text/yaml'], { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  // A JSON route given something else gets 415, not a confusing validation error.
  app.addHook('preValidation', async (req) => {
    const bodySchema = (req.routeOptions.schema as { body?: { type?: string } } | undefined)?.body;
    if (bodySchema?.type === 'object' && req.body !== undefined && (typeof req.body === 'string' || Buffer.isBuffer(req.body))) {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', `Send this request as application/json (got ${req.headers['content-type'] ?? 'no content type'})`);
    }
  });
  await app.register(cookie);
  app.addSchema(Problem);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'SMT MES API',
        version: opts.version,
        description:
          'REST API of the SMT manufacturing execution system. Errors are RFC 9457 problem documents with a stable `code`. ' +
          'Authenticate with `Authorization: Bearer <token>` (API tokens) or the session cookie set by `POST /api/v1/auth/login`.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/api/v1/docs', uiConfig: { docExpansion: 'list' } });

  // Every /api route must say who may call it; a forgotten declaration fails at boot.
  const routeTable: RouteEntry[] = [];
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/api/') || route.url.startsWith('/api/v1/docs')) return;
    const roles = route.config?.roles;
    if (roles === undefined) throw new Error(`Route ${route.method} ${route.url} does not declare its roles`);
    for (const m of [route.method].flat()) if (m !== 'HEAD') routeTable.push({ method: m, url: route.url, roles });
    const schema = (route.schema ??= {}) as Record<string, unknown>;
    if (roles !== 'public') {
      schema.security = [{ bearer: [] }, { session: [] }];
      const note = `Roles: ${roles.join(', ')}.`;
      schema.description = schema.description ? `${String(schema.description)}\n\n${note}` : note;
      const response = (schema.response ??= {}) as Record<string, unknown>;
      response[401] ??= { $ref: 'Problem#', description: 'Not authenticated' };
      response[403] ??= { $ref: 'Problem#', description: 'Role not permitted' };
    }
  });

  app.addHook('onRequest', async (req, reply) => {
    const roles = req.routeOptions.config?.roles;
    if (roles === 'public' || roles === undefined) return;
    const authz = req.headers.authorization;
    let principal: Principal | null = null;
    if (authz !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(authz);
      principal = m ? await opts.auth.authenticateToken(m[1]!) : null;
    } else {
      const c = req.cookies[SESSION_COOKIE];
      if (c) principal = await opts.auth.authenticateSession(c);
    }
    if (!principal) return sendProblem(reply, req, new AppError('UNAUTHENTICATED', 'Authentication required: send a Bearer token or log in'));
    if (!roles.includes(principal.role)) {
      return sendProblem(reply, req, new AppError('FORBIDDEN', `Role ${principal.role} may not call ${req.method} ${req.routeOptions.url}`));
    }
    req.principal = principal;
  });

  app.setErrorHandler((error, req, reply) => {
    const { appError, internal } = toAppError(error);
    if (internal) req.log.error({ err: error }, 'internal error');
    return sendProblem(reply, req, appError);
  });

  app.setNotFoundHandler((req, reply) =>
    sendProblem(reply, req, new AppError('ROUTE_NOT_FOUND', `No route ${req.method} ${req.url.split('?')[0]}`)),
  );

  return app;
}

/** The principal of an authenticated request (set by the onRequest hook). */
export function who(req: FastifyRequest): Principal {
  if (!req.principal) throw new AppError('UNAUTHENTICATED', 'Authentication required');
  return req.principal;
}

/** Standard error responses for a route's OpenAPI document. */
export function errors(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const s of statuses) out[s] = Type.Unsafe({ $ref: 'Problem#' });
  return out;
}
