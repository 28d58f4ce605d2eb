import { makeResponse, CFX_VERSION } from '../codec.ts';
import type { Verdict } from '../../../modules/tracking/index.ts';
import { isRejection, resolveProgram } from './materials.ts';
import { refusalOf } from './production.ts';
import type { HandlerContext, HandlerResult, HandlerSpec } from './types.ts';

/**
 * Requests the MES answers. Every answer carries a CFX `RequestResult` / `Result`
 * {Result, ResultCode, Message}; for ValidateUnitsRequest each unit's `FailureCode` is the stable
 * integer of the interlock reason (tracking's reason table, GET /api/v1/tracking/reasons), and
 * the codes below for what is not the interlock's to decide. GET /api/v1/cfx/failure-codes
 * lists them all.
 */

/** FailureCodes / ResultCodes of the CFX door itself (9000–9199; tracking uses 1000–1999, materials loading 1–99). */
export const CFX_FAILURE_CODES = {
  ENDPOINT_NOT_REGISTERED: { number: 9001, title: "The requester's CFX handle is not registered as the handle of any equipment" },
  NO_IDENTIFIER: { number: 9002, title: 'The request names no unit or carrier' },
  SERVICE_UNAVAILABLE: { number: 9003, title: 'The MES service this request needs is not available in this deployment' },
  NO_PROGRAM: { number: 9101, title: 'No program is known for the machine (no active work order program, no matching active recipe)' },
  SLOT_NOT_LOADED: { number: 9102, title: 'A required setup position has no verified material loaded' },
  PART_MISMATCH: { number: 9103, title: 'A setup position holds another part than required' },
} as const;
export type CfxFailureCode = keyof typeof CFX_FAILURE_CODES;

const ok = { Result: 'Success', ResultCode: 0, Message: null };
const failed = (code: CfxFailureCode, message: string) => ({ Result: 'Failed', ResultCode: CFX_FAILURE_CODES[code].number, Message: message });
const answer = (ctx: HandlerContext, name: string, body: Record<string, unknown>, detail?: string): HandlerResult => ({
  outcome: 'answered',
  response: makeResponse(ctx.envelope, name, body, ctx.handle),
  ...(detail ? { detail } : {}),
});

const self = (ctx: HandlerContext) => ({ CFXHandle: ctx.handle, RequestNetworkUri: ctx.endpoint.requestUri, RequestTargetAddress: ctx.handle });

function unitResult(v: Verdict) {
  return v.units.map((u) => ({
    UniqueIdentifier: u.serial,
    PositionNumber: u.position ?? 0,
    Result: u.result === 'passed' ? 'Passed' : u.result === 'skipped' ? 'Skipped' : 'Failed',
    FailureCode: u.refusals[0]?.number ?? 0,
    Message: u.refusals.length ? u.refusals.map((r) => r.message).join('; ') : 'OK',
  }));
}

