// bench/lab-rxdrop.ts end to end with tiny durations: it builds the C reference, runs every
// system, prints the table, writes its JSON, and leaves no lab behind. Not a measurement.
import { readFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nsExec } from '../../src/tools/lab.ts';

describe('bench/lab-rxdrop.ts', () => {
  it('runs softnet, the C reference and kernel XDP_DROP, and writes a result', { timeout: 180_000 }, async () => {
    const r = await nsExec(null, ['node', '--import', 'tsx', 'bench/lab-rxdrop.ts', '--seconds', '0.5', '--reps', '1', '--lab', 'rxdrop'], {
      timeoutMs: 120_000,
    });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/softnet drop +[\d.]+ \/ [\d.]+ \/ [\d.]+/);
    expect(r.stdout).toMatch(/C xsk_ref +[\d.]+ \//);
    expect(r.stdout).toMatch(/kernel XDP_DROP +[\d.]+ \//);
    expect(r.stdout).not.toContain('FAILED');
    const file = /wrote (bench\/results\/\S+\.json)/.exec(r.stdout)?.[1];
    expect(file).toBeDefined();
    const j = JSON.parse(readFileSync(file!, 'utf8'));
    rmSync(file!);
    expect(j.scenarios[0].name).toBe('rxdrop');
    expect(j.scenarios[0].frameSize).toBe(64);
    expect(Object.keys(j.scenarios[0].systems).sort()).toEqual(['c-rxdrop', 'kernel-xdp-drop', 'softnet']);
    expect(j.scenarios[0].systems.softnet.median).toBeGreaterThan(0);
    expect(j.machine.kernel).toBeTruthy();
    expect(j.samples).toHaveLength(3);
    const left = await nsExec(null, ['ip', 'netns', 'list']);
    expect(left.stdout).not.toContain('sn-rxdrop-');
  });
});
