import crypto from 'node:crypto';
import yauzl from 'yauzl';
import { keyIdOf } from './signing.ts';

/**
 * Offline check of a trace package: reads every entry of the ZIP (streamed, hashing as it
 * goes), then compares with manifest.json: each listed file present with the same SHA-256 and
 * size, no file that the manifest does not list, and the Ed25519 signature in manifest.sig over
 * the exact bytes of manifest.json, with the trusted key when one is given (else the key in the
 * package, whose id is reported so it can be compared with the site's published key).
 */

export const MANIFEST = 'manifest.json';
export const SIGNATURE = 'manifest.sig';
export const PUBLIC_KEY = 'signing-key.pem';
const META = new Set([MANIFEST, SIGNATURE, PUBLIC_KEY]);

export interface ManifestFile { name: string; sha256: string; size: number; rows?: number; section?: string; format?: string }
export interface Manifest { format: string; files: ManifestFile[]; keyId: string; [k: string]: unknown }
export interface VerifyResult { ok: boolean; files: number; keyId: string | null; problems: string[]; altered: string[]; missing: string[]; extra: string[] }

export async function verifyPackage(zipPath: string, opts: { publicKeyPem?: string } = {}): Promise<VerifyResult> {
  const problems: string[] = [];
  const seen = new Map<string, { sha256: string; size: number }>();
  const meta = new Map<string, Buffer>();
  try {
    const zip = await new Promise<yauzl.ZipFile>((res, rej) => yauzl.open(zipPath, { lazyEntries: true, autoClose: true }, (e, z) => (e ? rej(e) : res(z!))));
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        zip.openReadStream(entry, (err, stream) => {
          if (err) return reject(err);
          const h = crypto.createHash('sha256');
          let size = 0;
          const keep = META.has(entry.fileName) ? [] as Buffer[] : null;
          stream!.on('data', (c: Buffer) => {
            h.update(c);
            size += c.length;
            keep?.push(c);
          });
          stream!.on('error', reject);
          stream!.on('end', () => {
            if (seen.has(entry.fileName)) problems.push(`duplicate entry: ${entry.fileName}`);
            seen.set(entry.fileName, { sha256: h.digest('hex'), size });
            if (keep) meta.set(entry.fileName, Buffer.concat(keep));
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  } catch (e) {
    return { ok: false, files: 0, keyId: null, problems: [`not a readable ZIP: ${(e as Error).message}`], altered: [], missing: [], extra: [] };
  }
  const manifestBytes = meta.get(MANIFEST);
  if (!manifestBytes) return { ok: false, files: 0, keyId: null, problems: [`missing: ${MANIFEST}`], altered: [], missing: [MANIFEST], extra: [] };
  let manifest: Manifest;
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8')) as Manifest;
    if (!Array.isArray(manifest.files)) throw new Error('no file list');
  } catch (e) {
    return { ok: false, files: 0, keyId: null, problems: [`${MANIFEST} is not a valid manifest: ${(e as Error).message}`], altered: [MANIFEST], missing: [], extra: [] };
  }
  // Signature first: a manifest that does not verify cannot vouch for any file.
  let keyId: string | null = null;
  const sig = meta.get(SIGNATURE);
  const pem = opts.publicKeyPem ?? meta.get(PUBLIC_KEY)?.toString('utf8');
  if (!sig) problems.push(`missing: ${SIGNATURE}`);
  if (!pem) problems.push(`missing: ${PUBLIC_KEY} (and no --key given)`);
  if (sig && pem) {
    try {
      const key = crypto.createPublicKey(pem);
      keyId = keyIdOf(key);
      const signature = Buffer.from(sig.toString('utf8').trim(), 'base64');
      if (!crypto.verify(null, manifestBytes, key, signature)) problems.push(`signature: ${SIGNATURE} does not verify ${MANIFEST} with key ${keyId} (altered: ${MANIFEST} or ${SIGNATURE})`);
      if (opts.publicKeyPem && meta.get(PUBLIC_KEY)) {
        const inside = keyIdOf(crypto.createPublicKey(meta.get(PUBLIC_KEY)!.toString('utf8')));
        if (inside !== keyId) problems.push(`key: the package carries key ${inside}, not the trusted key ${keyId}`);
      }
      if (manifest.keyId && manifest.keyId !== keyId) problems.push(`key: the manifest names key ${manifest.keyId}, the signature was checked with ${keyId}`);
    } catch (e) {
      problems.push(`signature: cannot check (${(e as Error).message})`);
    }
  }
  const altered: string[] = [], missing: string[] = [], extra: string[] = [];
  const listed = new Set<string>();
  for (const f of manifest.files) {
    listed.add(f.name);
    const got = seen.get(f.name);
    if (!got) {
      missing.push(f.name);
      problems.push(`missing: ${f.name}`);
    } else if (got.sha256 !== f.sha256 || got.size !== f.size) {
      altered.push(f.name);
      problems.push(`altered: ${f.name} (SHA-256 ${got.sha256.slice(0, 12)}…, ${got.size} bytes; manifest ${String(f.sha256).slice(0, 12)}…, ${f.size} bytes)`);
    }
  }
  for (const name of seen.keys()) {
    if (!listed.has(name) && !META.has(name)) {
      extra.push(name);
      problems.push(`extra: ${name} (not in the manifest)`);
    }
  }
  return { ok: problems.length === 0, files: manifest.files.length, keyId, problems, altered, missing, extra };
}
