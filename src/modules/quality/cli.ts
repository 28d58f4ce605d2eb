import { Option, type Command } from 'commander';
import { AppError } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { HOLD_SCOPES, type HoldScope } from './reasons.ts';
import type { HoldInput, Hold } from './holds.ts';
import type { QualityService } from './service.ts';

/**
 * `mes quality …`: holds, NCRs and alerts from the command line. Each command calls the same
 * service function as its REST route (placeHold, listHolds, listNcrs, getNcr, listAlerts); the
 * commands only translate options into the service's input and its answer into lines (or JSON
 * with --json).
 */

export interface QualityCliContext {
  /** Opens the database, builds the services, runs `fn` with the quality service, closes everything. */
  run<T>(fn: (quality: QualityService) => Promise<T>): Promise<T>;
  /** Who the command line acts as (recorded in the audit trail). */
  principal(): Principal;
  /** Where lines go (stdout). */
  out?: (line: string) => void;
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new AppError('VALIDATION_FAILED', `${flag} must be a whole number ≥ 1, got ${JSON.stringify(value)}`, { errors: [{ field: flag, code: 'type', message: 'a whole number ≥ 1' }] });
  }
  return n;
}

const iso = (d: Date | string | null) => (d === null ? '' : new Date(d).toISOString().replace(/\.\d{3}Z$/, 'Z'));

/** What a hold covers, in words. */
export function holdTarget(h: Hold): string {
  switch (h.scope) {
    case 'unit': return `unit ${h.serial}`;
    case 'units': return `${h.unitCount ?? '?'} unit(s)`;
    case 'panel': return `panel ${h.panelCode}`;
    case 'lot': return `lot ${h.lotCode}`;
    case 'work_order': return `work order ${h.workOrderNumber}`;
    case 'product_revision': return `product revision #${h.productRevisionId}`;
    case 'material_lot': return `material lot #${h.materialLotId}`;
    case 'package': return `package ${h.packageCode ?? `#${h.packageId}`}`;
    case 'station': return `station ${h.stationCode}`;
    case 'station_window': return `station ${h.stationCode} ${iso(h.windowFrom)} … ${iso(h.windowTo)}`;
    default: return h.scope;
  }
}

