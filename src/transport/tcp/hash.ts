/**
 * A keyed 32-bit mix of a 4-tuple (two addresses, the two ports as one word) in Math.imul rounds.
 * Not cryptographic. The connection table's hash, the ISN (RFC 6528) and the SYN cookies each
 * finish it in their own way, each with its own random key.
 */
export function tupleMix(key: number, a: number, b: number, ports: number): number {
  let h = Math.imul(a ^ key, 0x9e3779b1) ^ b;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) ^ ports;
  return Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
}
