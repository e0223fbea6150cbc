import { afterEach, describe, expect, it, vi } from 'vitest';
import { commands, main } from '../../src/cli/main.ts';
import { captureOutput as capture } from '../support/cli.ts';

afterEach(() => vi.restoreAllMocks());

describe('softnet main', () => {
  it('--help lists every command', async () => {
    const c = capture();
    expect(await main(['--help'])).toBe(0);
    for (const k of ['drop', 'fwd', 'gen', 'lab']) expect(c.out()).toMatch(new RegExp(`^  ${k} +\\S`, 'm'));
    for (const k of Object.keys(commands)) expect(c.out()).toContain(k);
  });

  it('no command: usage on stderr, exit 2', async () => {
    const c = capture();
    expect(await main([])).toBe(2);
    expect(c.err()).toContain('usage: softnet COMMAND');
  });

  it('unknown command: names it, exit 2', async () => {
    const c = capture();
    expect(await main(['nope'])).toBe(2);
    expect(c.err()).toContain("unknown command 'nope'");
  });

  it('each of my commands prints its usage with --help', async () => {
    for (const k of ['drop', 'fwd', 'gen', 'lab']) {
      const c = capture();
      expect(await main([k, '--help'])).toBe(0);
      expect(c.out()).toContain(`usage: softnet ${k}`);
      vi.restoreAllMocks();
    }
  });

  it('help CMD is CMD --help', async () => {
    const c = capture();
    expect(await main(['help', 'gen'])).toBe(0);
    expect(c.out()).toContain('usage: softnet gen');
  });

  it('usage errors from a command: message, hint, exit 2', async () => {
    const c = capture();
    expect(await main(['lab', 'sideways'])).toBe(2);
    expect(c.err()).toContain("softnet lab: unknown action 'sideways'");
    expect(c.err()).toContain("Try 'softnet lab --help'");
  });

  it('missing required flag: exit 2', async () => {
    const c = capture();
    expect(await main(['drop'])).toBe(2);
    expect(c.err()).toContain('--dev IF is required');
    expect(await main(['gen', '--dev', 'x'])).toBe(2);
    expect(c.err()).toContain('give exactly one of --count N or --duration S');
  });

  it('lab name validation is a usage error', async () => {
    const c = capture();
    expect(await main(['lab', 'up', '--name', 'waytoolong'])).toBe(2);
    expect(c.err()).toContain("lab name 'waytoolong' is invalid");
  });
});
