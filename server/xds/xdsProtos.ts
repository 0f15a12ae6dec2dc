/**
 * The Envoy v3 protos that ship inside @grpc/grpc-js-xds (deps/envoy-api, xds, googleapis,
 * protoc-gen-validate), loaded once with protobufjs: Switchboard encodes each resource once per
 * change and wraps it in google.protobuf.Any, and decodes DiscoveryRequests itself so that a
 * malformed message is a recorded problem rather than a dead stream.
 */
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join } from 'node:path';
import protobuf from 'protobufjs';

const FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  // Cluster load_balancing_policy candidates (server/xds/clusterPolicy.ts).
  'envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.proto',
  'envoy/extensions/load_balancing_policies/least_request/v3/least_request.proto',
  'envoy/extensions/load_balancing_policies/random/v3/random.proto',
  'envoy/extensions/load_balancing_policies/wrr_locality/v3/wrr_locality.proto',
];

export const ADS_METHOD_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

/** Where the xDS protos live (also what tests and benches load the ADS service definition from). */
export function xdsIncludeDirs(): string[] {
  const require = createRequire(import.meta.url);
  const root = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
  return ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(root, d));
}

export interface XdsProtos {
  root: protobuf.Root;
  DiscoveryRequest: protobuf.Type;
  DiscoveryResponse: protobuf.Type;
  type(fullName: string): protobuf.Type;
}

let loaded: XdsProtos | null = null;

export function xdsProtos(): XdsProtos {
  if (loaded) return loaded;
  const dirs = xdsIncludeDirs();
  // protobufjs bundles most well-known types, not descriptor.proto (validate/annotations import it).
  const require = createRequire(import.meta.url);
  protobuf.common('descriptor', require('protobufjs/google/protobuf/descriptor.json').nested.google.nested.protobuf.nested);
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    if (isAbsolute(target)) return target;
    for (const d of dirs) {
      const full = join(d, target);
      try {
        accessSync(full, constants.R_OK);
        return full;
      } catch {
        // next include dir
      }
    }
    return target;
  };
  root.loadSync(FILES, { keepCase: true });
  root.resolveAll();
  const type = (fullName: string) => root.lookupType(fullName);
  loaded = {
    root,
    DiscoveryRequest: type('envoy.service.discovery.v3.DiscoveryRequest'),
    DiscoveryResponse: type('envoy.service.discovery.v3.DiscoveryResponse'),
    type,
  };
  return loaded;
}

export interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}

/** `typeUrl` = `type.googleapis.com/<full name>`; the message is checked and encoded. */
export function packAny(typeUrl: string, message: Record<string, unknown>): AnyMessage {
  const t = xdsProtos().type(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
  const built = t.fromObject(message);
  const problem = t.verify(built);
  if (problem) throw new Error(`${t.name}: ${problem}`);
  return { type_url: typeUrl, value: t.encode(built).finish() };
}
