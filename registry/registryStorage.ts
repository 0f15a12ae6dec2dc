/**
 * Durable storage for the embedded registry: SQLite through Node 24's built-in `node:sqlite`,
 * WAL mode, synchronous=FULL, so a committed write survives a crash of the process or the OS.
 *
 * Group commit on a writer thread: the state's mutations only queue their rows here; the
 * queued rows of everything that happened while the previous commit was in flight go to a
 * worker thread as one SQLite transaction (one fsync). The event loop never waits for the disk
 * (an fsync takes 2 ms here, and over 100 ms when the disk is busy), and the busier the registry
 * the larger each group. HTTP writes await `durable()` before they answer, so a `kill -9` still
 * loses nothing that was acknowledged. A mutation that throws half-way queues none of its rows.
 * Check status is stored but not trusted on load: health is recomputed after a restart (every
 * check starts critical until it is probed or passed). Sessions and KV locks are stored like KV.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import type { CheckRecord, KvRecord, RegistryPersistence, ServiceRecord, SessionRecord } from './registryRecords';
import type { LoadedState } from './registryState';

const SCHEMA = `
  PRAGMA journal_mode = WAL;
  PRAGMA synchronous = FULL;
  CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS services (id TEXT PRIMARY KEY, json TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS checks (id TEXT PRIMARY KEY, json TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB, flags INTEGER NOT NULL, create_index INTEGER NOT NULL, modify_index INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, json TEXT NOT NULL);
`;
/** Columns added after the first release; added in place to an older registry.db. */
const KV_COLUMNS = ['flags_text TEXT', 'lock_index INTEGER NOT NULL DEFAULT 0', 'session TEXT'];

type Op =
  | ['saveIndex', number]
  | ['saveService', string, string]
  | ['deleteService', string]
  | ['saveCheck', string, string]
  | ['deleteCheck', string]
  | ['saveKv', string, Uint8Array | null, string, number, number, number, string | null]
  | ['deleteKv', string]
  | ['saveSession', string, string]
  | ['deleteSession', string];

