/**
 * The tcp scenarios' kernel-side application: softnet's own TCP services (the discard handler,
 * the HTTP responder of transport/tcp/services.ts) served over node:net, i.e. the kernel's TCP,
 * so the comparison is the same JavaScript on both stacks.
 *
 *   node tcp-app.ts discard|http PORT
 *
 * Prints "listening on PORT" once bound (0.0.0.0); runs until SIGTERM.
 */
import http from 'node:http';
import net from 'node:net';
import { discard, respond } from '../transport/tcp/services.ts';

const [kind, portText] = process.argv.slice(2);
const port = Number(portText);
if ((kind !== 'discard' && kind !== 'http') || !(port > 0 && port < 65536)) {
  console.error('usage: tcp-app discard|http PORT');
  process.exit(2);
}
const server = kind === 'http' ? http.createServer(respond) : net.createServer(discard);
server.on('error', (e) => {
  console.error(`tcp-app ${kind}: ${e.message}`);
  process.exit(1);
});
server.listen(port, '0.0.0.0', () => console.log(`listening on ${port}`));
process.on('SIGTERM', () => process.exit(0));
