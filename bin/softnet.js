#!/usr/bin/env node
// The `softnet` command. From the package: the built CLI (dist/), plain node. From a git checkout
// (src/ is here; the package does not ship it): the TypeScript sources through tsx, so an edit
// needs no build step; tsx reads the checkout's tsconfig.json, whose paths map `softnet/xdp`
// (imported by the repo's own filters) to src/ wherever the command runs from.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = new URL('../src/cli/main.ts', import.meta.url);

async function loadMain() {
  if (existsSync(source)) {
    let tsx = null;
    try {
      tsx = await import('tsx/esm/api');
    } catch {
      // a checkout installed without devDependencies: dist/ if built
    }
    if (tsx) {
      tsx.register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
      return import(source.href);
    }
  }
  try {
    return await import('../dist/cli/main.js');
  } catch (e) {
    if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !existsSync(source)) throw e;
    throw new Error('softnet: this checkout has neither tsx (npm install) nor a build (npm run build)');
  }
}

const { main } = await loadMain();
process.exitCode = await main(process.argv.slice(2));
