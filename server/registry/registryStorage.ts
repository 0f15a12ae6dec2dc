/**
 * Durable storage for the embedded registry: SQLite through Node 24's built-in `node:sqlite`,
 * WAL mode, synchronous=FULL. Group commit: the mutations of one event-loop turn share one
 * SQLite transaction (each inside its own SAVEPOINT, so a failing one rolls back alone),
 * committed — one fsync — on the next `setImmediate`; HTTP writes await `durable()` before
 * they answer, so a `kill -9` still loses nothing that was acknowledged, while 16 concurrent
 * registrations cost one fsync instead of 16 (an fsync is ~2 ms here). Check status is stored but not trusted on load: health
 * is recomputed after a restart (every check starts critical until it is probed or passed).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { CheckRecord, KvRecord, RegistryPersistence, ServiceRecord } from './registryRecords';
import type { LoadedState } from './registryState';

export class RegistryStorage implements RegistryPersistence {
  private readonly db: DatabaseSync;
  private depth = 0;
  /** The open group transaction: who waits for its commit. */
  private group: { waiting: { resolve: () => void; reject: (err: Error) => void }[] } | null = null;
  private readonly stmt;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new DatabaseSync(join(dataDir, 'registry.db'));
    // WAL + synchronous=FULL: a committed transaction survives a crash of the process or the OS.
    this.db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS services (id TEXT PRIMARY KEY, json TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS checks (id TEXT PRIMARY KEY, json TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB, flags INTEGER NOT NULL, create_index INTEGER NOT NULL, modify_index INTEGER NOT NULL);
    `);
    this.stmt = {
      saveIndex: this.db.prepare(`INSERT INTO meta (k, v) VALUES ('index', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`),
      saveService: this.db.prepare(`INSERT INTO services (id, json) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET json = excluded.json`),
      deleteService: this.db.prepare(`DELETE FROM services WHERE id = ?`),
      saveCheck: this.db.prepare(`INSERT INTO checks (id, json) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET json = excluded.json`),
      deleteCheck: this.db.prepare(`DELETE FROM checks WHERE id = ?`),
      saveKv: this.db.prepare(
        `INSERT INTO kv (key, value, flags, create_index, modify_index) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, flags = excluded.flags, modify_index = excluded.modify_index`,
      ),
      deleteKv: this.db.prepare(`DELETE FROM kv WHERE key = ?`),
    };
  }

  load(): LoadedState {
    const index = (this.db.prepare(`SELECT v FROM meta WHERE k = 'index'`).get() as { v: number } | undefined)?.v ?? 1;
    const services = (this.db.prepare(`SELECT json FROM services`).all() as { json: string }[]).map((r) => JSON.parse(r.json) as ServiceRecord);
    const checks = (this.db.prepare(`SELECT json FROM checks`).all() as { json: string }[]).map((r) => {
      const c = JSON.parse(r.json) as CheckRecord;
      return { ...c, Status: 'critical' as const, Output: '', criticalSince: null };
    });
    const kv = (this.db.prepare(`SELECT key, value, flags, create_index, modify_index FROM kv`).all() as {
      key: string;
      value: Uint8Array | null;
      flags: number;
      create_index: number;
      modify_index: number;
    }[]).map((r) => ({ Key: r.key, Value: r.value ? new Uint8Array(r.value) : null, Flags: r.flags, CreateIndex: r.create_index, ModifyIndex: r.modify_index }));
    return { index, services, checks, kv };
  }

  transaction(fn: () => void): void {
    if (this.depth > 0) return fn();
    if (!this.group) {
      this.db.exec('BEGIN IMMEDIATE');
      this.group = { waiting: [] };
      setImmediate(() => this.commit());
    }
    this.db.exec('SAVEPOINT mutation');
    this.depth++;
    try {
      fn();
      this.db.exec('RELEASE mutation');
    } catch (err) {
      this.db.exec('ROLLBACK TO mutation');
      this.db.exec('RELEASE mutation');
      throw err;
    } finally {
      this.depth--;
    }
  }

  /** Resolves once everything written so far is committed (rejects if that commit failed). */
  durable(): Promise<void> {
    const group = this.group;
    if (!group) return Promise.resolve();
    return new Promise((resolve, reject) => group.waiting.push({ resolve, reject }));
  }

  private commit(): void {
    const group = this.group;
    if (!group) return;
    this.group = null;
    try {
      this.db.exec('COMMIT');
    } catch (err) {
      try {
        this.db.exec('ROLLBACK');
      } catch {
        // nothing left to roll back
      }
      for (const w of group.waiting) w.reject(err as Error);
      return;
    }
    for (const w of group.waiting) w.resolve();
  }

  saveIndex(index: number): void {
    this.stmt.saveIndex.run(index);
  }
  saveService(r: ServiceRecord): void {
    this.stmt.saveService.run(r.ID, JSON.stringify(r));
  }
  deleteService(id: string): void {
    this.stmt.deleteService.run(id);
  }
  saveCheck(r: CheckRecord): void {
    this.stmt.saveCheck.run(r.CheckID, JSON.stringify(r));
  }
  deleteCheck(id: string): void {
    this.stmt.deleteCheck.run(id);
  }
  saveKv(r: KvRecord): void {
    this.stmt.saveKv.run(r.Key, r.Value, r.Flags, r.CreateIndex, r.ModifyIndex);
  }
  deleteKv(key: string): void {
    this.stmt.deleteKv.run(key);
  }

  close(): void {
    this.commit();
    this.db.close();
  }
}
