/**
 * Mesh route weights on Kubernetes (issue 16). A Service may be bound to a Gateway API HTTPRoute
 * or an Istio VirtualService in its namespace with the annotation `switchboard.dev/route:
 * httproute/<name>` (or `virtualservice/<name>`); the policy's weights are then also written to
 * that route, one backend per subset:
 *
 * - HTTPRoute: `spec.rules[].backendRefs[]` whose Service is `<service>-<subset>` (or what the
 *   annotation `switchboard.dev/route-backends: {"blue":"payment-v1",…}` names) get the subset's
 *   weight.
 * - VirtualService: `spec.http[].route[]` destinations whose host is that subset Service (short
 *   name or `<name>.<ns>[.svc[.cluster.local]]`), or whose host is the Service itself with
 *   `subset: <subset>` (a DestinationRule subset), get the subset's weight.
 *
 * Every rule that routes to at least one of these backends is rewritten; backends that are not
 * the policy's (a third Service, a mirror) keep their weight, and rules that route to none of
 * them are left alone. What Switchboard wrote is recorded on the route itself (annotation
 * `switchboard.dev/route-weights`, per Service), so a later write can tell that someone else has
 * changed the weights since and refuse instead of silently overwriting them.
 *
 * Pure: no I/O (kubernetesMeshRoutesClient.ts reads and writes the objects).
 */
import { z } from 'zod';
import type { MeshRoute } from '../../protocol/api';
import { own, SUBSET_NAME, type TrafficPolicy } from '../../protocol/traffic';

/** On the Service: the route it is bound to, `httproute/<name>` or `virtualservice/<name>` (same namespace). */
export const ROUTE_ANNOTATION = 'switchboard.dev/route';
/** On the Service, optional: subset → backend Service name, when it is not `<service>-<subset>`. */
export const ROUTE_BACKENDS_ANNOTATION = 'switchboard.dev/route-backends';
/** On the route: per Service, the weights Switchboard last wrote there, when and by whom. */
export const ROUTE_WEIGHTS_ANNOTATION = 'switchboard.dev/route-weights';

export type MeshRouteKind = 'HTTPRoute' | 'VirtualService';

/** Where each kind lives; versions in order of preference (the first one the cluster serves is used). */
export const ROUTE_TYPES: Readonly<Record<MeshRouteKind, { group: string; plural: string; versions: readonly string[] }>> = {
  HTTPRoute: { group: 'gateway.networking.k8s.io', plural: 'httproutes', versions: ['v1', 'v1beta1'] },
  VirtualService: { group: 'networking.istio.io', plural: 'virtualservices', versions: ['v1', 'v1beta1', 'v1alpha3'] },
};

export interface RouteBinding {
  kind: MeshRouteKind;
  namespace: string;
  name: string;
  /** The bound Service's name. */
  service: string;
  /** Subset → its backend Service's name. */
  backends: Record<string, string>;
}

/** A route object as the API server returns it; everything Switchboard does not touch is kept as is. */
export interface RouteObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name?: string; namespace?: string; resourceVersion?: string; annotations?: Record<string, string>; [key: string]: unknown };
  spec?: unknown;
  [key: string]: unknown;
}

