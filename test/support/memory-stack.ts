// A whole stack on memory ports, driven by hand: what the transport unit tests' labs share
// (transport-udp.ts, transport-tcp.ts). A kernel-host peer on p0's link, crafted frames in,
// the event loop turned by hand, every frame accounted for at stop.
import { parseConfig } from '../../src/config/load.ts';
import type { MemoryPort } from '../../src/driver/memory.ts';
import { Stack } from '../../src/stack/stack.ts';
import { parseIPv4, parseMac } from '../../src/wire/addr.ts';

/** The peer on p0's link (10.1.0.0/24), and our address there. */
export const PEER_IP = '10.1.0.2';
export const PEER_MAC = '02:00:00:00:00:99';
export const ME = '10.1.0.1';

export interface MemoryStack {
  s: Stack;
  p0: MemoryPort;
  /** Let the socket notifications and the ip-local-out ring run (a few event-loop turns). */
  settle(): Promise<void>;
  /** Inject frames on p0, poll them through the graph, settle. */
  rx(...frames: Uint8Array[]): Promise<void>;
  /** Stop the stack; throws unless every frame is back in the pool. */
  stop(): Promise<void>;
}

/**
 * A started stack from `config` (YAML; its port p0 on 10.1.0.1/24, memory mode) with no control
 * socket, the peer's neighbour entry permanent.
 */
export async function memoryStack(config: string, stackOpts: Partial<ConstructorParameters<typeof Stack>[0]> = {}): Promise<MemoryStack> {
  const s = await Stack.fromConfig(parseConfig(config), { control: null, ...stackOpts });
  await s.start();
  const p0 = s.port('p0') as MemoryPort;
  s.l2.neigh.addPermanent(0, parseIPv4(PEER_IP), parseMac(PEER_MAC));
  const settle = async () => {
    for (let k = 0; k < 3; k++) await new Promise((r) => setImmediate(r));
  };
  return {
    s,
    p0,
    settle,
    async rx(...frames) {
      for (const f of frames) if (!p0.inject(f)) throw new Error('memory port RX ring full');
      while (p0.pending() > 0) s.napi.kick();
      await settle();
    },
    async stop() {
      const acct = await s.stop();
      if (acct.lost !== 0 || acct.free !== acct.total) throw new Error(`frames not accounted for at stop: ${JSON.stringify(acct)}`);
    },
  };
}
