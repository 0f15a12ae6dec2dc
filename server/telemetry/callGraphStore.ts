/**
 * Who calls whom, from the same SDK reports as the telemetry store: per caller → callee →
 * callee instance, 15 minutes of requests and errors in 5-second buckets, latency histograms
 * and answers per status code in 1-minute buckets. The service graph and its edge panel read it.
 *
 * Reports carry cumulative counters; the store keeps each client's last report and adds the
 * difference. A client seen for the first time only sets that baseline (a control plane that
 * restarts must not book a long-lived client's whole history into one bucket); a counter that
 * goes backwards means the client restarted, and its new counters are the delta.
 *
 * Bounded: every series is a few fixed typed arrays (~4 KB), at most `maxSeries` of them and as
 * many clients; past that, new series or clients are dropped and counted. Series silent for the
 * whole 15 minutes and clients silent for `ageOutMs` are pruned. Pure: the clock is passed in.
 */
import type { TelemetryReport } from '../../protocol/telemetry';
import { LATENCY_BUCKETS_MS, quantile, toCurrentLayout } from '../../sdk/latencyHistogram';
import type { EdgeStat } from './telemetryReader';

export type { EdgeStat };

export const EDGE_BUCKET_MS = 5_000;
/** 15 minutes of 5-second buckets. */
const SLOTS = (15 * 60_000) / EDGE_BUCKET_MS;
const MINUTE_MS = 60_000;
/** 15 minutes plus the one under way. */
const MINUTE_SLOTS = 16;
const HIST = LATENCY_BUCKETS_MS.length + 1;
/** The "now" of an edge's colour: the bucket under way and the one before (5–10 s). */
const RECENT_BUCKETS = 2;

/** An edge series as the graph reads it: an EdgeStat plus what merges across instances. */
export interface EdgeSample extends EdgeStat {
  /** Latency counts over the window's minutes (sdk/latencyHistogram layout), to merge per subset. */
  latency: number[];
  /** Answers per status code over the window's minutes ("error": no answer). */
  statuses: Record<string, number>;
  /** Requests and errors in the last 5–10 s: what a fault looks like right now. */
  recentRequests: number;
  recentErrors: number;
}

export interface CallGraphStoreOptions {
  /** Series (caller × callee × instance) held at once; also the bound on clients. @default 20000 */
  maxSeries?: number;
  /** A client silent this long is forgotten (its next report is a new baseline). @default 60 s */
  ageOutMs?: number;
}

interface Cumulative {
  requests: number;
  errors: number;
  latency: number[];
  statuses: Record<string, number>;
}

interface ClientState {
  lastSeen: number;
  instances: Map<string, Cumulative>;
}

class Series {
  /** [requests, errors] per 5-second slot. */
  readonly counts = new Uint32Array(SLOTS * 2);
  /** The bucket index (t / 5 s) each slot holds; -1 empty. */
  readonly slotBucket = new Int32Array(SLOTS).fill(-1);
  readonly latency = new Uint32Array(MINUTE_SLOTS * HIST);
  readonly minute = new Int32Array(MINUTE_SLOTS).fill(-1);
  /** Per status code, counts per minute slot (bounded by the report's status keys). */
  readonly statuses = new Map<string, Uint32Array>();
  lastBucket = -1;
  /** The first bucket with traffic: a series younger than the window is averaged over its age, not the window. */
  firstBucket = -1;

  constructor(
    readonly caller: string,
    readonly callee: string,
    readonly instanceId: string,
  ) {}

  add(now: number, requests: number, errors: number, latency: readonly number[], statuses: Record<string, number>): void {
    const b = Math.floor(now / EDGE_BUCKET_MS);
    const slot = b % SLOTS;
    if (this.slotBucket[slot] !== b) {
      this.slotBucket[slot] = b;
      this.counts[slot * 2] = 0;
      this.counts[slot * 2 + 1] = 0;
    }
    this.counts[slot * 2]! += requests;
    this.counts[slot * 2 + 1]! += errors;
    this.lastBucket = b;
    if (this.firstBucket < 0) this.firstBucket = b;
    const m = Math.floor(now / MINUTE_MS);
    const ms = m % MINUTE_SLOTS;
    if (this.minute[ms] !== m) {
      this.minute[ms] = m;
      this.latency.fill(0, ms * HIST, (ms + 1) * HIST);
      for (const counts of this.statuses.values()) counts[ms] = 0;
    }
    for (let i = 0; i < HIST; i++) this.latency[ms * HIST + i]! += latency[i] ?? 0;
    for (const [code, n] of Object.entries(statuses)) {
      if (n <= 0) continue;
      let counts = this.statuses.get(code);
      if (!counts) this.statuses.set(code, (counts = new Uint32Array(MINUTE_SLOTS)));
      counts[ms]! += n;
    }
  }

