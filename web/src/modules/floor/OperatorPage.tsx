import { useEffect, useRef, useState } from 'react';
import { api, isApiError, type ApiError, type RouteStep, type Station } from '../../api.ts';
import type { ScreenProps } from '../../app/registry.ts';
import { ScanInput } from '../../components/ScanInput.tsx';
import { Badge, Button, PageHeader, Panel } from '../../components/ui.tsx';
import { Verdict, type VerdictProps } from '../../components/Verdict.tsx';
import { useQuery } from '../../hooks.ts';
import { navigate } from '../../router.tsx';
import { floorApi, rememberedStation, signoffChecks, tickChecks, type BuildBasis, type CompletionBody, type InterlockVerdict, type SignoffSignature, type UnitVerdict } from './api.ts';
import { FailDialog, type FailInput } from './FailDialog.tsx';
import { SignoffDialog } from './SignoffDialog.tsx';
import { StationPicker } from './StationPicker.tsx';
import { WorkInstructions } from './WorkInstructions.tsx';
import './floor.css';

const SCAN_ID = 'operator-scan';
const focusScan = () => setTimeout(() => document.getElementById(SCAN_ID)?.focus(), 0);

/** The unit or panel the operator works on: its last interlock verdict. */
interface Current {
  identifier: string;
  verdict: InterlockVerdict;
  started: boolean;
}

type Shown = VerdictProps & { seq: number; units?: UnitVerdict[] };

const OUTCOME: Record<string, string> = {
  next: 'goes on to step', completed: 'has completed its route', repair: 'goes to repair at step', returned: 'returns to step', hold: 'is failed and on hold',
  scrap: 'is scrapped', loops_exhausted: 'used up its repair loops and is on hold',
};

/** Per panel position: ✓ / ✕ with the reason sentence and code. */
function PositionList({ units }: { units: UnitVerdict[] }) {
  return (
    <ul className="positions" data-testid="positions">
      {units.map((u) => (
        <li key={`${u.position}-${u.serial}`} className={`position position-${u.result}`} data-result={u.result}>
          <span className="position-mark" aria-hidden="true">
            {u.result === 'passed' ? '✓' : u.result === 'skipped' ? '–' : '✕'}
          </span>
          <span className="position-id">
            {u.position !== null ? `#${u.position} ` : ''}
            <code>{u.serial}</code>
          </span>
          <span className="position-reason">
            {u.result === 'passed' ? (u.step ? `step ${u.step.seq} ${u.step.name}` : 'ok') : u.result === 'skipped' ? 'X-out, skipped' : u.refusals.map((r) => `${r.message} (${r.code})`).join('; ')}
          </span>
        </li>
      ))}
    </ul>
  );
}

function verdictView(v: InterlockVerdict, phase: 'validate' | 'start'): Omit<Shown, 'seq'> {
  const unitsShown = v.kind === 'panel' ? v.units : undefined;
  const step = v.units.find((u) => u.step)?.step;
  if (v.go) {
    const ok = v.units.filter((u) => u.result === 'passed').length;
    return {
      kind: 'go',
      title: phase === 'start' ? 'Started' : 'GO',
      reason:
        v.kind === 'panel'
          ? `Panel ${v.identifier}: ${ok} of ${v.units.length} positions may be processed${step ? ` at step ${step.seq} ${step.name}` : ''}.`
          : `${v.identifier}${step ? ` may be processed at step ${step.seq} ${step.name}` : ' may be processed'}${v.workOrder ? ` (work order ${v.workOrder.number})` : ''}.`,
      ...(unitsShown ? { units: unitsShown } : {}),
    };
  }
  const p = v.primary;
  if (v.kind === 'panel') {
    const refused = v.units.filter((u) => u.result === 'failed').length;
    return {
      kind: 'nogo',
      title: 'NO GO',
      reason: `Panel ${v.identifier}: ${refused} of ${v.units.length} positions may not be processed here.`,
      ...(p ? { code: p.code } : {}),
      units: v.units,
    };
  }
  return {
    kind: 'nogo',
    title: 'NO GO',
    reason: p ? p.message.charAt(0).toUpperCase() + p.message.slice(1) : `${v.identifier} may not be processed here.`,
    ...(p ? { code: p.code } : {}),
    ...(unitsShown ? { units: unitsShown } : {}),
  };
}

