/**
 * Benchmark runner: `npm run bench -- <name> [args]` runs bench/<name>.ts, whose default export
 * is an async function taking the remaining arguments. Benchmarks print a JSON summary and a
 * human-readable table; the figures go into BENCHMARKS.md with the machine and the command.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
const available = fs.readdirSync(dir).filter((f) => f.endsWith('.ts') && !['run.ts', 'lib.ts'].includes(f)).map((f) => f.slice(0, -3));
const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <name>\navailable: ${available.join(', ')}`);
  process.exit(2);
}
console.log(`# bench ${name} · ${new Date().toISOString()} · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'} · ${Math.round(os.totalmem() / 2 ** 30)} GiB · node ${process.version}`);
const mod = (await import(pathToFileURL(path.join(dir, `${name}.ts`)).href)) as { default: (args: string[]) => Promise<void> };
await mod.default(args);
process.exit(0);
