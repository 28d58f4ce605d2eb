/**
 * `npm run bench -- where-used [--units N] [--db NAME]` (issue 4): material-to-board traceability at scale.
 *
 * On the generated history of the `records` benchmark (≥ 1,000,000 units, M2 from feeder-setup
 * intervals × placement passages, M3 installs for a fraction of the units; generated once into
 * mes_bench_records and reused):
 * - where-used of one material lot (materials.materialWhereUsed({ lotId })), p99 over 100
 *   different lots, against the bare M2 join returning a lot's unit ids (100 other lots,
 *   alternating: both read each lot's pages for the first time, under the same load);
 * - the material list of one unit (materials.unitMaterials(unitId)), p99 over 500 random units,
 *   against bare index probes of the latest two setup intervals per program slot before each of
 *   a unit's placement passages (500 other random units, alternating).
 */
import { performance } from 'node:perf_hooks';
import { summarize } from './lib.ts';
import { historyDatabase } from './records.ts';

const fmt = (s: ReturnType<typeof summarize>) => `p50 ${s.p50.toFixed(2)} ms · p99 ${s.p99.toFixed(2)} ms · max ${s.max.toFixed(2)} ms (n=${s.n})`;

export default async function whereUsed(args: string[]): Promise<void> {
  const started = performance.now();
  const at = args.indexOf('--units');
  const dbAt = args.indexOf('--db');
  const { db, services: s } = await historyDatabase({ ...(at >= 0 ? { units: Number(args[at + 1]) } : {}), ...(dbAt >= 0 ? { name: args[dbAt + 1]! } : {}) });
  const units = Number((await db.one<{ n: string }>('SELECT count(*) AS n FROM units'))!.n);
  const installs = Number((await db.one<{ n: string }>('SELECT count(DISTINCT unit_id) AS n FROM material_installs'))!.n);
  console.log(`history: ${units} units; ${installs} with exact (M3) installs`);

  // 100 different material lots of placed parts (reels), all of them used in production; the bare
  // join runs on 100 other lots, alternating, so that both read each lot's pages for the first time.
  const picked = (await db.query<{ id: number }>(
    `SELECT l.id FROM material_lots l WHERE l.lot_code !~ '-PASTE-'
        AND EXISTS (SELECT 1 FROM material_packages p JOIN feeder_setups fs ON fs.package_id = p.id WHERE p.material_lot_id = l.id) ORDER BY random() LIMIT 201`)).rows.map((r) => r.id);
  await s.materials.materialWhereUsed({ lotId: picked[0]! });
  const lots = picked.slice(1, 101);
  const others = picked.slice(101);
  const sizes: number[] = [];
  const wu = { lat: [] as number[] }, bare = { lat: [] as number[] };
  for (let i = 0; i < Math.min(lots.length, others.length); i++) {
    let t = performance.now();
    const r = await s.materials.materialWhereUsed({ lotId: lots[i]! });
    wu.lat.push(performance.now() - t);
    sizes.push(r.units.length);
    t = performance.now();
    await db.query(
      `SELECT DISTINCT pr.unit_id FROM material_packages p JOIN feeder_setups fs ON fs.package_id = p.id
         JOIN process_records pr ON pr.equipment_id = fs.equipment_id AND pr.completed_at >= fs.loaded_at
          AND pr.completed_at < COALESCE(fs.unloaded_at, 'infinity') + interval '8 hours' AND COALESCE(pr.started_at, pr.completed_at) < COALESCE(fs.unloaded_at, 'infinity')
        WHERE p.material_lot_id = $1`, [others[i]], 'bench_wu_bare');
    bare.lat.push(performance.now() - t);
  }
  const ws = summarize(wu.lat), bs = summarize(bare.lat);
  const sorted = [...sizes].sort((a, b) => a - b);
  console.log(`where-used of one material lot (${lots.length} lots; units per lot ${sorted[0]}–${sorted.at(-1)}, median ${sorted[Math.floor(sorted.length / 2)]}): ${fmt(ws)}`);
  console.log(`  ceiling, bare M2 join (distinct unit ids) of other lots, first read, alternating: ${fmt(bs)}`);

  // The material list of 500 random units that were placed; the ceiling on 500 other random units, alternating.
  const range = (await db.one<{ lo: number; hi: number }>(`SELECT min(id) AS lo, max(id) AS hi FROM units`))!;
  const placed = (await db.query<{ id: number }>(`SELECT id FROM units WHERE id = ANY($1) AND visits >= 6`, [Array.from({ length: 1200 }, () => range.lo + Math.floor(Math.random() * (range.hi - range.lo + 1)))])).rows.map((r) => r.id);
  const unitIds = placed.slice(0, 500);
  const otherUnits = placed.slice(500, 1000);
  for (const id of placed.slice(1000, 1020)) await s.materials.unitMaterials(id);
  let refdes = 0;
  const um = { lat: [] as number[] }, bareUm = { lat: [] as number[] };
  for (let i = 0; i < Math.min(unitIds.length, otherUnits.length); i++) {
    let t = performance.now();
    refdes += (await s.materials.unitMaterials(unitIds[i]!)).length;
    um.lat.push(performance.now() - t);
    // Ceiling: per placement passage and program slot, the latest intervals loaded on that slot before it (index probes on (equipment, slot, loaded_at)).
    t = performance.now();
    await db.query(
      `SELECT x.* FROM process_records pr JOIN equipment e ON e.id = pr.equipment_id JOIN programs p ON p.equipment_id = e.id AND p.state = 'released' AND p.kind = 'placement'
         JOIN program_slots ps ON ps.program_id = p.id
         CROSS JOIN LATERAL (SELECT fs.id, fs.package_id, fs.slot FROM feeder_setups fs WHERE fs.equipment_id = pr.equipment_id AND fs.slot = ps.slot AND fs.loaded_at <= pr.completed_at
                              ORDER BY fs.loaded_at DESC LIMIT 2) x
        WHERE pr.unit_id = $1`, [otherUnits[i]], 'bench_um_bare');
    bareUm.lat.push(performance.now() - t);
  }
  const us = summarize(um.lat), ub = summarize(bareUm.lat);
  console.log(`unit material list (${us.n} units, ${Math.round(refdes / us.n)} refdes each): ${fmt(us)}`);
  console.log(`  ceiling, bare index probes: latest two intervals per program slot before each placement passage (other units, alternating): ${fmt(ub)}`);
  console.log(JSON.stringify({ bench: 'where-used', units, m3Units: installs, lotWhereUsed: { ...ws, unitsPerLot: { min: sorted[0], max: sorted.at(-1) }, ceiling: bs }, unitMaterials: { ...us, ceiling: ub }, seconds: Math.round((performance.now() - started) / 1000) }));
  await db.close();
}
