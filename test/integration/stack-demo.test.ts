// `softnet demo` end to end, in xdp-drv mode and in tap mode (the TAP variant of the suite):
// traffic flows both ways through the router, the rule drops what it names, curl on host A gets
// softnet's HTTP page and download, the summary shows ss and the Tcp MIB, and nothing is left.
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
    it(`routes ping and UDP between the hosts, serves HTTP to curl and cleans up (${mode})`, { timeout: 120_000 }, async () => {
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
      // driver to application: node:http on softnet TCP answered curl, and the summary says how
      expect(r.out).toMatch(/curl http:\/\/10\.1\.0\.1\/ -> "hello from softnet"/);
      expect(r.out).toMatch(/bytes\/N -> HTTP 200, 2000000 bytes in /);
      expect(r.out).toMatch(/^\s+LISTEN\s+0\s+\d+\s+0\.0\.0\.0:80\s+0\.0\.0\.0:\*$/m);
      expect(Number(/^\s+Tcp:\n(?:\s+\w+: -?\d+\n)*?\s+PassiveOpens: (\d+)$/m.exec(r.out)?.[1])).toBeGreaterThanOrEqual(2);
      expect(r.out).toMatch(/^\s+TcpExt:$/m);
      expect(r.out).toMatch(/cleaned up: stack stopped \(all frames accounted for\)/);
      expect(namespaces(`sn-${LAB}-`)).toEqual([]);
    });
  }
});
