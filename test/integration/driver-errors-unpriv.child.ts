// Run without capabilities by driver-errors.test.ts: try to open ports and print each error as
// one JSON line {mode, name, syscall, errno, message}. Must never crash.
import { DriverError, openPort } from '../../src/driver/index.ts';

const dev = process.argv[2];
for (const mode of ['xdp-drv', 'tap'] as const) {
  try {
    const { port } = openPort({ dev: mode === 'tap' ? 'snerr-tap' : dev, mode });
    port.close();
    console.log(JSON.stringify({ mode, ok: true }));
  } catch (e) {
    const d = e as DriverError;
    console.log(JSON.stringify({ mode, name: d.name, isDriverError: e instanceof DriverError, syscall: d.syscall, errno: d.errno, message: d.message }));
  }
}
