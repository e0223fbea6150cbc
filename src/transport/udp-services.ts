import type { Udp } from './udp.ts';
import { UdpViews, type UdpSocket } from './udp-socket.ts';

/** The UDP service kinds (config `services:`): echo (RFC 862), discard (RFC 863). */
export const UDP_SERVICE_KINDS = ['echo', 'discard'] as const;

/**
 * Start one UDP service on `port` (address: all when undefined): echo sends every datagram back
 * to its sender; discard reads and drops through recvBatch/release, so a discarded datagram is
 * never copied. Bind errors (EADDRINUSE) throw.
 */
export function udpService(udp: Udp, kind: string, port: number, address: string | undefined): UdpSocket {
  const s = udp.createSocket();
  s.bind(port, address);
  switch (kind) {
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
      throw new Error(`udp service kind ${kind} is unknown (${UDP_SERVICE_KINDS.join(' | ')})`);
  }
  return s;
}
