import { useEffect, useState } from 'react';
import { api, http, isApiError, type Equipment, type Station } from '../../api.ts';
import type { ScreenProps } from '../../app/registry.ts';
import { ErrorPanel } from '../../components/ErrorPanel.tsx';
import { ScanInput } from '../../components/ScanInput.tsx';
import { Badge, Empty, Loading, PageHeader, Panel } from '../../components/ui.tsx';
import { Verdict, type VerdictProps } from '../../components/Verdict.tsx';
import { useQuery } from '../../hooks.ts';
import { navigate } from '../../router.tsx';
import { ACTIVE_WORK_ORDER_STATES, workOrdersApi } from '../production/api.ts';
import { floorApi, type BasisProgram, type BuildBasis, type LoadReason, type SetupStatus } from './api.ts';
import './floor.css';

const SCAN_ID = 'setup-scan';
const focusScan = () => setTimeout(() => document.getElementById(SCAN_ID)?.focus(), 0);

/** The programs of the build basis that run on this machine. */
function programsFor(basis: BuildBasis, eq: Equipment, station: Station | undefined): BasisProgram[] {
  return basis.programs.filter(
    (p) => p.slots.length > 0 && (p.equipmentId === eq.id || (p.equipmentId === null && (p.stationId === eq.stationId || (p.stationId === null && station && p.stationType === station.type)))),
  );
}

type SlotVerdict = { ok: boolean; message: string; code?: string; packageCode: string };
type Shown = VerdictProps & { seq: number };

/**
 * Setup verification: for the chosen machine and work order, the feeder setup its program needs
 * (from the frozen build basis), slot by slot. Scan the slot (and the feeder), then the reel: the
 * materials service verifies it against the program and the AVL and answers go or no-go with
 * its reason; the slot list and the completeness counter follow. Beside it the changeover
 * checklist: the program the machine reports, the stencil and the paste on the line's printer.
 */
export function SetupPage({ query }: ScreenProps) {
  const equipmentId = Number(query.get('equipment')) || null;
  const workOrderId = Number(query.get('wo')) || null;
  const meta = useQuery(async () => {
    const [equipment, stations, wos] = await Promise.all([api.equipment.list(), api.stations.list(), workOrdersApi.list({ states: ACTIVE_WORK_ORDER_STATES, limit: 5000 })]);
    return { equipment, stations, wos };
  }, []);
  const pick = (eq: number | null, wo: number | null) => navigate(`/floor/setup?${new URLSearchParams({ ...(eq ? { equipment: String(eq) } : {}), ...(wo ? { wo: String(wo) } : {}) })}`, { replace: true });
  const eq = meta.data?.equipment.find((e) => e.id === equipmentId);
  const station = meta.data?.stations.find((s) => s.id === eq?.stationId);
  const wos = (meta.data?.wos ?? []).filter((w) => !station?.lineId || w.lineId === station.lineId);
  return (
    <div className="setup-page">
      <PageHeader title="Setup verification" subtitle="Scan the slot, then its reel: every slot must be verified before placement starts." />
      <Panel>
        <div className="setup-pickers">
          <label className="field">
            <span className="field-label">Machine</span>
            <select value={equipmentId ?? ''} onChange={(e) => pick(Number(e.target.value) || null, workOrderId)} aria-label="Machine">
              <option value="">Choose a machine</option>
              {(meta.data?.equipment ?? []).map((e) => {
                const st = meta.data?.stations.find((s) => s.id === e.stationId);
                return (
                  <option key={e.id} value={e.id}>
                    {e.code} · {e.name}
                    {st ? ` (${st.code}, ${st.type})` : ''}
                  </option>
                );
              })}
            </select>
          </label>
          <label className="field">
            <span className="field-label">Work order</span>
            <select value={workOrderId ?? ''} onChange={(e) => pick(equipmentId, Number(e.target.value) || null)} aria-label="Work order">
              <option value="">Choose a work order</option>
              {wos.map((w) => (
                <option key={w.id} value={w.id}>
                  {w.number} · {w.productCode} rev {w.revision}
                  {w.activeOnLine ? ' (active)' : ''}
                </option>
              ))}
            </select>
          </label>
        </div>
        <ErrorPanel error={meta.error} />
      </Panel>
      {!meta.data ? <Loading /> : eq && workOrderId ? <SetupFor key={`${eq.id}-${workOrderId}`} eq={eq} station={station} stations={meta.data.stations} equipment={meta.data.equipment} workOrderId={workOrderId} /> : <Empty>Choose the machine and the work order to set up.</Empty>}
    </div>
  );
}

