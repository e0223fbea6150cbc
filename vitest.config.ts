import { defineConfig } from 'vitest/config';

export default defineConfig({
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
