/** Switchboard SDK: what a Node service embeds to register itself and find and call its dependencies. */
export { createDiscovery, type Discovery } from './discovery';
export { registerService, type Registration, type RegisterOptions } from './registration';
export { ServiceClient, NoEndpointError, type ServiceClientOptions, type ServiceView } from './serviceClient';
export { TrafficSplit, type Endpoint, type PickedEndpoint, type Strategy } from './trafficSplit';
export type { BreakerOptions, BreakerState } from './instanceBreaker';
export type { TrafficPolicy } from '../protocol/traffic';
export { metricsHandler, sdkMetrics, sdkRegistry, createSdkMetrics, type SdkMetrics } from './promMetrics';
