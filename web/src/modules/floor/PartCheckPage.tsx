import { useState } from 'react';
import { api, isApiError, type AvlEntry, type Part } from '../../api.ts';
import { ScanInput } from '../../components/ScanInput.tsx';
import { Button, PageHeader, Panel } from '../../components/ui.tsx';
import { Verdict, type VerdictProps } from '../../components/Verdict.tsx';

type Step = { kind: 'part' } | { kind: 'mpn'; part: Part; avl: AvlEntry[] };

/**
 * Checks a reel against the AVL before it goes to a feeder: scan the part number (IPN) the slot
 * needs, then the manufacturer part number (MPN) on the reel's label. Green: an approved source;
 * amber: an alternate, which needs a permission for the build; red: not on the AVL for that part.
 * This is a look-up: the setup verification of the materials module is the interlock.
 */
export function PartCheckPage() {
  const [step, setStep] = useState<Step>({ kind: 'part' });
  const [result, setResult] = useState<(VerdictProps & { seq: number }) | null>(null);
  const show = (v: VerdictProps) => setResult((r) => ({ ...v, seq: (r?.seq ?? 0) + 1 }));

  const onScan = async (code: string) => {
    try {
      if (step.kind === 'part') {
        const [part] = await api.parts.list({ ipn: code });
        if (!part) {
          show({ kind: 'nogo', title: 'Unknown part', reason: `There is no part with the number ${code}.`, code: 'PART_NOT_FOUND' });
          return;
        }
        const avl = await api.avl.list({ partId: part.id });
        setStep({ kind: 'mpn', part, avl });
        show({
          kind: 'idle',
          title: part.ipn,
          reason: `${part.description || 'no description'} · MSL ${part.mslLevel} · ${avl.filter((a) => a.active && !a.alternate).length} approved source(s). Now scan the MPN on the reel.`,
        });
        return;
      }
      const { part, avl } = step;
      const hits = avl.filter((a) => a.mpn === code);
      const active = hits.filter((a) => a.active);
      const approved = active.find((a) => !a.alternate);
      if (approved) {
        show({ kind: 'go', title: 'Approved', reason: `${approved.manufacturer} ${approved.mpn} is an approved source for ${part.ipn}.` });
      } else if (active.length) {
        show({ kind: 'warn', title: 'Alternate', reason: `${active[0]!.manufacturer} ${code} is an alternate for ${part.ipn}: it may be used only with a permission for the build.`, code: 'ALTERNATE_NOT_PERMITTED' });
      } else if (hits.length) {
        show({ kind: 'nogo', title: 'Not approved', reason: `${code} is on the AVL for ${part.ipn} but inactive.`, code: 'AVL_ENTRY_INACTIVE' });
      } else {
        const elsewhere = await api.avl.list({ mpn: code });
        const other = elsewhere.map((a) => a.ipn).filter((x, i, all) => all.indexOf(x) === i);
        show({
          kind: 'nogo',
          title: 'Not approved',
          reason: `${code} is not on the AVL for ${part.ipn}.${other.length ? ` It is listed for ${other.join(', ')}: wrong reel?` : ''}`,
          code: 'MPN_NOT_ON_AVL',
        });
      }
    } catch (e) {
      show({ kind: 'nogo', title: 'Check failed', reason: isApiError(e) ? e.detail : String(e), ...(isApiError(e) ? { code: e.code } : {}) });
    }
  };

  const reset = () => {
    setStep({ kind: 'part' });
    setResult(null);
  };

  return (
    <>
      <PageHeader
        title="AVL check"
        subtitle="Scan the part number, then the MPN on the reel label."
        actions={
          step.kind === 'mpn' ? (
            <Button variant="secondary" onClick={reset}>
              Check another part
            </Button>
          ) : null
        }
      />
      <Panel className="scan-panel">
        <div className="scan-steps" aria-label="Steps">
          <span className={`scan-step${step.kind === 'part' ? ' scan-step-active' : ' scan-step-done'}`}>1 · Part number{step.kind === 'mpn' ? `: ${step.part.ipn}` : ''}</span>
          <span className={`scan-step${step.kind === 'mpn' ? ' scan-step-active' : ''}`}>2 · Reel MPN</span>
        </div>
        <ScanInput key={step.kind} id="part-check-scan" label={step.kind === 'part' ? 'Scan the part number (IPN)' : `Scan the MPN of the reel for ${step.part.ipn}`} onScan={onScan} />
      </Panel>
      {result ? <Verdict {...result} /> : <Verdict kind="idle" title="Ready" reason="Waiting for a scan." />}
    </>
  );
}