/**
 * The operator station: scan a unit or panel at the chosen station; the interlock answers go or
 * no-go with its reason; start, pass or fail (with defect codes) follow; the route step's work
 * instructions and required checks are shown beside. The scan field takes the focus back after
 * every action.
 */
export function OperatorPage({ params }: ScreenProps) {
  const code = params.code ?? null;
  useEffect(() => {
    if (!code) {
      const saved = rememberedStation.get();
      if (saved) navigate(`/floor/station/${encodeURIComponent(saved)}`, { replace: true });
    } else rememberedStation.set(code);
  }, [code]);
  if (!code) {
    return (
      <>
        <PageHeader title="Operator station" subtitle="Choose the station this screen works for; it is remembered on this device." />
        <StationPicker onPick={(s) => navigate(`/floor/station/${encodeURIComponent(s.code)}`)} current={rememberedStation.get()} />
      </>
    );
  }
  return <StationScreen code={code} />;
}

function StationScreen({ code }: { code: string }) {
  const station = useQuery(async () => {
    const [s] = (await api.stations.list()).filter((x) => x.code === code);
    if (!s) return null;
    const line = s.lineId ? await api.lines.get(s.lineId).catch(() => null) : null;
    return { station: s, line };
  }, [code]);
  const [current, setCurrent] = useState<Current | null>(null);
  const [shown, setShown] = useState<Shown | null>(null);
  const [checked, setChecked] = useState<Set<string>>(new Set());
  const [failing, setFailing] = useState(false);
  const [busy, setBusy] = useState(false);
  const [lastWo, setLastWo] = useState<string | null>(null);
  const bases = useRef(new Map<number, Promise<BuildBasis | null>>());
  const [step, setStep] = useState<Omit<RouteStep, 'id'> | null>(null);
  /** A completion waiting for the step's sign-off signature. */
  const [signing, setSigning] = useState<{ result: 'pass' | 'fail'; fail?: FailInput } | null>(null);
  const [signError, setSignError] = useState<ApiError | undefined>(undefined);

  const show = (v: Omit<Shown, 'seq'>) => setShown((s) => ({ ...v, seq: (s?.seq ?? 0) + 1 }));
  const showError = (title: string, e: unknown) => {
    if (isApiError(e) && e.code === 'INTERLOCK_REFUSED' && e.details && typeof e.details === 'object' && 'verdict' in e.details) {
      const v = e.details.verdict as InterlockVerdict;
      show({ ...verdictView(v, 'validate'), title: 'REFUSED' });
      return;
    }
    show({ kind: 'nogo', title, reason: isApiError(e) ? e.detail : String(e), ...(isApiError(e) ? { code: e.code } : {}) });
  };

  const basisOf = (workOrderId: number) => {
    let p = bases.current.get(workOrderId);
    if (!p) {
      p = floorApi.basis(workOrderId).then(
        (b) => b.basis ?? null,
        () => null,
      );
      bases.current.set(workOrderId, p);
    }
    return p;
  };

  const loadStep = async (v: InterlockVerdict) => {
    const seq = v.units.find((u) => u.step)?.step?.seq;
    if (!v.workOrder || seq === undefined) {
      setStep(null);
      return;
    }
    const b = await basisOf(v.workOrder.id);
    setStep(b?.route.steps.find((s) => s.seq === seq) ?? null);
  };

  if (station.error) return <Verdict kind="nogo" title="Station unavailable" reason={station.error.detail} code={station.error.code} />;
  if (!station.data && station.data !== null) return null;
  if (station.data === null) {
    return (
      <>
        <Verdict kind="nogo" title="Unknown station" reason={`There is no station ${code}. Choose another.`} code="STATION_NOT_FOUND" />
        <StationPicker onPick={(s) => navigate(`/floor/station/${encodeURIComponent(s.code)}`)} />
      </>
    );
  }
  const st: Station = station.data.station;
  const requiredChecks = tickChecks(step);
  const signoffs = signoffChecks(step);
  const checksDone = requiredChecks.every((c) => checked.has(c.code));
  const processable = current?.verdict.units.filter((u) => u.result === 'passed' && u.position !== null).map((u) => u.position!) ?? [];

  const onScan = async (identifier: string) => {
    setFailing(false);
    setSigning(null);
    try {
      const v = await floorApi.validate(st.code, identifier);
      setCurrent(v.go ? { identifier, verdict: v, started: false } : null);
      setChecked(new Set());
      if (v.workOrder) setLastWo(v.workOrder.number);
      show(verdictView(v, 'validate'));
      if (v.go) await loadStep(v);
      else setStep(null);
    } catch (e) {
      setCurrent(null);
      setStep(null);
      showError('Check failed', e);
    }
  };

  /** Runs an action; the scan field takes the focus back unless the action leaves a dialog open (returns false). */
  const act = async (fn: () => Promise<void | boolean>) => {
    setBusy(true);
    let refocus: void | boolean = true;
    try {
      refocus = await fn();
    } finally {
      setBusy(false);
      if (refocus !== false) focusScan();
    }
  };

  const start = () =>
    act(async () => {
      if (!current) return;
      try {
        const v = await floorApi.start(st.code, current.identifier);
        setCurrent({ ...current, verdict: v, started: true });
        show(verdictView(v, 'start'));
      } catch (e) {
        showError('Start refused', e);
      }
    });

  /**
   * Pass or fail: one call records the passage, the inspection result with its defects and, where
   * the step asks for it, the signed sign-off, all or nothing (POST /quality/completions).
   */
  const finish = (result: 'pass' | 'fail', fail?: FailInput, signature?: SignoffSignature) =>
    act(async () => {
      if (!current) return;
      const stepSeq = current.verdict.units.find((u) => u.step)?.step?.seq ?? null;
      if (signoffs.length && !signature) {
        setSignError(undefined);
        setSigning({ result, ...(fail ? { fail } : {}) });
        return false;
      }
      const panel = current.verdict.kind === 'panel';
      const positions = fail && fail.positions.length && panel ? processable.map((p) => (fail.positions.includes(p) ? { position: p, result: 'fail' as const, defects: fail.defects } : { position: p, result: 'pass' as const })) : undefined;
      const body: CompletionBody = {
        station: st.code, identifier: current.identifier, result: positions ? 'pass' : result, ...(positions ? { positions } : fail ? { defects: fail.defects } : {}),
        ...(signature && stepSeq !== null ? { signoff: { stepSeq, checks: signoffs.map((c) => c.code), signature } } : {}),
      };
      let out;
      try {
        out = await floorApi.completeWithResults(body);
      } catch (e) {
        // A refused signature stays in the dialog (password cleared); anything else closes it and shows red.
        if (signature && isApiError(e) && (e.code === 'SIGNATURE_INVALID' || e.code === 'FORBIDDEN')) {
          setSignError(e);
          return false;
        }
        setSigning(null);
        showError(result === 'pass' ? 'Pass refused' : 'Fail refused', e);
        return;
      }
      setSigning(null);
      const done = out.passage;
      const note = out.alerts.length ? ` Quality alert: ${out.alerts.map((a) => a.message).join('; ')}` : '';
      const signed = out.signature ? ` Signed off by ${out.signature.signerName || out.signature.signerUsername}.` : '';
      const r = done.records[0];
      const outcome = r ? `${OUTCOME[r.outcome] ?? r.outcome}${r.nextStepSeq !== null && ['next', 'repair', 'returned'].includes(r.outcome) ? ` ${r.nextStepSeq}` : ''}` : '';
      const what = done.kind === 'panel' ? `Panel ${done.identifier} (${done.records.length} positions)` : done.identifier;
      show({
        kind: result === 'pass' ? 'go' : 'warn',
        title: result === 'pass' ? 'PASSED' : 'FAIL RECORDED',
        reason: `${what} ${outcome}.${fail ? ` Defects: ${fail.defects.map((d) => `${d.code}${d.refdes ? ` @ ${d.refdes}` : ''}`).join(', ')}.` : ''}${signed}${note}`,
        ...(done.kind === 'panel' ? { units: done.units } : {}),
      });
      setCurrent(null);
      setFailing(false);
      setChecked(new Set());
    });

  const toggle = (c: string) => {
    setChecked((s) => {
      const n = new Set(s);
      if (n.has(c)) n.delete(c);
      else n.add(c);
      return n;
    });
    focusScan();
  };

  return (
    <div className="operator">
      <PageHeader
        title={
          <>
            {st.code} <span className="title-sub">{st.name}</span>
          </>
        }
        subtitle={
          <>
            <Badge tone="info">{st.type}</Badge> {station.data.line ? `Line ${station.data.line.code}` : 'No line'}
            {lastWo ? ` · work order ${lastWo}` : ''}
          </>
        }
        actions={
          <Button
            variant="secondary"
            onClick={() => {
              rememberedStation.set(null);
              navigate('/floor/station');
            }}
          >
            Change station
          </Button>
        }
      />
      <div className="operator-grid">
        <div className="operator-main">
          <Panel className="scan-panel">
            <ScanInput id={SCAN_ID} label="Scan a unit serial or panel ID" onScan={onScan} />
          </Panel>
          {shown ? (
            <Verdict kind={shown.kind} title={shown.title} reason={shown.reason} code={shown.code} seq={shown.seq} beep>
              {shown.units ? <PositionList units={shown.units} /> : null}
            </Verdict>
          ) : (
            <Verdict kind="idle" title="Ready" reason="Waiting for a scan." />
          )}
          {current ? (
            <div className="operator-actions" data-testid="operator-actions">
              {!current.started ? (
                <Button variant="secondary" className="btn-xl" busy={busy} onClick={start}>
                  Start
                </Button>
              ) : null}
              <Button variant="primary" className="btn-xl btn-pass" busy={busy} disabled={!checksDone} onClick={() => void finish('pass')} title={checksDone ? undefined : 'Tick every required check first'}>
                PASS
              </Button>
              <Button variant="danger" className="btn-xl" disabled={busy} onClick={() => setFailing(true)}>
                FAIL…
              </Button>
              <Button
                variant="ghost"
                onClick={() => {
                  setCurrent(null);
                  setFailing(false);
                  setShown(null);
                  focusScan();
                }}
              >
                Clear
              </Button>
              {!checksDone ? <span className="muted checks-hint">Tick the {requiredChecks.length - checked.size} remaining required check(s) to pass.</span> : null}
            </div>
          ) : null}
        </div>
        <aside className="operator-side">
          {failing && current ? (
            <FailDialog
              panelPositions={current.verdict.kind === 'panel' ? processable : []}
              busy={busy}
              onConfirm={(f) => void finish('fail', f)}
              onCancel={() => {
                setFailing(false);
                focusScan();
              }}
            />
          ) : (
            <Panel title="Work instructions">
              <WorkInstructions step={step} checked={checked} onToggle={toggle} />
            </Panel>
          )}
        </aside>
      </div>
      {signing && current && step ? (
        <SignoffDialog
          step={step}
          checks={signoffs}
          outcome={signing.result === 'pass' ? 'PASS' : `FAIL with ${signing.fail?.defects.length ?? 0} defect(s)`}
          busy={busy}
          error={signError}
          onSign={(sig) => void finish(signing.result, signing.fail, sig)}
          onCancel={() => {
            setSigning(null);
            focusScan();
          }}
        />
      ) : null}
    </div>
  );
}
