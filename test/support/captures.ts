/**
 * Frames captured from Linux (tcpdump -xx on a veth with tx checksumming off, so every checksum
 * was computed by the kernel in software): host A 10.1.0.2 (02:00:0a:01:00:02) talks to host B
 * 10.1.0.1 (02:00:0a:01:00:01). The wire tests build the same bytes with src/wire's writers and
 * read them back with its accessors: literal bytes from an independent implementation.
 */

/** Bytes from a hex dump ("0200 0a01 ..."; spaces ignored). */
export function hex(s: string): Uint8Array<ArrayBuffer> {
  const t = s.replace(/\s+/g, '');
  if (t.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(t)) throw new Error(`hex: not an even run of hex digits: ${s}`);
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export const A_MAC = '02:00:0a:01:00:02';
export const B_MAC = '02:00:0a:01:00:01';
export const A_IP = '10.1.0.2';
export const B_IP = '10.1.0.1';

export const CAPTURES = {
  /** Request who-has 10.1.0.1 tell 10.1.0.2 (42 bytes, broadcast). */
  arpRequest: hex('ffff ffff ffff 0200 0a01 0002 0806 0001 0800 0604 0001 0200 0a01 0002 0a01 0002 0000 0000 0000 0a01 0001'),
  /** Reply 10.1.0.1 is-at 02:00:0a:01:00:01. */
  arpReply: hex('0200 0a01 0002 0200 0a01 0001 0806 0001 0800 0604 0002 0200 0a01 0001 0a01 0001 0200 0a01 0002 0a01 0002'),
  /** ping: echo request, id 0x2296, seq 1, 56 bytes of data (ip id 0x20f0, DF). */
  echoRequest: hex(
    '0200 0a01 0001 0200 0a01 0002 0800 4500 0054 20f0 4000 4001 05b5 0a01 0002 0a01 0001 0800 fb4a 2296 0001 e764 106b 0000 ' +
      '0000 207b 0300 0000 0000 1011 1213 1415 1617 1819 1a1b 1c1d 1e1f 2021 2223 2425 2627 2829 2a2b 2c2d 2e2f 3031 3233 3435 3637',
  ),
  /** Its echo reply (ip id 0x882e, no DF). */
  echoReply: hex(
    '0200 0a01 0002 0200 0a01 0001 0800 4500 0054 882e 0000 4001 de76 0a01 0001 0a01 0002 0000 034b 2296 0001 e764 106b 0000 ' +
      '0000 207b 0300 0000 0000 1011 1213 1415 1617 1819 1a1b 1c1d 1e1f 2021 2223 2425 2627 2829 2a2b 2c2d 2e2f 3031 3233 3435 3637',
  ),
  /** UDP 10.1.0.2:4000 -> 10.1.0.1:9 "hello", with a UDP checksum (ip id 0x2e2e, DF). */
  udp: hex('0200 0a01 0001 0200 0a01 0002 0800 4500 0021 2e2e 4000 4011 f899 0a01 0002 0a01 0001 0fa0 0009 000d 9854 6865 6c6c 6f'),
  /** ICMP port unreachable for that datagram (tos 0xc0, ip id 0x884d). */
  portUnreach: hex(
    '0200 0a01 0002 0200 0a01 0001 0800 45c0 003d 884d 0000 4001 ddae 0a01 0001 0a01 0002 0303 1120 0000 0000 4500 0021 2e2e ' +
      '4000 4011 f899 0a01 0002 0a01 0001 0fa0 0009 000d 9854 6865 6c6c 6f',
  ),
  /** TCP SYN 10.1.0.2:35810 -> 10.1.0.1:80 with options (mss, sackOK, TS, nop, wscale): doff 10. */
  tcpSyn: hex(
    '0200 0a01 0001 0200 0a01 0002 0800 4500 003c cbb2 4000 4006 5b05 0a01 0002 0a01 0001 8be2 0050 83fc 6abd 0000 0000 a002 ' +
      'faf0 561a 0000 0204 05b4 0402 080a 4b0d 1cf4 0000 0000 0103 030a',
  ),
  /** The RST/ACK that refuses it: no options, seq 0, ack 0x83fc6abe, window 0 (ip id 0, DF). */
  tcpRst: hex('0200 0a01 0002 0200 0a01 0001 0800 4500 0028 0000 4000 4006 26cc 0a01 0001 0a01 0002 0050 8be2 0000 0000 83fc 6abe 5014 0000 20df 0000'),
};
