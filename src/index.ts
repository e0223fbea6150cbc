/**
 * softnet as a library: `import { Stack } from 'softnet'`. This file is the whole public API;
 * anything not exported here is internal and may change.
 *
 * - The stack: {@link Stack} (ports, addresses, routes in iproute2 syntax, rules in iptables
 *   syntax, sysctls, start/stop, stats/runtime/capture), built by hand or from a config with
 *   `Stack.fromConfig(loadConfig('r1.yaml'))`; its options and reports (StackOptions,
 *   AddPortOptions, PortInfo, StackStats, RuntimeView, FrameAccount, CaptureOptions...).
 * - Sockets: `stack.udp.createSocket()` ({@link UdpSocket}, node:dgram's shape: bind, connect,
 *   send, 'message', `for await`), and the zero-copy batch receive `socket.recvBatch(new UdpViews(64))`;
 *   `stack.tcp.createServer()` / `stack.tcp.connect()` ({@link TcpServer}, {@link TcpSocket}:
 *   node:net's shape, connections are stream.Duplex, so pipeline() and node:http work on them;
 *   a server made with `{recvBatch: true}` gives zero-copy `socket.recvBatch(new TcpViews(64))`).
 * - Your own stages: `stack.addStage(stage)` + `stack.addPtype(ethertype, name)` with a
 *   {@link Stage} over a {@link Batch}.
 * - XDP-style filters: {@link XdpContext}, the verdicts, {@link loadXdpFilter} (also `.ts` modules
 *   under plain node). Filter modules themselves import `softnet/xdp` (src/xdp.ts), which is lighter.
 * - The config file: {@link loadConfig}/{@link parseConfig} (YAML, validated; errors name the path).
 * - Ports on their own, without a stack (rxdrop-style tools): {@link openPort} (AF_XDP or TAP,
 *   `auto` tries them in order), {@link MemoryPort} (an in-memory pair: tests, no privileges).
 * - A running stack's control socket (what `softnet stat|route|iptables` use): {@link controlRequest}.
 * - Captures: {@link PcapWriter}, {@link readPcap}.
 *
 * A stack on an in-memory port, no NIC and no privileges:
 *
 * ```ts
 * import { Stack, parseConfig, type MemoryPort } from 'softnet';
 * const s = await Stack.fromConfig(parseConfig('name: m\nports: [{name: p0, dev: mem0, mode: memory, addresses: [10.1.0.1/24]}]'));
 * await s.start();
 * (s.port('p0') as MemoryPort).inject(frame); // then .takeTx() for what the stack sent
 * await s.stop();
 * ```
 */

// The stack
export { Stack } from './stack/stack.ts';
export type { AddPortOptions, CapturedFrame, CaptureOptions, FrameAccount, PortInfo, RuntimeView, StackOptions, StackStats } from './stack/stack.ts';

// Sockets (stack.udp): node:dgram-like UDP sockets, the zero-copy batch receive's views
export { UdpSocket, UdpViews, type Datagram, type RemoteInfo, type UdpSocketOptions } from './transport/index.ts';
export type { SockInfo } from './transport/index.ts';
// stack.tcp: node:net-like TCP servers and connections (and the zero-copy receive's views)
export { TcpServer, TcpSocket, TcpViews, type TcpConnectOptions, type TcpInfo, type TcpServerOptions, type TcpSocketOptions } from './transport/index.ts';

// Stages
export { Batch } from './core/batch.ts';
export type { Graph, RuntimeRow, Stage } from './core/graph.ts';

// XDP-style filters
export { loadXdpFilter, type XdpFilter, type XdpVerdicts } from './core/xdp.ts';
export { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_REDIRECT, XDP_TX, XdpContext } from './core/xdp-helpers.ts';

// Config
export { loadConfig, parseConfig } from './config/load.ts';
export { ConfigError, DEFAULT_NAPI, defaultControlPath, validateConfig } from './config/schema.ts';
export type { Config, ConfigMode, ConfigProblem, CsumPartialMode, NapiConfig, PortConfig, VlanConfig } from './config/schema.ts';

// Ports
export { AUTO_ORDER, openPort, type OpenPortOptions } from './driver/open.ts';
export { DriverError, type OpenMode, type Port, type PortMode, type PortOptions } from './driver/port.ts';
export { MemoryPort } from './driver/memory.ts';
export { memoryUmem, type Umem } from './driver/umem.ts';
export { FramePool } from './driver/pool.ts';

// Control socket and captures
export { controlPath, controlRequest, type RequestOptions } from './stack/control-socket.ts';
export { PcapWriter, readPcap, type PcapPacket, type PcapWriterOptions } from './tools/pcap.ts';
