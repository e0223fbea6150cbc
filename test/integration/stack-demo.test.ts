// `softnet demo` end to end, in xdp-drv mode and in tap mode (the TAP variant of the suite):
// traffic flows both ways through the router, the rule drops what it names, and nothing is left.
import { afterAll, describe, expect, it } from 'vitest';
import { softnetSync } from '../support/cli.ts';
import { labTeardown } from '../support/lab-stack.ts';
import { namespaces } from '../support/netns.ts';

// Not 'demo', the command's default: a demo of one's own may be running beside the tests.
const LAB = 'tdemo';

afterAll(() => labTeardown(LAB));

function demo(...args: string[]) {
  const r = softnetSync('demo', '--name', LAB, '--seconds', '2', ...args);
  return { code: r.code, out: r.stdout + r.stderr };
}

describe('softnet demo', () => {
  for (const mode of ['xdp-drv', 'tap']) {
    it(`routes ping and UDP between the hosts and cleans up (${mode})`, { timeout: 120_000 }, async () => {
      const r = demo('--mode', mode);
      expect(r.code, r.out).toBe(0);
      expect(r.out).toMatch(new RegExp(`port p0: sn${LAB}-a0 ${mode}`));
      expect(r.out).toMatch(/ping A -> B: 100\/100 replies, 0% loss/);
      expect(r.out).toMatch(/ping B -> A: 100\/100 replies, 0% loss/);
      const sent = Number(/UDP A -> B: (\d+) datagrams/.exec(r.out)?.[1]);
      const dropped = Number(/^\s+(\d+)\s+\d+\s+DROP\s+udp .*dpt:9$/m.exec(r.out)?.[1]);
      expect(sent).toBeGreaterThan(1000);
      expect(dropped).toBe(Math.ceil(sent / 10));
      expect(r.out).toMatch(/ip-forward\s+\d+\s+\d+/);
      expect(r.out).toMatch(/cleaned up: stack stopped \(all frames accounted for\)/);
      expect(namespaces(`sn-${LAB}-`)).toEqual([]);
    });
  }
});
