// Child for driver-errors.test.ts: open a port, say "ready", then wait to be killed (SIGKILL),
// to show the kernel detaches the program when the process dies without closing anything.
import { openPort } from '../../src/driver/index.ts';

const { port } = openPort({ dev: process.argv[2], mode: 'xdp-drv' });
port.armIrq(() => {});
console.log('ready');
setInterval(() => {}, 1000);
