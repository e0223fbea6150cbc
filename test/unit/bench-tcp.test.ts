// The tcp scenarios' pure parts: wrk's summary, results in Gbit/s and conn/s, the sender-limited rule.
import { describe, expect, it } from 'vitest';
import { buildEntry } from '../../src/bench/runner.ts';
import { throughputTable } from '../../src/bench/report.ts';
import { parseWrk } from '../../src/bench/tcp.ts';

const WRK = `Running 2s test @ http://10.1.0.1:80/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.71ms    1.02ms  14.20ms   80.12%
    Req/Sec    11.24k     1.01k   12.50k    70.00%
  22353 requests in 2.00s, 3.39MB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 2
Requests/sec:  11157.11
Transfer/sec:      1.69MB
`;

const sc = { name: 'tcp-bulk', kind: 'throughput' as const, expectLoss: true, subject: 'softnet', metric: 'gbit/s' as const, caseLabel: 'one connection' };

describe('bench tcp', () => {
  it('reads requests/s, the request count and every error from wrk', () => {
    expect(parseWrk(WRK)).toEqual({ rps: 11157.11, requests: 22353, errors: 4, non2xx: 2 });
    expect(parseWrk(WRK.replace(/ {2}Socket errors.*\n {2}Non-2xx.*\n/, ''))).toEqual({ rps: 11157.11, requests: 22353, errors: 0, non2xx: 0 });
    expect(() => parseWrk('unable to connect to 10.1.0.1:80 Connection refused')).toThrow(/no summary: unable to connect/);
  });

  it('a scenario in Gbit/s has no line rate; its case names the row', () => {
    const e = buildEntry(sc, 1518, { softnet: { samples: [{ mpps: 1.5, seconds: 1 }] }, kernel: { samples: [{ mpps: 3, seconds: 1 }] } }, '10g');
    expect(e.metric).toBe('gbit/s');
    expect(e.case).toBe('one connection');
    expect(e.lineRatePct).toBeNull();
    expect(e.systems.softnet.lineRatePct).toBeUndefined();
    expect(e.ratios.kernel).toBe(0.5);
    const t = throughputTable([e], '10g');
    expect(t[0]).toBe('| case | softnet gbit/s | kernel gbit/s | softnet / kernel |');
    expect(t[2]).toMatch(/^\| one connection \| .* \| 0\.50× \|$/);
  });

  it('a repetition limited by its sender makes the system generator-limited, with the reason, and no ratio', () => {
    const limited = "the sender's CPU 0 was 99% busy, the receiver's CPU 1 40%";
    const e = buildEntry(sc, 1518, { softnet: { samples: [{ mpps: 1.5, seconds: 1 }] }, kernel: { samples: [{ mpps: 3, seconds: 1 }, { mpps: 3.1, seconds: 1, limited }] } }, '10g');
    expect(e.systems.kernel.status).toBe('generator-limited');
    expect(e.systems.kernel.reason).toContain(`${limited} (1 of 2 reps)`);
    expect(e.ratios.kernel).toBeNull();
  });
});
