/** Switchboard SDK: what a Node service embeds to find and call its dependencies. */
export { ServiceClient, NoEndpointError, type ServiceClientOptions, type ServiceView } from './serviceClient';
export { TrafficSplit, type Endpoint, type PickedEndpoint } from './trafficSplit';
export type { TrafficPolicy } from '../protocol/traffic';
