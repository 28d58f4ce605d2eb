import { Type } from 'typebox';
import { AppError } from '../../platform/errors.ts';
import { errors, who, type App } from '../../platform/http.ts';
import { ROLES, type Role } from '../../platform/principal.ts';
import { DateTime, Enum, NullableDateTime } from '../../platform/schema.ts';
import type { Integrations } from '../index.ts';
import { INBOX_OUTCOMES } from './ingest.ts';

/** Who may send CFX over HTTP, and who looks after the kept messages. */
const SENDERS: readonly Role[] = ['machine', 'integration', 'admin'];
const KEEPERS: readonly Role[] = ['admin', 'integration'];
const WATCHERS: readonly Role[] = ['admin', 'integration', 'process-engineer', 'technician', 'viewer'];

const NullableString = Type.Union([Type.String(), Type.Null()]);
const OUTCOMES = [...INBOX_OUTCOMES, 'duplicate'] as const;

const MessageOutcomeSchema = Type.Object({
  index: Type.Integer({ description: 'Position in the posted array (0 for a single envelope)' }),
  uniqueId: NullableString,
  messageName: NullableString,
  outcome: Enum(OUTCOMES, { description: 'What became of the message (see cfx_inbox.outcome); duplicate: already received, no effect' }),
  detail: Type.Optional(Type.String()),
  reasonCode: Type.Optional(Type.String({ description: 'For rejected messages: the stable reason code' })),
  deadLetterId: Type.Optional(Type.Integer({ description: 'For rejected messages: the dead letter keeping it' })),
});
const IngestResponse = Type.Object({
  received: Type.Integer({ description: 'Envelopes in the payload' }),
  counts: Type.Record(Type.String(), Type.Integer(), { description: 'Messages per outcome' }),
  messages: Type.Array(MessageOutcomeSchema),
  responses: Type.Array(Type.Object({}, { additionalProperties: true }), { description: 'Response envelopes (CFX wire form) to the requests in the payload, in order' }),
});
const DeadLetterSchema = Type.Object({
  id: Type.Integer(), receivedAt: DateTime(), transport: Type.String(), contentEncoding: NullableString, uniqueId: NullableString, source: NullableString,
  messageName: NullableString, topic: NullableString, reasonCode: Type.String({ description: 'Stable reason code, e.g. CFX_NOT_JSON, CFX_INVALID, UNKNOWN_UNIT, PACKAGE_UNKNOWN, MQTT_UNKNOWN_STATION' }),
  reason: Type.String(), field: NullableString, errors: Type.Unknown({ description: 'Every field error found' }), size: Type.Integer({ description: 'Payload bytes' }),
  replayCount: Type.Integer(), replayedAt: NullableDateTime({ description: 'Null while open' }), replayedBy: NullableString, replayOutcome: NullableString, replayDetail: NullableString,
});
const HealthSchema = Type.Object({
  name: Type.String(), state: Type.String(), detail: NullableString, since: DateTime(), counters: Type.Record(Type.String(), Type.Number()),
});

/**
 * The HTTP door for CFX and the API over the kept messages. POST /api/v1/cfx takes the raw
 * bytes (JSON, or gzip with Content-Encoding: gzip) so that what cannot be read is kept exactly
 * as received.
 */
