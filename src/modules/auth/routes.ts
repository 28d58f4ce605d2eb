import { Type } from 'typebox';
import type { App } from '../../platform/http.ts';
import { SESSION_COOKIE, errors, who } from '../../platform/http.ts';
import { R, ROLES, USER_ROLES } from '../../platform/principal.ts';
import type { AuthService } from './service.ts';
import { DateTime, NullableDateTime, Enum } from '../../platform/schema.ts';

const Id = Type.Integer({ minimum: 1 });
const Username = Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{1,62}$', description: 'Lower-case login name' });
const Password = Type.String({ minLength: 8, maxLength: 200, description: 'At least 8 characters' });

export const UserSchema = Type.Object({
  id: Id,
  username: Type.String(),
  displayName: Type.String(),
  role: Enum(USER_ROLES),
  active: Type.Boolean(),
  createdAt: DateTime(),
});

const TokenSchema = Type.Object({
  id: Id,
  name: Type.String(),
  role: Enum(ROLES),
  prefix: Type.String({ description: 'First characters of the token, to recognise it' }),
  stationIds: Type.Array(Type.Integer(), { description: 'Stations the token is limited to; empty = all' }),
  createdAt: DateTime(),
  createdBy: Type.String(),
  expiresAt: NullableDateTime(),
  revokedAt: NullableDateTime(),
  lastUsedAt: NullableDateTime(),
});

const Me = Type.Object({
  kind: Type.String(),
  id: Type.Union([Type.Integer(), Type.Null()]),
  name: Type.String(),
  role: Type.String(),
  stationIds: Type.Optional(Type.Array(Type.Integer())),
});

export function registerAuthRoutes(app: App, auth: AuthService, opts: { secureCookies: boolean; sessionTtlSeconds: number }) {
  app.post('/api/v1/auth/login', {
    config: { roles: 'public' },
    schema: {
      tags: ['auth'],
      summary: 'Log in with username and password; starts a UI session (HttpOnly cookie)',
      body: Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ user: UserSchema, expiresAt: DateTime() }), ...errors(400, 401, 429) },
    },
    handler: async (req, reply) => {
      const { token, user, expiresAt } = await auth.login(req.body.username, req.body.password, {
        ip: req.ip,
        userAgent: req.headers['user-agent'] ?? null,
      });
      reply.setCookie(SESSION_COOKIE, token, {
        httpOnly: true,
        sameSite: 'strict',
        secure: opts.secureCookies,
        path: '/',
        maxAge: opts.sessionTtlSeconds,
      });
      return { user, expiresAt };
    },
  });

  app.post('/api/v1/auth/logout', {
    config: { roles: R.people },
    schema: { tags: ['auth'], summary: 'End the current UI session', response: { 204: Type.Null() } },
    handler: async (req, reply) => {
      const c = req.cookies[SESSION_COOKIE];
      if (c) await auth.logout(c);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send(null);
    },
  });

  app.get('/api/v1/auth/me', {
    config: { roles: R.all },
    schema: { tags: ['auth'], summary: 'Who am I: the authenticated user or token and its role', response: { 200: Me } },
    handler: async (req) => who(req),
  });

  app.get('/api/v1/users', {
    config: { roles: R.admin },
    schema: { tags: ['auth'], summary: 'List users', response: { 200: Type.Array(UserSchema) } },
    handler: async () => auth.listUsers(),
  });

  app.post('/api/v1/users', {
    config: { roles: R.admin },
    schema: {
      tags: ['auth'],
      summary: 'Create a user',
      body: Type.Object(
        {
          username: Username,
          displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          role: Enum(USER_ROLES),
          password: Password,
        },
        { additionalProperties: false },
      ),
      response: { 201: UserSchema, ...errors(400, 409) },
    },
    handler: async (req, reply) => reply.code(201).send(await auth.createUser(who(req), req.body)),
  });

  app.patch('/api/v1/users/:id', {
    config: { roles: R.admin },
    schema: {
      tags: ['auth'],
      summary: 'Change a user: display name, role, active flag or password (ends their sessions)',
      params: Type.Object({ id: Id }),
      body: Type.Object(
        {
          displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          role: Type.Optional(Enum(USER_ROLES)),
          active: Type.Optional(Type.Boolean()),
          password: Type.Optional(Password),
        },
        { additionalProperties: false },
      ),
      response: { 200: UserSchema, ...errors(400, 404, 409) },
    },
    handler: async (req) => auth.updateUser(who(req), req.params.id, req.body),
  });

  app.get('/api/v1/tokens', {
    config: { roles: R.admin },
    schema: { tags: ['auth'], summary: 'List API tokens (never their secrets)', response: { 200: Type.Array(TokenSchema) } },
    handler: async () => auth.listTokens(),
  });

  app.post('/api/v1/tokens', {
    config: { roles: R.admin },
    schema: {
      tags: ['auth'],
      summary: 'Create an API token for a machine, ERP or script; the secret is shown once',
      body: Type.Object(
        {
          name: Type.String({ minLength: 1, maxLength: 100 }),
          role: Enum(ROLES),
          stations: Type.Optional(Type.Array(Type.String(), { description: 'Station codes the token is limited to' })),
          expiresAt: Type.Optional(DateTime()),
        },
        { additionalProperties: false },
      ),
      response: { 201: Type.Object({ token: Type.String(), info: TokenSchema }), ...errors(400, 409, 422) },
    },
    handler: async (req, reply) => {
      const res = await auth.createToken(who(req), {
        name: req.body.name,
        role: req.body.role,
        stationCodes: req.body.stations ?? [],
        expiresAt: req.body.expiresAt ? new Date(req.body.expiresAt) : null,
      });
      return reply.code(201).send(res);
    },
  });

  app.delete('/api/v1/tokens/:id', {
    config: { roles: R.admin },
    schema: { tags: ['auth'], summary: 'Revoke an API token', params: Type.Object({ id: Id }), response: { 200: TokenSchema, ...errors(404, 409) } },
    handler: async (req) => auth.revokeToken(who(req), req.params.id),
  });
}
