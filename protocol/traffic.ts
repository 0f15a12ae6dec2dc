/**
 * The traffic-policy contract every client shares (DESIGN.md "Traffic policy"), as stored in
 * the registry and shown in the UI: integer weights over named, tag-defined subsets.
 */
import { z } from 'zod';

export const Subset = z.strictObject({ tags: z.array(z.string().min(1)).min(1, 'a subset needs at least one tag') });

export const TrafficPolicy = z.strictObject({
  version: z.literal(1),
  subsets: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'subset names are lowercase letters, digits and dashes'), Subset),
  weights: z.record(z.string(), z.number().int('weights are integers').min(0).max(100)),
  drain: z.array(z.string()).default([]),
  updatedAt: z.string(),
  updatedBy: z.string(),
  reason: z.string().default(''),
});
export type TrafficPolicy = z.infer<typeof TrafficPolicy>;
