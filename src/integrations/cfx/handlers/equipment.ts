import type { E10, ReadingInput } from '../../../modules/equipment/index.ts';
import type { Fault, Measurement, Operator } from '../messages.ts';
import { applied, type HandlerContext, type HandlerSpec, type Machine } from './types.ts';

/**
 * Equipment messages → the equipment service: SEMI E10 states, faults, connectivity, recipes,
 * readings. None of them can be refused by a rule; they are facts a machine reports.
 */

const m = (ctx: HandlerContext): Machine => ctx.machine!;
const who = (op: Operator | null): string | null => op?.operatorIdentifier ?? op?.loginName ?? (op?.lastName ? `${op.firstName ?? ''} ${op.lastName}`.trim() : null);

async function fault(ctx: HandlerContext, f: Fault): Promise<void> {
  const mc = m(ctx);
  await ctx.deps.equipment.recordFaultOccurred(ctx.tx, {
    stationId: mc.stationId, equipmentId: mc.equipmentId, occurrenceId: f.faultOccurrenceId, code: f.faultCode, severity: f.severity, cause: f.cause,
    description: f.description, lane: f.lane, stage: f.stage?.stageName ?? null, kind: f.kind,
    details: Object.keys(f.extra).length || Object.keys(f.descriptionTranslations).length ? { ...f.extra, descriptionTranslations: f.descriptionTranslations } : null,
    occurredAt: f.occurredAt ?? ctx.envelope.timeStamp,
  });
}

/** Numeric measurements (NumericMeasurement, SPI measurements, …) as readings of the unit. */
export function measurementReadings(ctx: HandlerContext, unit: string | null, ms: Measurement[], prefix = ''): ReadingInput[] {
  const mc = m(ctx);
  const out: ReadingInput[] = [];
  for (const x of ms) {
    const base = `${prefix}${x.measurementName ?? x.crds ?? 'measurement'}`;
    const at = x.timeRecorded ?? ctx.envelope.timeStamp;
    const push = (name: string, value: number | null, unitName: string | null) => {
      if (value === null || !Number.isFinite(value)) return;
      out.push({ at, stationId: mc.stationId, equipmentId: mc.equipmentId, unitIdentifier: unit, name, value, textValue: null, unit: unitName, source: 'cfx', origin: ctx.envelope.uniqueId });
    };
    if (x.measuredValue) push(base, x.measuredValue.value, x.measuredValue.valueUnits);
    // Solder paste inspection (and similar) measurements carry their values as plain fields.
    for (const [k, v] of Object.entries(x.extra)) if (typeof v === 'number') push(`${base}.${k}`, v, null);
  }
  return out;
}

