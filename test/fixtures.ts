/** Small builders for model objects in tests. */
import { aggregateHealth, serviceId, type Check, type Instance, type Service } from '../protocol/model';

export function check(status: Check['status'], over: Partial<Check> = {}): Check {
  return { id: 'c1', name: 'ttl', status, output: '', type: 'ttl', nodeLevel: false, ...over };
}

export function instance(id: string, over: Partial<Instance> = {}): Instance {
  const checks = over.checks ?? [check('passing')];
  return { id, address: '10.0.0.1', port: 8080, tags: [], meta: {}, node: 'n1', health: aggregateHealth(checks), checks, ...over };
}

export function service(sourceId: string, scope: string, name: string, instances: Instance[], tags: string[] = []): Service {
  return { id: serviceId(sourceId, scope, name), sourceId, scope, name, tags, instances };
}