function SetupFor({ eq, station, stations, equipment, workOrderId }: { eq: Equipment; station: Station | undefined; stations: Station[]; equipment: Equipment[]; workOrderId: number }) {
  const basis = useQuery(async () => (await floorApi.basis(workOrderId)).basis ?? null, [workOrderId]);
  const [programId, setProgramId] = useState<number | null>(null);
  const programs = basis.data ? programsFor(basis.data, eq, station) : [];
  const program = programs.find((p) => p.id === programId) ?? programs[0] ?? null;
  const [status, setStatus] = useState<SetupStatus | null>(null);
  const [statusError, setStatusError] = useState<unknown>(null);
  const [slot, setSlot] = useState<string | null>(null);
  const [feeder, setFeeder] = useState<string | null>(null);
  const [shown, setShown] = useState<Shown | null>(null);
  const [bySlot, setBySlot] = useState<Record<string, SlotVerdict>>({});
  const show = (v: VerdictProps) => setShown((s) => ({ ...v, seq: (s?.seq ?? 0) + 1 }));

  const reload = async () => {
    if (!program) return;
    try {
      setStatus(await floorApi.setupStatus({ equipmentId: eq.id, programId: program.id, workOrderId }));
      setStatusError(null);
    } catch (e) {
      setStatusError(e);
    }
  };
  useEffect(() => {
    void reload();
  }, [program?.id]);

  if (basis.error) return <ErrorPanel error={basis.error} />;
  if (!basis.data) return basis.loading ? <Loading what="Loading the build basis" /> : <Empty>The work order has no frozen build basis yet (release it first).</Empty>;
  if (!program) return <Empty>The build basis of this work order has no feeder program for {eq.code}.</Empty>;

  const onScan = async (code: string) => {
    const slotNames = program.slots.map((s) => s.slot);
    if (!slot) {
      const hit = slotNames.find((s) => s.toLowerCase() === code.toLowerCase());
      const byFeeder = status?.slots.find((s) => s.feeding?.feederId === code);
      if (hit) {
        setSlot(hit);
        show({ kind: 'idle', title: `Slot ${hit}`, reason: `Needs ${program.slots.find((s) => s.slot === hit)!.ipn}. Scan the feeder (optional) or the reel.` });
      } else if (byFeeder) {
        setSlot(byFeeder.slot);
        setFeeder(code);
        show({ kind: 'idle', title: `Slot ${byFeeder.slot}`, reason: `Feeder ${code}. Now scan the reel for ${byFeeder.ipn}.` });
      } else {
        show({ kind: 'nogo', title: 'Not a slot', reason: `${code} is not a slot of program ${program.name}: scan the slot label first (${slotNames.slice(0, 4).join(', ')}…).`, code: 'SLOT_NOT_IN_PROGRAM' });
      }
      return;
    }
    // A scan after the slot: a package when one has this ID, otherwise the feeder.
    const known = await http.get<{ id: number }[]>('/packages', { code, includeFinished: true }).catch(() => []);
    if (known.length === 0 && !feeder) {
      setFeeder(code);
      show({ kind: 'idle', title: `Slot ${slot}`, reason: `Feeder ${code}. Now scan the reel.` });
      return;
    }
    try {
      const v = await floorApi.load({ equipmentId: eq.id, slot, feederId: feeder, packageCode: code, programId: program.id, workOrderId });
      const need = program.slots.find((s) => s.slot === slot);
      const msg = v.alreadyLoaded ? `${code} was already loaded in slot ${slot}: verified.` : `${code} verified for slot ${slot}${need ? ` (${need.ipn})` : ''}.`;
      setBySlot((m) => ({ ...m, [slot]: { ok: true, message: msg, packageCode: code } }));
      show({ kind: 'go', title: `Slot ${slot}: GO`, reason: msg });
    } catch (e) {
      const reasons = isApiError(e) ? ((e.details?.reasons as LoadReason[] | undefined) ?? []) : [];
      const first = reasons[0];
      const message = isApiError(e) ? e.detail : String(e);
      setBySlot((m) => ({ ...m, [slot]: { ok: false, message, ...(first ? { code: first.code } : isApiError(e) ? { code: e.code } : {}), packageCode: code } }));
      show({
        kind: 'nogo', title: `Slot ${slot}: NO GO`, reason: message, code: first?.code ?? (isApiError(e) ? e.code : 'ERROR'),
        ...(reasons.length > 1 ? { children: <ul className="verdict-reasons">{reasons.slice(1).map((r) => <li key={r.code}>{r.message} ({r.code})</li>)}</ul> } : {}),
      });
    } finally {
      setSlot(null);
      setFeeder(null);
      await reload();
    }
  };

  const total = program.slots.length;
  const verified = status?.counts.verified ?? 0;
  return (
    <div className="setup-grid">
      <div>
        {programs.length > 1 ? (
          <Panel>
            <label className="field">
              <span className="field-label">Program</span>
              <select value={program.id} onChange={(e) => setProgramId(Number(e.target.value))} aria-label="Program">
                {programs.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.name} rev {p.revision}
                  </option>
                ))}
              </select>
            </label>
          </Panel>
        ) : null}
        <Panel className="scan-panel">
          <div className="scan-steps" aria-label="Steps">
            <span className={`scan-step${slot ? ' scan-step-done' : ' scan-step-active'}`}>1 · Slot{slot ? `: ${slot}` : ''}</span>
            <span className={`scan-step${feeder ? ' scan-step-done' : ''}`}>2 · Feeder (optional){feeder ? `: ${feeder}` : ''}</span>
            <span className={`scan-step${slot ? ' scan-step-active' : ''}`}>3 · Reel</span>
          </div>
          <ScanInput id={SCAN_ID} label={slot ? `Scan the feeder or the reel for slot ${slot}` : 'Scan the slot'} onScan={onScan} />
        </Panel>
        {shown ? <Verdict {...shown} beep /> : <Verdict kind="idle" title="Ready" reason="Scan the first slot." />}
        <Panel
          title={`${program.name} rev ${program.revision} on ${eq.code}`}
          actions={
            <span className={`setup-counter ${status?.complete ? 'setup-counter-complete' : 'setup-counter-open'}`} data-testid="setup-counter">
              {verified} / {total} verified
            </span>
          }
        >
          {statusError ? <ErrorPanel error={isApiError(statusError) ? statusError : undefined} /> : null}
          <table className="table" data-testid="setup-slots">
            <thead>
              <tr>
                <th>Slot</th>
                <th>Part</th>
                <th>State</th>
                <th>Feeding</th>
                <th>Last scan</th>
              </tr>
            </thead>
            <tbody>
              {program.slots.map((s) => {
                const st = status?.slots.find((x) => x.slot === s.slot);
                const state = st?.state ?? 'missing';
                const last = bySlot[s.slot];
                return (
                  <tr key={s.slot} data-slot={s.slot} data-state={state} className={`slot-row-${state}${slot === s.slot ? ' slot-row-active' : ''}`}>
                    <td>
                      <strong>{s.slot}</strong>
                    </td>
                    <td>
                      {s.ipn} <span className="muted">{s.refdes.length} pos.</span>
                    </td>
                    <td>
                      <Badge tone={state === 'verified' ? 'good' : state === 'wrong' ? 'bad' : 'warn'}>{state}</Badge>
                    </td>
                    <td>{st?.feeding ? <code>{st.feeding.packageCode}</code> : <span className="muted">—</span>}</td>
                    <td className={last ? (last.ok ? 'slot-last-ok' : 'slot-last-bad') : undefined}>
                      {last ? `${last.ok ? '✓' : '✕'} ${last.packageCode}${last.code ? ` · ${last.code}` : ''}` : ''}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </Panel>
      </div>
      <aside>
        <Changeover eq={eq} station={station} stations={stations} equipment={equipment} program={program} basis={basis.data} status={status} />
      </aside>
    </div>
  );
}

type Item = { label: string; state: 'ok' | 'bad' | 'unknown'; detail: string };

function Changeover({ eq, station, stations, equipment, program, basis, status }: { eq: Equipment; station: Station | undefined; stations: Station[]; equipment: Equipment[]; program: BasisProgram; basis: BuildBasis; status: SetupStatus | null }) {
  const printer = equipment.find((e) => stations.some((s) => s.id === e.stationId && s.type === 'printer' && s.lineId !== null && s.lineId === station?.lineId));
  const q = useQuery(async () => {
    const [recipe, printerSetup] = await Promise.all([floorApi.activeRecipe(eq.id), printer ? floorApi.printerSetup(printer.id, basis.productRevision.id) : Promise.resolve(null)]);
    return { recipe, printerSetup };
  }, [eq.id, printer?.id, basis.productRevision.id, status?.at]);
  const items: Item[] = [];
  if (q.data) {
    const r = q.data.recipe;
    items.push(
      !r.recipeName
        ? { label: `Program on ${eq.code}`, state: 'unknown', detail: `The machine has not reported its program yet; it must run ${program.name} rev ${program.revision}.` }
        : r.recipeName === program.name && (r.revision === null || r.revision === program.revision)
          ? { label: `Program on ${eq.code}`, state: 'ok', detail: `${r.recipeName}${r.revision ? ` rev ${r.revision}` : ''} as the build basis prescribes.` }
          : { label: `Program on ${eq.code}`, state: 'bad', detail: `The machine runs ${r.recipeName}${r.revision ? ` rev ${r.revision}` : ''}; the build basis prescribes ${program.name} rev ${program.revision}.` },
    );
    const ps = q.data.printerSetup;
    if (!printer) items.push({ label: 'Stencil and paste', state: 'unknown', detail: 'The line has no printer with a machine.' });
    else {
      for (const [kind, m] of [['Stencil', ps?.stencil ?? null], ['Solder paste', ps?.paste ?? null]] as const) {
        items.push(
          !m
            ? { label: `${kind} on ${printer.code}`, state: 'bad', detail: `No ${kind.toLowerCase()} is mounted.` }
            : { label: `${kind} on ${printer.code}`, state: m.ok ? 'ok' : 'bad', detail: `${m.mount.stencilCode ?? m.mount.packageCode ?? ''}${m.problems.length ? `: ${m.problems.map((p) => `${p.message} (${p.code})`).join('; ')}` : ' is usable.'}` },
        );
      }
    }
  }
  items.push(
    status
      ? { label: 'Feeder setup', state: status.complete ? 'ok' : 'bad', detail: `${status.counts.verified} verified, ${status.counts.missing} missing, ${status.counts.wrong} wrong.` }
      : { label: 'Feeder setup', state: 'unknown', detail: 'Reading…' },
  );
  return (
    <Panel title="Changeover checklist">
      <ErrorPanel error={q.error} />
      <ul className="checklist" data-testid="changeover">
        {items.map((i) => (
          <li key={i.label} className={`checklist-${i.state}`} data-state={i.state}>
            <span className="checklist-mark" aria-hidden="true">
              {i.state === 'ok' ? '✓' : i.state === 'bad' ? '✕' : '?'}
            </span>
            <span>
              <strong>{i.label}</strong>
              <span className="checklist-detail">
                <br />
                {i.detail}
              </span>
            </span>
          </li>
        ))}
      </ul>
    </Panel>
  );
}