export const equipmentHandlers = [
  {
    name: 'CFX.ResourcePerformance.StationStateChanged',
    async handle(ctx, b) {
      const mc = m(ctx);
      if (b.relatedFault) await fault(ctx, b.relatedFault);
      await ctx.deps.equipment.recordStateChange(ctx.tx, {
        stationId: mc.stationId, equipmentId: mc.equipmentId, at: ctx.envelope.timeStamp,
        newState: { code: b.newState.code, e10: b.newState.e10 as E10 }, oldState: { code: b.oldState.code, e10: b.oldState.e10 as E10 },
        oldStateDurationMs: b.oldStateDurationMs,
        relatedFault: b.relatedFault ? { code: b.relatedFault.faultCode, occurrenceId: b.relatedFault.faultOccurrenceId } : null,
        messageId: ctx.envelope.uniqueId,
      });
      return applied();
    },
  } satisfies HandlerSpec<'CFX.ResourcePerformance.StationStateChanged'>,
  {
    name: 'CFX.ResourcePerformance.FaultOccurred',
    async handle(ctx, b) {
      await fault(ctx, b.fault);
      return applied();
    },
  } satisfies HandlerSpec<'CFX.ResourcePerformance.FaultOccurred'>,
  {
    name: 'CFX.ResourcePerformance.FaultCleared',
    async handle(ctx, b) {
      const mc = m(ctx);
      await ctx.deps.equipment.recordFaultEnd(ctx.tx, {
        stationId: mc.stationId, equipmentId: mc.equipmentId, occurrenceId: b.faultOccurrenceId, what: 'cleared', at: ctx.envelope.timeStamp, by: who(b.operator),
      });
      return applied();
    },
  } satisfies HandlerSpec<'CFX.ResourcePerformance.FaultCleared'>,
  {
    name: 'CFX.ResourcePerformance.FaultAcknowledged',
    async handle(ctx, b) {
      const mc = m(ctx);
      await ctx.deps.equipment.recordFaultEnd(ctx.tx, {
        stationId: mc.stationId, equipmentId: mc.equipmentId, occurrenceId: b.faultOccurrenceId, what: 'acknowledged', at: ctx.envelope.timeStamp, by: who(b.operator),
      });
      return applied();
    },
  } satisfies HandlerSpec<'CFX.ResourcePerformance.FaultAcknowledged'>,
  {
    name: 'CFX.ResourcePerformance.StationOnline',
    async handle(ctx) {
      await ctx.deps.equipment.recordConnectivity(ctx.tx, { equipmentId: m(ctx).equipmentId, at: ctx.envelope.timeStamp, online: true });
      return applied();
    },
  } satisfies HandlerSpec<'CFX.ResourcePerformance.StationOnline'>,
  {
    name: 'CFX.ResourcePerformance.StationOffline',
    async handle(ctx) {
      await ctx.deps.equipment.recordConnectivity(ctx.tx, { equipmentId: m(ctx).equipmentId, at: ctx.envelope.timeStamp, online: false });
      return applied();
    },
  } satisfies HandlerSpec<'CFX.ResourcePerformance.StationOffline'>,
  {
    name: 'CFX.Heartbeat',
    async handle(ctx, b) {
      await ctx.deps.equipment.recordConnectivity(ctx.tx, { equipmentId: m(ctx).equipmentId, at: ctx.envelope.timeStamp, heartbeatMs: b.heartbeatFrequencyMs });
      // Active faults a heartbeat lists are recorded too, so a lost FaultOccurred is recovered.
      for (const f of b.activeFaults) await fault(ctx, f);
      return applied();
    },
  } satisfies HandlerSpec<'CFX.Heartbeat'>,
  {
    name: 'CFX.EndpointConnected',
    async handle(ctx, b) {
      await ctx.deps.equipment.recordConnectivity(ctx.tx, {
        equipmentId: m(ctx).equipmentId, at: ctx.envelope.timeStamp, online: true, requestUri: b.requestNetworkUri, requestAddress: b.requestTargetAddress,
      });
      return applied();
    },
  } satisfies HandlerSpec<'CFX.EndpointConnected'>,
  {
    name: 'CFX.EndpointShuttingDown',
    async handle(ctx) {
      await ctx.deps.equipment.recordConnectivity(ctx.tx, { equipmentId: m(ctx).equipmentId, at: ctx.envelope.timeStamp, online: false });
      return applied();
    },
  } satisfies HandlerSpec<'CFX.EndpointShuttingDown'>,
  {
    name: 'CFX.Production.RecipeActivated',
    async handle(ctx, b) {
      const mc = m(ctx);
      await ctx.deps.equipment.recordRecipe(ctx.tx, {
        stationId: mc.stationId, equipmentId: mc.equipmentId, recipeName: b.recipeName, revision: b.revision, lane: b.lane, activatedAt: ctx.envelope.timeStamp,
        expectedCycleSeconds: b.expectedCycleTime, unitsPerTransaction: b.expectedUnitsPerWorkTransaction,
        workOrder: b.workOrderIdentifier?.workOrderId ?? null, messageId: ctx.envelope.uniqueId,
      });
      return applied();
    },
  } satisfies HandlerSpec<'CFX.Production.RecipeActivated'>,
  {
    name: 'CFX.Production.ReadingsRecorded',
    async handle(ctx, b) {
      const mc = m(ctx);
      const rows: ReadingInput[] = [];
      for (const r of b.readings) {
        const num = r.value !== null && r.value.trim() !== '' && Number.isFinite(Number(r.value)) && r.valueDataType !== 'String' ? Number(r.value) : null;
        const text = num === null ? (r.value ?? r.binaryValue) : null;
        if (num === null && text === null) continue;
        rows.push({
          at: r.timeRecorded ?? ctx.envelope.timeStamp, stationId: mc.stationId, equipmentId: mc.equipmentId, unitIdentifier: r.unitIdentifier,
          name: r.readingIdentifier ?? 'reading', value: num, textValue: text, unit: r.valueUnits, source: 'cfx', origin: ctx.envelope.uniqueId,
        });
      }
      await ctx.defer('readings', rows, ctx.deps.equipment.recordReadings);
      return applied(rows.length === b.readings.length ? undefined : `${rows.length} of ${b.readings.length} readings had a value`);
    },
  } satisfies HandlerSpec<'CFX.Production.ReadingsRecorded'>,
];
