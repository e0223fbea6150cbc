/**
 * A paced UDP sender for a kernel host of the lab (python3: every Debian has it; nc cannot pace):
 * RATE datagrams/s of SIZE payload bytes to DST:PORT for SECONDS, every EVERY-th to ALT instead
 * (none when every is 0). It prints how many it sent (a refused send counts as sent).
 */
const SCRIPT = `
import socket, sys, time
dst, rate, secs, size, port, alt, every = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload = b'x' * size
sent = 0
t0 = time.monotonic()
while True:
    now = time.monotonic() - t0
    if now >= secs: break
    due = int(now * rate)
    while sent < due:
        try: s.sendto(payload, (dst, alt if every and sent % every == 0 else port))
        except OSError: pass
        sent += 1
    time.sleep(0.0005)
print(sent)
`;

export interface PacedUdp {
  dst: string;
  port: number;
  rate: number;
  seconds: number;
  size: number;
  /** Every `every`-th datagram (the first included) goes to `port` instead of the main port. */
  alt?: { port: number; every: number };
}

/** argv of the sender (run it in a host's namespace: spawnInNs / Proc). */
export function pacedUdpArgv(o: PacedUdp): string[] {
  return ['python3', '-c', SCRIPT, o.dst, String(o.rate), String(o.seconds), String(o.size), String(o.port), String(o.alt?.port ?? o.port), String(o.alt?.every ?? 0)];
}
