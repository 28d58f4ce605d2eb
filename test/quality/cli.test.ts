import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import type { Hold } from '../../src/modules/quality/index.ts';
import { makeLine, makeQualityWorkOrder, system, testDb, uniq } from '../helpers.ts';
import { codes, s, units } from './support.ts';

/**
 * `mes quality …`: the real command line against the test database, calling the same services as
 * REST. Each invocation starts a Node process (tsx, migrations check): seconds each on a busy
 * machine, hence few invocations per test and a longer time limit.
 */

const run = promisify(execFile);
const mes = (args: string[]) =>
  run(process.execPath, ['bin/mes.mjs', 'quality', ...args], { env: { ...process.env, DATABASE_URL: inject('databaseUrl'), MES_LOG_LEVEL: 'silent' }, timeout: 60_000 });
const refused = (args: string[]) => mes(args).then(() => null, (e: { code: number; stderr: string }) => e);

describe('mes quality', { timeout: 150_000 }, () => {
  it('hold places a hold the interlock honours; holds --active lists it', async () => {
    const m = await makeQualityWorkOrder();
    const [a] = await units(m);
    const placed = await mes(['hold', '--scope', 'unit', '--serial', a!, '--reason-code', 'SUSPECT_MATERIAL', '--reason', 'capacitor lot under investigation']);
    const number = /Placed hold (H-\d{6}) on unit (\S+) \[SUSPECT_MATERIAL\] capacitor lot under investigation/.exec(placed.stdout);
    expect(number?.[2]).toBe(a);
    const hold = (await s().quality.listHolds({ serial: a!, active: true }))[0]!;
    expect(hold).toMatchObject({ number: number![1], scope: 'unit', serial: a, reasonCode: 'SUSPECT_MATERIAL', releasedAt: null });
    expect(hold.placedBy).toMatch(/^cli:/);
    expect(await codes(m, 'printer', a!)).toEqual(['HOLD_UNIT']);
    const audit = await testDb().one<{ actor: string }>(`SELECT actor_name AS actor FROM audit_log WHERE entity = 'quality_hold' AND entity_id = $1 AND action = 'hold'`, [String(hold.id)]);
    expect(audit!.actor).toBe(hold.placedBy);

    const text = (await mes(['holds', '--active', '--scope', 'unit', '--serial', a!])).stdout.trim().split('\n');
    expect(text).toHaveLength(1);
    expect(text[0]).toContain(`${hold.number}  ACTIVE  unit ${a}  [SUSPECT_MATERIAL] capacitor lot under investigation`);
  });

  it('hold refuses bad input, exit code 1, naming the problem; nothing is written', async () => {
    const m = await makeQualityWorkOrder();
    const [a] = await units(m);

    const badReason = await refused(['hold', '--scope', 'unit', '--serial', a!, '--reason-code', 'NOT_A_CODE', '--reason', 'whatever it is']);
    expect(badReason?.code).toBe(1);
    expect(badReason!.stderr).toMatch(/VALIDATION_FAILED/);
    expect(badReason!.stderr).toMatch(/\/reasonCode: NOT_A_CODE is not a hold reason code/);
    const badScope = await refused(['hold', '--scope', 'everything', '--reason-code', 'OTHER', '--reason', 'whatever it is']);
    expect(badScope?.code).toBe(1);
    expect(badScope!.stderr).toMatch(/--scope.*everything.*invalid|Allowed choices/i);
    expect(await s().quality.listHolds({ serial: a! })).toEqual([]);
  });

  it('hold --scope station_window takes --station --from --to (--json prints the hold)', async () => {
    const m = await makeQualityWorkOrder();
    const from = new Date(Date.now() - 7200_000).toISOString();
    const to = new Date(Date.now() - 3600_000).toISOString();
    const { stdout } = await mes(['hold', '--scope', 'station_window', '--station', m.stations.printer!.code, '--from', from, '--to', to, '--reason-code', 'PROCESS_DEVIATION', '--reason', 'squeegee pressure drifted', '--json']);
    const hold = JSON.parse(stdout) as Hold;
    expect(hold).toMatchObject({ scope: 'station_window', stationId: m.stations.printer!.id, reasonCode: 'PROCESS_DEVIATION' });
    expect(new Date(hold.windowFrom!).toISOString()).toBe(from);
    expect(new Date(hold.windowTo!).toISOString()).toBe(to);
  });

  it('ncr list and ncr show', async () => {
    const m = await makeQualityWorkOrder();
    const [a, b] = await units(m, 2);
    const ncr = await s().quality.createNcr(system, { title: `Solder balls ${uniq('')}`, subject: { kind: 'work_order', workOrder: m.wo.number }, serials: [a!, b!], containment: 'lot held' });
    expect((await mes(['ncr', 'list', '--state', 'open', '--work-order', String(m.wo.id)])).stdout.trim()).toBe(`${ncr.number}  #${ncr.id}  OPEN  work_order  ${ncr.title}  (${ncr.createdAt.toISOString().replace(/\.\d{3}Z$/, 'Z')} by ${ncr.createdBy})`);
    const shown = (await mes(['ncr', 'show', String(ncr.id)])).stdout;
    expect(shown).toContain(`${ncr.number}  ${ncr.title}  OPEN`);
    expect(shown).toContain('containment: lot held');
    expect(shown).toContain('units (2):');
    expect(shown).toContain(`    ${a}  open`);
    const missing = await refused(['ncr', 'show', '999999999']);
    expect(missing?.code).toBe(1);
    expect(missing!.stderr).toMatch(/NOT_FOUND/);
  });

  it('alerts lists what the rules fired, with the actions taken', async () => {
    const { stations } = await makeLine(['reflow']);
    const oven = stations.reflow!;
    const rule = await s().quality.createRule(system, { code: uniq('RR-'), name: 'zone 2', kind: 'reading_out_of_limits', stationId: oven.id, readingName: 'zone2.temp', params: { max: 200 }, actions: ['alert', 'hold_station'] });
    await testDb().tx((tx) => s().equipment.recordReadings(tx, [{ at: new Date(), stationId: oven.id, equipmentId: null, unitIdentifier: null, name: 'zone2.temp', value: 212.5, textValue: null, unit: 'C', source: 'mqtt', origin: 't' }]));
    const [alert] = await s().quality.listAlerts({ ruleId: rule.id });
    const text = (await mes(['alerts', '--rule', String(rule.id), '--state', 'open'])).stdout.trim().split('\n');
    expect(text).toHaveLength(1);
    expect(text[0]).toMatch(new RegExp(`^#${alert!.id}  OPEN  \\S+  ${rule.code}  -  .*212\\.5.*  → hold_station$`));
  });
});
