/**
 * Keeps the demo fleet busy so there is always traffic: calls `order`'s /work at a modest,
 * bounded rate, picking passing instances from the registry. Loopback only; stops on stop().
 */
export interface LoadGeneratorOptions {
  registryAddr: string;
  /** Requests per second. @default 5 */
  rps?: number;
}

export interface LoadGenerator {
  stats(): { ok: number; failed: number };
  stop(): Promise<void>;
}

export function startLoadGenerator(options: LoadGeneratorOptions): LoadGenerator {
  const rps = options.rps ?? 5;
  let ok = 0;
  let failed = 0;
  let targets: string[] = [];
  let next = 0;
  let pending = Promise.resolve();
  const refresh = async () => {
    const r = await fetch(`${options.registryAddr}/v1/health/service/order?passing=1`).catch(() => null);
    if (!r?.ok) return;
    const list = (await r.json()) as { Service: { Address: string; Port: number } }[];
    targets = list.map((e) => `http://${e.Service.Address || '127.0.0.1'}:${e.Service.Port}/work`);
  };
  const refresher = setInterval(() => void refresh(), 2000);
  void refresh();
  const ticker = setInterval(() => {
    if (targets.length === 0) return;
    const url = targets[next++ % targets.length]!;
    pending = fetch(url, { signal: AbortSignal.timeout(5000) })
      .then((r) => (r.ok ? ok++ : failed++))
      .catch(() => failed++)
      .then(() => undefined);
  }, 1000 / rps);
  return {
    stats: () => ({ ok, failed }),
    async stop() {
      clearInterval(refresher);
      clearInterval(ticker);
      await pending;
    },
  };
}
