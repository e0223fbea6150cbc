/**
 * Built-in services from the config's `services:` (inetd's internal services), on the stack's own
 * sockets: UDP echo (RFC 862: every datagram goes back to its sender) and discard (RFC 863:
 * read and dropped — through recvBatch/release, so a discarded datagram is never copied).
 * TCP: echo, discard and a small HTTP responder on node:http (transport/tcp/services.ts).
 */
import type { ServiceConfig } from '../config/schema.ts';
import { UdpViews, type Transport, type UdpSocket } from '../transport/index.ts';
import { tcpService } from '../transport/tcp/services.ts';

/** Start one service; `path` (its config path, `services[0]`) names it in the log of a TCP listen error. */
export function startService(t: Transport, svc: ServiceConfig, path: string): void {
  if (svc.proto === 'udp') udpService(t, svc);
  else if (svc.proto === 'tcp') tcpService(t.tcp, svc.kind, svc.port, svc.address, (e) => console.error(`${path}: ${e.message}`));
  else throw new Error(`no ${svc.proto} services are built in yet`);
}

function udpService(t: Transport, svc: ServiceConfig): UdpSocket {
  const s = t.udp.createSocket();
  s.bind(svc.port, svc.address);
  switch (svc.kind) {
    case 'echo':
      // A send refused (ENOBUFS) is counted in SndbufErrors; the service goes on.
      s.on('message', (msg, rinfo) => s.send(msg, rinfo.port, rinfo.address, () => undefined));
      break;
    case 'discard': {
      const views = new UdpViews(64);
      s.on('readable', () => {
        while (s.recvBatch(views) > 0);
        s.release();
      });
      break;
    }
    default:
      s.close();
      throw new Error(`udp service kind ${svc.kind} is unknown (echo | discard)`);
  }
  return s;
}
