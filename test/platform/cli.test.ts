import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { inject, describe, expect, it } from 'vitest';
import { testServices, uniq } from '../helpers.ts';

const run = promisify(execFile);
const mes = (args: string[]) =>
  run(process.execPath, ['bin/mes.mjs', ...args], { env: { ...process.env, DATABASE_URL: inject('databaseUrl'), MES_LOG_LEVEL: 'silent' }, timeout: 60_000 });

describe('mes command line', () => {
  it('token create prints the token alone on the last line, and it authenticates', async () => {
    const name = uniq('cli-');
    const { stdout } = await mes(['token', 'create', '--name', name, '--role', 'integration']);
    const last = stdout.trim().split('\n').at(-1)!;
    expect(last).toMatch(/^mes_[A-Za-z0-9_-]{20,}$/);
    expect(await testServices().auth.authenticateToken(last)).toMatchObject({ kind: 'token', name, role: 'integration' });
  });

  it('import parts: a good CSV is imported, a bad one exits non-zero naming each line and imports nothing', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mes-cli-'));
    const p = uniq('CLI');
    const good = path.join(dir, 'parts.csv');
    await fs.writeFile(good, `IPN,Description,Package,MSL\n${p}-1,Resistor,0402,1\n${p}-2,MCU,QFN-48,3\n`);
    const ok = await mes(['import', 'parts', good]);
    expect(ok.stdout).toMatch(/2 created/);
    expect((await testServices().parts.parts.getByKey(`${p}-2`))?.mslLevel).toBe('3');
    const bad = path.join(dir, 'bad.csv');
    await fs.writeFile(bad, `IPN,Description,MSL\n${p}-3,ok,1\n,missing ipn,1\n${p}-4,bad msl,7\n`);
    const err = await mes(['import', 'parts', bad]).then(() => null, (e: { code: number; stderr: string }) => e);
    expect(err).not.toBeNull();
    expect(err!.code).toBe(1);
    expect(err!.stderr).toMatch(/IMPORT_INVALID/);
    expect(err!.stderr).toMatch(/line 3: ipn/);
    expect(err!.stderr).toMatch(/line 4: msl/);
    expect(await testServices().parts.parts.getByKey(`${p}-3`)).toBeUndefined();
    await fs.rm(dir, { recursive: true });
  });

  it('user add creates a user that can log in', async () => {
    const username = uniq('op').toLowerCase();
    const { stdout } = await run(process.execPath, ['bin/mes.mjs', 'user', 'add', username, '--role', 'operator'], {
      env: { ...process.env, DATABASE_URL: inject('databaseUrl'), MES_USER_PASSWORD: 'floor-password' },
    });
    expect(stdout).toMatch(new RegExp(`Created user ${username} \\(operator\\)`));
    expect((await testServices().auth.checkPassword(username, 'floor-password', null)).role).toBe('operator');
  });
});

describe('mes import bom', () => {
  it('imports a BOM CSV into a draft revision named PRODUCT:REV', async () => {
    const { system } = await import('../helpers.ts');
    const s = testServices();
    const code = uniq('CB');
    const p = await s.products.products.create(system, { code, name: code });
    await s.products.createRevision(system, { productId: p.id, revision: 'A' });
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mes-bom-'));
    const file = path.join(dir, 'bom.csv');
    await fs.writeFile(file, `Pos,Teil,Menge,Bauteile\n1,${code}-R,3,"R1-R3"\n`);
    const { stdout } = await mes(['import', 'bom', file, '--revision', `${code}:A`, '--map', 'line=Pos', 'ipn=Teil', 'quantity=Menge', 'refdes=Bauteile']);
    expect(stdout).toMatch(/1 lines, 3 placements, 1 parts/);
    const rev = await s.products.findRevision(code, 'A');
    expect((await s.products.getBom(rev!.id))[0]!.refdes).toEqual(['R1', 'R2', 'R3']);
    await fs.rm(dir, { recursive: true });
  });
});
