import type { ReadingInput } from '../../../modules/equipment/index.ts';
import { CFX_INSPECTION_METHOD, CFX_TEST_METHOD, CFX_TEST_RESULT, type DefectInput, type MeasurementInput, type ResultInput } from '../../../modules/quality/index.ts';
import type { Defect, Measurement } from '../messages.ts';
import { measurementReadings } from './equipment.ts';
import { refusalOf } from './production.ts';
import { ApplyInOrder, applied, pending, recorded, rejected, type HandlerContext, type HandlerResult, type HandlerSpec, type Machine } from './types.ts';

/**
 * Inspection, test and repair results → the quality service (`recordResults`, the function
 * behind POST /api/v1/quality/results; `recordRework`), with the CFX vocabulary translated by
 * quality's own tables. Without a quality service the messages are kept as `recorded` and their
 * numeric measurements stored as readings.
 */

const m = (ctx: HandlerContext): Machine => ctx.machine!;
const QUALITY_PENDING = 'results and defects kept with the message: no quality service in this deployment';

function defects(list: Defect[], test: string | null = null): DefectInput[] {
  return list.map((d) => ({
    code: d.defectCode ?? 'UNSPECIFIED', category: d.defectCategory, refdes: d.componentOfInterest?.referenceDesignator ?? null, partNumber: d.componentOfInterest?.partNumber ?? null,
    imageRef: d.defectImages.find((i) => i.imageUrl)?.imageUrl ?? null, description: d.description, test, machineVerification: d.verification,
  }));
}

function measurements(list: Measurement[], test: string | null = null): MeasurementInput[] {
  const out: MeasurementInput[] = [];
  for (const x of list) {
    const name = x.measurementName ?? x.crds ?? 'measurement';
    const passed = x.result === null ? null : x.result === 'Passed';
    if (x.measuredValue) {
      const v = x.measuredValue;
      out.push({ name, test, value: v.value, unit: v.valueUnits, lowerLimit: v.minimumAcceptableValue, upperLimit: v.maximumAcceptableValue, nominal: v.expectedValue, passed });
    }
    for (const [k, v] of Object.entries(x.extra)) if (typeof v === 'number') out.push({ name: `${name}.${k}`, test, value: v, passed });
  }
  return out;
}

/** The unit a per-unit record names, or the unit its TransactionId's WorkStarted named. */
async function unitOf(ctx: HandlerContext, transactionId: string | null, unit: string | null): Promise<string | null> {
  if (unit) return unit;
  if (!transactionId) return null;
  return (await ctx.transactions.get(transactionId))?.identifiers[0] ?? null;
}

/**
 * Records the message's results with the quality service; the results of the other messages of
 * the same machine applied together with it go in the same call (HandlerContext.joint).
 */
async function record(ctx: HandlerContext, inputs: ResultInput[]): Promise<HandlerResult> {
  if (inputs.length === 0) return applied('no unit results in the message');
  const quality = ctx.deps.quality!;
  await ctx.joint(`quality.results:${ctx.principal.name}`, inputs, (all) => quality.recordResults(ctx.principal, all), async (r) => {
    if (r.ok) {
      // A rule put a work order or station on hold, or asked for a first article: passages of other
      // units must meet it exactly from this message on, so the batch is applied in order.
      const wide = r.value.alerts.some((a) => a.actions.some((x) => x !== 'alert'));
      if (wide && !ctx.inOrder) throw new ApplyInOrder(`quality rule ${r.value.alerts.map((a) => a.ruleCode).join(', ')} acted beyond the unit`);
      return applied();
    }
    const ref = refusalOf(r.error);
    if (!ref) throw r.error;
    return rejected(ref.code, ref.message, ref.errors ? { errors: ref.errors } : {});
  });
  return pending();
}