  sample(windowMs: number, now: number): EdgeSample | null {
    const nowB = Math.floor(now / EDGE_BUCKET_MS);
    const n = Math.max(1, Math.min(SLOTS, Math.ceil(windowMs / EDGE_BUCKET_MS)));
    if (this.lastBucket < nowB - n + 1) return null;
    let requests = 0;
    let errors = 0;
    let recentRequests = 0;
    let recentErrors = 0;
    for (let b = nowB - n + 1; b <= nowB; b++) {
      const slot = b % SLOTS;
      if (this.slotBucket[slot] !== b) continue;
      const r = this.counts[slot * 2]!;
      const e = this.counts[slot * 2 + 1]!;
      requests += r;
      errors += e;
      if (b > nowB - RECENT_BUCKETS) {
        recentRequests += r;
        recentErrors += e;
      }
    }
    // Minutes overlapping the window: latency and status codes are kept per minute.
    const nowM = Math.floor(now / MINUTE_MS);
    const fromM = Math.floor((now - n * EDGE_BUCKET_MS) / MINUTE_MS);
    const latency = new Array<number>(HIST).fill(0);
    const statuses: Record<string, number> = {};
    for (let m = Math.max(fromM, nowM - MINUTE_SLOTS + 1); m <= nowM; m++) {
      const ms = m % MINUTE_SLOTS;
      if (this.minute[ms] !== m) continue;
      for (let i = 0; i < HIST; i++) latency[i]! += this.latency[ms * HIST + i]!;
      for (const [code, counts] of this.statuses) if (counts[ms]) statuses[code] = (statuses[code] ?? 0) + counts[ms]!;
    }
    // The window so far: whole buckets before the current one (no more than the series has lived)
    // plus the part of the current one that has passed.
    const whole = Math.max(0, Math.min(n - 1, nowB - this.firstBucket));
    const seconds = (whole * EDGE_BUCKET_MS + (now - nowB * EDGE_BUCKET_MS)) / 1000;
    return {
      caller: this.caller,
      callee: this.callee,
      instanceId: this.instanceId,
      requests,
      errors,
      rps: seconds > 0 ? requests / seconds : 0,
      errorRate: requests > 0 ? errors / requests : 0,
      p99: quantile(latency, 0.99),
      latency,
      statuses,
      recentRequests,
      recentErrors,
    };
  }
}

export class CallGraphStore {
  private readonly clients = new Map<string, ClientState>();
  private readonly series = new Map<string, Series>();
  private readonly maxSeries: number;
  private readonly ageOutMs: number;
  /** Reports (or parts of them) dropped because a bound was reached. */
  dropped = 0;
  /** Bumped whenever a report adds traffic: readers can skip work when nothing moved. */
  version = 0;

  constructor(options: CallGraphStoreOptions = {}) {
    this.maxSeries = options.maxSeries ?? 20_000;
    this.ageOutMs = options.ageOutMs ?? 60_000;
  }

  get seriesCount(): number {
    return this.series.size;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  ingest(report: TelemetryReport, now: number): void {
    let client = this.clients.get(report.clientId);
    const first = !client;
    if (!client) {
      if (this.clients.size >= this.maxSeries) {
        this.dropped++;
        return;
      }
      this.clients.set(report.clientId, (client = { lastSeen: now, instances: new Map() }));
    }
    client.lastSeen = now;
    for (const inst of report.instances) {
      const next: Cumulative = { requests: inst.requests, errors: inst.errors, latency: toCurrentLayout(inst.latency), statuses: inst.statuses ?? {} };
      const before = client.instances.get(inst.id);
      client.instances.set(inst.id, next);
      // First sight of this client: a baseline. A new instance of a known client: all of it is new.
      if (first) continue;
      const restarted = before !== undefined && (next.requests < before.requests || next.errors < before.errors);
      const base = before === undefined || restarted ? EMPTY : before;
      const requests = next.requests - base.requests;
      const errors = next.errors - base.errors;
      if (requests <= 0 && errors <= 0) continue;
      const latency = next.latency.map((c, i) => Math.max(0, c - (base.latency[i] ?? 0)));
      const statuses: Record<string, number> = {};
      for (const [code, c] of Object.entries(next.statuses)) {
        const d = c - (base.statuses[code] ?? 0);
        if (d > 0) statuses[code] = d;
      }
      const s = this.seriesFor(report.caller, report.service, inst.id);
      if (!s) continue;
      s.add(now, requests, errors, latency, statuses);
      this.version++;
    }
  }

  /** Forgets clients silent for `ageOutMs` and series with nothing in the last 15 minutes. */
  prune(now: number): void {
    for (const [id, c] of this.clients) if (now - c.lastSeen > this.ageOutMs) this.clients.delete(id);
    const oldest = Math.floor(now / EDGE_BUCKET_MS) - SLOTS + 1;
    for (const [key, s] of this.series) if (s.lastBucket < oldest) this.series.delete(key);
  }

  /** Every caller → callee instance with traffic in the last `windowMs` (at most 15 minutes). */
  edges(windowMs: number, now: number): EdgeStat[] {
    return this.samples(windowMs, now).map(({ caller, callee, instanceId, requests, errors, rps, errorRate, p99 }) => ({ caller, callee, instanceId, requests, errors, rps, errorRate, p99 }));
  }

  /** Like edges(), with the histograms and status counts that merge across instances. */
  samples(windowMs: number, now: number, match?: (caller: string, callee: string) => boolean): EdgeSample[] {
    const out: EdgeSample[] = [];
    for (const s of this.series.values()) {
      if (match && !match(s.caller, s.callee)) continue;
      const sample = s.sample(windowMs, now);
      if (sample) out.push(sample);
    }
    return out;
  }

  private seriesFor(caller: string, callee: string, instanceId: string): Series | null {
    const key = `${caller}\u0000${callee}\u0000${instanceId}`;
    let s = this.series.get(key);
    if (!s) {
      if (this.series.size >= this.maxSeries) {
        this.dropped++;
        return null;
      }
      this.series.set(key, (s = new Series(caller, callee, instanceId)));
    }
    return s;
  }
}

const EMPTY: Cumulative = { requests: 0, errors: 0, latency: [], statuses: {} };
