// What the forwarding chain rewrote in a frame, back as it arrived, for micro-fwd-chain.ts and
// fwd-chain-flat.ts (fwd_chain.c reset() does the same): the MACs, and TTL 64 with the header
// checksum patched back (RFC 1624).

/** Frame at a: destination MAC (hi u32, lo u16) dst, source src, TTL 64. */
export function resetFrame(dv: DataView, a: number, dstHi: number, dstLo: number, srcHi: number, srcLo: number): void {
  dv.setUint32(a, dstHi);
  dv.setUint16(a + 4, dstLo);
  dv.setUint32(a + 6, srcHi);
  dv.setUint16(a + 10, srcLo);
  const h = a + 14;
  const old = dv.getUint16(h + 8);
  if (old >>> 8 === 64) return;
  const nw = (64 << 8) | (old & 0xff);
  dv.setUint16(h + 8, nw);
  let c = (~dv.getUint16(h + 10) & 0xffff) + (~old & 0xffff) + nw;
  c = (c & 0xffff) + (c >>> 16);
  c = (c & 0xffff) + (c >>> 16);
  dv.setUint16(h + 10, ~c & 0xffff);
}
