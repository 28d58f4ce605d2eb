import { Type, type TSchema } from 'typebox';
import { AppError, type FieldError } from '../../platform/errors.ts';
import { errors, who, type App } from '../../platform/http.ts';
import { R, type Role } from '../../platform/principal.ts';
import { DateTime, Enum, NullableDateTime } from '../../platform/schema.ts';
import { HOUR_MS, MSL_LEVELS } from './lib/msl.ts';
import { PACKAGE_ID_PATTERN } from './lib/labels.ts';
import { PACKAGE_KINDS, PACKAGE_STATUSES, type LocationInput } from './packages.ts';
import { CONSUMABLE_PROBLEMS, LOAD_REFUSAL_REASONS, type LoadRefusal } from './reasons.ts';
import { MANUAL_MSD_EVENTS, type MaterialsService } from './service.ts';

/** Who may do what with material. Reading is open to every role that reads master data. */
const READ = R.masterDataRead;
/** Goods receipt and store work: receiving, splitting, merging, moving, correcting, printing labels. */
const STORES = ['admin', 'operator', 'technician', 'process-engineer', 'quality-engineer', 'integration'] as const satisfies readonly Role[];
/** Shop-floor work: loading, unloading, consumption, empty, block, MSD events, bakes, paste, printer setups. */
const FLOOR = R.floor;
const CONSUME = [...R.floor, 'integration'] as const satisfies readonly Role[];
/** Quarantine, release, scrap, lot holds. */
const QUALITY = ['admin', 'quality-engineer'] as const satisfies readonly Role[];
const LOT_EDIT = ['admin', 'quality-engineer', 'process-engineer'] as const satisfies readonly Role[];

const Id = Type.Integer({ minimum: 1 });
const IdParams = Type.Object({ id: Id });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Reason = Type.String({ minLength: 3, maxLength: 1000, description: 'Why (kept in the log and the audit trail)' });
const ReasonBody = Type.Object({ reason: Reason }, { additionalProperties: false });
const PackageCode = Type.String({ pattern: PACKAGE_ID_PATTERN.source, description: 'Package ID (the Data Matrix content of the MES label)' });
const SlotName = Type.String({ minLength: 1, maxLength: 32, description: 'Slot of the machine, as named in the program feeder setup' });
const AtBody = Type.Object({ at: Type.Optional(DateTime({ description: 'When it happened; default now' })) }, { additionalProperties: false });

const toDate = (v: Date | string | null | undefined): Date | undefined => (v === undefined || v === null ? undefined : new Date(v));

