import crypto from 'node:crypto';
import { CFX_VERSION, type CfxOutgoingEnvelope } from '../cfx/codec.ts';

/**
 * A simulated SMT line speaking IPC-CFX: boards with serials pass every station of their route
 * in order (arrived, work started, station work, work completed, departed), pipelined so that
 * several boards are on the line at once. Around them: machines connecting and sending
 * heartbeats, recipes activated, SEMI E10 state changes, faults and their clearing, feeder
 * loading with the packages received for the program's slots, MSD openings, reel depletion
 * with splices, components installed by reference designator, SPI measurements, AOI defects
 * and false calls, test failures, repairs and retests.
 *
 * Pure message generation: `LineSimulator.tick()` returns the envelopes of one step of the
 * line; the runner (index.ts) paces them and hands them to a transport. A seeded PRNG makes a
 * run reproducible.
 */

export interface SimStation {
  code: string;
  type: string;
  /** The CFX handle of the station's machine. */
  handle: string;
  /** Recipe (program) the machine runs, if any. */
  program: { name: string; revision: string } | null;
  /** Placement machines: the slots of their program with the parts and reference designators. */
  slots: { slot: string; ipn: string; refdes: string[]; packages: { code: string; quantity: number; msl: string }[] }[];
}

export interface LinePlan {
  /** Production stations in route order (route step order), and the repair station. */
  route: { seq: number; station: SimStation; onFail: 'repair' | 'hold' | 'scrap' | null; returnStepSeq: number | null; firstArticleGate?: boolean }[];
  repair: SimStation | null;
  /** Serials of the units to build, in order. */
  serials: string[];
}

export interface SimOptions {
  seed?: number;
  /** Chance that AOI finds a real defect (the board goes to repair and back). */
  aoiDefectRate?: number;
  /** Chance that AOI flags a defect the operator rejects (false call, the board passes). */
  falseCallRate?: number;
  /** Chance that ICT / FCT fail a board (repair, retest). */
  testFailRate?: number;
  /** Chance per board and station that the machine faults (unscheduled downtime until the next board). */
  faultRate?: number;
  /** Heartbeat period per machine, in ticks (0 = none). */
  heartbeatTicks?: number;
}

interface Board {
  serial: string;
  /** Index into plan.route of the station it is at (or goes to next). */
  step: number;
  /** At the repair station, returning to this route index afterwards. */
  repairReturn: number | null;
  defects: { refdes: string; code: string }[];
  /** Repaired boards pass their retest (the repair loop is bounded by the route). */
  repaired: boolean;
  done: boolean;
}

const SPI_PADS = ['R1', 'R2', 'C1', 'C2', 'U1', 'U2'];

