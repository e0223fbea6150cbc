/**
 * `softnet up --http ADDR:PORT`: the live pipeline picture as one self-contained web page served
 * by the running stack: an inline SVG of driver -> poll -> ptype -> ip_rcv -> forward | local ->
 * socket -> app whose numbers (packets/s on the edges, drops/s and ns/packet per stage,
 * time_squeeze, rings, the fastest drop counters) a server-sent event stream updates every
 * second. No external assets, no build step. Routes: `/` the page, `/events` the stream,
 * `/api/top` the latest sample as JSON. Control plane; bound to the address given (use loopback).
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { DropSnapshot } from './drops.ts';
import { dropRates } from './drops.ts';
import { PIPELINE_EDGES, PIPELINE_LABELS, pipelineRates, type PipelineSnapshot, type PipelineView } from './pipeline.ts';

export interface HttpSource {
  readonly name: string;
  pipeline(): PipelineSnapshot;
  drops(): DropSnapshot;
}

export interface LiveSample extends PipelineView {
  name: string;
  time: string;
  seq: number;
  drops: Array<{ stage: string; counter: string; detail: string; rate: number; total: number }>;
}

export interface HttpServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Parse `ADDR:PORT` (IPv4 or a name; port 0 picks one). */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(s);
  if (m === null || Number(m[2]) > 65535) throw new Error(`--http ${s}: expected ADDR:PORT, e.g. 127.0.0.1:9100`);
  return { host: m[1], port: Number(m[2]) };
}

