import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FragmentList } from './fragmentList';
import { RegistryState } from './registryState';
import type { CheckStatus } from './registryRecords';
import { RegistryViews, statusFilter } from './registryViews';

const node = { id: 'n', name: 'node-1', address: '127.0.0.1', datacenter: 'dc1' };
const text = (b: string | Buffer[]) => (typeof b === 'string' ? b : Buffer.concat(b).toString('utf8'));

describe('statusFilter', () => {
  it('evaluates Status comparisons with and/or/not and parentheses', () => {
    expect([...statusFilter('Status != "passing"')].sort()).toEqual(['critical', 'warning']);
    expect([...statusFilter('Status == "critical"')]).toEqual(['critical']);
    expect([...statusFilter('Status == "critical" or Status == `warning`')].sort()).toEqual(['critical', 'warning']);
    expect([...statusFilter('not (Status == "passing") and Status != "warning"')]).toEqual(['critical']);
    expect([...statusFilter('Status == "nope"')]).toEqual([]);
  });

  it('refuses, naming it, anything that is not a Status comparison', () => {
    for (const [expr, what] of [
      ['ServiceName == "web"', 'selector "ServiceName"'],
      ['Status matches "pass"', 'operator "matches"'],
      ['Status == passing', 'value "passing" (quote it)'],
      ['Status == "passing" extra', '"extra"'],
      ['(Status == "passing"', 'unbalanced parentheses'],
      ['', 'an empty expression'],
    ]) {
      expect(() => statusFilter(expr!), expr).toThrow(what);
    }
  });
});

describe('FragmentList', () => {
  it('keeps insertion order across removals and re-renders only invalidated blocks', () => {
    const list = new FragmentList(2);
    for (const k of ['a', 'b', 'c', 'd', 'e']) list.add(k);
    let renders = 0;
    const render = (k: string) => {
      renders++;
      return JSON.stringify(k);
    };
    expect(text(list.encode('[', ']', render))).toBe('["a","b","c","d","e"]');
    expect(renders).toBe(5);
    list.delete('c');
    list.remove('a');
    list.remove('b');
    list.add('f');
    renders = 0;
    expect(text(list.encode('[', ']', render))).toBe('["c","d","e","f"]');
    expect(renders).toBe(2); // c (changed) and f (new)
  });
});

describe('filtered lists for blocked `?filter=` watchers', () => {
  it('evaluate the filter again only on the block of a check that changed, not on every check', () => {
    const s = new RegistryState();
    const v = new RegistryViews(s, node);
    for (let i = 0; i < 2000; i++) {
      s.registerService({ ID: `i${i}`, Service: `s${i % 50}`, Tags: [], Address: '', Port: i, Meta: {}, Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false }, [
        { CheckID: `i${i}-c`, Name: 'c', Notes: '', Status: 'passing', definition: { type: 'ttl', ttlMs: 60_000 } },
      ]);
    }
    let evaluated = 0;
    const pred = (r: unknown) => {
      evaluated++;
      return (r as { ServiceName: string }).ServiceName === 's7';
    };
    const all = new Set<CheckStatus>(['passing', 'warning', 'critical']);
    expect(JSON.parse(text(v.filteredChecks(pred, all, 'k')))).toHaveLength(40);
    evaluated = 0;
    s.updateCheck('i1007-c', 'critical', 'down');
    const after = JSON.parse(text(v.filteredChecks(pred, all, 'k'))) as { CheckID: string; Status: string }[];
    expect(after.find((c) => c.CheckID === 'i1007-c')?.Status).toBe('critical');
    expect(evaluated).toBeLessThanOrEqual(129); // one block of 128, and serfHealth
    expect(text(v.filteredChecks(pred, all))).toBe(text(v.filteredChecks(pred, all, 'k')));
  });
});

