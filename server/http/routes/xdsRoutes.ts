/** The xDS control plane as REST: connected data-plane clients, and one service's mesh view (viewer). */
import { serviceId } from '../../../protocol/model';
import { MeshResponse, XdsClientsResponse } from '../../../protocol/xds';
import type { XdsServer } from '../../xds/xdsServer';
import { HttpError } from '../httpError';
import { reply, type Route } from '../router';
import { SERVICE_PATH } from './topologyRoutes';

export function xdsRoutes(xds: Pick<XdsServer, 'clients' | 'mesh'>): Route[] {
  return [
    { method: 'GET', path: /^\/api\/xds\/clients$/, permission: 'topology:read', handler: ({ res }) => reply(res, 200, XdsClientsResponse, xds.clients()) },
    {
      method: 'GET',
      path: new RegExp(`^${SERVICE_PATH}\\/mesh$`),
      permission: 'topology:read',
      handler: ({ res, params: [source, scope, name] }) => {
        const id = serviceId(source!, scope!, name!);
        const mesh = xds.mesh(id);
        if (!mesh) throw new HttpError('not_found', `service "${id}" is not served over xDS`);
        reply(res, 200, MeshResponse, mesh);
      },
    },
  ];
}