export async function startHttp(src: HttpSource, listen: string, everyMs = 1000): Promise<HttpServer> {
  const { host, port } = parseListen(listen);
  const clients = new Set<ServerResponse>();
  let prevPipe = src.pipeline();
  let prevDrops = src.drops();
  let last: LiveSample | null = null;
  let seq = 0;
  const sample = () => {
    const pipe = src.pipeline();
    const drops = src.drops();
    const v = pipelineRates(prevPipe, pipe);
    const d = dropRates(prevDrops, drops)
      .slice(0, 12)
      .map((r) => ({ stage: r.stage, counter: r.counter, detail: r.detail, rate: r.rate, total: r.value }));
    prevPipe = pipe;
    prevDrops = drops;
    last = { name: src.name, time: new Date().toISOString(), seq: ++seq, ...v, drops: d };
    const msg = `data: ${JSON.stringify(last)}\n\n`;
    for (const c of clients) c.write(msg);
  };
  const timer = setInterval(() => {
    try {
      sample();
    } catch {
      /* a stopped stack: the next request closes us anyway */
    }
  }, everyMs);
  timer.unref();
  const server: Server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
    } else if (url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(page(src.name));
    } else if (url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(': softnet\n\n');
      if (last !== null) res.write(`data: ${JSON.stringify(last)}\n\n`);
      clients.add(res);
      req.on('close', () => clients.delete(res));
    } else if (url === '/api/top') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(last));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new Error(`--http ${listen}: listen failed (${e.code ?? e.message})`)));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const url = `http://${host}:${typeof addr === 'object' && addr !== null ? addr.port : port}/`;
  return {
    url,
    close: async () => {
      clearInterval(timer);
      for (const c of clients) c.end();
      clients.clear();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Box positions of the picture (x, y of the box's top-left; boxes 150 x 58). */
const LAYOUT: Record<string, [number, number]> = {
  driver: [10, 150],
  poll: [190, 150],
  xdp: [190, 40],
  'eth-input': [370, 150],
  'arp-rcv': [370, 260],
  'ip-rcv': [550, 150],
  'ip-forward': [730, 40],
  'neigh-output': [910, 40],
  'dev-xmit': [1090, 40],
  'ip-local-deliver': [730, 260],
  'icmp-rcv': [910, 370],
  'udp-rcv': [910, 260],
  'tcp-rcv': [910, 150],
  app: [1090, 260],
  'ip-output': [730, 150],
};

/** The page: SVG boxes and edges with ids the script fills from the event stream. */
function page(name: string): string {
  const W = 150;
  const H = 58;
  const boxes = Object.entries(LAYOUT)
    .map(
      ([id, [x, y]]) =>
        `<g class="box" id="n-${id}"><rect x="${x}" y="${y}" width="${W}" height="${H}" rx="6"/>` +
        `<text x="${x + 8}" y="${y + 16}" class="label">${esc(PIPELINE_LABELS[id] ?? id)}</text>` +
        `<text x="${x + 8}" y="${y + 33}" class="pps" id="pps-${id}">-</text>` +
        `<text x="${x + 8}" y="${y + 50}" class="sub" id="sub-${id}"></text></g>`,
    )
    .join('\n');
  const edges = PIPELINE_EDGES.map(([a, b]) => {
    const [ax, ay] = LAYOUT[a];
    const [bx, by] = LAYOUT[b];
    const x1 = ax + W;
    const y1 = ay + H / 2;
    const x2 = bx;
    const y2 = by + H / 2;
    const back = x2 <= x1;
    const d = back ? `M${ax + W / 2},${ay + (by > ay ? H : 0)} L${bx + W / 2},${by + (by > ay ? 0 : H)}` : `M${x1},${y1} C${x1 + 20},${y1} ${x2 - 20},${y2} ${x2},${y2}`;
    const tx = back ? ax + W / 2 + 6 : (x1 + x2) / 2 - 12;
    const ty = back ? (ay + by + H) / 2 : (y1 + y2) / 2 - 5;
    return `<path class="edge" id="e-${a}--${b}" d="${d}" marker-end="url(#arrow)"/><text class="epps" id="t-${a}--${b}" x="${tx}" y="${ty}"></text>`;
  }).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>softnet ${esc(name)}: the receive path, live</title>
<style>
body{font:14px system-ui,sans-serif;margin:16px;color:#222;background:#fafafa}
h1{font-size:18px;margin:0 0 4px} .meta{color:#555;margin-bottom:8px}
svg{background:#fff;border:1px solid #ddd;border-radius:6px}
.box rect{fill:#eef4ff;stroke:#6b8fd6} .box.idle rect{fill:#f3f3f3;stroke:#bbb} .box.drops rect{fill:#ffeaea;stroke:#d66}
.label{font-weight:600;font-size:12px} .pps{font-size:13px} .sub{font-size:11px;fill:#666}
.edge{fill:none;stroke:#8aa;stroke-width:1.5} .edge.busy{stroke:#36c;stroke-width:2.5} .epps{font-size:11px;fill:#36c}
table{border-collapse:collapse;margin-top:12px;background:#fff} td,th{border:1px solid #ddd;padding:3px 8px;text-align:left} td.n{text-align:right}
</style></head><body>
<h1>softnet <span id="name">${esc(name)}</span>: the receive path, live</h1>
<div class="meta">sample <span id="seq">0</span> at <span id="time">-</span> · time_squeeze <span id="squeeze">-</span>/s · UMEM frames free <span id="pool">-</span> · <span id="status">connecting</span></div>
<div class="meta" id="ports"></div>
<svg id="pipeline" width="1250" height="440" viewBox="0 0 1250 440" xmlns="http://www.w3.org/2000/svg">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#36c"/></marker></defs>
${edges}
${boxes}
</svg>
<table id="drops"><thead><tr><th>stage</th><th>counter</th><th>drops/s</th><th>total</th><th>detail</th></tr></thead><tbody><tr><td colspan="5">no drops</td></tr></tbody></table>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const fmt = (n) => n >= 1e6 ? (n / 1e6).toFixed(2) + "M" : n >= 1e3 ? (n / 1e3).toFixed(1) + "k" : n >= 10 || Number.isInteger(n) ? String(Math.round(n)) : n.toFixed(1);
function show(s) {
  $("seq").textContent = s.seq;
  $("time").textContent = s.time.slice(11, 19);
  $("squeeze").textContent = fmt(s.squeezePerSec);
  $("pool").textContent = s.pool.free + "/" + s.pool.total;
  $("ports").textContent = s.ports.map((p) => p.name + " " + p.dev + " " + p.mode + ": rx " + fmt(p.rxPps) + "/s, tx " + fmt(p.txPps) + "/s, lost " + fmt(p.lostPerSec) + "/s, fill ring " + p.fillHeld + " held, tx ring " + p.txOutstanding + " out").join(" · ");
  for (const g of document.querySelectorAll(".box")) {
    const id = g.id.slice(2);
    const n = s.nodes[id];
    if (!n) { g.style.display = "none"; continue; }
    $("pps-" + id).textContent = fmt(n.pps) + " pkt/s";
    $("sub-" + id).textContent = (n.dropsPerSec > 0 ? "drops " + fmt(n.dropsPerSec) + "/s  " : "") + (n.nsPerPacket > 0 ? n.nsPerPacket.toFixed(0) + " ns/pkt" : "");
    g.setAttribute("class", "box" + (n.dropsPerSec > 0 ? " drops" : n.pps > 0 ? "" : " idle"));
  }
  for (const e of s.edges) {
    const p = $("e-" + e.from + "--" + e.to), t = $("t-" + e.from + "--" + e.to);
    if (!p) continue;
    p.setAttribute("class", "edge" + (e.pps > 0 ? " busy" : ""));
    t.textContent = e.pps > 0 ? fmt(e.pps) : "";
  }
  const rows = s.drops.map((d) => "<tr><td>" + d.stage + "</td><td>" + d.counter + "</td><td class=n>" + fmt(d.rate) + "</td><td class=n>" + d.total + "</td><td>" + d.detail.replace(/[<&]/g, (c) => c === "<" ? "&lt;" : "&amp;") + "</td></tr>");
  $("drops").tBodies[0].innerHTML = rows.join("") || "<tr><td colspan=5>no drops</td></tr>";
}
const es = new EventSource("events");
es.onopen = () => { $("status").textContent = "live"; };
es.onmessage = (m) => show(JSON.parse(m.data));
es.onerror = () => { $("status").textContent = "disconnected (retrying)"; };
</script>
</body></html>
`;
}

function esc(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}
