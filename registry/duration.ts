/** Go `time.ParseDuration`, which is what Consul uses for TTL, Interval, Timeout and `wait`. */
const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export class DurationError extends Error {}

/** Milliseconds for a Go duration string such as `10s`, `1m30s`, `250ms`; `0` alone is zero. */
export function parseDuration(input: string): number {
  const s = input.trim();
  if (s === '0') return 0;
  if (s === '') throw new DurationError(`time: invalid duration ""`);
  const re = /([0-9]*\.?[0-9]+)([^0-9.]*)/gy; // like Go, a unit is everything up to the next number
  let total = 0;
  let pos = 0;
  const sign = s.startsWith('-') ? -1 : 1;
  const body = s.replace(/^[+-]/, '');
  re.lastIndex = 0;
  while (pos < body.length) {
    re.lastIndex = pos;
    const m = re.exec(body);
    if (!m || m.index !== pos) throw new DurationError(`time: invalid duration "${input}"`);
    const unit = m[2]!;
    if (!unit) throw new DurationError(`time: missing unit in duration "${input}"`);
    const factor = UNITS[unit];
    if (factor === undefined) throw new DurationError(`time: unknown unit "${unit}" in duration "${input}"`);
    total += Number(m[1]) * factor;
    pos = re.lastIndex;
  }
  return sign * total;
}

/** Go's String() form for whole milliseconds, e.g. 90000 → `1m30s`, 1500 → `1.5s`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}
