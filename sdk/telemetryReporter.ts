/**
 * Sends a client's telemetry to the control plane (POST /api/telemetry with a Bearer token),
 * at most once per interval and only when something changed — plus a heartbeat every 5 s so
 * the dashboard knows the client is still there. Failures are dropped: the next report carries
 * cumulative counters, so nothing is lost but resolution.
 */
import { MAX_STATUS_KEYS, type TelemetryReport } from '../protocol/telemetry';

export interface TelemetryReporterOptions {
  /** Control plane base URL, e.g. http://127.0.0.1:3000 */
  url: string;
  token: string;
  report: () => TelemetryReport;
  /** @default 1000 */
  intervalMs?: number;
  /** @default 5000 */
  heartbeatMs?: number;
}

export class TelemetryReporter {
  private timer: ReturnType<typeof setInterval> | null = null;
  private last = '';
  private lastSentAt = 0;
  private inFlight: Promise<void> | null = null;

  constructor(private readonly options: TelemetryReporterOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs ?? 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.inFlight;
  }

  private async tick(): Promise<void> {
    if (this.inFlight) return;
    const report = this.options.report();
    const body = JSON.stringify(report);
    const due = Date.now() - this.lastSentAt >= (this.options.heartbeatMs ?? 5000);
    if (body === this.last && !due) return;
    this.inFlight = fetch(`${this.options.url.replace(/\/+$/, '')}/api/telemetry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.token}` },
      body,
      signal: AbortSignal.timeout(5000),
    })
      .then(async (r) => {
        await r.arrayBuffer();
        if (r.ok) {
          this.last = body;
          this.lastSentAt = Date.now();
        }
      })
      .catch(() => undefined)
      .finally(() => (this.inFlight = null));
    await this.inFlight;
  }
}

/**
 * Counts one answer in a cumulative per-status record (`InstanceReport.statuses`): its HTTP
 * status, or "error" when there was none (`status` null). Past MAX_STATUS_KEYS distinct codes,
 * new codes count as "error", so a report stays bounded whatever a service answers.
 */
export function countStatus(statuses: Record<string, number>, status: number | null): void {
  let key = status !== null && status >= 100 && status <= 599 ? String(status) : 'error';
  if (!Object.hasOwn(statuses, key) && Object.keys(statuses).length >= MAX_STATUS_KEYS - (Object.hasOwn(statuses, 'error') ? 0 : 1)) key = 'error';
  statuses[key] = (statuses[key] ?? 0) + 1;
}