const LocationSchema = Type.Object({
  kind: Type.String({ description: 'store, line or equipment (a machine slot)' }), place: Nullable(Type.String()), lineId: Nullable(Type.Integer()),
  lineCode: Nullable(Type.String()), equipmentId: Nullable(Type.Integer()), equipmentCode: Nullable(Type.String()), slot: Nullable(Type.String()),
});
const LocationBody = Type.Union([
  Type.Object({ kind: Type.Literal('store'), place: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 100, description: 'e.g. shelf A-03-2' }))) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('line'), lineId: Id }, { additionalProperties: false }),
]);
const MsdSchema = Type.Object({
  level: Type.String({ description: 'Effective MSL level' }),
  state: Type.String({ description: 'never-opened, exposed, dry-storage, baked, expired, bake-required, not-sensitive or unknown' }),
  exposedMs: Nullable(Type.Number()), floorLifeMs: Nullable(Type.Number()),
  remainingMs: Nullable(Type.Number({ description: 'Floor life left; null when unlimited' })),
  expiresAt: NullableDateTime({ description: 'When the floor life runs out if nothing changes (clock running only)' }),
  warn: Type.Boolean({ description: 'Less than the warning threshold left' }), blocksUse: Type.Boolean({ description: 'Loading and placement are refused' }),
  error: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
});
const PackageSchema = Type.Object({
  id: Type.Integer(), code: Type.String({ description: 'Unique package ID' }), kind: Type.String(), quantity: Type.Integer(), initialQuantity: Type.Integer(),
  status: Type.String(), statusReason: Nullable(Type.String()), lotId: Type.Integer(), partId: Type.Integer(), ipn: Type.String(),
  manufacturerPartId: Type.Integer(), manufacturer: Type.String(), mpn: Type.String(), lotCode: Nullable(Type.String()), dateCode: Nullable(Type.String()),
  supplier: Nullable(Type.String()), lotExpiresAt: NullableDateTime(), lotOnHold: Type.Boolean(), lotHoldReason: Nullable(Type.String()), rohs: Nullable(Type.Boolean()),
  location: LocationSchema, parentId: Nullable(Type.Integer()), supplierSerial: Nullable(Type.String()), receivedAt: DateTime(), createdBy: Type.String(),
  msd: MsdSchema,
  paste: Nullable(Type.Object({ minThawHours: Type.Number(), maxOpenHours: Type.Number(), thawStartedAt: NullableDateTime(), openedAt: NullableDateTime() })),
});
const LotSchema = Type.Object({
  id: Type.Integer(), partId: Type.Integer(), ipn: Type.String(), manufacturerPartId: Type.Integer(), manufacturer: Type.String(), mpn: Type.String(),
  supplier: Nullable(Type.String()), lotCode: Nullable(Type.String()), dateCode: Nullable(Type.String()), receivedAt: DateTime(), expiresAt: NullableDateTime(),
  rohs: Nullable(Type.Boolean()), countryOfOrigin: Nullable(Type.String()), notes: Type.String(), mslLevel: Nullable(Type.String()),
  mslTimeOnLabelHours: Nullable(Type.Number()), onHold: Type.Boolean(), holdReason: Nullable(Type.String()), heldAt: NullableDateTime(), heldBy: Nullable(Type.String()),
  createdAt: DateTime(), createdBy: Type.String(),
});
const MovementSchema = Type.Object({
  id: Type.Integer(), packageId: Type.Integer(), at: DateTime(), kind: Type.String(), delta: Type.Integer(), quantityAfter: Type.Integer(), statusAfter: Type.String(),
  locationKind: Type.String(), storePlace: Nullable(Type.String()), lineId: Nullable(Type.Integer()), equipmentId: Nullable(Type.Integer()), slot: Nullable(Type.String()),
  relatedPackageId: Nullable(Type.Integer()), workOrderId: Nullable(Type.Integer()), reason: Nullable(Type.String()), actorName: Type.String(),
});
const MsdEventSchema = Type.Object({
  id: Type.Integer(), type: Type.String(), at: DateTime(), bakeRecordId: Nullable(Type.Integer()), implicit: Type.Boolean(), note: Type.String(), actorName: Type.String(), recordedAt: DateTime(),
});
const BakeSchema = Type.Object({
  id: Type.Integer(), oven: Type.String(), temperatureC: Type.Number(), durationMinutes: Type.Integer(), startedAt: DateTime(), finishedAt: DateTime(), notes: Type.String(), actorName: Type.String(),
});
const ReasonSchema = Type.Object({ code: Type.String(), failureCode: Type.Integer({ description: 'CFX FailureCode' }), message: Type.String() });
const SetupSchema = Type.Object({
  id: Type.Integer(), equipmentId: Type.Integer(), equipmentCode: Type.String(), slot: Type.String(), feederId: Nullable(Type.String()), packageId: Type.Integer(),
  packageCode: Type.String(), partId: Type.Integer(), ipn: Type.String(), manufacturer: Type.String(), mpn: Type.String(), lotId: Type.Integer(), lotCode: Nullable(Type.String()),
  dateCode: Nullable(Type.String()), programId: Type.Integer(), productRevisionId: Nullable(Type.Integer()), workOrderId: Nullable(Type.Integer()), attemptId: Type.Integer(),
  position: Type.String({ description: 'feeding, or spliced (waiting behind the feeding package)' }), spliceOfId: Nullable(Type.Integer()), loadedAt: DateTime(), loadedBy: Type.String(),
  unloadedAt: NullableDateTime(), unloadedBy: Nullable(Type.String()), unloadReason: Nullable(Type.String()),
});
const VerdictSchema = Type.Object({
  accepted: Type.Boolean(), attemptId: Type.Integer(), message: Type.String(), reason: Nullable(ReasonSchema), reasons: Type.Array(ReasonSchema),
  setup: Nullable(SetupSchema), replaced: Type.Array(SetupSchema), alreadyLoaded: Type.Boolean(), firstArticleRequired: Nullable(Type.String({ description: "The setup change of this load that needs a new first article, or null" })),
});
const AttemptSchema = Type.Object({
  id: Type.Integer(), at: DateTime(), equipmentId: Type.Integer(), slot: Type.String(), feederId: Nullable(Type.String()), packageId: Nullable(Type.Integer()),
  packageCode: Nullable(Type.String()), programId: Type.Integer(), productRevisionId: Nullable(Type.Integer()), workOrderId: Nullable(Type.Integer()), splice: Type.Boolean(),
  accepted: Type.Boolean(), reasonCode: Nullable(Type.String()), failureCode: Nullable(Type.Integer()), reasons: Type.Array(ReasonSchema), message: Type.String(), actorName: Type.String(),
});
const SlotPackageSchema = Nullable(
  Type.Object({
    setupId: Type.Integer(), packageId: Type.Integer(), packageCode: Type.String(), feederId: Nullable(Type.String()), mpn: Type.String(), lotCode: Nullable(Type.String()),
    loadedAt: DateTime(), ok: Type.Boolean(), reasons: Type.Array(ReasonSchema),
  }),
);
const SetupStatusSchema = Type.Object({
  equipmentId: Type.Integer(), programId: Type.Integer(), at: DateTime(), complete: Type.Boolean({ description: 'Every slot verified: placement may start' }),
  problems: Type.Array(ReasonSchema),
  slots: Type.Array(Type.Object({ slot: Type.String(), partId: Type.Integer(), ipn: Type.String(), state: Type.String({ description: 'verified, missing or wrong' }), feeding: SlotPackageSchema, spliced: SlotPackageSchema })),
  unexpected: Type.Array(SetupSchema),
  counts: Type.Object({ verified: Type.Integer(), missing: Type.Integer(), wrong: Type.Integer() }),
});
const ProblemItem = Type.Object({ code: Type.String(), message: Type.String() });
const CheckSchema = Type.Object({ ok: Type.Boolean(), at: DateTime(), problems: Type.Array(ProblemItem) });
const StencilSchema = Type.Object({
  id: Type.Integer(), code: Type.String(), productRevisionId: Type.Integer(), thicknessUm: Nullable(Type.Integer()), usageCount: Type.Integer(),
  cleaningInterval: Type.Integer(), usageAtLastCleaning: Type.Integer(), usageSinceCleaning: Type.Integer(), lastCleanedAt: NullableDateTime(),
  maxUsage: Nullable(Type.Integer()), status: Type.String(), notes: Type.String(), createdAt: DateTime(),
});
const MountSchema = Type.Object({
  id: Type.Integer(), equipmentId: Type.Integer(), kind: Type.String(), packageId: Nullable(Type.Integer()), packageCode: Nullable(Type.String()),
  stencilId: Nullable(Type.Integer()), stencilCode: Nullable(Type.String()), productRevisionId: Nullable(Type.Integer()), mountedAt: DateTime(), mountedBy: Type.String(),
  unmountedAt: NullableDateTime(), unmountedBy: Nullable(Type.String()),
});
const MountCheckSchema = Nullable(Type.Object({ mount: MountSchema, ok: Type.Boolean(), problems: Type.Array(ProblemItem) }));

const ReceiveCommon = {
  partId: Type.Optional(Id),
  ipn: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Part received for; needed when the MPN is on several parts\' AVLs' })),
  manufacturer: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 100, description: 'Overrides the label\'s 1V' }))),
  supplier: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 200 }))),
  expiresAt: Type.Optional(NullableDateTime({ description: 'Lot expiry (shelf life)' })),
  rohs: Type.Optional(Nullable(Type.Boolean({ description: 'RoHS compliant as declared by the supplier' }))),
  notes: Type.Optional(Type.String({ maxLength: 2000 })),
  kind: Type.Optional(Enum(PACKAGE_KINDS, { description: 'Default reel' })),
  code: Type.Optional(PackageCode),
  location: Type.Optional(LocationBody),
  quarantine: Type.Optional(Type.Boolean({ description: 'Receive into quarantine (incoming inspection)' })),
  mslLevel: Type.Optional(Nullable(Enum(MSL_LEVELS, { description: 'MSL on this lot\'s dry pack when it differs from the part\'s' }))),
  mslTimeOnLabelHours: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0, description: 'MSL 6: floor life after bake, from the caution label' }))),
  paste: Type.Optional(
    Type.Object(
      { minThawHours: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })), maxOpenHours: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 10000 })) },
      { additionalProperties: false, description: 'Paste jars: thaw / open limits (default 4 h / 24 h)' },
    ),
  ),
};
const ReceiveBody = Type.Object(
  {
    ...ReceiveCommon,
    mpn: Type.String({ minLength: 1, maxLength: 100 }),
    quantity: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }),
    lotCode: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 80 }))),
    dateCode: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 16, description: 'e.g. YYWW' }))),
    countryOfOrigin: Type.Optional(Nullable(Type.String({ pattern: '^[A-Z]{2}$' }))),
    supplierSerial: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 100 }))),
  },
  { additionalProperties: false },
);
const ReceiveScanBody = Type.Object(
  { ...ReceiveCommon, scan: Type.String({ minLength: 1, maxLength: 4000, description: 'Decoded content of the manufacturer 2D label (EIGP 114), with its control characters' }) },
  { additionalProperties: false },
);
const ReceiveResultSchema = Type.Object({
  package: PackageSchema, lot: LotSchema, lotCreated: Type.Boolean(),
  label: Nullable(Type.Object({}, { additionalProperties: true, description: 'The parsed manufacturer label' })),
});

