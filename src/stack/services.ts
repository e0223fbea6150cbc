/**
 * Built-in services from the config's `services:` (inetd's internal services), on the stack's own
 * sockets: UDP echo and discard (transport/udp-services.ts), TCP echo, discard and a small HTTP
 * responder on node:http (transport/tcp/services.ts). The kinds are theirs (the config schema
 * reads them from there).
 */
import type { ServiceConfig } from '../config/schema.ts';
import type { Transport } from '../transport/index.ts';
import { tcpService } from '../transport/tcp/services.ts';
import { udpService } from '../transport/udp-services.ts';

/** Start one service; `path` (its config path, `services[0]`) names it in the log of a TCP listen error. */
export function startService(t: Transport, svc: ServiceConfig, path: string): void {
  if (svc.proto === 'udp') udpService(t.udp, svc.kind, svc.port, svc.address);
  else if (svc.proto === 'tcp') tcpService(t.tcp, svc.kind, svc.port, svc.address, (e) => console.error(`${path}: ${e.message}`));
  else throw new Error(`no ${svc.proto} services are built in yet`);
}
