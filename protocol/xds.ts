/**
 * The xDS control plane as REST shows it (DESIGN.md "server/xds"): which data-plane clients
 * (gRPC channels, Envoys) hold an ADS stream, what they subscribe to, which version each
 * last ACKed, and every NACK with the client's own error detail. Shared by the server
 * (GET /api/xds/clients, GET /api/services/:source/:scope/:name/mesh) and the Mesh tab.
 */
import { z } from 'zod';

/** The four resource types Switchboard serves, by their short names. */
export const XdsResourceType = z.enum(['listener', 'route', 'cluster', 'endpoint']);
export type XdsResourceType = z.infer<typeof XdsResourceType>;

export const XDS_TYPE_URLS: Readonly<Record<XdsResourceType, string>> = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
};

export const XdsNack = z.object({
  at: z.string(),
  type: XdsResourceType,
  /** The version the client refused (the one it was sent). */
  version: z.string(),
  nonce: z.string(),
  /** google.rpc.Status from the client's error_detail. */
  code: z.number().int(),
  message: z.string(),
});
export type XdsNack = z.infer<typeof XdsNack>;

/** A request the server could not use (malformed, unknown type URL, too many names …). */
export const XdsProblem = z.object({ at: z.string(), message: z.string() });
export type XdsProblem = z.infer<typeof XdsProblem>;

export const XdsSubscription = z.object({
  type: XdsResourceType,
  /** Resource names asked for; empty with `wildcard` = every resource of the type. */
  names: z.array(z.string()),
  wildcard: z.boolean(),
  /** The version last sent, and the one the client last ACKed (null: none yet). */
  sentVersion: z.string().nullable(),
  ackedVersion: z.string().nullable(),
  ackedAt: z.string().nullable(),
  /** A response went out and neither ACK nor NACK came back since (ISO time it was sent). */
  awaitingAckSince: z.string().nullable(),
  /** The answer is held back: a requested name may belong to a registry not read yet (xDS has no "unknown", only "absent"). */
  heldSince: z.string().nullable().optional(),
});
export type XdsSubscription = z.infer<typeof XdsSubscription>;

export const XdsClient = z.object({
  /** Stream id, unique for this server's life. */
  id: z.string(),
  nodeId: z.string(),
  cluster: z.string(),
  userAgent: z.string(),
  peer: z.string(),
  /** Who authenticated the stream (`anonymous` when xds.allowAnonymous let it in). */
  user: z.string(),
  connectedAt: z.string(),
  subscriptions: z.array(XdsSubscription),
  /** Most recent first, bounded. */
  nacks: z.array(XdsNack),
  problems: z.array(XdsProblem),
});
export type XdsClient = z.infer<typeof XdsClient>;

export const XdsClientsResponse = z.object({
  /** Current version per resource type. */
  versions: z.record(XdsResourceType, z.string()),
  clients: z.array(XdsClient),
});
export type XdsClientsResponse = z.infer<typeof XdsClientsResponse>;

/** What Switchboard serves for one service, and the clients that subscribe to any of it. */
export const MeshResponse = z.object({
  serviceId: z.string(),
  /** What a gRPC client dials: `xds:///<listener>` (the bare name only when it is unique). */
  listeners: z.array(z.string()),
  route: z.string(),
  clusters: z.array(z.object({ name: z.string(), weight: z.number().int(), endpoints: z.number().int(), skipped: z.array(z.string()) })),
  versions: z.record(XdsResourceType, z.string()),
  clients: z.array(XdsClient),
});
export type MeshResponse = z.infer<typeof MeshResponse>;