const LoadBody = Type.Object(
  {
    equipmentId: Id, slot: SlotName,
    feederId: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 64, description: 'Feeder (carrier) ID scanned with the slot' }))),
    packageId: Type.Optional(Id), packageCode: Type.Optional(Type.String({ minLength: 1, maxLength: 80, description: 'The scanned package ID' })),
    programId: Id,
    productRevisionId: Type.Optional(Nullable(Id)), workOrderId: Type.Optional(Nullable(Id)),
    splice: Type.Optional(Type.Boolean({ description: 'Join the package to the running one on this slot instead of replacing it' })),
  },
  { additionalProperties: false },
);

/** Which request field a refusal is about, for the problem document's errors[]. */
function refusalField(r: LoadRefusal, body: { packageId?: number }): string {
  if (r.code.startsWith('PROGRAM_')) return '/programId';
  if (r.code === 'SLOT_NOT_IN_PROGRAM' || r.code === 'SPLICE_PENDING') return '/slot';
  if (r.code === 'SPLICE_FEEDER_MISMATCH') return '/feederId';
  return body.packageId !== undefined ? '/packageId' : '/packageCode';
}

/** The moisture states a package list may be filtered by (lib/msl.ts, and `unknown` for a history that cannot be read). */
const MSD_STATES = ['never-opened', 'exposed', 'dry-storage', 'expired', 'baked', 'bake-required', 'not-sensitive', 'unknown'] as const;

