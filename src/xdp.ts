/**
 * `softnet/xdp`: what an XDP-style filter module imports. A filter is a module whose default
 * export takes the one reused {@link XdpContext} and returns a verdict:
 *
 * ```ts
 * import { XDP_DROP, XDP_PASS, type XdpContext } from 'softnet/xdp';
 * export default (ctx: XdpContext) => (ctx.ipProto() === 17 && ctx.l4Dport() === 53 ? XDP_DROP : XDP_PASS);
 * ```
 *
 * Attach it with `xdp: ./my-filter.ts` in a config, `softnet drop --xdp ./my-filter.ts`, or
 * `stack.attachXdp(port, filter)` from the library. A `.ts` module is loaded with plain node:
 * see src/core/ts-loader.ts.
 *
 * Kept apart from the main entry so a filter pulls in only the context class, not the stack.
 */
export { XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_REDIRECT, XDP_TX, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, XdpContext, defineMap, XdpMap } from './core/xdp-helpers.ts';
export type { MapKind, MapSpec, MapType } from './core/xdp-map.ts';
export type { XdpFilter, XdpVerdicts } from './core/xdp.ts';
