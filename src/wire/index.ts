/** src/wire: one view per header (see README.md). Stages import the files directly. */
export * from './addr.ts';
export * from './arp.ts';
export * from './checksum.ts';
export * from './ethernet.ts';
export * from './frame.ts';
export * from './icmp.ts';
export * from './ipv4.ts';
export * from './ipv4-options.ts';
export * from './nat.ts';
export * from './tcp.ts';
export * from './udp.ts';
