/**
 * Where a source keeps traffic policies and their audit trail: Consul KV (consulTrafficStore)
 * or Kubernetes Service annotations (kubernetesTrafficStore). Writes are compare-and-set on a
 * version the store hands out with every read.
 */
import { z } from 'zod';
import type { TrafficPolicy } from '../../protocol/traffic';

// The audit entry is a REST answer too: one schema, in protocol/api.ts, for server, browser and CLI.
export { AuditEntry } from '../../protocol/api';
import type { AuditEntry, MeshRoute } from '../../protocol/api';

export interface StoredPolicy {
  /** null when there is none, or when what the registry holds is not a valid policy (see invalid). */
  policy: TrafficPolicy | null;
  /**
   * Set when the registry holds something at the policy's place that is not a valid policy
   * (hand-edited, an older writer): why it is invalid. The traffic API reports it and lets an
   * operator overwrite it (compare-and-set on modifyIndex) instead of failing every call.
   */
  invalid?: string;
  /** Consul: the key's ModifyIndex (0 when absent). Kubernetes: the Service's resourceVersion. */
  modifyIndex: number;
  /** Kubernetes: the mesh route the Service is bound to, read back (see kubernetesMeshRoutes.ts). */
  meshRoute?: MeshRoute;
}

export type WriteResult =
  | { ok: true; modifyIndex: number; meshRoute?: MeshRoute }
  /** A lost race. `reason` names what changed when it was not the policy itself (e.g. a mesh route). */
  | { ok: false; current: StoredPolicy; reason?: string }
  /** The registry side refuses this policy (e.g. a Kubernetes selector it may not derive); nothing was written. */
  | { ok: false; refused: string };

export interface TrafficStore {
  get(scope: string, service: string): Promise<StoredPolicy>;
  /** Compare-and-set against `expected`; on a lost race returns the current policy. */
  put(scope: string, service: string, policy: TrafficPolicy, expected: number): Promise<WriteResult>;
  /**
   * Applied changes and refused attempts are kept apart, each bounded on its own: refusals
   * (anyone with a token can cause them) never push out what a rollback needs.
   */
  audit(scope: string, service: string, entry: Omit<z.input<typeof AuditEntry>, 'id'>): Promise<AuditEntry>;
  /** Applied and refused entries together, newest first. */
  history(scope: string, service: string): Promise<AuditEntry[]>;
}
