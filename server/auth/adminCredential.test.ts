import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureAdminCredential } from './adminCredential';

describe('first-start admin credential', () => {
  it('creates a token once, keeps only its hash (owner-readable), and reads it back later', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'sb-admin-')), 'data');
    const first = ensureAdminCredential(dir);
    expect(first.token).toMatch(/^sb_[A-Za-z0-9_-]{43}$/);
    const text = readFileSync(first.file, 'utf8');
    expect(text).not.toContain(first.token!);
    expect(JSON.parse(text).tokenSha256).toBe(createHash('sha256').update(first.token!).digest('hex'));
    expect(statSync(first.file).mode & 0o777).toBe(0o600);
    const again = ensureAdminCredential(dir);
    expect(again.token).toBeNull();
    expect(again.tokenSha256).toBe(first.tokenSha256);
  });

  it('refuses a damaged file, saying how to recover', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-admin-'));
    writeFileSync(join(dir, 'admin-credential.json'), '{"name":"admin"}');
    expect(() => ensureAdminCredential(dir)).toThrow(/not a valid admin credential.*delete it/);
  });
});
