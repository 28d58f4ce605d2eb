import { Type, type Static } from 'typebox';
import { STATION_TYPES } from '../factory/index.ts';
import { MSL_LEVELS } from '../parts/index.ts';
import { TRACE_PACKAGE_SECTIONS } from '../products/index.ts';
import { Enum } from '../../platform/schema.ts';

/**
 * The factory document: a whole factory's master data in one JSON or YAML file, referring to
 * records by their codes. Importing it is idempotent: records are created or updated by code.
 */
const Code = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' });
const StationType = Enum(STATION_TYPES);
const O = <T extends Parameters<typeof Type.Object>[0]>(p: T) => Type.Object(p, { additionalProperties: false });

export const FactoryDocument = O({
  sites: Type.Optional(Type.Array(O({ code: Code, name: Type.String({ minLength: 1 }), timezone: Type.Optional(Type.String()) }))),
  lines: Type.Optional(Type.Array(O({ code: Code, site: Code, name: Type.String({ minLength: 1 }) }))),
  stations: Type.Optional(Type.Array(O({ code: Code, line: Type.Optional(Code), name: Type.String({ minLength: 1 }), type: StationType, seq: Type.Optional(Type.Integer({ minimum: 0 })) }))),
  equipment: Type.Optional(
    Type.Array(
      O({
        code: Code, station: Code, name: Type.String({ minLength: 1 }), vendor: Type.Optional(Type.String()), model: Type.Optional(Type.String()),
        serialNumber: Type.Optional(Type.String()), cfxHandle: Type.Optional(Type.String({ pattern: '^[^\\s]+\\.[^\\s]+$' })), lanes: Type.Optional(Type.Integer({ minimum: 1, maximum: 8 })),
      }),
    ),
  ),
  parts: Type.Optional(
    Type.Array(
      O({
        ipn: Type.String({ minLength: 1, maxLength: 64 }), description: Type.Optional(Type.String()), package: Type.Optional(Type.String()),
        mslLevel: Type.Optional(Enum(MSL_LEVELS)), placed: Type.Optional(Type.Boolean()),
      }),
    ),
  ),
  avl: Type.Optional(
    Type.Array(
      O({
        ipn: Type.String({ minLength: 1 }), manufacturer: Type.String({ minLength: 1 }), mpn: Type.String({ minLength: 1 }), alternate: Type.Optional(Type.Boolean()),
        preference: Type.Optional(Type.Integer({ minimum: 1, maximum: 99 })), permitGlobally: Type.Optional(Type.String({ minLength: 3, description: 'Reason; grants a global alternate permission' })),
      }),
    ),
  ),
  products: Type.Optional(
    Type.Array(
      O({
        code: Code, name: Type.String({ minLength: 1 }), customer: Type.Optional(Type.String()),
        revisions: Type.Optional(
          Type.Array(
            O({
              revision: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$' }), bomRevision: Type.Optional(Type.String()), gerberRevision: Type.Optional(Type.String()),
              assemblyDrawingRevision: Type.Optional(Type.String()), centroidRevision: Type.Optional(Type.String()),
              bom: Type.Optional(
                Type.Array(
                  O({
                    line: Type.Integer({ minimum: 1 }), ipn: Type.String({ minLength: 1 }), quantity: Type.Number({ minimum: 0 }), refdes: Type.Optional(Type.Array(Type.String())),
                    side: Type.Optional(Type.Union([Type.Literal('top'), Type.Literal('bottom'), Type.Literal('both'), Type.Literal('none')])),
                    doNotPlace: Type.Optional(Type.Boolean()), placed: Type.Optional(Type.Boolean()), notes: Type.Optional(Type.String()),
                  }),
                ),
              ),
              route: Type.Optional(
                O({
                  name: Type.String({ minLength: 1 }),
                  steps: Type.Array(
                    O({
                      seq: Type.Integer({ minimum: 1 }), name: Type.String({ minLength: 1 }), stationType: StationType, station: Type.Optional(Code), required: Type.Optional(Type.Boolean()),
                      isRepair: Type.Optional(Type.Boolean()), onFail: Type.Optional(Type.Union([Type.Literal('repair'), Type.Literal('hold'), Type.Literal('scrap')])),
                      repairStepSeq: Type.Optional(Type.Integer()), returnStepSeq: Type.Optional(Type.Integer()), maxRepairLoops: Type.Optional(Type.Integer({ minimum: 0 })),
                      firstArticleGate: Type.Optional(Type.Boolean()), samplingRate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
                      instructions: Type.Optional(Type.String()), checks: Type.Optional(Type.Array(O({ code: Type.String(), text: Type.String(), signoff: Type.Optional(Type.Boolean()) }))),
                    }),
                  ),
                }),
              ),
              programs: Type.Optional(
                Type.Array(
                  O({
                    name: Type.String({ minLength: 1 }), revision: Type.String({ minLength: 1 }), kind: Type.String({ minLength: 1 }), stationType: StationType,
                    station: Type.Optional(Code), equipment: Type.Optional(Code), checksum: Type.Optional(Type.String()),
                    parameterRanges: Type.Optional(Type.Array(O({ name: Type.String(), unit: Type.Optional(Type.String()), min: Type.Optional(Type.Number()), max: Type.Optional(Type.Number()) }))),
                    slots: Type.Optional(Type.Array(O({ slot: Type.String({ minLength: 1 }), ipn: Type.String({ minLength: 1 }), refdes: Type.Optional(Type.Array(Type.String())) }))),
                    release: Type.Optional(Type.Boolean()),
                  }),
                ),
              ),
              qualityPlan: Type.Optional(
                O({
                  requiredSteps: Type.Optional(Type.Array(StationType)), traceDepth: Type.Optional(Type.Union([Type.Literal('lot'), Type.Literal('panel'), Type.Literal('unit')])),
                  materialLevel: Type.Optional(Enum(['M1', 'M2', 'M3', 'M4'] as const)),
                  processLevel: Type.Optional(Enum(['P1', 'P2', 'P3', 'P4'] as const)),
                  acceptanceClass: Type.Optional(Type.Integer({ minimum: 1, maximum: 3 })), mixedLotsAllowed: Type.Optional(Type.Boolean()),
                  tracePackage: Type.Optional(Type.Array(Enum(TRACE_PACKAGE_SECTIONS))), notes: Type.Optional(Type.String()),
                }),
              ),
              release: Type.Optional(Type.Boolean({ description: 'Release the revision after import' })),
            }),
          ),
        ),
      }),
    ),
  ),
});
export type FactoryDocument = Static<typeof FactoryDocument>;