export function registerQualityCommands(program: Command, ctx: QualityCliContext): Command {
  const out = ctx.out ?? ((s: string) => console.log(s));
  const quality = program.command('quality').description('Quality: holds, NCRs and alerts (the same operations as the REST API)');

  quality
    .command('holds')
    .description('List holds, newest first')
    .option('--active', 'only holds not yet released')
    .addOption(new Option('--scope <scope>', 'only holds of this scope').choices(HOLD_SCOPES))
    .option('--work-order <id>', 'only holds of this work order (id)')
    .option('--serial <serial>', 'only holds covering this unit')
    .option('--limit <n>', 'at most n holds (≤ 1000)', '100')
    .option('--json', 'print the holds as JSON')
    .action(async (o: { active?: boolean; scope?: HoldScope; workOrder?: string; serial?: string; limit: string; json?: boolean }) => {
      const holds = await ctx.run((q) => q.listHolds({
        active: o.active ? true : undefined, scope: o.scope, workOrderId: o.workOrder === undefined ? undefined : positiveInt(o.workOrder, '--work-order'),
        serial: o.serial, limit: positiveInt(o.limit, '--limit'),
      }));
      if (o.json) return out(JSON.stringify(holds, null, 2));
      if (holds.length === 0) return out(o.active ? 'No active holds' : 'No holds');
      for (const h of holds) {
        const state = h.releasedAt ? `released ${iso(h.releasedAt)} by ${h.releasedBy}` : 'ACTIVE';
        out(`${h.number}  ${state}  ${holdTarget(h)}  [${h.reasonCode}] ${h.reason}  (placed ${iso(h.placedAt)} by ${h.placedBy}, ${h.source})`);
      }
    });

  quality
    .command('hold')
    .description('Place a hold. The scope decides which target option is needed: unit --serial, units --serials, panel --panel, lot --lot, work_order --work-order, ' +
      'product_revision --product-revision, material_lot --material-lot, package --package, station --station, station_window --station --from --to')
    .addOption(new Option('--scope <scope>', 'what the hold covers').choices(HOLD_SCOPES).makeOptionMandatory())
    .requiredOption('--reason-code <code>', 'hold reason code (GET /api/v1/quality/hold-reasons)')
    .requiredOption('--reason <text>', 'why the hold is placed')
    .option('--serial <serial>', 'unit: its serial')
    .option('--serials <serials>', 'units: serials separated by commas')
    .option('--panel <id>', 'panel: its ID')
    .option('--lot <code>', 'lot: the production lot code')
    .option('--work-order <number>', 'work_order: its number (or id)')
    .option('--product-revision <id>', 'product_revision: its id')
    .option('--material-lot <id>', 'material_lot: its id')
    .option('--package <code>', 'package: its ID (code)')
    .option('--station <code>', 'station / station_window: the station code')
    .option('--from <iso>', 'station_window: from (inclusive), ISO 8601')
    .option('--to <iso>', 'station_window: to (exclusive), ISO 8601')
    .option('--json', 'print the hold as JSON')
    .action(async (o: {
      scope: HoldScope; reasonCode: string; reason: string; serial?: string; serials?: string; panel?: string; lot?: string; workOrder?: string; productRevision?: string;
      materialLot?: string; package?: string; station?: string; from?: string; to?: string; json?: boolean;
    }) => {
      const input: HoldInput = { scope: o.scope, reasonCode: o.reasonCode, reason: o.reason };
      if (o.serial !== undefined) input.serial = o.serial;
      if (o.serials !== undefined) input.serials = o.serials.split(',').map((x) => x.trim()).filter((x) => x !== '');
      if (o.panel !== undefined) input.panel = o.panel;
      if (o.lot !== undefined) input.lot = o.lot;
      if (o.workOrder !== undefined) input.workOrder = /^\d+$/.test(o.workOrder) ? Number(o.workOrder) : o.workOrder;
      if (o.productRevision !== undefined) input.productRevisionId = positiveInt(o.productRevision, '--product-revision');
      if (o.materialLot !== undefined) input.materialLotId = positiveInt(o.materialLot, '--material-lot');
      if (o.package !== undefined) input.packageCode = o.package;
      if (o.station !== undefined) input.station = o.station;
      for (const k of ['from', 'to'] as const) {
        if (o[k] === undefined) continue;
        if (Number.isNaN(new Date(o[k]).getTime())) throw new AppError('VALIDATION_FAILED', `--${k} is not an ISO 8601 date-time: ${o[k]}`, { errors: [{ field: `--${k}`, code: 'format', message: 'ISO 8601 date-time' }] });
        input[k] = o[k];
      }
      const hold = await ctx.run((q) => q.placeHold(ctx.principal(), input));
      if (o.json) return out(JSON.stringify(hold, null, 2));
      out(`Placed hold ${hold.number} on ${holdTarget(hold)} [${hold.reasonCode}] ${hold.reason}`);
    });

  const ncr = quality.command('ncr').description('Non-conformance reports');
  ncr
    .command('list')
    .description('List NCRs, newest first')
    .addOption(new Option('--state <state>', 'only open or closed NCRs').choices(['open', 'closed']))
    .option('--work-order <id>', 'only NCRs of this work order (id)')
    .option('--serial <serial>', 'only NCRs linking this unit')
    .option('--limit <n>', 'at most n NCRs (≤ 1000)', '100')
    .option('--json', 'print the NCRs as JSON')
    .action(async (o: { state?: 'open' | 'closed'; workOrder?: string; serial?: string; limit: string; json?: boolean }) => {
      const list = await ctx.run((q) => q.listNcrs({
        state: o.state, workOrderId: o.workOrder === undefined ? undefined : positiveInt(o.workOrder, '--work-order'), serial: o.serial, limit: positiveInt(o.limit, '--limit'),
      }));
      if (o.json) return out(JSON.stringify(list, null, 2));
      if (list.length === 0) return out('No NCRs');
      for (const n of list) out(`${n.number}  #${n.id}  ${n.state.toUpperCase()}  ${n.subjectKind}  ${n.title}  (${iso(n.createdAt)} by ${n.createdBy})`);
    });
  ncr
    .command('show')
    .description('One NCR with its units (and their status), rework and dispositions')
    .argument('<id>', 'the NCR id (the number after # in `ncr list`)')
    .option('--json', 'print the NCR as JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const n = await ctx.run((q) => q.getNcr(positiveInt(id, 'id')));
      if (o.json) return out(JSON.stringify(n, null, 2));
      out(`${n.number}  ${n.title}  ${n.state.toUpperCase()}${n.closedAt ? ` (closed ${iso(n.closedAt)} by ${n.closedBy})` : ''}`);
      out(`  subject: ${n.subjectKind}; created ${iso(n.createdAt)} by ${n.createdBy}`);
      for (const [label, text] of [['description', n.description], ['containment', n.containment], ['root cause', n.rootCause], ['corrective action', n.correctiveAction], ['repair instructions', n.repairInstructions]] as const) {
        if (text) out(`  ${label}: ${text}`);
      }
      out(`  units (${n.units.length}):`);
      for (const u of n.units) out(`    ${u.serial}  ${u.status}  (unit ${u.unitStatus}, linked ${iso(u.linkedAt)})`);
      out(`  rework actions: ${n.rework.length}; dispositions: ${n.dispositions.length}`);
    });

  quality
    .command('alerts')
    .description('Alerts fired by the quality rules, newest first, with what fired them')
    .addOption(new Option('--state <state>', 'only alerts in this state').choices(['open', 'acknowledged', 'closed']))
    .option('--work-order <id>', 'only alerts of this work order (id)')
    .option('--rule <id>', 'only alerts of this rule (id)')
    .option('--limit <n>', 'at most n alerts (≤ 1000)', '100')
    .option('--json', 'print the alerts as JSON (with their evidence)')
    .action(async (o: { state?: 'open' | 'acknowledged' | 'closed'; workOrder?: string; rule?: string; limit: string; json?: boolean }) => {
      const alerts = await ctx.run((q) => q.listAlerts({
        state: o.state, workOrderId: o.workOrder === undefined ? undefined : positiveInt(o.workOrder, '--work-order'),
        ruleId: o.rule === undefined ? undefined : positiveInt(o.rule, '--rule'), limit: positiveInt(o.limit, '--limit'),
      }));
      if (o.json) return out(JSON.stringify(alerts, null, 2));
      if (alerts.length === 0) return out('No alerts');
      for (const a of alerts) {
        const actions = a.actionsTaken.map((t) => (t as { action?: string }).action).filter((x) => x && x !== 'alert');
        out(`#${a.id}  ${a.state.toUpperCase()}  ${iso(a.firedAt)}  ${a.ruleCode}  ${a.workOrderNumber ?? '-'}  ${a.message}${actions.length ? `  → ${actions.join(', ')}` : ''}`);
      }
    });

  return quality;
}
