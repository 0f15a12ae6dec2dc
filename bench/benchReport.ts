/** Shared helpers for benchmarks: percentiles and appending a section to BENCHMARKS.md. */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';

const file = resolve(import.meta.dirname, '..', 'BENCHMARKS.md');

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function machine(): string {
  return `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/** Appends `## title` with the command and body to BENCHMARKS.md and prints it. */
export function report(title: string, command: string, body: string): void {
  if (!existsSync(file)) writeFileSync(file, '# Benchmarks\n\nEvery figure below comes from the command named with it, run on the machine it names.\n');
  const section = `\n## ${title}\n\n\`${command}\` — ${new Date().toISOString()} — ${machine()}\n\n${body.trim()}\n`;
  appendFileSync(file, section);
  process.stdout.write(section);
}