export function registerIntegrationRoutes(app: App, integrations: Integrations) {
  const cfx = integrations.cfx;
  const tags = ['cfx'];

  void app.register(async (scope) => {
    // This scope reads every body as bytes; the codec decides what it is.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: app.initialConfig.bodyLimit }, (_req, body, done) => done(null, body));
    scope.post('/api/v1/cfx', {
      config: { roles: SENDERS },
      schema: {
        tags,
        summary: 'Send CFX messages: one envelope or a JSON array of envelopes (application/json, or gzip with Content-Encoding: gzip)',
        description:
          'Each message is applied, kept (recorded / unsupported / unassigned) or refused into the dead-letter store with its reason, exactly once per UniqueID: ' +
          'a repeated UniqueID has no effect (a repeated request gets the same response). Requests are answered in `responses` ' +
          '(unsupported requests with CFX.NotSupportedResponse). A station-bound token may only send for its stations\' machines. ' +
          'A body that is not a CFX payload at all is kept as a dead letter and refused with 400 CFX_PAYLOAD_INVALID.',
        response: { 200: IngestResponse, ...errors(400, 413) },
      },
      handler: async (req) => {
        const body = req.body as Buffer | undefined;
        const [r] = await cfx.ingest([
          {
            payload: body ?? Buffer.alloc(0), contentEncoding: typeof req.headers['content-encoding'] === 'string' ? req.headers['content-encoding'] : null,
            transport: 'http', receivedAt: new Date(), caller: who(req),
          },
        ]);
        if (r!.payloadError) {
          throw new AppError('CFX_PAYLOAD_INVALID', `${r!.payloadError.message}; kept as dead letter ${r!.payloadError.deadLetterId}`, {
            details: { reasonCode: r!.payloadError.code, deadLetterId: r!.payloadError.deadLetterId },
          });
        }
        const counts: Record<string, number> = {};
        for (const m of r!.messages) counts[m.outcome] = (counts[m.outcome] ?? 0) + 1;
        return { received: r!.messages.length, counts, messages: r!.messages, responses: r!.responses };
      },
    });
  });

  app.get('/api/v1/cfx/status', {
    config: { roles: WATCHERS },
    schema: {
      tags, summary: 'The CFX handle, messages per outcome, open dead letters and unassigned messages, and the adapters\' health',
      querystring: Type.Object({ since: Type.Optional(Type.String({ format: 'date-time', description: 'Count messages received since (default: 24 h ago)' })) }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          handle: Type.String(), since: DateTime(), byOutcome: Type.Record(Type.String(), Type.Integer()), openDeadLetters: Type.Integer(), openUnassigned: Type.Integer(),
          adapters: Type.Array(HealthSchema),
        }),
      },
    },
    handler: async (req) => ({ handle: cfx.handle, ...(await cfx.stats(req.query.since ? new Date(req.query.since) : undefined)), adapters: integrations.health() }),
  });

  app.get('/api/v1/cfx/failure-codes', {
    config: { roles: ROLES },
    schema: {
      tags, summary: 'Every FailureCode / ResultCode the MES sends in CFX responses (interlock reasons, feeder loading refusals, CFX door codes)',
      response: { 200: Type.Array(Type.Object({ number: Type.Integer(), code: Type.String(), title: Type.String(), source: Type.String() })) },
    },
    handler: async () => cfx.failureCodes(),
  });

  app.get('/api/v1/cfx/dead-letters', {
    config: { roles: WATCHERS },
    schema: {
      tags, summary: 'Messages that could not be applied, newest first, with their reason',
      querystring: Type.Object(
        {
          open: Type.Optional(Type.Boolean({ description: 'true: not replayed yet; false: replayed' })), transport: Type.Optional(Type.String()),
          reasonCode: Type.Optional(Type.String()), source: Type.Optional(Type.String()), beforeId: Type.Optional(Type.Integer({ description: 'Page: ids below this' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        },
        { additionalProperties: false },
      ),
      response: { 200: Type.Array(DeadLetterSchema) },
    },
    handler: async (req) => cfx.listDeadLetters(req.query),
  });

  app.get('/api/v1/cfx/dead-letters/:id', {
    config: { roles: WATCHERS },
    schema: {
      tags, summary: 'One dead letter with the message as received', params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
      response: {
        200: Type.Object({
          ...DeadLetterSchema.properties,
          payloadText: Type.Union([Type.String(), Type.Null()], { description: 'The payload as UTF-8 text, when it is' }),
          payloadBase64: Type.String({ description: 'The payload bytes, base64' }),
        }),
        ...errors(404),
      },
    },
    handler: async (req) => {
      const { payload: _bytes, ...letter } = await cfx.getDeadLetter(req.params.id);
      return letter;
    },
  });

  app.post('/api/v1/cfx/dead-letters/:id/replay', {
    config: { roles: KEEPERS },
    schema: {
      tags, summary: 'Replay a dead letter through the ingestion path of its transport (after fixing the cause, e.g. registering a unit or a package)',
      description: 'The dead letter is closed with the replay\'s outcome; a new refusal is a new dead letter with its own reason.',
      params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
      response: {
        200: Type.Object({ id: Type.Integer(), ok: Type.Boolean(), outcome: Type.String(), detail: NullableString, messages: Type.Array(MessageOutcomeSchema) }),
        ...errors(404),
      },
    },
    handler: async (req) => {
      const r = await cfx.replayDeadLetter(who(req), req.params.id);
      return { id: r.id, ok: r.ok, outcome: r.outcome, detail: r.detail, messages: r.result?.messages ?? [] };
    },
  });

  app.get('/api/v1/cfx/unassigned', {
    config: { roles: WATCHERS },
    schema: {
      tags, summary: 'Messages from CFX handles no equipment has (kept for replay once the handle is registered)',
      querystring: Type.Object(
        { source: Type.Optional(Type.String()), open: Type.Optional(Type.Boolean()), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Array(Type.Object({
          uniqueId: Type.String(), source: Type.String(), messageName: Type.String(), transport: Type.String(), eventAt: NullableDateTime(), receivedAt: DateTime(),
          replayedAt: NullableDateTime(), replayOutcome: NullableString, replayDetail: NullableString, registered: Type.Boolean({ description: 'The handle is registered now' }),
        })),
      },
    },
    handler: async (req) => cfx.listUnassigned(req.query),
  });

  app.get('/api/v1/cfx/unassigned/sources', {
    config: { roles: WATCHERS },
    schema: {
      tags, summary: 'Unknown CFX handles with open messages, and whether each is registered now',
      response: { 200: Type.Array(Type.Object({ source: Type.String(), messages: Type.Integer(), first: DateTime(), last: DateTime(), registered: Type.Boolean() })) },
    },
    handler: async () => cfx.unassignedSources(),
  });

  app.post('/api/v1/cfx/unassigned/replay', {
    config: { roles: KEEPERS },
    schema: {
      tags, summary: 'Replay the kept messages of handles that are registered now (all, one handle, or one message), oldest first',
      body: Type.Object(
        {
          source: Type.Optional(Type.String({ minLength: 1, description: 'Only this handle' })),
          uniqueId: Type.Optional(Type.String({ minLength: 1, description: 'Only this message' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000 })),
        },
        { additionalProperties: false },
      ),
      response: { 200: Type.Object({ replayed: Type.Integer(), outcomes: Type.Record(Type.String(), Type.Integer()) }), ...errors(400) },
    },
    handler: async (req) => cfx.replayUnassigned(who(req), req.body),
  });
}