/** The writer thread (plain JS, evaluated, so it loads the same under tsx, vitest and Next). */
const WRITER = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const db = new DatabaseSync(workerData.file);
db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;');
const st = {
  saveIndex: db.prepare("INSERT INTO meta (k, v) VALUES ('index', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v"),
  saveService: db.prepare('INSERT INTO services (id, json) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET json = excluded.json'),
  deleteService: db.prepare('DELETE FROM services WHERE id = ?'),
  saveCheck: db.prepare('INSERT INTO checks (id, json) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET json = excluded.json'),
  deleteCheck: db.prepare('DELETE FROM checks WHERE id = ?'),
  saveKv: db.prepare('INSERT INTO kv (key, value, flags, flags_text, create_index, modify_index, lock_index, session) VALUES (?, ?, 0, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, flags_text = excluded.flags_text, create_index = excluded.create_index, modify_index = excluded.modify_index, lock_index = excluded.lock_index, session = excluded.session'),
  deleteKv: db.prepare('DELETE FROM kv WHERE key = ?'),
  saveSession: db.prepare('INSERT INTO sessions (id, json) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET json = excluded.json'),
  deleteSession: db.prepare('DELETE FROM sessions WHERE id = ?'),
};
parentPort.on('message', (m) => {
  if (m.type === 'close') {
    db.close();
    parentPort.postMessage({ type: 'closed' });
    return;
  }
  try {
    db.exec('BEGIN IMMEDIATE');
    for (const op of m.ops) st[op[0]].run(...op.slice(1));
    db.exec('COMMIT');
    parentPort.postMessage({ type: 'done', seq: m.seq });
  } catch (err) {
    try { db.exec('ROLLBACK'); } catch {}
    parentPort.postMessage({ type: 'done', seq: m.seq, error: String((err && err.message) || err) });
  }
});
`;

interface Group {
  seq: number;
  ops: Op[];
  index: number | null;
  waiting: { resolve: () => void; reject: (err: Error) => void }[];
}

export class RegistryStorage implements RegistryPersistence {
  private readonly file: string;
  private readonly writer: Worker;
  private depth = 0;
  private seq = 0;
  /** Rows queued since the last group was sent. */
  private open: Group;
  /** The group the writer is committing. */
  private inFlight: Group | null = null;
  private closed: Promise<void> | null = null;
  private failure: Error | null = null;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.file = join(dataDir, 'registry.db');
    const db = new DatabaseSync(this.file);
    db.exec(SCHEMA);
    const have = new Set((db.prepare('PRAGMA table_info(kv)').all() as { name: string }[]).map((c) => c.name));
    for (const col of KV_COLUMNS) if (!have.has(col.split(' ')[0]!)) db.exec(`ALTER TABLE kv ADD COLUMN ${col}`);
    db.close();
    this.open = this.newGroup();
    this.writer = new Worker(WRITER, { eval: true, workerData: { file: this.file } });
    this.writer.unref();
    this.writer.on('message', (m: { type: string; seq?: number; error?: string }) => {
      if (m.type === 'done') this.committed(m.error);
    });
    this.writer.on('error', (err) => {
      this.failure = err;
      this.committed(err.message);
    });
  }

  load(): LoadedState {
    const db = new DatabaseSync(this.file, { readOnly: true });
    try {
      const index = (db.prepare(`SELECT v FROM meta WHERE k = 'index'`).get() as { v: number } | undefined)?.v ?? 1;
      const services = (db.prepare(`SELECT json FROM services`).all() as { json: string }[]).map((r) => JSON.parse(r.json) as ServiceRecord);
      const checks = (db.prepare(`SELECT json FROM checks`).all() as { json: string }[]).map((r) => {
        const c = JSON.parse(r.json) as CheckRecord;
        return { ...c, Status: 'critical' as const, Output: '', criticalSince: null };
      });
      const kv = (db.prepare(`SELECT key, value, flags, flags_text, create_index, modify_index, lock_index, session FROM kv`).all() as {
        key: string;
        value: Uint8Array | null;
        flags: number;
        flags_text: string | null;
        create_index: number;
        modify_index: number;
        lock_index: number;
        session: string | null;
      }[]).map((r) => ({
        Key: r.key, Value: r.value ? new Uint8Array(r.value) : null, Flags: r.flags_text ?? String(r.flags), LockIndex: r.lock_index ?? 0, Session: r.session ?? null,
        CreateIndex: r.create_index, ModifyIndex: r.modify_index,
      }));
      const sessions = (db.prepare(`SELECT json FROM sessions`).all() as { json: string }[]).map((r) => JSON.parse(r.json) as SessionRecord);
      return { index, services, checks, kv, sessions };
    } finally {
      db.close();
    }
  }

  private newGroup(): Group {
    return { seq: ++this.seq, ops: [], index: null, waiting: [] };
  }

  /** One mutation: its rows are queued together, or (if it throws) not at all. */
  transaction(fn: () => void): void {
    if (this.closed) throw new Error('registry storage is closed');
    if (this.depth > 0) return fn();
    const mark = this.open.ops.length;
    const index = this.open.index;
    this.depth++;
    try {
      fn();
    } catch (err) {
      this.open.ops.length = mark;
      this.open.index = index;
      throw err;
    } finally {
      this.depth--;
    }
    this.send();
  }

  /** Sends the open group to the writer unless a commit is in flight (then it grows until that one is done). */
  private send(): void {
    if (this.inFlight || (this.open.ops.length === 0 && this.open.index === null)) return;
    const group = this.open;
    this.open = this.newGroup();
    if (group.index !== null) group.ops.push(['saveIndex', group.index]);
    this.inFlight = group;
    this.writer.ref();
    this.writer.postMessage({ type: 'write', seq: group.seq, ops: group.ops });
  }

  private committed(error?: string): void {
    const group = this.inFlight;
    this.inFlight = null;
    this.writer.unref();
    if (group) {
      const err = error ? new Error(`registry storage: ${error}`) : null;
      for (const w of group.waiting) {
        if (err) w.reject(err);
        else w.resolve();
      }
    }
    if (this.failure) {
      for (const w of this.open.waiting) w.reject(this.failure);
      this.open.waiting = [];
      return;
    }
    this.send();
  }

  /** Resolves once everything written so far is committed (rejects if that commit failed). */
  durable(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const group = this.open.ops.length > 0 || this.open.index !== null ? this.open : this.inFlight;
    if (!group) return Promise.resolve();
    return new Promise((resolve, reject) => group.waiting.push({ resolve, reject }));
  }

  saveIndex(index: number): void {
    this.open.index = index;
  }
  saveService(r: ServiceRecord): void {
    this.open.ops.push(['saveService', r.ID, JSON.stringify(r)]);
  }
  deleteService(id: string): void {
    this.open.ops.push(['deleteService', id]);
  }
  saveCheck(r: CheckRecord): void {
    this.open.ops.push(['saveCheck', r.CheckID, JSON.stringify(r)]);
  }
  deleteCheck(id: string): void {
    this.open.ops.push(['deleteCheck', id]);
  }
  saveKv(r: KvRecord): void {
    this.open.ops.push(['saveKv', r.Key, r.Value, r.Flags, r.CreateIndex, r.ModifyIndex, r.LockIndex, r.Session]);
  }
  deleteKv(key: string): void {
    this.open.ops.push(['deleteKv', key]);
  }
  saveSession(r: SessionRecord): void {
    this.open.ops.push(['saveSession', r.ID, JSON.stringify(r)]);
  }
  deleteSession(id: string): void {
    this.open.ops.push(['deleteSession', id]);
  }

  /** Commits what is queued, then closes the database and stops the writer. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.durable().catch(() => undefined);
      if (!this.failure) {
        await new Promise<void>((resolve) => {
          const done = (m: { type: string }) => {
            if (m.type !== 'closed') return;
            this.writer.off('message', done);
            resolve();
          };
          this.writer.on('message', done);
          this.writer.ref();
          this.writer.postMessage({ type: 'close' });
        });
      }
      await this.writer.terminate();
    })();
    return this.closed;
  }
}
