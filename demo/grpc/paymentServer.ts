/**
 * A tiny gRPC payment server for the mesh demo and tests: every call is answered with this
 * instance's id. Plain @grpc/grpc-js (instances need no xDS of their own).
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const PAYMENT_PROTO = fileURLToPath(new URL('./payment.proto', import.meta.url));

export interface PayReply {
  instance_id: string;
  color?: string;
}

interface PaymentPackage {
  switchboard: { demo: { Payment: grpc.ServiceClientConstructor } };
}

/** The Payment service definition and client constructor, loaded once. */
export function paymentPackage(): PaymentPackage {
  const def = protoLoader.loadSync(PAYMENT_PROTO, { keepCase: true, defaults: true });
  return grpc.loadPackageDefinition(def) as unknown as PaymentPackage;
}

export interface PaymentServer {
  instanceId: string;
  port: number;
  /** Calls answered so far. */
  readonly calls: number;
  close(): Promise<void>;
}

/** Starts one instance on `host:port` (port 0: any free port). */
export async function startPaymentServer(options: { instanceId: string; color?: string; host?: string; port?: number }): Promise<PaymentServer> {
  const server = new grpc.Server();
  let calls = 0;
  server.addService(paymentPackage().switchboard.demo.Payment.service, {
    Pay(_call: grpc.ServerUnaryCall<unknown, PayReply>, callback: grpc.sendUnaryData<PayReply>) {
      calls++;
      callback(null, { instance_id: options.instanceId, color: options.color ?? '' });
    },
  });
  const host = options.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    instanceId: options.instanceId,
    port,
    get calls() {
      return calls;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000).unref();
      }),
  };
}