/** "HTTPRoute shop/payment": how every message names a route. */
export function describeRoute(route: { kind: MeshRouteKind; namespace: string; name: string }): string {
  return `${route.kind} ${route.namespace}/${route.name}`;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const KINDS: Record<string, MeshRouteKind> = { httproute: 'HTTPRoute', virtualservice: 'VirtualService' };

export type BindingResult = { ok: true; binding: RouteBinding } | { ok: false; why: string; text: string };

/**
 * The route a Service is bound to, from its annotations; null when it is bound to none. The
 * backends cover `subsets` (the policy's) plus any the override annotation names.
 */
export function routeBinding(service: { namespace: string; name: string; annotations: Readonly<Record<string, string>> | undefined }, subsets: readonly string[]): BindingResult | null {
  const text = service.annotations?.[ROUTE_ANNOTATION]?.trim();
  if (text === undefined) return null;
  const where = `annotation ${ROUTE_ANNOTATION} on service ${service.namespace}/${service.name}`;
  const m = /^([A-Za-z]+)\/(.+)$/.exec(text);
  const kind = m ? KINDS[m[1]!.toLowerCase()] : undefined;
  if (!m || !kind || !DNS_SUBDOMAIN.test(m[2]!)) {
    return { ok: false, text, why: `${where} is "${text}"; expected httproute/<name> or virtualservice/<name> (a route in namespace ${service.namespace})` };
  }
  const backends: Record<string, string> = Object.fromEntries(subsets.map((s) => [s, `${service.name}-${s}`]));
  const raw = service.annotations?.[ROUTE_BACKENDS_ANNOTATION];
  if (raw !== undefined) {
    const parsed = z.record(z.string().regex(SUBSET_NAME), z.string().regex(DNS_LABEL)).safeParse(safeJson(raw));
    if (!parsed.success) return { ok: false, text, why: `annotation ${ROUTE_BACKENDS_ANNOTATION} on service ${service.namespace}/${service.name} must be a JSON object of subset → Service name, e.g. {"blue":"${service.name}-v1"}` };
    for (const [subset, backend] of Object.entries(parsed.data)) backends[subset] = backend;
  }
  const owners = new Map<string, string>();
  for (const [subset, backend] of Object.entries(backends)) {
    const other = owners.get(backend);
    if (other !== undefined) return { ok: false, text, why: `subsets "${other}" and "${subset}" of service ${service.namespace}/${service.name} both map to backend ${backend}; each subset needs its own Service (${ROUTE_BACKENDS_ANNOTATION})` };
    owners.set(backend, subset);
  }
  return { ok: true, binding: { kind, namespace: service.namespace, name: m[2]!, service: service.name, backends } };
}

// ── Rules: both kinds reduced to lists of weighted entries ──────────────────────────────────

interface Entry {
  /** The policy subset this entry carries, or null for a backend that is not the policy's. */
  subset: string | null;
  weight: number | undefined;
  /** How the panel names the backend. */
  label: string;
}

interface Rule {
  /** Where it is, for messages: `spec.rules[0]`. */
  path: string;
  entries: Entry[];
  /** The weight an entry without one gets (Gateway API: 1; Istio: all of it when alone, else 0). */
  implicit: number;
}

const Obj = z.record(z.string(), z.unknown());
const HttpRouteSpec = z.looseObject({ rules: z.array(z.looseObject({ backendRefs: z.array(Obj).nullish() })).nullish() });
const VirtualServiceSpec = z.looseObject({ http: z.array(z.looseObject({ route: z.array(Obj).nullish() })).nullish() });

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** A VirtualService host as a Service name in `namespace`, or null for a host elsewhere. */
function serviceOfHost(host: string, namespace: string): string | null {
  const h = host.toLowerCase().replace(/\.$/, '');
  for (const suffix of [`.${namespace}.svc.cluster.local`, `.${namespace}.svc`, `.${namespace}`]) {
    if (h.endsWith(suffix)) return h.slice(0, -suffix.length);
  }
  return h.includes('.') ? null : h;
}

/** The route's rules as weighted entries, or why its spec is not one this kind allows. */
function rulesOf(binding: RouteBinding, spec: unknown): { ok: true; rules: Rule[] } | { ok: false; why: string } {
  const bySubsetService = new Map(Object.entries(binding.backends).map(([subset, backend]) => [backend, subset]));
  if (binding.kind === 'HTTPRoute') {
    const parsed = HttpRouteSpec.safeParse(spec ?? {});
    if (!parsed.success) return { ok: false, why: `spec.rules: expected a list of rules with backendRefs lists (${parsed.error.issues[0]?.path.join('.')})` };
    return {
      ok: true,
      rules: (parsed.data.rules ?? []).map((rule, i) => ({
        path: `spec.rules[${i}]`,
        implicit: 1,
        entries: (rule.backendRefs ?? []).map((ref) => {
          const name = str(ref.name) ?? '';
          const isService = (str(ref.group) ?? '') === '' && (str(ref.kind) ?? 'Service') === 'Service' && (str(ref.namespace) ?? binding.namespace) === binding.namespace;
          return { subset: isService ? (bySubsetService.get(name) ?? null) : null, weight: num(ref.weight), label: name };
        }),
      })),
    };
  }
  const parsed = VirtualServiceSpec.safeParse(spec ?? {});
  if (!parsed.success) return { ok: false, why: `spec.http: expected a list of HTTP routes with route lists (${parsed.error.issues[0]?.path.join('.')})` };
  return {
    ok: true,
    rules: (parsed.data.http ?? []).map((rule, i) => {
      const route = rule.route ?? [];
      return {
        path: `spec.http[${i}]`,
        implicit: route.length === 1 ? 100 : 0,
        entries: route.map((r) => {
          const dest = Obj.safeParse(r.destination).data ?? {};
          const host = str(dest.host) ?? '';
          const named = str(dest.subset);
          const svc = serviceOfHost(host, binding.namespace);
          let subset: string | null = null;
          if (svc !== null && svc === binding.service && named !== undefined && Object.hasOwn(binding.backends, named)) subset = named;
          else if (svc !== null) subset = bySubsetService.get(svc) ?? null;
          return { subset, weight: num(r.weight), label: named !== undefined ? `${host} subset ${named}` : host };
        }),
      };
    }),
  };
}

const ours = (rule: Rule) => rule.entries.some((e) => e.subset !== null);

/** Per subset, the weight a rule gives it (entries without a weight count as the kind's implicit one). */
function ruleWeights(rule: Rule): Record<string, number> {
  // A Map, not `out[name] ??`: subset names may be `constructor` and the like.
  const out = new Map<string, number>();
  for (const e of rule.entries) if (e.subset !== null) out.set(e.subset, (out.get(e.subset) ?? 0) + (e.weight ?? rule.implicit));
  return Object.fromEntries(out);
}

/** Equal as weights, a missing subset counting as 0. */
function sameWeights(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): boolean {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].every((k) => (Object.hasOwn(a, k) ? a[k] : 0) === (Object.hasOwn(b, k) ? b[k] : 0));
}

