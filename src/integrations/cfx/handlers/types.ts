import type { Db, Queryable, Tx } from '../../../platform/db.ts';
import type { FieldError } from '../../../platform/errors.ts';
import type { Principal } from '../../../platform/principal.ts';
import type { EquipmentService } from '../../../modules/equipment/index.ts';
import type { MaterialsService } from '../../../modules/materials/index.ts';
import type { ProductsService } from '../../../modules/products/index.ts';
import type { BatchResult, CompleteInput, StartInput, TrackingService } from '../../../modules/tracking/index.ts';
import type { WorkOrdersService } from '../../../modules/work-orders/index.ts';
import type { QualityService } from '../../../modules/quality/index.ts';
import type { AppError } from '../../../platform/errors.ts';
import type { TransactionRow } from '../book.ts';
import type { CfxEnvelope, CfxOutgoingEnvelope } from '../codec.ts';
import type { CfxBodies, SupportedMessageName } from '../messages.ts';

/**
 * The dispatch contract: one handler per supported CFX message name. A handler translates the
 * typed message into calls of the domain services (the same functions the REST API calls) and
 * says what became of it. It runs inside the message's transaction (`ctx.tx`, also the ambient
 * transaction of every service call, see tx-scope.ts), so its effects and the inbox row commit
 * together.
 */

/** The machine a message came from, resolved from its Source handle (equipment.cfx_handle). */
export interface Machine {
  equipmentId: number;
  equipmentCode: string;
  cfxHandle: string;
  lanes: number;
  stationId: number;
  stationCode: string;
  stationType: string;
  lineId: number | null;
}

/**
 * The services handlers dispatch to. Tracking, materials, work orders and quality are optional: while a
 * deployment (or a test) lacks one, the messages it would apply are kept as `recorded`, never
 * dropped, and can be applied later from the inbox.
 */
export interface CfxDeps {
  db: Db;
  equipment: EquipmentService;
  products: ProductsService;
  tracking?: TrackingService;
  materials?: MaterialsService;
  workOrders?: WorkOrdersService;
  quality?: QualityService;
}

export interface HandlerContext {
  tx: Tx;
  envelope: CfxEnvelope;
  /** The sending machine; null only for requests from endpoints the MES does not know. */
  machine: Machine | null;
  /** The machine as a principal (role machine, limited to its station), for the services and the audit trail. */
  principal: Principal;
  deps: CfxDeps;
  /** The MES's own CFX handle (Source of responses). */
  handle: string;
  endpoint: EndpointInfo;
  transport: string;
  /**
   * Gives an earlier message a final outcome (e.g. a parked WorkCompleted applied when its
   * WorkStarted arrives); its inbox row is updated in this transaction.
   */
  settle(uniqueId: string, result: HandlerResult): Promise<void>;
  /**
   * Writes rows with a bulk write function of a service, once for the whole batch (rows of every
   * message with the same key together), or at once when the batch runs in safe mode. For pure
   * appends (readings, movements, counts) that nothing in the same batch reads back.
   */
  defer<T>(key: string, rows: T[], write: (q: Queryable, rows: T[]) => Promise<unknown>): Promise<void>;
  /**
   * Queues tracking passages of this message (start, complete, abort: the tracking service's
   * batch operations) to be applied with the batch's other passages, a few set-based statements
   * for many messages. `finish` receives one result per passage, in order, once they are
   * applied (still in this transaction) and gives the message its outcome; the handler then
   * returns `pending()`. Passages of a unit already queued are applied first, and so are
   * queued passages before a message that reads a unit they concern (see ingest.ts), so every
   * message sees the effects of the earlier messages about its units.
   */
  passages(items: PassageRequest[], finish: (results: BatchResult<unknown>[]) => Promise<HandlerResult>): Promise<void>;
  /**
   * Queues a service call that can be made once for the messages of a batch applied together:
   * the inputs of every message queued with the same `key` (the same service function and
   * caller) are passed to one `call`. `finish` gets the result and gives the message its
   * outcome; the handler then returns `pending()`. When the joint call refuses, each message's
   * inputs are passed alone, so a refusal is given to the message it belongs to. Outside a batch
   * (safe mode) the call is made at once with this message's inputs (`joined` false).
   */
  joint<T, R>(key: string, inputs: T[], call: (inputs: T[]) => Promise<R>, finish: (result: JointResult<R>) => Promise<HandlerResult>): Promise<void>;
  /**
   * The CFX production transactions of the sending machine (cfx_transactions), read once for
   * the batch and written at its end (see book.ts).
   */
  transactions: {
    get(transactionId: string): Promise<TransactionRow | null>;
    put(transactionId: string, row: TransactionRow): void;
  };
  /**
   * True when the batch's messages are applied one after the other in the order received (safe
   * mode, or a batch redone in order); false when they are applied in levels (see schedule.ts),
   * where messages about other units may be applied before or after this one.
   */
  inOrder: boolean;
  /**
   * A read remembered for the rest of the batch under `key` (e.g. the program a machine runs);
   * forgotten when a RecipeActivated is applied, and in safe mode when a message is rolled back.
   */
  remember<T>(key: string, load: () => Promise<T>): Promise<T>;
  /** The equipment service's activeRecipe, remembered for the batch (a RecipeActivated in it makes it read again). */
  activeRecipe(equipmentId: number, at: Date): Promise<{ recipeName: string; revision: string | null; activatedAt: Date } | undefined>;
}