/** Mulberry32: small, fast, seedable. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class LineSimulator {
  private readonly rnd: () => number;
  private readonly opts: Required<SimOptions>;
  private readonly boards: Board[] = [];
  private nextSerial = 0;
  private ticks = 0;
  private started = false;
  /** Feeder state per placement station and slot: the package feeding and the spares. */
  private readonly feeders = new Map<string, { feeding: { code: string; left: number }; spares: { code: string; quantity: number }[] }>();
  private readonly faulted = new Map<string, { id: string; code: string }>();
  /** First articles that passed a gated step and wait for the inspector's approval (see runSimulation). */
  readonly firstArticlesDue: { serial: string; seq: number }[] = [];
  /** Boards finished (packed) so far. */
  completed = 0;
  messages = 0;

  constructor(readonly plan: LinePlan, opts: SimOptions = {}) {
    this.opts = {
      seed: opts.seed ?? 42, aoiDefectRate: opts.aoiDefectRate ?? 0.05, falseCallRate: opts.falseCallRate ?? 0.08, testFailRate: opts.testFailRate ?? 0.02,
      faultRate: opts.faultRate ?? 0.004, heartbeatTicks: opts.heartbeatTicks ?? 60,
    };
    this.rnd = prng(this.opts.seed);
  }

  get finished(): boolean {
    return this.started && this.nextSerial >= this.plan.serials.length && this.boards.length === 0;
  }

  private stations(): SimStation[] {
    return [...this.plan.route.map((r) => r.station), ...(this.plan.repair ? [this.plan.repair] : [])];
  }

  private env(station: SimStation, messageName: string, body: Record<string, unknown>): CfxOutgoingEnvelope {
    this.messages++;
    return { messageName, version: CFX_VERSION, timeStamp: new Date(), uniqueId: crypto.randomUUID(), source: station.handle, target: null, body: { ...body } };
  }

  /** Machines come online, activate their recipes, load their feeders (opening moisture-sensitive reels first). */
  startup(): CfxOutgoingEnvelope[] {
    const out: CfxOutgoingEnvelope[] = [];
    for (const st of this.stations()) {
      out.push(this.env(st, 'CFX.EndpointConnected', { CFXHandle: st.handle, RequestNetworkUri: null, RequestTargetAddress: null }));
      out.push(this.env(st, 'CFX.ResourcePerformance.StationOnline', { OfflineDuration: '00:10:00' }));
      if (st.program) {
        out.push(this.env(st, 'CFX.Production.RecipeActivated', { RecipeName: st.program.name, Revision: st.program.revision, ExpectedCycleTime: this.cycleOf(st), Lane: 1 }));
      }
      const msd = st.slots.flatMap((s) => s.packages.slice(0, 1)).filter((p) => p.msl !== '1');
      if (msd.length) {
        out.push(this.env(st, 'CFX.Materials.Management.MSDManagement.MaterialsOpened', {
          Materials: msd.map((p) => ({ UniqueIdentifier: p.code, MaterialData: { $type: 'CFX.Structures.MaterialPackageMSDData, CFX', MSDState: 'Exposed' } })),
        }));
      }
      if (st.slots.length) {
        out.push(this.env(st, 'CFX.Materials.Storage.MaterialsLoaded', {
          Materials: st.slots.map((s) => ({
            LocationName: s.slot,
            MaterialPackage: { UniqueIdentifier: s.packages[0]!.code, InternalPartNumber: s.ipn, Quantity: s.packages[0]!.quantity },
            CarrierInformation: { $type: 'CFX.Structures.SMTPlacement.SMDTapeFeeder, CFX', UniqueIdentifier: `FDR-${st.code}-${s.slot}`, Name: s.slot },
          })),
        }));
        for (const s of st.slots) {
          this.feeders.set(`${st.code}:${s.slot}`, { feeding: { code: s.packages[0]!.code, left: s.packages[0]!.quantity }, spares: s.packages.slice(1) });
        }
      }
      out.push(this.env(st, 'CFX.ResourcePerformance.StationStateChanged', { OldState: 2200, OldStateDuration: '00:05:00', NewState: 1100 }));
    }
    this.started = true;
    return out;
  }

  private cycleOf(st: SimStation): number {
    return { marking: 12, printer: 20, spi: 18, placement: 28, reflow: 30, aoi: 22, ict: 35, fct: 40, packing: 10, rework: 120 }[st.type] ?? 20;
  }

  /** One step of the line: every board on it moves one station on; a new board enters. */
  tick(): CfxOutgoingEnvelope[] {
    const out: CfxOutgoingEnvelope[] = [];
    if (!this.started) out.push(...this.startup());
    this.ticks++;
    // Boards furthest down the line first, so a station is free before the next board arrives.
    for (const b of [...this.boards].sort((x, y) => y.step - x.step)) out.push(...this.advance(b));
    for (let i = this.boards.length - 1; i >= 0; i--) if (this.boards[i]!.done) this.boards.splice(i, 1);
    if (this.nextSerial < this.plan.serials.length) {
      const b: Board = { serial: this.plan.serials[this.nextSerial++]!, step: 0, repairReturn: null, defects: [], repaired: false, done: false };
      this.boards.push(b);
      out.push(...this.advance(b));
    }
    if (this.opts.heartbeatTicks > 0 && this.ticks % this.opts.heartbeatTicks === 0) {
      for (const st of this.stations()) {
        const f = this.faulted.get(st.code);
        out.push(this.env(st, 'CFX.Heartbeat', {
          CFXHandle: st.handle, HeartbeatFrequency: '00:01:00', ActiveRecipes: [],
          ActiveFaults: f ? [{ FaultCode: f.code, FaultOccurrenceId: f.id, Severity: 'Error', Cause: 'MechanicalFailure' }] : [],
        }));
      }
    }
    return out;
  }

  /** The board's visit of its current station, and the choice of the next. */
  private advance(b: Board): CfxOutgoingEnvelope[] {
    const atRepair = b.repairReturn !== null;
    const stepDef = atRepair ? null : this.plan.route[b.step]!;
    const st = atRepair ? this.plan.repair! : stepDef!.station;
    const out: CfxOutgoingEnvelope[] = [];
    const units = { PrimaryIdentifier: b.serial, HermesIdentifier: null, Units: [{ UnitIdentifier: b.serial, PositionNumber: 1, PositionName: 'CIRCUIT1' }] };
    const tid = crypto.randomUUID();
    // A fault that happened at the previous board ends now.
    const fault = this.faulted.get(st.code);
    if (fault) {
      out.push(this.env(st, 'CFX.ResourcePerformance.FaultCleared', { FaultOccurrenceId: fault.id, Operator: { OperatorIdentifier: 'tech-1', ActorType: 'Human' } }));
      out.push(this.env(st, 'CFX.ResourcePerformance.StationStateChanged', { OldState: 5300, OldStateDuration: '00:02:00', NewState: 1100 }));
      this.faulted.delete(st.code);
    }
    out.push(this.env(st, 'CFX.Production.UnitsArrived', { ...units, Lane: 1 }));
    out.push(this.env(st, 'CFX.Production.WorkStarted', { TransactionID: tid, ...units, Lane: 1, ...(st.program ? { RecipeName: st.program.name, Revision: st.program.revision } : {}) }));
    let failed = false;
    // The first board is the first article: it passes. Repaired boards pass their retest.
    const first = b.serial === this.plan.serials[0] || b.repaired;
    switch (atRepair ? 'rework' : st.type) {
      case 'marking':
        out.push(this.env(st, 'CFX.Sensor.Identification.IdentifiersRead', units));
        break;
      case 'spi':
        out.push(this.env(st, 'CFX.Production.TestAndInspection.UnitsInspected', {
          TransactionId: tid, InspectionMethod: 'SPI', RecipeName: st.program?.name ?? null,
          InspectedUnits: [{
            UnitIdentifier: b.serial, UnitPositionNumber: 1, OverallResult: 'Passed',
            Inspections: [{
              InspectionName: 'Paste', Result: 'Passed', DefectsFound: [],
              Measurements: SPI_PADS.map((pad) => ({
                $type: 'CFX.Structures.SolderPasteInspection.SolderPasteMeasurement, CFX', MeasurementName: pad, CRDs: pad, Result: 'Passed',
                Volume: round(0.9 + this.rnd() * 0.25, 3), Height: round(110 + this.rnd() * 30, 1), Area: round(0.45 + this.rnd() * 0.1, 3),
                X: round((this.rnd() - 0.5) * 0.04, 4), Y: round((this.rnd() - 0.5) * 0.04, 4),
              })),
            }],
          }],
        }));
        break;
      case 'placement':
        out.push(...this.place(st, b, tid));
        break;
      case 'reflow':
        out.push(this.env(st, 'CFX.Production.ReadingsRecorded', {
          TransactionId: tid,
          Readings: Array.from({ length: 10 }, (_, z) => ({
            ReadingIdentifier: `Zone${z + 1}Temp`, UnitIdentifier: b.serial, ValueDataType: 'Numeric', ValueUnits: 'C',
            Value: String(round([150, 160, 170, 180, 190, 200, 225, 245, 240, 200][z]! + (this.rnd() - 0.5) * 4, 1)),
          })),
        }));
        break;
      case 'aoi': {
        const real = !first && this.rnd() < this.opts.aoiDefectRate;
        const falseCall = !real && this.rnd() < this.opts.falseCallRate;
        const refdes = this.someRefdes();
        if (real) b.defects = [{ refdes, code: this.rnd() < 0.5 ? 'TOMBSTONE' : 'INSUFFICIENT_SOLDER' }];
        const defects = [...b.defects.map((d) => ({ ...d, verification: 'DefectConfirmed' })), ...(falseCall ? [{ refdes, code: 'MISSING_COMPONENT', verification: 'DefectRejected' }] : [])];
        out.push(this.env(st, 'CFX.Production.TestAndInspection.UnitsInspected', {
          TransactionId: tid, InspectionMethod: 'AOI', RecipeName: st.program?.name ?? null,
          InspectedUnits: [{
            UnitIdentifier: b.serial, UnitPositionNumber: 1, OverallResult: real ? 'Failed' : 'Passed',
            Inspections: [{
              InspectionName: 'Full board', Result: real ? 'Failed' : 'Passed', Measurements: [],
              DefectsFound: defects.map((d) => ({
                DefectCode: d.code, DefectCategory: 'Solder', Description: d.code.toLowerCase().replace(/_/g, ' '), Verification: d.verification,
                ComponentOfInterest: { ReferenceDesignator: d.refdes },
              })),
            }],
          }],
        }));
        failed = real;
        break;
      }
      case 'ict':
      case 'fct': {
        const fail = !first && this.rnd() < this.opts.testFailRate;
        const method = st.type === 'ict' ? 'ICT' : 'FCT';
        out.push(this.env(st, 'CFX.Production.TestAndInspection.UnitsTested', {
          TransactionId: tid, TestMethod: method, RecipeName: st.program?.name ?? null,
          TestedUnits: [{
            UnitIdentifier: b.serial, UnitPositionNumber: 1, OverallResult: fail ? 'Failed' : 'Passed',
            Tests: [{
              TestName: method === 'ICT' ? 'R47' : 'Supply3V3', Result: fail ? 'Failed' : 'Passed',
              Measurements: [{
                $type: 'CFX.Structures.NumericMeasurement, CFX', MeasurementName: method === 'ICT' ? 'R47' : 'Supply3V3', Result: fail ? 'Failed' : 'Passed',
                MeasuredValue: method === 'ICT'
                  ? { Value: round(fail ? 12.9 : 10 + (this.rnd() - 0.5) * 0.2, 3), ValueUnits: 'kOhm', ExpectedValue: 10, MinimumAcceptableValue: 9.5, MaximumAcceptableValue: 10.5 }
                  : { Value: round(fail ? 3.05 : 3.3 + (this.rnd() - 0.5) * 0.04, 3), ValueUnits: 'V', ExpectedValue: 3.3, MinimumAcceptableValue: 3.2, MaximumAcceptableValue: 3.4 },
              }],
            }],
          }],
        }));
        if (fail) b.defects = [{ refdes: this.someRefdes(), code: method === 'ICT' ? 'WRONG_VALUE' : 'NO_POWER' }];
        failed = fail;
        break;
      }
      case 'rework':
        out.push(this.env(st, 'CFX.Production.ReworkAndRepair.UnitsRepaired', {
          TransactionId: tid,
          RepairOperator: { OperatorIdentifier: 'rework-1', ActorType: 'Human' },
          RepairedUnits: [{
            UnitIdentifier: b.serial, UnitPositionNumber: 1, OverallResult: 'RepairSuccessful',
            Repairs: b.defects.map((d) => ({ RepairName: `Rework ${d.refdes}`, ComponentOfInterest: { ReferenceDesignator: d.refdes }, Result: 'RepairSuccessful' })),
          }],
        }));
        b.defects = [];
        b.repaired = true;
        break;
    }
    out.push(this.env(st, 'CFX.Production.WorkCompleted', { TransactionID: tid, Result: failed ? 'Failed' : 'Completed', ...units, Units: [{ ...units.Units[0], Status: failed ? 'Fail' : 'Pass' }] }));
    out.push(this.env(st, 'CFX.Production.UnitsDeparted', { ...units, Lane: 1 }));
    // A machine breaks down now and then: unscheduled downtime until the next board.
    if (!atRepair && this.rnd() < this.opts.faultRate && !this.faulted.has(st.code)) {
      const f = { id: crypto.randomUUID(), code: ['E101', 'E205', 'E330'][Math.floor(this.rnd() * 3)]! };
      this.faulted.set(st.code, f);
      const fault = { FaultCode: f.code, FaultOccurrenceId: f.id, Severity: 'Error', Cause: 'MechanicalFailure', Description: 'Conveyor jam', OccurredAt: new Date().toISOString() };
      out.push(this.env(st, 'CFX.ResourcePerformance.FaultOccurred', { Fault: fault }));
      out.push(this.env(st, 'CFX.ResourcePerformance.StationStateChanged', { OldState: 1100, OldStateDuration: '00:30:00', NewState: 5300, RelatedFault: fault }));
    }
    if (!atRepair && !failed && stepDef!.firstArticleGate && b.serial === this.plan.serials[0]) this.firstArticlesDue.push({ serial: b.serial, seq: stepDef!.seq });
    // Where the board goes next.
    if (atRepair) {
      b.step = b.repairReturn!;
      b.repairReturn = null;
    } else if (failed && stepDef!.onFail === 'repair' && this.plan.repair) {
      const back = this.plan.route.findIndex((r) => r.seq === (stepDef!.returnStepSeq ?? stepDef!.seq));
      b.repairReturn = back >= 0 ? back : b.step;
    } else if (b.step + 1 >= this.plan.route.length) {
      b.done = true;
      this.completed++;
    } else {
      b.step++;
    }
    return out;
  }

  /** Components placed by reference designator from the feeding packages; reels deplete and are spliced. */
  private place(st: SimStation, b: Board, tid: string): CfxOutgoingEnvelope[] {
    const out: CfxOutgoingEnvelope[] = [];
    const installed = [];
    for (const s of st.slots) {
      const key = `${st.code}:${s.slot}`;
      const f = this.feeders.get(key);
      if (!f || s.refdes.length === 0) continue;
      installed.push({
        UnitIdentifier: b.serial, UnitPositionNumber: 1, QuantityInstalled: s.refdes.length,
        Material: { UniqueIdentifier: f.feeding.code, InternalPartNumber: s.ipn },
        CarrierLocation: { LocationName: s.slot, CarrierInformation: { $type: 'CFX.Structures.SMTPlacement.SMDTapeFeeder, CFX', UniqueIdentifier: `FDR-${st.code}-${s.slot}` } },
        InstalledComponents: s.refdes.map((r) => ({ ReferenceDesignator: r })),
      });
      f.feeding.left -= s.refdes.length;
      if (f.feeding.left < s.refdes.length) {
        const spare = f.spares.shift();
        const depleted = { LocationName: s.slot, MaterialPackage: { UniqueIdentifier: f.feeding.code, InternalPartNumber: s.ipn, Quantity: Math.max(f.feeding.left, 0) } };
        if (spare) {
          out.push(this.env(st, 'CFX.Materials.Storage.SplicePointDetected', {
            DepletedMaterial: depleted,
            NewlyActiveMaterial: { LocationName: s.slot, MaterialPackage: { UniqueIdentifier: spare.code, InternalPartNumber: s.ipn, Quantity: spare.quantity } },
          }));
          f.feeding = { code: spare.code, left: spare.quantity };
        } else {
          out.push(this.env(st, 'CFX.Materials.Storage.MaterialsEmpty', { EmptyMaterials: [depleted] }));
          f.feeding.left = Number.POSITIVE_INFINITY; // keeps placing: a real line would stop here
        }
      }
    }
    out.push(this.env(st, 'CFX.Production.Assembly.MaterialsInstalled', { TransactionId: tid, InstalledMaterials: installed }));
    return out;
  }

  private someRefdes(): string {
    const all = this.plan.route.flatMap((r) => r.station.slots.flatMap((s) => s.refdes));
    return all.length ? all[Math.floor(this.rnd() * all.length)]! : 'R1';
  }
}

const round = (v: number, d: number) => Math.round(v * 10 ** d) / 10 ** d;
