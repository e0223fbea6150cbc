// src/wire/addr.ts: MAC and IPv4 text, both ways; the throwing parsers name the text.
import { describe, expect, it } from 'vitest';
import {
  formatCidr,
  formatIPv4,
  formatMac,
  macPairToString,
  maskLen,
  maskOf,
  parseCidr,
  parseIPv4,
  parseMac,
  tryParseIPv4,
  tryParseMac,
} from '../../src/wire/addr.ts';

describe('MAC text', () => {
  it('round trips', () => {
    expect(formatMac(tryParseMac('2:0:a:1:0:1')!)).toBe('02:00:0a:01:00:01');
    expect(formatMac(parseMac('02-00-0A-01-00-01'))).toBe('02:00:0a:01:00:01');
    expect(formatMac(Uint8Array.from([9, 9, 0xff, 0, 0, 0, 0, 0xa0]), 2)).toBe('ff:00:00:00:00:a0');
    expect(macPairToString(0x02000a01, 0x0002)).toBe('02:00:0a:01:00:02');
  });

  it('refuses what is not six hex bytes', () => {
    for (const s of ['020:00:0a:01:00:01', '02:00:0a:01:00', '02:00:0a:01:00:01:02', 'g2:00:00:00:00:01', '']) expect(tryParseMac(s)).toBeNull();
    expect(() => parseMac('02:00:00')).toThrow('"02:00:00" is not a MAC address (expected six hex bytes like 02:00:00:00:00:01)');
  });
});

describe('IPv4 text', () => {
  it('round trips', () => {
    expect(formatIPv4(tryParseIPv4('255.1.0.9')!)).toBe('255.1.0.9');
    expect(tryParseIPv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIPv4(' 10.1.0.2 ')).toBe(0x0a010002);
    expect(formatIPv4(0)).toBe('0.0.0.0');
  });

  it('refuses what is not a dotted quad', () => {
    for (const s of ['1.2.3', '1.2.3.-4', '1.2.3.256', '1.2.3.4.5', '1..3.4', 'a.b.c.d', '']) expect(tryParseIPv4(s)).toBeNull();
    expect(() => parseIPv4('10.0.0.256')).toThrow('invalid IPv4 address "10.0.0.256"');
  });

  it('prefixes and masks', () => {
    expect(maskOf(0)).toBe(0);
    expect(maskOf(24)).toBe(0xffffff00);
    expect(maskOf(32)).toBe(0xffffffff);
    expect(maskLen(0xffff0000)).toBe(16);
    expect(maskLen(0xff00ff00)).toBe(-1);
    expect(parseCidr('10.1.2.3/255.255.0.0')).toEqual({ prefix: 0x0a010000, len: 16 });
    expect(parseCidr('10.1.2.3')).toEqual({ prefix: 0x0a010203, len: 32 });
    expect(() => parseCidr('10.1.2.3/16', true)).toThrow(/did you mean 10\.1\.0\.0\/16\?/);
    expect(() => parseCidr('10.1.2.3/33')).toThrow('invalid prefix length "33" in "10.1.2.3/33" (expected 0..32 or a netmask)');
    expect(formatCidr(0x0a010000, 16)).toBe('10.1.0.0/16');
  });
});