/**
 * Thrown (by a `finish`) when the effect of a message reaches beyond its units, e.g. a quality
 * rule put a work order or station on hold: the batch is rolled back and applied again one
 * message after the other in the order received, so every passage received after the message,
 * and none received before it, meets that effect.
 */
export class ApplyInOrder extends Error {}

/** What a joint call gave (see HandlerContext.joint): `joined` when other messages' inputs were in the same call. */
export type JointResult<R> = { ok: true; value: R; joined: boolean } | { ok: false; error: AppError };

/** One tracking passage a handler asks for (see HandlerContext.passages). */
export type PassageRequest =
  | { kind: 'start'; input: StartInput }
  | { kind: 'complete'; input: CompleteInput }
  | { kind: 'abort'; input: { equipment: string; identifier: string; reason?: string | null } };

/** What the MES says about itself in AreYouThere / WhoIsThere / GetEndpointInformation responses. */
export interface EndpointInfo {
  /** amqp://host:port/ of the point-to-point request listener; null when it is not running. */
  requestUri: string | null;
  version: string;
}

export interface Rejection {
  /** Stable reason code (an AppError code, a refusal code of tracking or materials, or CFX_*). */
  code: string;
  message: string;
  field?: string;
  errors?: FieldError[];
}

/**
 * What a handler made of a message:
 * - applied: the effects are written;
 * - recorded: accepted and kept (with its body) but not applied, `detail` says why (no service
 *   for it yet, waiting for another message, a result with no domain meaning);
 * - answered: a request, `response` is the answer;
 * - rejected: refused with a reason; the message goes to the dead-letter store, effects already
 *   made by the handler (e.g. a refusal record) are kept.
 */
export type HandlerResult =
  | { outcome: 'applied'; detail?: string; response?: CfxOutgoingEnvelope }
  | { outcome: 'recorded'; detail: string }
  | { outcome: 'answered'; response: CfxOutgoingEnvelope; detail?: string }
  | { outcome: 'rejected'; rejection: Rejection; response?: CfxOutgoingEnvelope }
  /** The outcome is given later by the `finish` of the message's queued passages (HandlerContext.passages). */
  | { outcome: 'pending' };

export interface HandlerSpec<K extends SupportedMessageName = SupportedMessageName> {
  name: K;
  /**
   * Translates the message into service calls. Refusals of services are caught and returned as
   * `rejected` (what was written before stays); anything thrown makes the pipeline redo the batch
   * with a savepoint per message, and this message then goes to the dead-letter store.
   */
  handle(ctx: HandlerContext, body: CfxBodies[K]): Promise<HandlerResult>;
}

export type AnyHandlerSpec = { [K in SupportedMessageName]: HandlerSpec<K> }[SupportedMessageName];

/** Message name → handler. Modules may add or replace handlers (e.g. a quality module for UnitsInspected). */
export class HandlerRegistry {
  private readonly map = new Map<string, AnyHandlerSpec>();

  register<K extends SupportedMessageName>(spec: HandlerSpec<K>): this {
    this.map.set(spec.name, spec as unknown as AnyHandlerSpec);
    return this;
  }

  get(name: string): AnyHandlerSpec | undefined {
    return this.map.get(name);
  }

  names(): string[] {
    return [...this.map.keys()].sort();
  }
}

export const applied = (detail?: string): HandlerResult => (detail ? { outcome: 'applied', detail } : { outcome: 'applied' });
export const recorded = (detail: string): HandlerResult => ({ outcome: 'recorded', detail });
export const pending = (): HandlerResult => ({ outcome: 'pending' });
export const rejected = (code: string, message: string, extra: Omit<Rejection, 'code' | 'message'> = {}): HandlerResult => ({
  outcome: 'rejected',
  rejection: { code, message, ...extra },
});
