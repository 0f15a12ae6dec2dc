/**
 * Where a source keeps rollouts: beside its traffic policies, with the same compare-and-set
 * (DESIGN.md "Rollouts"): Consul KV `switchboard/rollout/<service>` written with `?cas=`
 * (consulRolloutStore), or the Service annotation `switchboard.dev/rollout` written with a
 * resourceVersion precondition (kubernetesRolloutStore).
 */
import { Rollout } from '../../protocol/rollout';

export interface StoredRollout {
  rollout: Rollout | null;
  /** Set when the registry holds something at the rollout's place that is not a valid rollout: why. */
  invalid?: string;
  /** Consul: the key's ModifyIndex (0 when absent). Kubernetes: the rollout's own revision. */
  modifyIndex: number;
}

export type RolloutWrite = { ok: true; modifyIndex: number } | { ok: false; current: StoredRollout };

export interface RolloutStore {
  get(scope: string, service: string): Promise<StoredRollout>;
  /** Compare-and-set against `expected`; on a lost race returns what the registry holds now. */
  put(scope: string, service: string, rollout: Rollout, expected: number): Promise<RolloutWrite>;
  /** Every rollout stored in a scope (datacenter or namespace), by service name. */
  list(scope: string): Promise<{ service: string; stored: StoredRollout }[]>;
}

/** Rollout JSON text → a stored rollout, or why it is not one. */
export function decodeRollout(text: string, where: string, modifyIndex: number): StoredRollout {
  if (text.length > 256 * 1024) return { rollout: null, modifyIndex, invalid: `${where} is larger than 256 KiB` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { rollout: null, modifyIndex, invalid: `${where} is not JSON` };
  }
  const parsed = Rollout.safeParse(json);
  if (parsed.success) return { rollout: parsed.data, modifyIndex };
  const i = parsed.error.issues[0]!;
  return { rollout: null, modifyIndex, invalid: `${where} is not a valid rollout: ${i.path.join('.') || 'body'}: ${i.message}` };
}