export function formatWeights(weights: Readonly<Record<string, number>>): string {
  return Object.entries(weights).map(([s, w]) => `${s} ${w}`).join(' / ') || 'none';
}

/**
 * The new weight of every entry of every rule (unknown backends keep theirs), or why the policy
 * cannot be expressed: a rule that routes to some of the subsets but has no backend for one that
 * gets weight. A subset with several entries in a rule has its weight split between them.
 */
function planWeights(rules: readonly Rule[], weights: Readonly<Record<string, number>>, binding: RouteBinding): { ok: true; weights: (number | undefined)[][] } | { ok: false; why: string } {
  const out: (number | undefined)[][] = [];
  for (const rule of rules) {
    if (!ours(rule)) {
      out.push(rule.entries.map((e) => e.weight));
      continue;
    }
    const count = new Map<string, number>();
    for (const e of rule.entries) if (e.subset !== null) count.set(e.subset, (count.get(e.subset) ?? 0) + 1);
    for (const [subset, w] of Object.entries(weights)) {
      if (w > 0 && !count.has(subset)) {
        return { ok: false, why: `${describeRoute(binding)} ${rule.path} routes to ${[...count.keys()].map((s) => binding.backends[s]).join(', ')} but has no backend for subset "${subset}" (expected ${own(binding.backends, subset) ?? `${binding.service}-${subset}`}), which gets ${w}%` };
      }
    }
    const seen = new Map<string, number>();
    out.push(
      rule.entries.map((e) => {
        if (e.subset === null) return e.weight;
        const w = Object.hasOwn(weights, e.subset) ? weights[e.subset]! : 0;
        const k = count.get(e.subset)!;
        const i = seen.get(e.subset) ?? 0;
        seen.set(e.subset, i + 1);
        return Math.floor(w / k) + (i < w % k ? 1 : 0);
      }),
    );
  }
  return { ok: true, weights: out };
}

// ── What Switchboard recorded on the route ─────────────────────────────────────────────────

const Recorded = z.record(z.string(), z.object({ weights: z.record(z.string(), z.number()), at: z.string(), by: z.string() }));
type Recorded = z.infer<typeof Recorded>;

function recorded(route: RouteObject): Recorded {
  const raw = route.metadata.annotations?.[ROUTE_WEIGHTS_ANNOTATION];
  // Unreadable (hand-edited) counts as never written: nothing to protect, nothing to show.
  return (raw !== undefined ? Recorded.safeParse(safeJson(raw)).data : undefined) ?? {};
}

// ── The two things the store asks: what does the route hold, and what to write ─────────────