describe('RegistryState indexes and views agree with a brute-force recomputation (random operations)', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('register' as const), id: fc.integer({ min: 0, max: 11 }), name: fc.integer({ min: 0, max: 3 }), tags: fc.subarray(['a', 'b', 'c']), checks: fc.integer({ min: 0, max: 2 }), status: fc.constantFrom<CheckStatus>('passing', 'warning', 'critical') }),
    fc.record({ kind: fc.constant('deregister' as const), id: fc.integer({ min: 0, max: 11 }) }),
    fc.record({ kind: fc.constant('update' as const), id: fc.integer({ min: 0, max: 11 }), n: fc.integer({ min: 0, max: 1 }), status: fc.constantFrom<CheckStatus>('passing', 'warning', 'critical') }),
  );

  type Rec = Record<string, unknown>;
  const checkFilters: { pred: (r: unknown) => boolean; statuses: Set<CheckStatus> }[] = [
    { pred: (r) => ((r as Rec).ServiceTags as string[]).includes('a'), statuses: new Set(['passing', 'warning', 'critical']) },
    { pred: (r) => (r as Rec).Status === 'critical' || (r as Rec).ServiceName === 's1', statuses: new Set(['passing', 'warning', 'critical']) },
    { pred: (r) => (r as Rec).ServiceName !== 's2', statuses: new Set(['passing']) },
    { pred: (r) => ((r as Rec).CheckID as string).endsWith('c1'), statuses: new Set(['warning', 'critical']) },
  ];
  const serviceFilters: ((r: unknown) => boolean)[] = [(r) => ((r as Rec).Tags as string[]).includes('b'), (r) => ((r as Rec).Port as number) % 2 === 0];

  it('holds for any sequence', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const s = new RegistryState();
        const v = new RegistryViews(s, node);
        for (const o of ops) {
          if (o.kind === 'register') {
            s.registerService(
              { ID: `i${o.id}`, Service: `s${o.name}`, Tags: o.tags, Address: '', Port: o.id, Meta: {}, Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false },
              Array.from({ length: o.checks }, (_, n) => ({ CheckID: `i${o.id}-c${n}`, Name: 'c', Notes: '', Status: o.status, definition: { type: 'ttl' as const, ttlMs: 60_000 } })),
            );
          } else if (o.kind === 'deregister') s.deregisterService(`i${o.id}`);
          else s.updateCheck(`i${o.id}-c${o.n}`, o.status, o.status);
          // Render after some operations so cached fragments are exercised.
          if (o.id % 3 === 0) {
            v.uiServices();
            v.catalogServices();
            v.healthState(new Set(['passing', 'warning', 'critical']));
            v.healthService(`s${o.id % 4}`, [], false);
            for (const [i, f] of checkFilters.entries()) v.filteredChecks(f.pred, f.statuses, `f${i}`);
            for (const [i, pred] of serviceFilters.entries()) v.nodeServicesFiltered(pred, `f${i}`);
          }
        }
        const services = [...s.services.values()];
        const checks = [...s.checks.values()];
        // /catalog/services
        const catalog: Record<string, string[]> = {};
        for (const x of services) catalog[x.Service] = [...new Set([...(catalog[x.Service] ?? []), ...x.Tags])];
        const got = JSON.parse(text(v.catalogServices())) as Record<string, string[]>;
        expect(Object.keys(got).sort()).toEqual(Object.keys(catalog).sort());
        for (const k of Object.keys(catalog)) expect([...got[k]!].sort()).toEqual([...catalog[k]!].sort());
        // /health/state/*
        const ids = (b: string | Buffer[]) => (JSON.parse(text(b)) as { CheckID: string }[]).map((c) => c.CheckID).sort();
        expect(ids(v.healthState(new Set(['passing', 'warning', 'critical'])))).toEqual(['serfHealth', ...checks.map((c) => c.CheckID)].sort());
        expect(ids(v.healthState(new Set(['critical', 'warning'])))).toEqual(checks.filter((c) => c.Status !== 'passing').map((c) => c.CheckID).sort());
        expect(ids(v.healthState(new Set(['passing'])))).toEqual(['serfHealth', ...checks.filter((c) => c.Status === 'passing').map((c) => c.CheckID)].sort());
        for (const c of JSON.parse(text(v.healthState(new Set(['passing', 'warning', 'critical'])))) as { CheckID: string; Status: string; ServiceTags: string[] }[]) {
          if (c.CheckID === 'serfHealth') continue;
          const rec = s.checks.get(c.CheckID)!;
          expect(c.Status).toBe(rec.Status);
          expect(c.ServiceTags).toEqual(s.services.get(rec.ServiceID)!.Tags);
        }
        // /health/service/:name and /internal/ui/services
        const ui = JSON.parse(text(v.uiServices())) as { Name: string; InstanceCount: number; ChecksPassing: number; ChecksWarning: number; ChecksCritical: number }[];
        expect(ui.map((e) => e.Name).sort()).toEqual(Object.keys(catalog).sort());
        for (const name of ['s0', 's1', 's2', 's3']) {
          const mine = services.filter((x) => x.Service === name);
          const entries = JSON.parse(v.healthService(name, [], false)) as { Service: { ID: string; Port: number }; Checks: { CheckID: string; Status: string }[] }[];
          expect(entries.map((e) => e.Service.ID)).toEqual(mine.map((x) => x.ID).sort());
          for (const e of entries) {
            expect(e.Service.Port).toBe(s.services.get(e.Service.ID)!.Port);
            expect(e.Checks.map((c) => `${c.CheckID}=${c.Status}`).sort()).toEqual(['serfHealth=passing', ...checks.filter((c) => c.ServiceID === e.Service.ID).map((c) => `${c.CheckID}=${c.Status}`)].sort());
          }
          const passing = JSON.parse(v.healthService(name, [], true)) as { Service: { ID: string } }[];
          expect(passing.map((e) => e.Service.ID)).toEqual(mine.filter((x) => checks.every((c) => c.ServiceID !== x.ID || c.Status === 'passing')).map((x) => x.ID).sort());
          const summary = ui.find((e) => e.Name === name);
          if (mine.length === 0) expect(summary).toBeUndefined();
          else {
            const mineChecks = checks.filter((c) => mine.some((x) => x.ID === c.ServiceID));
            expect(summary).toMatchObject({
              InstanceCount: mine.length,
              ChecksPassing: mine.length + mineChecks.filter((c) => c.Status === 'passing').length,
              ChecksWarning: mineChecks.filter((c) => c.Status === 'warning').length,
              ChecksCritical: mineChecks.filter((c) => c.Status === 'critical').length,
            });
          }
        }
        // `?filter=` lists kept per block (a blocked watcher's) equal the full evaluation and a brute-force one, byte for byte.
        for (const [i, f] of checkFilters.entries()) {
          const full = text(v.filteredChecks(f.pred, f.statuses));
          expect(text(v.filteredChecks(f.pred, f.statuses, `f${i}`))).toBe(full);
          const expected = checks.filter((c) => f.statuses.has(c.Status) && f.pred(v.projectCheck(c))).map((c) => c.CheckID);
          if (f.statuses.has('passing') && f.pred(v.projectSerf())) expected.unshift('serfHealth');
          expect((JSON.parse(full) as { CheckID: string }[]).map((c) => c.CheckID)).toEqual(expected);
        }
        for (const [i, pred] of serviceFilters.entries()) {
          const full = text(v.nodeServicesFiltered(pred));
          expect(text(v.nodeServicesFiltered(pred, `f${i}`))).toBe(full);
          expect((JSON.parse(full) as { Services: { ID: string }[] }).Services.map((x) => x.ID)).toEqual(services.filter((x) => pred(v.projectService(x))).map((x) => x.ID));
        }
        // DNS and reaping read the same indexes.
        expect(s.servicesToReap(Date.now() + 1e9)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
