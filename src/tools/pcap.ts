import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { Tap } from '../core/taps.ts';

const PCAP_MAGIC = 0xa1b2c3d4; // microsecond timestamps
const LINKTYPE_ETHERNET = 1;
// The file header (struct pcap_file_header), then per packet a record header and the bytes.
const FILE_HDR = 24;
const F_MAGIC = 0;
const F_VERSION_MAJOR = 4;
const F_VERSION_MINOR = 6;
const F_THISZONE = 8;
const F_SIGFIGS = 12;
const F_SNAPLEN = 16;
const F_LINKTYPE = 20;
const REC_HDR = 16;
const R_TS_SEC = 0;
const R_TS_USEC = 4;
const R_INCL_LEN = 8;
const R_ORIG_LEN = 12;

export interface PcapWriterOptions {
  /** Bytes kept per packet (the rest is cut, orig_len keeps the real length). */
  snaplen?: number;
  /** Buffer size: records collect here and are written when it is full (bounded memory). */
  bufferSize?: number;
}

/**
 * Classic libpcap file writer (LINKTYPE_ETHERNET, microsecond timestamps, little-endian), what
 * tcpdump -w writes. Records are copied into one preallocated buffer; a full buffer is written
 * with one write(2), so memory stays bounded and capturing allocates nothing per packet.
 */
export class PcapWriter {
  readonly snaplen: number;
  packets = 0;
  bytes = 0;
  private fd: number;
  private readonly buf: Buffer;
  private readonly dv: DataView;
  private used = 0;

  constructor(
    readonly path: string,
    opts: PcapWriterOptions = {},
  ) {
    this.snaplen = opts.snaplen ?? 65535;
    const size = Math.max(opts.bufferSize ?? 1 << 20, FILE_HDR + REC_HDR + this.snaplen);
    if (!(this.snaplen >= 1 && this.snaplen <= 262144)) throw new Error(`pcap: snaplen ${this.snaplen} must be in 1..262144`);
    try {
      this.fd = openSync(path, 'w');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new Error(`pcap: open(${path}) failed: ${err.code ?? err.message}; check the directory exists and is writable`);
    }
    this.buf = Buffer.allocUnsafe(size);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    const dv = this.dv;
    dv.setUint32(F_MAGIC, PCAP_MAGIC, true);
    dv.setUint16(F_VERSION_MAJOR, 2, true);
    dv.setUint16(F_VERSION_MINOR, 4, true);
    dv.setInt32(F_THISZONE, 0, true);
    dv.setUint32(F_SIGFIGS, 0, true);
    dv.setUint32(F_SNAPLEN, this.snaplen, true);
    dv.setUint32(F_LINKTYPE, LINKTYPE_ETHERNET, true);
    this.used = FILE_HDR;
  }

  /** Append one frame u8[addr .. addr+len). */
  write(u8: Uint8Array, addr: number, len: number, sec: number, usec: number): void {
    if (this.fd < 0) return;
    const cap = len < this.snaplen ? len : this.snaplen;
    if (this.used + REC_HDR + cap > this.buf.length) this.flush();
    const o = this.used;
    const dv = this.dv;
    dv.setUint32(o + R_TS_SEC, sec >>> 0, true);
    dv.setUint32(o + R_TS_USEC, usec >>> 0, true);
    dv.setUint32(o + R_INCL_LEN, cap, true);
    dv.setUint32(o + R_ORIG_LEN, len, true);
    this.buf.set(u8.subarray(addr, addr + cap), o + REC_HDR);
    this.used = o + REC_HDR + cap;
    this.packets++;
    this.bytes += len;
  }

  /** Write buffered records to the file. */
  flush(): void {
    if (this.fd < 0 || this.used === 0) return;
    let off = 0;
    while (off < this.used) off += writeSync(this.fd, this.buf, off, this.used - off);
    this.used = 0;
  }

  close(): void {
    if (this.fd < 0) return;
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
  }
}

/** A ptype_all tap writing every frame (received, and transmitted if `tx`) to a pcap writer. */
export function pcapTap(writer: PcapWriter, opts: { dev?: number; rx?: boolean; tx?: boolean } = {}): Tap {
  return {
    dev: opts.dev ?? -1,
    rx: opts.rx ?? true,
    tx: opts.tx ?? false,
    frame(u8, addr, len, _dev, _tx, sec, usec) {
      writer.write(u8, addr, len, sec, usec);
    },
  };
}

export interface PcapPacket {
  sec: number;
  usec: number;
  origLen: number;
  data: Uint8Array;
}

/** Read a classic pcap file (either byte order, µs or ns magic). For tests and tools. */
export function readPcap(path: string): { snaplen: number; linktype: number; packets: PcapPacket[] } {
  const b = readFileSync(path);
  if (b.length < FILE_HDR) throw new Error(`pcap: ${path} is ${b.length} bytes, shorter than a pcap header`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const m = dv.getUint32(F_MAGIC, true);
  let le: boolean;
  if (m === 0xa1b2c3d4 || m === 0xa1b23c4d) le = true;
  else if (m === 0xd4c3b2a1 || m === 0x4d3cb2a1) le = false;
  else throw new Error(`pcap: ${path} has magic 0x${m.toString(16)}, not a classic pcap file (pcapng is not read here)`);
  const snaplen = dv.getUint32(F_SNAPLEN, le);
  const linktype = dv.getUint32(F_LINKTYPE, le);
  const packets: PcapPacket[] = [];
  let o = FILE_HDR;
  while (o + REC_HDR <= b.length) {
    const incl = dv.getUint32(o + R_INCL_LEN, le);
    if (o + REC_HDR + incl > b.length) throw new Error(`pcap: ${path} is truncated inside record ${packets.length + 1}`);
    packets.push({
      sec: dv.getUint32(o + R_TS_SEC, le),
      usec: dv.getUint32(o + R_TS_USEC, le),
      origLen: dv.getUint32(o + R_ORIG_LEN, le),
      data: b.subarray(o + REC_HDR, o + REC_HDR + incl),
    });
    o += REC_HDR + incl;
  }
  return { snaplen, linktype, packets };
}