/** The route as the panel shows it: read-back weights per subset, and whether they are the policy's. */
export function routeView(binding: RouteBinding, route: RouteObject, apiVersion: string, policy: TrafficPolicy | null): MeshRoute {
  const record = own(recorded(route), binding.service);
  const base = { kind: binding.kind, namespace: binding.namespace, name: binding.name, apiVersion, writtenAt: record?.at ?? null, writtenBy: record?.by ?? null };
  const read = rulesOf(binding, route.spec);
  if (!read.ok) return { ...base, backends: { ...binding.backends }, weights: null, inSync: false, error: `${describeRoute(binding)}: ${read.why}` };
  const mine = read.rules.filter(ours);
  const backends: Record<string, string> = { ...binding.backends };
  for (const e of mine.flatMap((r) => r.entries).reverse()) if (e.subset !== null) backends[e.subset] = e.label;
  if (!mine.length) return { ...base, backends, weights: null, inSync: false, error: noRule(binding) };
  return { ...base, backends, weights: ruleWeights(mine[0]!), inSync: policy !== null && mine.every((r) => sameWeights(ruleWeights(r), policy.weights)) };
}

export type RoutePlan =
  /** The route already carries the policy's weights (and Switchboard's record of them). */
  | { kind: 'unchanged'; view: MeshRoute }
  /** Replace the route with `object` (it carries the resourceVersion read: the precondition). */
  | { kind: 'write'; object: RouteObject; view: MeshRoute }
  /** Someone else changed the route's weights since Switchboard wrote them. */
  | { kind: 'conflict'; why: string }
  /** The policy cannot be written to this route as it stands. */
  | { kind: 'refused'; why: string };

/** What writing `policy` to the route means (see the file comment). */
export function planRouteWrite(binding: RouteBinding, route: RouteObject, apiVersion: string, policy: TrafficPolicy): RoutePlan {
  const read = rulesOf(binding, route.spec);
  if (!read.ok) return { kind: 'refused', why: `${describeRoute(binding)}: ${read.why}` };
  const mine = read.rules.filter(ours);
  if (!mine.length) return { kind: 'refused', why: noRule(binding) };
  const planned = planWeights(read.rules, policy.weights, binding);
  if (!planned.ok) return { kind: 'refused', why: planned.why };
  const records = recorded(route);
  const record = own(records, binding.service);
  const inSync = mine.every((r) => sameWeights(ruleWeights(r), policy.weights));
  if (inSync && record && sameWeights(record.weights, policy.weights)) return { kind: 'unchanged', view: routeView(binding, route, apiVersion, policy) };
  const edited = record && !inSync ? mine.find((r) => !sameWeights(ruleWeights(r), record.weights)) : undefined;
  if (edited && record) {
    return {
      kind: 'conflict',
      why:
        `${describeRoute(binding)} was changed outside Switchboard: ${edited.path} now gives ${formatWeights(ruleWeights(edited))}, ` +
        `where Switchboard last wrote ${formatWeights(record.weights)} (${record.by}, ${record.at}). Nothing was written. ` +
        `Set the route's weights back, or remove its annotation ${ROUTE_WEIGHTS_ANNOTATION} to let Switchboard overwrite them.`,
    };
  }
  const object = structuredClone(route);
  const list = (rule: Record<string, unknown>) => (binding.kind === 'HTTPRoute' ? rule.backendRefs : rule.route) as Record<string, unknown>[];
  const specRules = ((object.spec as Record<string, unknown>)[binding.kind === 'HTTPRoute' ? 'rules' : 'http'] ?? []) as Record<string, unknown>[];
  specRules.forEach((rule, i) => {
    if (!ours(read.rules[i]!)) return;
    list(rule).forEach((entry, j) => {
      const w = planned.weights[i]![j];
      if (read.rules[i]!.entries[j]!.subset !== null && w !== undefined) entry.weight = w;
    });
  });
  const next: Recorded = { ...records, [binding.service]: { weights: { ...policy.weights }, at: policy.updatedAt, by: policy.updatedBy } };
  object.metadata = { ...object.metadata, annotations: { ...object.metadata.annotations, [ROUTE_WEIGHTS_ANNOTATION]: JSON.stringify(next) } };
  return { kind: 'write', object, view: routeView(binding, object, apiVersion, policy) };
}

function noRule(binding: RouteBinding): string {
  return `${describeRoute(binding)} has no rule routing to ${Object.values(binding.backends).join(' or ')}; add backends for the subsets (or name them with ${ROUTE_BACKENDS_ANNOTATION} on the Service)`;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
