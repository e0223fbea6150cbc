/**
 * User modules in TypeScript (`xdp: ./my-filter.ts`, `softnet drop --xdp ./f.ts`) under plain
 * node, which cannot import `.ts` by itself (Node 20).
 *
 * The first time a user module ending in `.ts`/`.mts` is imported, ts-hooks.ts is registered
 * (node:module `register`): from then on every `.ts` file, including the ones that module imports
 * relatively, is transpiled by the TypeScript compiler (a dependency of the package) as it loads.
 * Transpile only: types are not checked at load (run `tsc` for that), and a `.ts` module is
 * always an ES module. A filter imports softnet's API as `softnet/xdp`.
 *
 * Not registered when softnet itself runs from its `.ts` sources (a checkout under tsx or
 * vitest): whatever loads softnet's TypeScript already loads the user's.
 */
import { register } from 'node:module';

const TS_MODULE = /\.m?ts$/;
let hooked = false;

/** Make `import()` of `url` work when it names a TypeScript file. */
export function prepareImport(url: string): void {
  if (hooked || !TS_MODULE.test(url)) return;
  hooked = true;
  // Built (dist/*.js): the hooks are the sibling ts-hooks.js. From source: nothing to do.
  if (import.meta.url.endsWith('.js')) register(new URL('./ts-hooks.js', import.meta.url));
}
