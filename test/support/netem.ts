// netem for a kernel without sch_netem (CONFIG_NET_SCH_NETEM is not set on the test machine):
// iptables sends a namespace's TCP packets to an NFQUEUE, and a small user-space program holds
// them (delay), lets a share through at once (reorder, as netem's `reorder` does: those skip the
// delay) or drops them (loss). Same effect on the kernel side as
// `tc qdisc add dev X root netem loss L% reorder R% delay Dms`, for the packets matched.
import { nsExec } from '../../src/tools/lab.ts';
import { peerProcess, type PeerProcess } from './kernel-peer.ts';
import { waitFor } from './wait.ts';

const NFQ_NETEM = `
import heapq, random, select, socket, struct, sys, time
qnum = int(sys.argv[1]); loss = float(sys.argv[2]); reorder = float(sys.argv[3]); delay = float(sys.argv[4]) / 1000
random.seed(int(sys.argv[5]))
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 23)
s.bind((0, 0))
seq = 0
def msg(mtype, attrs):
    global seq
    seq += 1
    body = struct.pack('=BBH', socket.AF_INET, 0, socket.htons(qnum))
    for t, v in attrs:
        a = struct.pack('=HH', 4 + len(v), t) + v
        body += a + b'\\0' * ((4 - len(a) % 4) % 4)
    return struct.pack('=IHHII', 16 + len(body), (3 << 8) | mtype, 1, seq, 0) + body  # NFNL_SUBSYS_QUEUE
s.send(msg(2, [(1, struct.pack('!BBH', 1, 0, socket.AF_INET))]))   # NFQNL_CFG_CMD_BIND
s.send(msg(2, [(2, struct.pack('!IB', 0, 1) + b'\\0\\0\\0')]))      # copy mode META
s.send(msg(2, [(3, struct.pack('!I', 100000))]))                    # queue maxlen
def verdict(pid, v):
    s.send(msg(1, [(2, struct.pack('!II', v, pid))]))               # NF_DROP 0 / NF_ACCEPT 1
held = []
n = dropped = reordered = 0
print('ready', flush=True)
while True:
    now = time.monotonic()
    while held and held[0][0] <= now:
        verdict(heapq.heappop(held)[1], 1)
    r, _, _ = select.select([s], [], [], max(0, held[0][0] - now) if held else 1.0)
    if not r:
        continue
    data = s.recv(1 << 16)
    off = 0
    while off + 16 <= len(data):
        ln, mtype = struct.unpack_from('=IH', data, off)
        if ln < 16:
            break
        if mtype == 3 << 8:  # NFQNL_MSG_PACKET
            a = off + 20
            pid = None
            while a + 4 <= off + ln:
                al, at = struct.unpack_from('=HH', data, a)
                if al < 4:
                    break
                if at & 0x7fff == 1:  # NFQA_PACKET_HDR
                    pid = struct.unpack_from('!I', data, a + 4)[0]
                a += (al + 3) & ~3
            if pid is not None:
                n += 1
                if random.random() < loss:
                    dropped += 1
                    verdict(pid, 0)
                elif random.random() < reorder:
                    reordered += 1
                    verdict(pid, 1)
                else:
                    heapq.heappush(held, (time.monotonic() + delay, pid))
                print('n', n, 'dropped', dropped, 'reordered', reordered, flush=True)
        off += (ln + 3) & ~3
`;

export interface Netem {
  /** Packets seen, dropped, sent ahead of the delayed ones. */
  stats(): { n: number; dropped: number; reordered: number };
  stop(): Promise<void>;
}

/**
 * Impair TCP between namespace ns and `peer` in both directions (what ns sends and what it
 * receives): loss and reorder as fractions, delay in ms.
 */
export async function netem(ns: string, peer: string, o: { loss: number; reorder: number; delayMs: number; seed?: number }): Promise<Netem> {
  const rules = [`OUTPUT -p tcp -d ${peer} -j NFQUEUE --queue-num 7`, `INPUT -p tcp -s ${peer} -j NFQUEUE --queue-num 7`];
  for (const r of rules) await nsExec(ns, ['iptables', '-A', ...r.split(' ')], { check: true });
  const p: PeerProcess = peerProcess(ns, ['python3', '-c', NFQ_NETEM, '7', String(o.loss), String(o.reorder), String(o.delayMs), String(o.seed ?? 1)]);
  await waitFor('the NFQUEUE netem to bind', () => /ready/.test(p.out()) || !p.running(), { detail: () => p.err() });
  if (!p.running()) throw new Error(`nfqueue netem exited: ${p.err()}`);
  return {
    stats() {
      // The last complete line (the output may end in the middle of one).
      const all = [...p.out().matchAll(/^n (\d+) dropped (\d+) reordered (\d+)\n/gm)];
      const m = all[all.length - 1];
      return m ? { n: Number(m[1]), dropped: Number(m[2]), reordered: Number(m[3]) } : { n: 0, dropped: 0, reordered: 0 };
    },
    async stop() {
      for (const r of rules) await nsExec(ns, ['iptables', '-D', ...r.split(' ')]);
      p.stop();
      await p.exit;
    },
  };
}
