import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// `softnet` and `softnet/xdp` imported inside this repo (filters/): tsconfig.json's paths map them
// to src/ for tsc and tsx; Vite reads no paths, so the same map becomes its aliases.
const tsconfig = JSON.parse(readFileSync(new URL('./tsconfig.json', import.meta.url), 'utf8')) as { compilerOptions: { paths: Record<string, string[]> } };
const selfReferences = Object.entries(tsconfig.compilerOptions.paths).map(([name, [target]]) => ({
  find: new RegExp(`^${name}$`),
  replacement: new URL(target, import.meta.url).pathname,
}));

export default defineConfig({
  resolve: { alias: selfReferences },
  test: {
    include: ['test/**/*.test.ts'],
    // One event-loop turn after each test (see the file): long synchronous files time out RPC.
    setupFiles: ['test/support/yield.ts'],
    // Integration tests create namespaces and attach XDP programs: run files one at a time so
    // timings and queue ownership do not interfere on a 2-core machine.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
