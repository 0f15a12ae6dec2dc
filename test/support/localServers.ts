/** Real HTTP servers on 127.0.0.1 standing in for service instances in tests and benchmarks. */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export class LocalServers {
  readonly servers: Server[] = [];

  /** Starts one server with `handler` on a free port and returns the server and its port. */
  async start(handler: RequestListener): Promise<{ server: Server; port: number }> {
    const server = createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.servers.push(server);
    return { server, port: (server.address() as AddressInfo).port };
  }

  /** Closes every server now, keep-alive connections included. */
  closeAll(): void {
    for (const s of this.servers.splice(0)) {
      s.closeAllConnections();
      s.close();
    }
  }
}
