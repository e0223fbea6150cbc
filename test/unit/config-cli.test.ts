// `softnet up --check` and the config errors as a person sees them (no privileges needed).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { softnetSync } from '../support/cli.ts';

describe('softnet up --config', () => {
  it('--check validates examples/r1.yaml', () => {
    const r = softnetSync('up', '--config', 'examples/r1.yaml', '--check');
    expect(r.stdout).toBe('config examples/r1.yaml: ok (stack r1, 2 ports)\n');
    expect(r.code).toBe(0);
  });

  it('names every problem with its path; YAML errors with line:col', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sn-cfg-'));
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, 'name: r1\nports:\n  - {name: p0, dev: veth0, addresses: [10.1.0.1]}\nnapi: {budget: -1}\n');
    const r = softnetSync('up', '--config', f, '--check');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`softnet up: config ${f}: ports[0].addresses[0]: expected an IPv4 address with prefix length like 10.1.0.1/24, got the string "10.1.0.1"`);
    expect(r.stderr).toContain('napi.budget: -1 is out of range 1..65536');
    writeFileSync(f, 'name: r1\nports: [\n');
    const y = softnetSync('up', '--config', f);
    expect(y.code).toBe(2);
    expect(y.stderr).toMatch(/line 3:1: YAML: /);
  });

  it('without --config: a usage error', () => {
    const r = softnetSync('up');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--config FILE is required/);
  });
});
