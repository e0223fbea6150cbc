// The driver layer: ports (AF_XDP, TAP, memory), the UMEM and frame pool, the generator.
export * from './port.ts';
export * from './umem.ts';
export { FramePool } from './pool.ts';
export { MemoryPort } from './memory.ts';
export { native, nativeUmem, driverError, hintFor, queueCount, ADDON_PATH, type NativeAddon } from './native.ts';
export { XskPort, type XskOptions } from './xsk.ts';
export { TapPort, type TapOptions } from './tap.ts';
export { openPort, AUTO_ORDER, type OpenPortOptions } from './open.ts';
export { generate, type GenerateOptions, type GenerateResult } from './gen.ts';
// The generator's frame builder lives with the other header writers; kept here for its users.
export { buildUdpFrame, type UdpFrameSpec } from '../wire/frame.ts';
