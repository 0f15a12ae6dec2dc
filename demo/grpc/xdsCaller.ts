/**
 * A gRPC client that follows Switchboard over xDS: dials `xds:///<target>` with
 * @grpc/grpc-js-xds and calls Pay in a loop, one call at a time, printing one JSON line per
 * call on stdout: `{"i":"<instance id>"}` or `{"e":<grpc status>,"d":"<details>"}`.
 *
 *   GRPC_XDS_BOOTSTRAP_CONFIG='{"xds_servers":[…],"node":{"id":"…"}}' \
 *     node --import tsx demo/grpc/xdsCaller.ts payment
 *
 * (The bootstrap's node.metadata may carry `"switchboard.token": "<client token>"`: see
 * server/xds/xdsServer.ts for why the token travels there.) Stops when stdin closes.
 */
import * as grpc from '@grpc/grpc-js';
import { register } from '@grpc/grpc-js-xds';
import { paymentPackage, type PayReply } from './paymentServer';

register();
const target = process.argv[2] ?? 'payment';
const Payment = paymentPackage().switchboard.demo.Payment;
const client = new Payment(`xds:///${target}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
  Pay(req: { order_id: string }, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, reply?: PayReply) => void): void;
};

let stopped = false;
process.stdin.on('close', () => (stopped = true));
process.stdin.on('end', () => (stopped = true));
process.stdin.resume();

let n = 0;
function next(): void {
  if (stopped) {
    client.close();
    process.exit(0);
  }
  client.Pay({ order_id: String(++n) }, { deadline: Date.now() + 5000 }, (err, reply) => {
    process.stdout.write(err ? `${JSON.stringify({ e: err.code, d: err.details })}\n` : `${JSON.stringify({ i: reply?.instance_id })}\n`);
    setImmediate(next);
  });
}
next();
