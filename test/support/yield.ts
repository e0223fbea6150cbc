// Setup file (vitest.config.ts): one event-loop turn after every test. Vitest's runner awaits
// only promises between tests, so a file of synchronous tests (fib-diff: 24 seeds, 81 s on a
// loaded machine) never lets the worker read its RPC answers; the 60 s RPC timer then fires
// first ("[vitest-worker]: Timeout calling onTaskUpdate", an unhandled error failing the run).
import { afterEach } from 'vitest';

afterEach(() => new Promise<void>((r) => setImmediate(r)));
