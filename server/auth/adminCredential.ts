/**
 * With no users configured, the first start creates an admin credential, keeps only its
 * SHA-256 in the data directory and hands the token back once to be printed (as Jupyter
 * does). Later starts read the hash and print nothing; deleting the file makes a new one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

const FILE = 'admin-credential.json';
const Stored = z.object({ name: z.string(), role: z.literal('admin'), tokenSha256: z.string().regex(/^[0-9a-f]{64}$/), createdAt: z.string() });

export interface AdminCredential {
  name: string;
  role: 'admin';
  tokenSha256: string;
  /** The token itself, only on the start that created it. */
  token: string | null;
  file: string;
}

export function ensureAdminCredential(dataDir: string, now: () => Date = () => new Date()): AdminCredential {
  const file = join(dataDir, FILE);
  let text: string | null = null;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== null) {
    const parsed = Stored.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`${file} is not a valid admin credential (${parsed.error.issues[0]?.message}); delete it to create a new one`);
    return { ...parsed.data, token: null, file };
  }
  const token = `sb_${randomBytes(32).toString('base64url')}`;
  const stored = { name: 'admin', role: 'admin' as const, tokenSha256: createHash('sha256').update(token).digest('hex'), createdAt: now().toISOString() };
  mkdirSync(dataDir, { recursive: true });
  // wx: never overwrite a credential another process just wrote; 0600: only the owner reads the hash.
  writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
  return { ...stored, token, file };
}
