import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from '../../platform/db.ts';
import { AppError } from '../../platform/errors.ts';
import type { Principal } from '../../platform/principal.ts';
import { recordAudit } from '../audit/index.ts';

/**
 * The site signing key: one Ed25519 key pair per site, made on first use.
 *
 * The private key is a PKCS#8 PEM file `<data dir>/keys/site-<SITE>.ed25519.pem`, created with
 * mode 0600 in a 0700 directory, readable only by the user the server runs as; it never enters
 * the database, a backup of the database, an API answer or a log. The public key is recorded
 * (append-only) in `records_signing_keys`, so anyone can look up which keys a site has used. A
 * second instance sharing the database needs the same key file (copy it); without one it makes
 * and registers a new key of its own, which stays valid for the packages it signed.
 */

export interface SiteKey { site: string; siteId: number; keyId: string; publicKeyPem: string; privateKey: crypto.KeyObject }

export function keyIdOf(publicKey: crypto.KeyObject): string {
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return crypto.createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

export function keyFile(dataDir: string, site: string): string {
  return path.join(dataDir, 'keys', `site-${site}.ed25519.pem`);
}

export async function siteKey(db: Db, who: Principal, dataDir: string, siteRef?: { siteId?: number; site?: string }): Promise<SiteKey> {
  const site = await db.one<{ id: number; code: string }>(
    siteRef?.siteId ? `SELECT id, code FROM sites WHERE id = $1` : siteRef?.site ? `SELECT id, code FROM sites WHERE code = $1` : `SELECT id, code FROM sites ORDER BY id LIMIT 1`,
    siteRef?.siteId ? [siteRef.siteId] : siteRef?.site ? [siteRef.site] : [],
  );
  if (!site) {
    if (siteRef?.site || siteRef?.siteId) throw new AppError('NOT_FOUND', `Site ${siteRef.site ?? siteRef.siteId} does not exist`);
    throw new AppError('STATE_CONFLICT', 'No site is defined yet: a trace package is signed with the key of a site');
  }
  const file = keyFile(dataDir, site.code);
  let privateKey: crypto.KeyObject;
  let created = false;
  try {
    privateKey = crypto.createPrivateKey(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const pair = crypto.generateKeyPairSync('ed25519');
    const pem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    try {
      // wx: never overwrite a key another process wrote meanwhile.
      fs.writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
      created = true;
    } catch (w) {
      if ((w as NodeJS.ErrnoException).code !== 'EEXIST') throw w;
    }
    privateKey = crypto.createPrivateKey(fs.readFileSync(file, 'utf8'));
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new AppError('INTERNAL', `The key file of site ${site.code} is not an Ed25519 key`);
  const publicKey = crypto.createPublicKey(privateKey);
  const publicKeyPem = publicKey.export({ format: 'pem', type: 'spki' }) as string;
  const keyId = keyIdOf(publicKey);
  const known = await db.one<{ site_id: number }>(`SELECT site_id FROM records_signing_keys WHERE key_id = $1`, [keyId]);
  if (!known) {
    await db.tx(async (tx) => {
      const r = await tx.query(`INSERT INTO records_signing_keys (site_id, key_id, public_key_pem, created_by) VALUES ($1, $2, $3, $4) ON CONFLICT (key_id) DO NOTHING`, [site.id, keyId, publicKeyPem, who.name]);
      if (r.rowCount) await recordAudit(tx, who, { action: created ? 'create' : 'register', entity: 'signing_key', entityId: keyId, after: { site: site.code, keyId, algorithm: 'Ed25519', publicKeyPem } });
    });
  } else if (known.site_id !== site.id) {
    throw new AppError('STATE_CONFLICT', `The key file of site ${site.code} holds a key registered for another site`);
  }
  return { site: site.code, siteId: site.id, keyId, publicKeyPem, privateKey };
}

export function sign(key: SiteKey, data: Buffer): Buffer {
  return crypto.sign(null, data, key.privateKey);
}
