// Debian's chromium, headless, as a test client of a web page: it loads the page for real (its
// script, its event stream) and the test reads the live DOM over the DevTools protocol. No
// dependency: the protocol's WebSocket is Node's own (a child node with --experimental-websocket,
// Node 20). The browser and its profile directory are removed afterwards, by PID.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait.ts';

// Evaluates EXPR in the page every EVERY ms, N times, printing each result as a JSON line.
const CDP = `
const [ws, expr, n, every, shot] = process.argv.slice(1);
const sock = new WebSocket(ws);
let id = 0;
const pending = new Map();
sock.onmessage = (m) => { const r = JSON.parse(m.data); if (pending.has(r.id)) { pending.get(r.id)(r); pending.delete(r.id); } };
const call = (method, params) => new Promise((res) => { pending.set(++id, res); sock.send(JSON.stringify({ id, method, params })); });
sock.onopen = async () => {
  for (let k = 0; k < Number(n); k++) {
    const r = await call('Runtime.evaluate', { expression: expr, returnByValue: true });
    const fail = r.error?.message ?? r.result?.exceptionDetails?.exception?.description ?? r.result?.exceptionDetails?.text;
    if (fail !== undefined) { console.error('cdp: Runtime.evaluate failed: ' + fail); process.exit(1); }
    console.log(JSON.stringify(r.result?.result?.value ?? null));
    await new Promise((res) => setTimeout(res, Number(every)));
  }
  if (shot) {
    await call('Emulation.setDeviceMetricsOverride', { width: 1300, height: 760, deviceScaleFactor: 1, mobile: false });
    const r = await call('Page.captureScreenshot', { format: 'png' });
    require('node:fs').writeFileSync(shot, Buffer.from(r.result.data, 'base64'));
  }
  sock.close();
  process.exit(0);
};
sock.onerror = (e) => { console.error('cdp: ' + (e.message ?? e)); process.exit(1); };
`;

/**
 * Open `url` in headless chromium and evaluate `expr` (returning JSON-able data) `n` times,
 * `everyMs` apart, once the page's `ready` expression is true. Returns the values.
 */
export async function pageSamples<T>(url: string, expr: string, n: number, everyMs: number, ready = 'document.readyState === "complete"', screenshot = ''): Promise<T[]> {
  const profile = mkdtempSync(join(tmpdir(), 'sn-chromium-'));
  // A process group of its own: chromium's renderer, GPU and utility processes outlive a killed
  // browser process for a moment and keep writing into the profile, so the whole group is ended.
  const browser = spawn('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-crash-reporter', `--user-data-dir=${profile}`, '--remote-debugging-port=0', url], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let err = '';
  browser.stderr!.on('data', (d) => (err += d));
  try {
    const port: string = await waitFor('chromium to open its DevTools port', () => /DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(err)?.[1] ?? '', { detail: () => err });
    const page: string = await waitFor(
      'the page target',
      async () => {
        const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ type: string; url: string; webSocketDebuggerUrl: string }>;
        return list.find((t) => t.type === 'page' && t.url.startsWith(url))?.webSocketDebuggerUrl ?? '';
      },
      { detail: () => err },
    );
    // The tab starts on about:blank, whose readyState is "complete" too: ready means our URL's
    // document is loaded, not whichever document the tab holds at the moment.
    const loaded = `location.href.startsWith(${JSON.stringify(url)}) && (${ready})`;
    await waitFor('the page to be ready', async () => (await evaluate<boolean>(page, loaded, 1, 0))[0] === true);
    return await evaluate<T>(page, expr, n, everyMs, screenshot);
  } finally {
    await killGroup(browser.pid!);
    rmSync(profile, { recursive: true, force: true });
  }
}

/** SIGKILL to every process of the group we started, then wait until none is left. */
async function killGroup(pgid: number): Promise<void> {
  const alive = (): boolean => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false; // ESRCH: the group is gone
    }
  };
  if (alive()) process.kill(-pgid, 'SIGKILL');
  await waitFor(`chromium's processes (group ${pgid}) to exit`, () => !alive());
}

/** `screenshot`: a PNG of the page after the last sample is written there. */
function evaluate<T>(ws: string, expr: string, n: number, everyMs: number, screenshot = ''): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', '-e', CDP, ws, expr, String(n), String(everyMs), screenshot], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('exit', (code) => {
      if (code !== 0) reject(new Error(`cdp client exited ${code}: ${err}`));
      else resolve(out.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as T));
    });
  });
}
