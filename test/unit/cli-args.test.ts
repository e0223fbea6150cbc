import { describe, expect, it } from 'vitest';
import { describeFlags, kebab, parseArgs, parseNumber, UsageError } from '../../src/cli/args.ts';

const spec = {
  dev: { type: 'string', metavar: 'IF' },
  queue: { type: 'int', min: 0, max: 63, default: 0 },
  duration: { type: 'number', min: 0 },
  busyPoll: { type: 'bool' },
  json: { type: 'bool' },
  mode: { type: 'enum', values: ['auto', 'tap'], default: 'auto' },
  srcMac: { type: 'mac' },
  dstIp: { type: 'ipv4', default: '10.2.0.2' },
} as const;

function err(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('parseArgs', () => {
  it('applies defaults; bools default to false', () => {
    const a = parseArgs([], spec);
    expect(a.queue).toBe(0);
    expect(a.mode).toBe('auto');
    expect(a.busyPoll).toBe(false);
    expect(a.dev).toBeUndefined();
    expect(a.dstIp).toBe(0x0a020002);
    expect(a._).toEqual([]);
  });

  it('takes --flag value, --flag=value, booleans and --no-bool', () => {
    const a = parseArgs(['up', '--dev', 'eth1', '--queue=3', '--busy-poll', '--json=false', '--duration', '2.5', 'x'], spec);
    expect(a.dev).toBe('eth1');
    expect(a.queue).toBe(3);
    expect(a.busyPoll).toBe(true);
    expect(a.json).toBe(false);
    expect(a.duration).toBe(2.5);
    expect(a._).toEqual(['up', 'x']);
    expect(parseArgs(['--json', '--no-json'], spec).json).toBe(false);
  });

  it('parses MAC and IPv4 values', () => {
    const a = parseArgs(['--src-mac', '02:00:0A:01:00:ff', '--dst-ip', '192.168.1.254'], spec);
    expect(Array.from(a.srcMac!)).toEqual([2, 0, 10, 1, 0, 255]);
    expect(a.dstIp).toBe(0xc0a801fe);
  });

  it('everything after -- is positional', () => {
    expect(parseArgs(['--', '--dev', 'x'], spec)._).toEqual(['--dev', 'x']);
  });

  it('errors name the flag and the bad value', () => {
    expect(err(() => parseArgs(['--queue', '64'], spec))).toBe('--queue: 64 is above the maximum 63');
    expect(err(() => parseArgs(['--queue', '-1'], spec))).toBe('--queue: -1 is below the minimum 0');
    expect(err(() => parseArgs(['--queue', '1.5'], spec))).toBe("--queue: '1.5' is not an integer");
    expect(err(() => parseArgs(['--queue', 'lots'], spec))).toBe("--queue: 'lots' is not a number");
    expect(err(() => parseArgs(['--mode', 'fast'], spec))).toBe("--mode: 'fast' is not one of auto, tap");
    expect(err(() => parseArgs(['--src-mac', '02:00:00:00:00'], spec))).toMatch(/^--src-mac: '02:00:00:00:00' is not a MAC address/);
    expect(err(() => parseArgs(['--dst-ip', '10.0.0.256'], spec))).toMatch(/^--dst-ip: '10.0.0.256' is not an IPv4 address/);
    expect(err(() => parseArgs(['--busy-poll=maybe'], spec))).toBe("--busy-poll: expected true or false, got 'maybe'");
  });

  it('unknown flags are refused, with a suggestion when close', () => {
    expect(err(() => parseArgs(['--dve', 'x'], spec))).toBe("unknown option '--dve' (did you mean --dev?)");
    expect(err(() => parseArgs(['--zzzzzz'], spec))).toBe("unknown option '--zzzzzz'");
    expect(err(() => parseArgs(['-d', 'x'], spec))).toMatch(/unknown option '-d'/);
  });

  it('a missing value is an error, not the next flag', () => {
    expect(err(() => parseArgs(['--dev'], spec))).toBe('--dev needs a value (IF)');
    expect(err(() => parseArgs(['--dev', '--json'], spec))).toBe('--dev needs a value (IF)');
  });

  it('negative numbers are values', () => {
    const s = { x: { type: 'int' } } as const;
    expect(parseArgs(['--x', '-5'], s).x).toBe(-5);
  });
});

describe('value helpers', () => {
  it('parseNumber: decimal, hex, separators, SI suffixes', () => {
    expect(parseNumber('100000')).toBe(100000);
    expect(parseNumber('100_000')).toBe(100000);
    expect(parseNumber('1,000')).toBe(1000);
    expect(parseNumber('0x10')).toBe(16);
    expect(parseNumber('10k')).toBe(10000);
    expect(parseNumber('1.5M')).toBe(1500000);
    expect(parseNumber('1e3')).toBe(1000);
    expect(parseNumber('')).toBeNaN();
    expect(parseNumber('1k2')).toBeNaN();
  });

  it('kebab and describeFlags', () => {
    expect(kebab('srcMac')).toBe('src-mac');
    const d = describeFlags(spec);
    expect(d).toContain('--src-mac MAC');
    expect(d).toContain('--mode auto|tap');
    expect(d).toContain('(default auto)');
    expect(d).toContain('--dev IF');
  });
});
