/**
 * `discovery.service(name)`: one watching ServiceClient per service, shared by every caller in
 * the process, so ten modules calling `payment` hold one pair of blocking queries, one set of
 * breakers and one report, not ten.
 */
import { ServiceClient, type ServiceClientOptions } from './serviceClient';

export interface Discovery {
  service(name: string): ServiceClient;
  close(): Promise<void>;
}

export function createDiscovery(defaults: Omit<ServiceClientOptions, 'service'>): Discovery {
  const clients = new Map<string, ServiceClient>();
  return {
    service(name) {
      let client = clients.get(name);
      if (!client) {
        client = new ServiceClient({ ...defaults, service: name }).start();
        clients.set(name, client);
      }
      return client;
    },
    async close() {
      await Promise.all([...clients.values()].map((c) => c.close()));
      clients.clear();
    },
  };
}
