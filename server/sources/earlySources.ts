/**
 * Consul sources started before the rest of the server loads. A large registry's first answers
 * cost the registry seconds of its own CPU (Consul 1.8.7 computes `/v1/internal/ui/services`
 * for 10,000 services in ~1.2 s); asked for first, that overlaps the ~0.7 s the dashboard's
 * modules take to load instead of following it. What a source reports meanwhile is held and
 * handed over, in order, when the server starts it for real.
 */
import type { Config } from '../config/loadConfig';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import { namedConsulSource, type WatchLatencyObserver } from './consul/consulSource';
import type { Source, SourceEvent, SourceSink } from './source';

/** A started source whose events are held until start() gives them a sink. */
export class HeldSource implements Source {
  readonly id: string;
  readonly kind: Source['kind'];
  readonly name: string;
  readonly address: string | null;
  private held: SourceEvent[] | null = [];
  private sink: SourceSink | null = null;

  constructor(private readonly inner: Source) {
    this.id = inner.id;
    this.kind = inner.kind;
    this.name = inner.name;
    this.address = inner.address;
    inner.start((event) => (this.sink ? this.sink(event) : this.held!.push(event)));
  }

  start(sink: SourceSink): void {
    if (this.sink) return;
    for (const event of this.held!) sink(event);
    this.held = null;
    this.sink = sink;
  }

  want(serviceId: string): void {
    this.inner.want?.(serviceId);
  }

  focus(serviceId: string, open: boolean): void {
    this.inner.focus?.(serviceId, open);
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }
}

export interface EarlySources {
  /** By source name: every configured Consul source (not the embedded registry, which starts with the server). */
  readonly consul: ReadonlyMap<string, HeldSource>;
  /** Watch latencies observed before the metrics existed are recorded now, and later ones as they come. */
  bindMetrics(metrics: Metrics): void;
  /**
   * Resolves once every source has sent its first reads (at most `maxMs`): loading modules holds
   * the event loop, so requests only asked for would not reach the registry until it is over.
   */
  sent(maxMs?: number): Promise<void>;
}

export function startConsulSourcesEarly(config: Config, logger: Logger): EarlySources {
  let metrics: Metrics | null = null;
  const early: [{ source: string; endpoint: string }, number][] = [];
  // Latencies observed before the metrics exist wait here.
  const watchLatency: WatchLatencyObserver = { observe: (labels, seconds) => (metrics ? metrics.watchLatency.observe(labels, seconds) : early.push([labels, seconds])) };
  const consul = new Map<string, HeldSource>();
  const watching: Promise<void>[] = [];
  for (const c of config.consulSources) {
    const source = namedConsulSource(c, logger, watchLatency);
    consul.set(c.name, new HeldSource(source));
    watching.push(source.watching);
  }
  return {
    consul,
    async sent(maxMs = 500) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([Promise.all(watching), new Promise((resolve) => (timer = setTimeout(resolve, maxMs)))]);
      clearTimeout(timer);
      // A few turns of the event loop: connections open and the requests are written.
      await new Promise((resolve) => setTimeout(resolve, 20));
    },
    bindMetrics(m) {
      metrics = m;
      for (const [labels, seconds] of early.splice(0)) m.watchLatency.observe(labels, seconds);
    },
  };
}
