// Deliberately broken frames: frames are built with src/wire's buildFrame; a test that needs a
// field no builder would write (a bad version, hardware length, checksum...) patches a copy,
// naming the field with src/wire's offsets (ETH_HLEN + IPV4_VIHL, ETH_HLEN + ARP_HLN, ...).

/** A copy of `f` with the `width`-byte big-endian field at `at` set to `v`. */
export function patched(f: Uint8Array, at: number, v: number, width: 1 | 2 = 1): Uint8Array {
  const g = f.slice();
  const dv = new DataView(g.buffer);
  if (width === 1) dv.setUint8(at, v);
  else dv.setUint16(at, v);
  return g;
}