export function registerMaterialsRoutes(app: App, svc: MaterialsService) {
  const tags = ['materials'];

  // ------------------------------------------------------------ lots
  app.get('/api/v1/material-lots', {
    config: { roles: READ },
    schema: {
      tags, summary: 'List material (supplier) lots, newest first',
      querystring: Type.Object(
        { partId: Type.Optional(Type.Integer()), ipn: Type.Optional(Type.String()), mpn: Type.Optional(Type.String()), lotCode: Type.Optional(Type.String()), onHold: Type.Optional(Type.Boolean()), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 2000 })) },
        { additionalProperties: false },
      ),
      response: { 200: Type.Array(LotSchema) },
    },
    handler: async (req) => svc.listLots(req.query),
  });
  app.get('/api/v1/material-lots/:id', {
    config: { roles: READ },
    schema: { tags, summary: 'Get a material lot', params: IdParams, response: { 200: LotSchema, ...errors(404) } },
    handler: async (req) => svc.getLot(req.params.id),
  });
  app.patch('/api/v1/material-lots/:id', {
    config: { roles: LOT_EDIT },
    schema: {
      tags, summary: 'Change a lot\'s expiry, RoHS declaration, supplier, MSL data or notes', params: IdParams,
      body: Type.Object(
        {
          supplier: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 200 }))), expiresAt: Type.Optional(NullableDateTime()), rohs: Type.Optional(Nullable(Type.Boolean())),
          notes: Type.Optional(Type.String({ maxLength: 2000 })), mslLevel: Type.Optional(Nullable(Enum(MSL_LEVELS))),
          mslTimeOnLabelHours: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0 }))), countryOfOrigin: Type.Optional(Nullable(Type.String({ pattern: '^[A-Z]{2}$' }))),
        },
        { additionalProperties: false },
      ),
      response: { 200: LotSchema, ...errors(400, 404) },
    },
    handler: async (req) => {
      const { expiresAt, ...rest } = req.body;
      return svc.updateLot(who(req), req.params.id, { ...rest, ...(expiresAt !== undefined ? { expiresAt: expiresAt === null ? null : new Date(expiresAt) } : {}) });
    },
  });
  app.post('/api/v1/material-lots/:id/hold', {
    config: { roles: QUALITY },
    schema: { tags, summary: 'Put a lot on hold: its packages are refused at loading (LOT_ON_HOLD)', params: IdParams, body: ReasonBody, response: { 200: LotSchema, ...errors(400, 404, 409) } },
    handler: async (req) => svc.holdLot(who(req), req.params.id, req.body.reason),
  });
  app.post('/api/v1/material-lots/:id/release-hold', {
    config: { roles: QUALITY },
    schema: { tags, summary: 'Release a lot\'s hold', params: IdParams, body: ReasonBody, response: { 200: LotSchema, ...errors(400, 404, 409) } },
    handler: async (req) => svc.releaseLotHold(who(req), req.params.id, req.body.reason),
  });

  // ------------------------------------------------------------ receiving
  const receiveInput = <T extends { expiresAt?: Date | string | null }>(b: T) => ({ ...b, expiresAt: b.expiresAt === undefined ? undefined : b.expiresAt === null ? null : new Date(b.expiresAt) });
  app.post('/api/v1/packages/receive-scan', {
    config: { roles: STORES },
    schema: {
      tags, summary: 'Receive a package by scanning the manufacturer\'s 2D label (ECIA EIGP 114 / ISO/IEC 15434 format 06)',
      description: 'MPN, quantity, lot code, date code, manufacturer, country of origin and package serial come from the label. A label that cannot be read is refused (422) with the parser\'s code (LABEL_*) naming the data identifier at fault; an MPN not on the AVL is refused (MPN_NOT_ON_AVL); an MPN on several parts\' AVLs needs `ipn` (PART_AMBIGUOUS). A matching lot (part, MPN, lot code, date code) is reused.',
      body: ReceiveScanBody, response: { 201: ReceiveResultSchema, ...errors(400, 409, 422) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.receiveByLabel(who(req), receiveInput(req.body))),
  });
  app.post('/api/v1/packages/receive-scan/preview', {
    config: { roles: STORES },
    schema: {
      tags, summary: 'What receiving this label scan would do, without receiving it (nothing is written)',
      description: 'The same answer as receive-scan (parsed label, the part found through the AVL, whether a lot is reused, the package as it would be created) or the same refusal (LABEL_*, MPN_NOT_ON_AVL, PART_AMBIGUOUS, DUPLICATE supplier serial). The package ID shown is not reserved: receiving assigns the next one.',
      body: ReceiveScanBody, response: { 200: ReceiveResultSchema, ...errors(400, 409, 422) },
    },
    handler: async (req) => svc.previewLabel(who(req), receiveInput(req.body)),
  });
  app.post('/api/v1/packages/receive', {
    config: { roles: STORES },
    schema: {
      tags, summary: 'Receive a package from explicit fields (manual receiving, ERP goods receipt)',
      body: ReceiveBody, response: { 201: ReceiveResultSchema, ...errors(400, 409, 422) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.receive(who(req), receiveInput(req.body))),
  });

  // ------------------------------------------------------------ packages
  app.get('/api/v1/packages', {
    config: { roles: READ },
    schema: {
      tags, summary: 'List packages (empty and scrapped ones only on request), newest first',
      querystring: Type.Object(
        {
          code: Type.Optional(Type.String({ description: 'Exact package ID (e.g. as scanned)' })), partId: Type.Optional(Type.Integer()), ipn: Type.Optional(Type.String()),
          lotId: Type.Optional(Type.Integer()), status: Type.Optional(Enum(PACKAGE_STATUSES)), locationKind: Type.Optional(Enum(['store', 'line', 'equipment'] as const)),
          lineId: Type.Optional(Type.Integer()), equipmentId: Type.Optional(Type.Integer()), includeFinished: Type.Optional(Type.Boolean()),
          q: Type.Optional(Type.String({ minLength: 1, maxLength: 80, description: 'Search: package ID (prefix), IPN or MPN (anywhere), case-insensitive' })),
          kind: Type.Optional(Enum(PACKAGE_KINDS)),
          msdState: Type.Optional(Type.String({
            pattern: `^(${MSD_STATES.join('|')})(,(${MSD_STATES.join('|')}))*$`, description: `Comma-separated moisture (MSD) states, now: ${MSD_STATES.join(', ')}`,
          })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 2000 })),
        },
        { additionalProperties: false },
      ),
      response: { 200: Type.Array(PackageSchema) },
    },
    handler: async (req) => {
      const { msdState, ...rest } = req.query;
      return svc.listPackages({ ...rest, ...(msdState ? { msdState: msdState.split(',') } : {}) });
    },
  });
  app.get('/api/v1/packages/:id', {
    config: { roles: READ },
    schema: { tags, summary: 'Get a package with its lot, location and current MSD state', params: IdParams, response: { 200: PackageSchema, ...errors(404) } },
    handler: async (req) => svc.getPackage(req.params.id),
  });
  app.get('/api/v1/packages/:id/movements', {
    config: { roles: READ },
    schema: { tags, summary: 'The append-only quantity and movement log of a package', params: IdParams, response: { 200: Type.Array(MovementSchema), ...errors(404) } },
    handler: async (req) => svc.movements(req.params.id),
  });
  app.get('/api/v1/packages/:id/label', {
    config: { roles: READ },
    schema: {
      tags, summary: 'The MES package label: ZPL for Zebra printers, PNG (Data Matrix) or PDF for preview', params: IdParams,
      querystring: Type.Object({ format: Type.Optional(Enum(['zpl', 'png', 'pdf'] as const, { default: 'zpl' })) }, { additionalProperties: false }),
      response: { ...errors(404, 422) },
    },
    handler: async (req, reply) => {
      const l = await svc.label(req.params.id, req.query.format ?? 'zpl');
      reply.header('content-type', l.contentType).header('content-disposition', `inline; filename="${l.filename}"`);
      return reply.send(l.body);
    },
  });
  app.post('/api/v1/packages/:id/label/print', {
    config: { roles: STORES },
    schema: {
      tags, summary: 'Send the ZPL label to a network label printer (raw TCP, port 9100 by default)', params: IdParams,
      body: Type.Object({ host: Type.String({ minLength: 1, maxLength: 255 }), port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ bytesWritten: Type.Integer(), printer: Type.String() }), ...errors(400, 404, 422, 502, 504) },
    },
    handler: async (req) => svc.printLabel(who(req), req.params.id, req.body),
  });
  app.post('/api/v1/packages/:id/split', {
    config: { roles: STORES },
    schema: {
      tags, summary: 'Split pieces off into a new package of the same lot (same MSD history)', params: IdParams,
      body: Type.Object({ quantity: Type.Integer({ minimum: 1 }), code: Type.Optional(PackageCode), reason: Type.Optional(Type.String({ maxLength: 1000 })) }, { additionalProperties: false }),
      response: { 201: Type.Object({ source: PackageSchema, created: PackageSchema }), ...errors(400, 404, 409, 422) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.split(who(req), req.params.id, req.body)),
  });
  app.post('/api/v1/packages/:id/merge', {
    config: { roles: STORES },
    schema: {
      tags, summary: 'Merge packages of the same lot into this one (the sources become empty)', params: IdParams,
      body: Type.Object({ sourceIds: Type.Array(Id, { minItems: 1, maxItems: 100 }), reason: Type.Optional(Type.String({ maxLength: 1000 })) }, { additionalProperties: false }),
      response: { 200: PackageSchema, ...errors(400, 404, 409, 422) },
    },
    handler: async (req) => svc.merge(who(req), req.params.id, req.body),
  });
  app.post('/api/v1/packages/:id/correct', {
    config: { roles: STORES },
    schema: {
      tags, summary: 'Correct the quantity to a counted value (reason required)', params: IdParams,
      body: Type.Object({ quantity: Type.Integer({ minimum: 0 }), reason: Reason }, { additionalProperties: false }),
      response: { 200: PackageSchema, ...errors(400, 404, 409) },
    },
    handler: async (req) => svc.correctQuantity(who(req), req.params.id, req.body),
  });
  app.post('/api/v1/packages/:id/consume', {
    config: { roles: CONSUME },
    schema: {
      tags, summary: 'Book consumption from a package (reaching zero empties it)', params: IdParams,
      body: Type.Object({ quantity: Type.Integer({ minimum: 1 }), workOrderId: Type.Optional(Nullable(Id)), reason: Type.Optional(Type.String({ maxLength: 1000 })) }, { additionalProperties: false }),
      response: { 200: PackageSchema, ...errors(400, 404, 409, 422) },
    },
    handler: async (req) => svc.consume(who(req), req.params.id, req.body),
  });
  app.post('/api/v1/packages/:id/empty', {
    config: { roles: CONSUME },
    schema: {
      tags, summary: 'Mark a package empty: the rest is written off, it leaves its slot and a waiting splice takes over', params: IdParams,
      body: Type.Object({ reason: Type.Optional(Type.String({ maxLength: 1000 })) }, { additionalProperties: false }),
      response: { 200: PackageSchema, ...errors(404, 409) },
    },
    handler: async (req) => svc.markEmpty(who(req), req.params.id, req.body ?? {}),
  });
  app.post('/api/v1/packages/:id/move', {
    config: { roles: STORES },
    schema: {
      tags, summary: 'Move a package to a store place or a line (machine slots only through a verified load)', params: IdParams,
      body: Type.Object({ location: LocationBody, reason: Type.Optional(Type.String({ maxLength: 1000 })) }, { additionalProperties: false }),
      response: { 200: PackageSchema, ...errors(400, 404, 409, 422) },
    },
    handler: async (req) => svc.move(who(req), req.params.id, { location: req.body.location as LocationInput, reason: req.body.reason ?? null }),
  });
  app.post('/api/v1/packages/:id/block', {
    config: { roles: FLOOR },
    schema: { tags, summary: 'Block a package (refused at loading until released)', params: IdParams, body: ReasonBody, response: { 200: PackageSchema, ...errors(400, 404, 409) } },
    handler: async (req) => svc.block(who(req), req.params.id, req.body.reason),
  });
  app.post('/api/v1/packages/:id/quarantine', {
    config: { roles: QUALITY },
    schema: { tags, summary: 'Put a package in quarantine', params: IdParams, body: ReasonBody, response: { 200: PackageSchema, ...errors(400, 404, 409) } },
    handler: async (req) => svc.quarantine(who(req), req.params.id, req.body.reason),
  });
  app.post('/api/v1/packages/:id/release', {
    config: { roles: QUALITY },
    schema: { tags, summary: 'End a block or quarantine', params: IdParams, body: ReasonBody, response: { 200: PackageSchema, ...errors(400, 404, 409) } },
    handler: async (req) => svc.release(who(req), req.params.id, req.body.reason),
  });
  app.post('/api/v1/packages/:id/scrap', {
    config: { roles: QUALITY },
    schema: { tags, summary: 'Scrap a package (final)', params: IdParams, body: ReasonBody, response: { 200: PackageSchema, ...errors(400, 404, 409) } },
    handler: async (req) => svc.scrap(who(req), req.params.id, req.body.reason),
  });

  // ------------------------------------------------------------ MSD
  app.get('/api/v1/packages/:id/msd', {
    config: { roles: READ },
    schema: {
      tags, summary: 'MSD (J-STD-033) state of a package now or at an instant, with its event history', params: IdParams,
      querystring: Type.Object({ at: Type.Optional(Type.String({ format: 'date-time' })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ packageId: Type.Integer(), packageCode: Type.String(), status: MsdSchema, events: Type.Array(MsdEventSchema) }), ...errors(404) },
    },
    handler: async (req) => svc.msd(req.params.id, toDate(req.query.at)),
  });
  app.post('/api/v1/packages/:id/msd-events', {
    config: { roles: FLOOR },
    schema: {
      tags, summary: 'Record an MSD event: opened, dry-storage-in, dry-storage-out, resealed-dry-pack, expired', params: IdParams,
      body: Type.Object(
        { type: Enum(MANUAL_MSD_EVENTS), at: Type.Optional(DateTime({ description: 'When it happened; default now' })), note: Type.Optional(Type.String({ maxLength: 1000 })) },
        { additionalProperties: false },
      ),
      response: { 200: PackageSchema, ...errors(400, 404, 409, 422) },
    },
    handler: async (req) => svc.recordMsdEvent(who(req), req.params.id, { type: req.body.type, at: toDate(req.body.at), note: req.body.note }),
  });
  app.post('/api/v1/bakes', {
    config: { roles: FLOOR },
    schema: {
      tags, summary: 'Record a bake (one oven run) of one or more packages: their floor life restarts at the end of the bake',
      body: Type.Object(
        {
          packageIds: Type.Array(Id, { minItems: 1, maxItems: 500 }), oven: Type.String({ minLength: 1, maxLength: 100 }),
          temperatureC: Type.Number({ minimum: 30, maximum: 250 }), durationMinutes: Type.Integer({ minimum: 1, maximum: 100_000 }),
          finishedAt: Type.Optional(DateTime({ description: 'End of the bake; default now' })), notes: Type.Optional(Type.String({ maxLength: 1000 })),
        },
        { additionalProperties: false },
      ),
      response: { 201: Type.Object({ bake: BakeSchema, packages: Type.Array(PackageSchema) }), ...errors(400, 404, 409, 422) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.bake(who(req), { ...req.body, finishedAt: toDate(req.body.finishedAt) })),
  });
  app.get('/api/v1/bakes/:id', {
    config: { roles: READ },
    schema: { tags, summary: 'Get a bake record', params: IdParams, response: { 200: BakeSchema, ...errors(404) } },
    handler: async (req) => svc.getBake(req.params.id),
  });

  // ------------------------------------------------------------ stock and warnings
  app.get('/api/v1/stock', {
    config: { roles: READ },
    schema: {
      tags, summary: 'Stock per part and location (store place, line, machine)',
      querystring: Type.Object(
        {
          partId: Type.Optional(Type.Integer()), ipn: Type.Optional(Type.String()), locationKind: Type.Optional(Enum(['store', 'line', 'equipment'] as const)), lineId: Type.Optional(Type.Integer()),
          q: Type.Optional(Type.String({ minLength: 1, maxLength: 80, description: 'Search: IPN containing this, case-insensitive' })),
        },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Array(Type.Object({ partId: Type.Integer(), ipn: Type.String(), location: Type.Omit(LocationSchema, ['slot']), packages: Type.Integer(), usableQuantity: Type.Integer(), blockedQuantity: Type.Integer() })),
      },
    },
    handler: async (req) => svc.stock(req.query),
  });
  app.get('/api/v1/material-warnings', {
    config: { roles: READ },
    schema: {
      tags, summary: 'Packages whose moisture floor life or lot expires soon (or has), soonest first',
      querystring: Type.Object({ withinHours: Type.Optional(Type.Number({ minimum: 0, maximum: 100_000, description: 'Default: 8 h for floor life, 7 days for lots' })) }, { additionalProperties: false }),
      response: {
        200: Type.Array(
          Type.Object({
            kind: Type.String(), packageId: Type.Integer(), packageCode: Type.String(), ipn: Type.String(), mpn: Type.String(), status: Type.String(), location: LocationSchema,
            at: NullableDateTime(), remainingMs: Nullable(Type.Number()), message: Type.String(),
          }),
        ),
      },
    },
    handler: async (req) => svc.warnings({ withinMs: req.query.withinHours === undefined ? undefined : req.query.withinHours * HOUR_MS }),
  });

  // ------------------------------------------------------------ paste and stencils
  app.post('/api/v1/packages/:id/paste/thaw', {
    config: { roles: FLOOR },
    schema: { tags, summary: 'Record that a paste jar was taken out of the refrigerator to thaw', params: IdParams, body: AtBody, response: { 200: PackageSchema, ...errors(400, 404, 409) } },
    handler: async (req) => svc.thawPaste(who(req), req.params.id, { at: toDate(req.body?.at) }),
  });
  app.post('/api/v1/packages/:id/paste/open', {
    config: { roles: FLOOR },
    schema: { tags, summary: 'Record that a paste jar was opened', params: IdParams, body: AtBody, response: { 200: PackageSchema, ...errors(400, 404, 409) } },
    handler: async (req) => svc.openPaste(who(req), req.params.id, { at: toDate(req.body?.at) }),
  });
  app.get('/api/v1/packages/:id/paste/check', {
    config: { roles: READ },
    schema: { tags, summary: 'Is this paste jar usable now (expiry, thaw time, open time)?', params: IdParams, response: { 200: CheckSchema, ...errors(404) } },
    handler: async (req) => svc.checkPaste(req.params.id),
  });
  app.get('/api/v1/stencils', {
    config: { roles: READ },
    schema: {
      tags, summary: 'List stencils', querystring: Type.Object({ productRevisionId: Type.Optional(Type.Integer()), code: Type.Optional(Type.String()) }, { additionalProperties: false }),
      response: { 200: Type.Array(StencilSchema) },
    },
    handler: async (req) => svc.listStencils(req.query),
  });
  app.get('/api/v1/stencils/:id', {
    config: { roles: READ },
    schema: { tags, summary: 'Get a stencil', params: IdParams, response: { 200: StencilSchema, ...errors(404) } },
    handler: async (req) => svc.getStencil(req.params.id),
  });
  app.post('/api/v1/stencils', {
    config: { roles: R.masterDataWrite },
    schema: {
      tags, summary: 'Register a stencil for a product revision',
      body: Type.Object(
        {
          code: PackageCode, productRevisionId: Id, thicknessUm: Type.Optional(Nullable(Type.Integer({ minimum: 20, maximum: 1000 }))),
          cleaningInterval: Type.Integer({ minimum: 1, description: 'Prints between cleanings' }), maxUsage: Type.Optional(Nullable(Type.Integer({ minimum: 1, description: 'Prints until worn out' }))),
          notes: Type.Optional(Type.String({ maxLength: 2000 })),
        },
        { additionalProperties: false },
      ),
      response: { 201: StencilSchema, ...errors(400, 404, 409, 422) },
    },
    handler: async (req, reply) => reply.code(201).send(await svc.createStencil(who(req), req.body)),
  });
  app.patch('/api/v1/stencils/:id', {
    config: { roles: R.masterDataWrite },
    schema: {
      tags, summary: 'Change a stencil\'s limits, notes or status (retire)', params: IdParams,
      body: Type.Object(
        {
          cleaningInterval: Type.Optional(Type.Integer({ minimum: 1 })), maxUsage: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))), notes: Type.Optional(Type.String({ maxLength: 2000 })),
          status: Type.Optional(Enum(['active', 'retired'] as const)), thicknessUm: Type.Optional(Nullable(Type.Integer({ minimum: 20, maximum: 1000 }))),
        },
        { additionalProperties: false },
      ),
      response: { 200: StencilSchema, ...errors(400, 404) },
    },
    handler: async (req) => svc.updateStencil(who(req), req.params.id, req.body),
  });
  app.post('/api/v1/stencils/:id/clean', {
    config: { roles: FLOOR },
    schema: { tags, summary: 'Record a stencil cleaning', params: IdParams, body: AtBody, response: { 200: StencilSchema, ...errors(400, 404) } },
    handler: async (req) => svc.cleanStencil(who(req), req.params.id, { at: toDate(req.body?.at) }),
  });
  app.post('/api/v1/stencils/:id/usage', {
    config: { roles: FLOOR },
    schema: {
      tags, summary: 'Count prints made with a stencil', params: IdParams,
      body: Type.Object({ prints: Type.Integer({ minimum: 1, maximum: 1_000_000 }) }, { additionalProperties: false }),
      response: { 200: StencilSchema, ...errors(400, 404) },
    },
    handler: async (req) => svc.recordStencilUse(who(req), req.params.id, req.body),
  });
  app.get('/api/v1/stencils/:id/check', {
    config: { roles: READ },
    schema: {
      tags, summary: 'Is this stencil usable (cleaning interval, wear, product revision)?', params: IdParams,
      querystring: Type.Object({ productRevisionId: Type.Optional(Type.Integer()) }, { additionalProperties: false }),
      response: { 200: CheckSchema, ...errors(404) },
    },
    handler: async (req) => svc.checkStencil(req.params.id, req.query),
  });
  app.get('/api/v1/printer-setups', {
    config: { roles: READ },
    schema: {
      tags, summary: 'History of paste jars and stencils mounted on printers',
      querystring: Type.Object({ equipmentId: Type.Optional(Type.Integer()), packageId: Type.Optional(Type.Integer()), stencilId: Type.Optional(Type.Integer()), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }, { additionalProperties: false }),
      response: { 200: Type.Array(MountSchema) },
    },
    handler: async (req) => svc.listMounts(req.query),
  });
  app.get('/api/v1/printer-setups/:equipmentId', {
    config: { roles: READ },
    schema: {
      tags, summary: 'The paste jar and stencil on a printer now, each re-checked', params: Type.Object({ equipmentId: Id }),
      querystring: Type.Object({ productRevisionId: Type.Optional(Type.Integer()) }, { additionalProperties: false }),
      response: { 200: Type.Object({ equipmentId: Type.Integer(), at: DateTime(), paste: MountCheckSchema, stencil: MountCheckSchema }), ...errors(404) },
    },
    handler: async (req) => svc.mountedConsumables(req.params.equipmentId, req.query),
  });
  app.post('/api/v1/printer-setups/paste', {
    config: { roles: FLOOR },
    schema: {
      tags, summary: 'Put a paste jar on a printer; refused (CONSUMABLE_INVALID) when it is expired, not thawed or open too long',
      body: Type.Object({ equipmentId: Id, packageId: Id, productRevisionId: Type.Optional(Nullable(Id)) }, { additionalProperties: false }),
      response: { 200: MountSchema, ...errors(400, 404, 409, 422) },
    },
    handler: async (req) => svc.mountPaste(who(req), req.body),
  });
  app.post('/api/v1/printer-setups/stencil', {
    config: { roles: FLOOR },
    schema: {
      tags, summary: 'Put a stencil on a printer; refused (CONSUMABLE_INVALID) for another product revision, cleaning due, worn out or retired',
      body: Type.Object({ equipmentId: Id, stencilId: Id, productRevisionId: Id }, { additionalProperties: false }),
      response: { 200: MountSchema, ...errors(400, 404, 409, 422) },
    },
    handler: async (req) => svc.mountStencil(who(req), req.body),
  });
  app.post('/api/v1/printer-setups/unmount', {
    config: { roles: FLOOR },
    schema: {
      tags, summary: 'Take the paste jar or stencil off a printer',
      body: Type.Object({ equipmentId: Id, kind: Enum(['paste', 'stencil'] as const) }, { additionalProperties: false }),
      response: { 200: MountSchema, ...errors(400, 409) },
    },
    handler: async (req) => svc.unmount(who(req), req.body),
  });

  // ------------------------------------------------------------ feeder setups
  app.get('/api/v1/feeder-setups/reason-codes', {
    config: { roles: READ },
    schema: {
      tags, summary: 'The stable refusal reasons of feeder loading (code, CFX FailureCode, sentence) and of paste / stencil checks',
      response: {
        200: Type.Object({
          load: Type.Array(Type.Object({ code: Type.String(), failureCode: Type.Integer(), sentence: Type.String() })),
          consumables: Type.Array(Type.Object({ code: Type.String(), sentence: Type.String() })),
        }),
      },
    },
    handler: async () => ({ load: [...LOAD_REFUSAL_REASONS], consumables: [...CONSUMABLE_PROBLEMS] }),
  });
  app.post('/api/v1/feeder-setups/load', {
    config: { roles: FLOOR },
    schema: {
      tags, summary: 'Load (or splice) a package into a machine slot, verified against the program\'s feeder setup and the AVL',
      description: 'Accepted: 200 with the setup interval. Refused: 422 LOAD_REFUSED; `errors[].code` and `details.reasons` carry the stable reason codes (GET /api/v1/feeder-setups/reason-codes), `details.attemptId` the recorded attempt. Both outcomes are recorded.',
      body: LoadBody, response: { 200: VerdictSchema, ...errors(400, 404, 422) },
    },
    handler: async (req) => {
      const b = req.body;
      const verdict = await svc.verifyLoad(who(req), {
        equipmentId: b.equipmentId, slot: b.slot, feederId: b.feederId ?? null, packageId: b.packageId, packageCode: b.packageCode, programId: b.programId,
        productRevisionId: b.productRevisionId ?? null, workOrderId: b.workOrderId ?? null, splice: b.splice ?? false,
      });
      if (!verdict.accepted) {
        const errs: FieldError[] = verdict.reasons.map((r) => ({ field: refusalField(r, b), code: r.code, message: r.message }));
        throw new AppError('LOAD_REFUSED', verdict.message, {
          errors: errs,
          details: { attemptId: verdict.attemptId, reason: verdict.reason!.code, failureCode: verdict.reason!.failureCode, reasons: verdict.reasons },
        });
      }
      return verdict;
    },
  });
  app.post('/api/v1/feeder-setups/unload', {
    config: { roles: FLOOR },
    schema: {
      tags, summary: 'Unload a package (or, without packageId, everything) from a slot',
      body: Type.Object({ equipmentId: Id, slot: SlotName, packageId: Type.Optional(Id), reason: Type.Optional(Type.String({ maxLength: 1000 })) }, { additionalProperties: false }),
      response: { 200: Type.Array(SetupSchema), ...errors(400, 404, 409) },
    },
    handler: async (req) => svc.unload(who(req), req.body),
  });
  app.get('/api/v1/feeder-setups/status', {
    config: { roles: READ },
    schema: {
      tags, summary: 'Setup completeness of a machine for a program: per slot verified / missing / wrong, re-checked now',
      querystring: Type.Object(
        { equipmentId: Id, programId: Id, productRevisionId: Type.Optional(Id), workOrderId: Type.Optional(Id) },
        { additionalProperties: false },
      ),
      response: { 200: SetupStatusSchema, ...errors(400, 404) },
    },
    handler: async (req) => svc.setupStatus(req.query.equipmentId, req.query.programId, req.query),
  });
  app.get('/api/v1/feeder-setups', {
    config: { roles: READ },
    schema: {
      tags, summary: 'Setup intervals (which package was in which slot when); `at` gives the candidates at an instant (two during a splice)',
      querystring: Type.Object(
        {
          equipmentId: Type.Optional(Type.Integer()), slot: Type.Optional(Type.String()), packageId: Type.Optional(Type.Integer()), active: Type.Optional(Type.Boolean()),
          at: Type.Optional(Type.String({ format: 'date-time' })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000 })),
        },
        { additionalProperties: false },
      ),
      response: { 200: Type.Array(SetupSchema) },
    },
    handler: async (req) => svc.listSetups({ ...req.query, at: toDate(req.query.at) }),
  });
  app.get('/api/v1/feeder-setups/attempts', {
    config: { roles: READ },
    schema: {
      tags, summary: 'Loading attempts with their verdicts, newest first',
      querystring: Type.Object(
        { equipmentId: Type.Optional(Type.Integer()), packageId: Type.Optional(Type.Integer()), accepted: Type.Optional(Type.Boolean()), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) },
        { additionalProperties: false },
      ),
      response: { 200: Type.Array(AttemptSchema) },
    },
    handler: async (req) => svc.listAttempts(req.query),
  });

  // ------------------------------------------------------------ material-to-board traceability
  const Refdes = Type.String({ minLength: 1, maxLength: 64, description: 'Reference designator, e.g. R12' });
  const UnitRef = {
    unit: Type.String({ minLength: 1, maxLength: 80, description: 'Unit serial, or a panel ID with position' }),
    position: Type.Optional(Nullable(Type.Integer({ minimum: 1, description: 'Panel position when `unit` is a panel ID' }))),
  };
  const PackageRef = { packageId: Type.Optional(Id), packageCode: Type.Optional(PackageCode) };
  const needPackage = (items: { packageId?: number; packageCode?: string }[], base: string) => {
    const errs: FieldError[] = [];
    items.forEach((it, i) => {
      if (it.packageId === undefined && it.packageCode === undefined) errs.push({ field: `/${base}/${i}/packageId`, code: 'required', message: 'give packageId or packageCode' });
    });
    if (errs.length) throw new AppError('VALIDATION_FAILED', 'Each item names its package', { errors: errs });
  };
  app.post('/api/v1/materials/installs', {
    config: { roles: CONSUME },
    schema: {
      tags, summary: 'Record which package installed which reference designators on units (M3 material trace; the REST door of CFX MaterialsInstalled)',
      description: 'All or nothing. Refused with every problem listed: unknown unit or package (422 REFERENCE_NOT_FOUND), a designator not on the unit\'s BOM (refdes_not_in_bom) or of another part (part_mismatch) (400 VALIDATION_FAILED).',
      body: Type.Object({
        installs: Type.Array(Type.Object({
          ...UnitRef, ...PackageRef, refdes: Type.Array(Refdes, { minItems: 1, maxItems: 2000 }),
          equipmentId: Type.Optional(Nullable(Id)), stationId: Type.Optional(Nullable(Id)), slot: Type.Optional(Nullable(SlotName)),
          installedAt: Type.Optional(DateTime({ description: 'Default now' })),
        }, { additionalProperties: false }), { minItems: 1, maxItems: 5000 }),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ installed: Type.Integer(), unchanged: Type.Integer(), replaced: Type.Integer() }), ...errors(400, 422) },
    },
    handler: async (req) => {
      needPackage(req.body.installs, 'installs');
      return svc.recordInstalls(who(req), req.body.installs.map((x) => ({ ...x, installedAt: toDate(x.installedAt) })), 'rest');
    },
  });
  app.post('/api/v1/materials/uninstalls', {
    config: { roles: CONSUME },
    schema: {
      tags, summary: 'Record components taken off units (the REST door of CFX MaterialsUninstalled)',
      body: Type.Object({
        uninstalls: Type.Array(Type.Object({
          ...UnitRef, ...PackageRef, refdes: Type.Array(Refdes, { minItems: 1, maxItems: 2000 }), reason: Reason,
          installedAt: Type.Optional(DateTime()), at: Type.Optional(DateTime({ description: 'Default now' })),
        }, { additionalProperties: false }), { minItems: 1, maxItems: 5000 }),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ removed: Type.Integer() }), ...errors(400, 422) },
    },
    handler: async (req) =>
      svc.recordUninstalls(who(req), req.body.uninstalls.map((x) => ({ ...x, installedAt: toDate(x.installedAt), at: toDate(x.at) })), 'rest'),
  });
  app.post('/api/v1/materials/applied', {
    config: { roles: CONSUME },
    schema: {
      tags, summary: 'Record material applied to units: solder paste, adhesive, coating (the REST door of CFX MaterialsApplied)',
      body: Type.Object({
        applied: Type.Array(Type.Object({
          ...UnitRef, ...PackageRef, quantity: Type.Optional(Nullable(Type.Number({ minimum: 0 }))), quantityUnit: Type.Optional(Nullable(Type.String({ maxLength: 20 }))),
          equipmentId: Type.Optional(Nullable(Id)), stationId: Type.Optional(Nullable(Id)), appliedAt: Type.Optional(DateTime()),
        }, { additionalProperties: false }), { minItems: 1, maxItems: 5000 }),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ applied: Type.Integer() }), ...errors(400, 422) },
    },
    handler: async (req) => {
      needPackage(req.body.applied, 'applied');
      return svc.recordApplied(who(req), req.body.applied.map((x) => ({ ...x, appliedAt: toDate(x.appliedAt) })), 'rest');
    },
  });
  const CandidateSchema = Type.Object({
    packageId: Type.Integer(), packageCode: Type.String(), lotId: Type.Integer(), lotCode: Nullable(Type.String()), mpn: Type.String(), manufacturer: Type.String(),
    dateCode: Nullable(Type.String()), equipmentId: Nullable(Type.Integer()), equipmentCode: Nullable(Type.String()), slot: Nullable(Type.String()),
    from: DateTime(), to: NullableDateTime(), mslFloorLifeRemainingMinutesAtPlacement: Nullable(Type.Integer()),
  });
  app.get('/api/v1/units/:id/materials', {
    config: { roles: READ },
    schema: {
      tags, summary: 'The material of a unit per reference designator: M3 (installed) over M2 (from the feeder setups; two candidates during a splice), rework applied',
      params: IdParams,
      response: {
        200: Type.Array(Type.Object({ refdes: Type.String(), partId: Type.Integer(), ipn: Type.String(), source: Type.String(), candidates: Type.Array(CandidateSchema) })),
        ...errors(404),
      },
    },
    handler: async (req) => svc.unitMaterials(req.params.id),
  });
  app.get('/api/v1/materials/where-used', {
    config: { roles: READ },
    schema: {
      tags, summary: 'Units containing material of a lot, a package, an MPN (+ date-code range), a paste jar or a stencil; give exactly one',
      querystring: Type.Object({
        lotId: Type.Optional(Id), packageId: Type.Optional(Id), mpn: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
        dateCodeFrom: Type.Optional(Type.String({ minLength: 1, maxLength: 16 })), dateCodeTo: Type.Optional(Type.String({ minLength: 1, maxLength: 16 })),
        pasteJarPackageId: Type.Optional(Id), stencilId: Type.Optional(Id),
      }, { additionalProperties: false }),
      response: {
        200: Type.Object({ units: Type.Array(Type.Object({ unitId: Type.Integer(), via: Type.String() })), packages: Type.Array(Type.Integer()) }),
        ...errors(400, 404),
      },
    },
    handler: async (req) => svc.materialWhereUsed(req.query as never),
  });
  const USAGE_COLUMNS = ['mpn', 'manufacturer', 'lotCode', 'packageCode', 'equipmentCode', 'slot', 'loadedAt', 'unloadedAt', 'loadedQty', 'consumedQty'] as const;
  const csvCell = (v: unknown) => {
    const s = v === null || v === undefined ? '' : v instanceof Date ? v.toISOString() : String(v);
    return /[",\r\n]/.test(s) || /^[=+\-@]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  app.get('/api/v1/work-orders/:id/material-usage', {
    config: { roles: READ },
    schema: {
      tags, summary: 'Material usage log of a work order (JSON, or CSV with Accept: text/csv or ?format=csv)',
      params: IdParams,
      querystring: Type.Object({ format: Type.Optional(Enum(['json', 'csv'] as const)) }, { additionalProperties: false }),
      // 200: JSON rows { mpn, manufacturer, lotCode, packageCode, equipmentCode, slot, loadedAt, unloadedAt, loadedQty, consumedQty } or the same as CSV.
      response: { ...errors(404) },
    },
    handler: async (req, reply) => {
      const rows = await svc.usageLog(req.params.id);
      const csv = req.query.format === 'csv' || (req.query.format === undefined && (req.headers.accept ?? '').includes('text/csv'));
      if (!csv) return rows;
      const text = [USAGE_COLUMNS.join(','), ...rows.map((r) => USAGE_COLUMNS.map((c) => csvCell(r[c])).join(','))].join('\r\n') + '\r\n';
      return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="material-usage-${req.params.id}.csv"`).send(text);
    },
  });
  app.get('/api/v1/material-shortages', {
    config: { roles: READ },
    schema: {
      tags, summary: 'Parts that released / in-progress work orders still need more of than usable stock holds',
      querystring: Type.Object({ workOrderId: Type.Optional(Id) }, { additionalProperties: false }),
      response: {
        200: Type.Array(Type.Object({
          kind: Type.String(), partId: Type.Integer(), ipn: Type.String(), needed: Type.Integer(), available: Type.Integer(), shortBy: Type.Integer(),
          workOrders: Type.Array(Type.Object({ id: Type.Integer(), number: Type.String(), remainingUnits: Type.Integer(), needed: Type.Integer() })), message: Type.String(),
        })),
      },
    },
    handler: async (req) => svc.shortages(req.query),
  });
}