export const qualityHandlers = [
  {
    name: 'CFX.Production.TestAndInspection.UnitsInspected',
    async handle(ctx, b) {
      if (!ctx.deps.quality) {
        const rows: ReadingInput[] = [];
        for (const u of b.inspectedUnits) for (const i of u.inspections) rows.push(...measurementReadings(ctx, u.unitIdentifier, i.measurements, `${b.inspectionMethod}.`));
        await ctx.defer('readings', rows, ctx.deps.equipment.recordReadings);
        return recorded(`${QUALITY_PENDING}; ${rows.length} measurement(s) stored as readings`);
      }
      const inputs: ResultInput[] = [];
      for (const u of b.inspectedUnits) {
        const unit = await unitOf(ctx, b.transactionId, u.unitIdentifier);
        if (!unit) return rejected('CFX_NO_UNITS', 'an inspected unit has no UnitIdentifier and the TransactionId names none');
        inputs.push({
          equipment: m(ctx).equipmentCode, unit, position: u.unitPositionNumber, method: CFX_INSPECTION_METHOD[b.inspectionMethod] ?? 'other',
          programName: b.recipeName, programRevision: b.recipeRevision, operator: b.inspector?.operatorIdentifier ?? null, result: CFX_TEST_RESULT[u.overallResult] ?? 'error',
          completedAt: ctx.envelope.timeStamp, source: 'cfx', sourceId: ctx.envelope.uniqueId,
          defects: u.inspections.flatMap((i) => defects(i.defectsFound)), measurements: u.inspections.flatMap((i) => measurements(i.measurements)),
        });
      }
      return record(ctx, inputs);
    },
  } satisfies HandlerSpec<'CFX.Production.TestAndInspection.UnitsInspected'>,
  {
    name: 'CFX.Production.TestAndInspection.UnitsTested',
    async handle(ctx, b) {
      if (!ctx.deps.quality) {
        const rows: ReadingInput[] = [];
        for (const u of b.testedUnits) for (const t of u.tests) rows.push(...measurementReadings(ctx, u.unitIdentifier, t.measurements, `${b.testMethod}.`));
        await ctx.defer('readings', rows, ctx.deps.equipment.recordReadings);
        return recorded(`${QUALITY_PENDING}; ${rows.length} measurement(s) stored as readings`);
      }
      const inputs: ResultInput[] = [];
      for (const u of b.testedUnits) {
        const unit = await unitOf(ctx, b.transactionId, u.unitIdentifier);
        if (!unit) return rejected('CFX_NO_UNITS', 'a tested unit has no UnitIdentifier and the TransactionId names none');
        inputs.push({
          equipment: m(ctx).equipmentCode, unit, position: u.unitPositionNumber, method: CFX_TEST_METHOD[b.testMethod] ?? 'other',
          programName: b.recipeName, programRevision: b.recipeRevision, operator: b.tester?.operatorIdentifier ?? null, result: CFX_TEST_RESULT[u.overallResult] ?? 'error',
          completedAt: ctx.envelope.timeStamp, source: 'cfx', sourceId: ctx.envelope.uniqueId,
          defects: u.tests.flatMap((t) => defects(t.defectsFound, t.testName)), measurements: u.tests.flatMap((t) => measurements(t.measurements, t.testName)),
        });
      }
      return record(ctx, inputs);
    },
  } satisfies HandlerSpec<'CFX.Production.TestAndInspection.UnitsTested'>,
  {
    name: 'CFX.Production.ReworkAndRepair.UnitsRepaired',
    async handle(ctx, b) {
      const quality = ctx.deps.quality;
      if (!quality) return recorded(`repairs kept with the message: no quality service in this deployment (${b.repairedUnits.length} unit(s))`);
      for (const u of b.repairedUnits) {
        const serial = await unitOf(ctx, b.transactionId, u.unitIdentifier);
        if (!serial) return rejected('CFX_NO_UNITS', 'a repaired unit has no UnitIdentifier and the TransactionId names none');
        const repairs = u.repairs.length ? u.repairs : [{ repairName: `repair ${u.overallResult}`, componentOfInterest: null, comments: null }];
        for (const r of repairs) {
          try {
            await quality.recordRework(ctx.principal, {
              serial, action: r.repairName && r.repairName.length >= 3 ? r.repairName : `CFX repair ${r.repairName ?? ''}`.trim(), refdes: r.componentOfInterest?.referenceDesignator ?? null,
              stationId: m(ctx).stationId, operator: b.repairOperator?.operatorIdentifier ?? null, notes: r.comments ?? `CFX UnitsRepaired ${ctx.envelope.uniqueId}`,
            });
          } catch (e) {
            const ref = refusalOf(e, serial);
            if (!ref) throw e;
            return rejected(ref.code, ref.message, ref.errors ? { errors: ref.errors } : {});
          }
        }
      }
      return applied();
    },
  } satisfies HandlerSpec<'CFX.Production.ReworkAndRepair.UnitsRepaired'>,
];