export const requestHandlers = [
  {
    name: 'CFX.AreYouThereRequest',
    handle: async (ctx) => answer(ctx, 'CFX.AreYouThereResponse', { Result: ok, ...self(ctx) }),
  } satisfies HandlerSpec<'CFX.AreYouThereRequest'>,
  {
    name: 'CFX.WhoIsThereRequest',
    handle: async (ctx) => answer(ctx, 'CFX.WhoIsThereResponse', { Result: ok, ...self(ctx) }),
  } satisfies HandlerSpec<'CFX.WhoIsThereRequest'>,
  {
    name: 'CFX.GetEndpointInformationRequest',
    handle: async (ctx) =>
      answer(ctx, 'CFX.GetEndpointInformationResponse', {
        Result: ok,
        EndpointInformation: {
          ...self(ctx), CFXVersion: CFX_VERSION, FriendlyName: 'SMT MES', Vendor: 'smt-mes (open source)', ModelNumber: 'MES', SoftwareVersion: ctx.endpoint.version,
          SupportedTopics: [
            { TopicName: 'CFX.Production', TopicSupportType: 'Consumer', SupportedMessages: [] },
            { TopicName: 'CFX.Materials', TopicSupportType: 'Consumer', SupportedMessages: [] },
            { TopicName: 'CFX.ResourcePerformance', TopicSupportType: 'Consumer', SupportedMessages: [] },
            { TopicName: 'CFX.InformationSystem.UnitValidation', TopicSupportType: 'Consumer', SupportedMessages: [] },
          ],
        },
      }),
  } satisfies HandlerSpec<'CFX.GetEndpointInformationRequest'>,
  {
    name: 'CFX.InformationSystem.UnitValidation.ValidateUnitsRequest',
    async handle(ctx, b) {
      const name = 'CFX.InformationSystem.UnitValidation.ValidateUnitsResponse';
      const primaryId = b.primaryIdentifier ?? b.units[0]?.unitIdentifier ?? '';
      const refuse = (code: CfxFailureCode, message: string) =>
        answer(ctx, name, {
          Result: failed(code, message),
          PrimaryResult: { UniqueIdentifier: primaryId, PositionNumber: 0, Result: 'Failed', FailureCode: CFX_FAILURE_CODES[code].number, Message: message },
          ValidationResults: [],
        }, `refused: ${code}`);
      if (!ctx.machine) return refuse('ENDPOINT_NOT_REGISTERED', `handle ${ctx.envelope.source ?? '(none)'} is not registered to any equipment`);
      const tracking = ctx.deps.tracking;
      if (!tracking) return refuse('SERVICE_UNAVAILABLE', 'unit tracking is not available');
      const recipe = await ctx.activeRecipe(ctx.machine.equipmentId, new Date());
      const validate = (identifier: string) =>
        tracking.validate(ctx.principal, { equipment: ctx.machine!.equipmentCode, identifier, programName: recipe?.recipeName ?? null, programRevision: recipe?.revision ?? null });
      let verdicts: Verdict[];
      try {
        if (b.primaryIdentifier) {
          const v = await validate(b.primaryIdentifier);
          // A carrier barcode unknown to the MES: judge the units it carries one by one.
          verdicts = [v];
          if (v.kind === 'unknown' && b.units.length) {
            verdicts = [];
            for (const u of b.units) verdicts.push(await validate(u.unitIdentifier));
          }
        } else {
          verdicts = [];
          for (const u of b.units) verdicts.push(await validate(u.unitIdentifier));
        }
      } catch (e) {
        const r = refusalOf(e);
        if (!r) throw e;
        return refuse('NO_IDENTIFIER', r.message);
      }
      const results = verdicts.flatMap(unitResult);
      const active = results.filter((r) => r.Result !== 'Skipped');
      const passed = active.filter((r) => r.Result === 'Passed').length;
      const all = active.length > 0 && passed === active.length;
      const first = verdicts.find((v) => v.primary)?.primary ?? null;
      const verdictResult = all ? 'Success' : passed > 0 ? 'PartialSuccess' : 'Failed';
      return answer(
        ctx,
        name,
        {
          Result: { Result: verdictResult, ResultCode: first?.number ?? 0, Message: first?.message ?? null },
          PrimaryResult: { UniqueIdentifier: primaryId, PositionNumber: 0, Result: all ? 'Passed' : 'Failed', FailureCode: first?.number ?? 0, Message: first?.message ?? 'OK' },
          ValidationResults: results,
        },
        all ? 'go' : `no-go: ${first?.code ?? 'refused'}`,
      );
    },
  } satisfies HandlerSpec<'CFX.InformationSystem.UnitValidation.ValidateUnitsRequest'>,
  {
    name: 'CFX.Materials.Storage.ValidateStationSetupRequest',
    async handle(ctx, b) {
      const name = 'CFX.Materials.Storage.ValidateStationSetupResponse';
      if (!ctx.machine) return answer(ctx, name, { Result: failed('ENDPOINT_NOT_REGISTERED', `handle ${ctx.envelope.source ?? '(none)'} is not registered`) });
      const materials = ctx.deps.materials;
      if (!materials) return answer(ctx, name, { Result: failed('SERVICE_UNAVAILABLE', 'materials are not available') });
      const loaded = await materials.listSetups({ equipmentId: ctx.machine.equipmentId, active: true });
      const problems: { code: CfxFailureCode; message: string }[] = [];
      for (const req of b.setupRequirements.materialSetupRequirements) {
        if (!req.position) continue;
        const here = loaded.filter((s) => s.slot === req.position);
        if (here.length === 0) {
          problems.push({ code: 'SLOT_NOT_LOADED', message: `${req.position}: nothing verified loaded` });
          continue;
        }
        const okParts = new Set([req.partNumber, ...req.approvedAlternateParts].filter((x): x is string => !!x));
        const okMpns = new Set(req.approvedManufacturerParts);
        for (const s of here) {
          if (okParts.size && !okParts.has(s.ipn) && !okMpns.has(s.mpn)) problems.push({ code: 'PART_MISMATCH', message: `${req.position}: ${s.packageCode} is ${s.ipn} (${s.mpn}), required ${req.partNumber}` });
        }
      }
      const tools = b.setupRequirements.toolSetupRequirements.length ? ` (${b.setupRequirements.toolSetupRequirements.length} tool requirement(s) not checked: tools are not tracked)` : '';
      const result = problems.length
        ? { Result: 'Failed', ResultCode: CFX_FAILURE_CODES[problems[0]!.code].number, Message: problems.map((p) => p.message).join('; ') + tools }
        : { Result: 'Success', ResultCode: 0, Message: `SETUP OK${tools}` };
      return answer(ctx, name, { Result: result }, problems.length ? `setup not ok: ${problems.length} problem(s)` : 'setup ok');
    },
  } satisfies HandlerSpec<'CFX.Materials.Storage.ValidateStationSetupRequest'>,
  {
    name: 'CFX.Production.GetRequiredSetupRequest',
    async handle(ctx, b) {
      const name = 'CFX.Production.GetRequiredSetupResponse';
      if (!ctx.machine) return answer(ctx, name, { Result: failed('ENDPOINT_NOT_REGISTERED', `handle ${ctx.envelope.source ?? '(none)'} is not registered`) });
      const prog = await resolveProgram(ctx);
      if (isRejection(prog)) return answer(ctx, name, { Result: failed('NO_PROGRAM', prog.message) });
      const stage = b.stage ? { StageSequence: b.stage.stageSequence, StageName: b.stage.stageName, StageType: b.stage.stageType } : null;
      return answer(ctx, name, {
        Result: ok,
        RecipeName: prog.programName,
        RecipeRevision: prog.revision,
        Lane: b.lane,
        Stage: stage,
        SetupRequirements: {
          Lane: b.lane,
          Stage: stage,
          SetupName: `${prog.programName} rev ${prog.revision}`,
          MaterialSetupRequirements: prog.slots.map((s) => ({ Position: s.slot, PartNumber: s.ipn, ApprovedAlternateParts: [], ApprovedManufacturerParts: prog.mpns.get(s.partId) ?? [] })),
          ToolSetupRequirements: [],
        },
      });
    },
  } satisfies HandlerSpec<'CFX.Production.GetRequiredSetupRequest'>,
];
