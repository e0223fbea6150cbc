/**
 * iptables-restore's input (the format iptables-save prints) read into per-table blocks that
 * Netfilter.restore applies: `*table`, `:CHAIN POLICY [pkts:bytes]` (`-` for a user chain),
 * command lines (`-A`, `-I`, `-N`, `-P`...), `COMMIT`; `#` comments and blank lines skipped.
 * Counters (`[p:b]` on chain and rule lines, as `iptables-save -c` writes them) are read and
 * ignored: tables are loaded with zero counters (iptables-restore without -c). Control plane only.
 */

import { IptablesError } from './xt.ts';

export interface RestoreBlock {
  table: string;
  /** `:CHAIN POLICY` lines: [line number, chain, policy or '-']. */
  chains: Array<[number, string, string]>;
  /** Command lines: [line number, the command without its table]. */
  commands: Array<[number, string]>;
}

const fail = (line: number, msg: string): never => {
  throw new IptablesError(`iptables-restore: line ${line} failed: ${msg}`);
};

/** The blocks of an iptables-restore text, in order; throws naming the line of a malformed one. */
export function parseRestore(text: string): RestoreBlock[] {
  const blocks: RestoreBlock[] = [];
  let cur: RestoreBlock | null = null;
  const lines = text.split('\n');
  for (let k = 0; k < lines.length; k++) {
    const n = k + 1;
    const line = lines[k].trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      if (cur !== null) fail(n, `table "${line.slice(1)}" starts before COMMIT of table "${cur.table}"`);
      const table = line.slice(1).trim();
      if (!/^[a-z]+$/.test(table)) fail(n, `bad table name "${table}"`);
      cur = { table, chains: [], commands: [] };
      continue;
    }
    if (cur === null) fail(n, `"${line}" outside a table (no *table line before it)`);
    const b = cur!;
    if (line === 'COMMIT') {
      blocks.push(b);
      cur = null;
    } else if (line.startsWith(':')) {
      const m = /^:(\S+)\s+(\S+)(?:\s+\[\d+:\d+\])?$/.exec(line);
      if (!m) fail(n, `bad chain line "${line}" (want :CHAIN POLICY [packets:bytes])`);
      b.chains.push([n, m![1], m![2]]);
    } else {
      // `[p:b] -A ...` (iptables-save -c): the counters go, the command stays
      const cmd = line.replace(/^\[\d+:\d+\]\s+/, '');
      if (!cmd.startsWith('-')) fail(n, `"${line}" is not a command`);
      if (/(^|\s)(-t|--table)(\s|=)/.test(cmd)) fail(n, 'a table option inside a *table block');
      b.commands.push([n, cmd]);
    }
  }
  if (cur !== null) fail(lines.length, `table "${cur.table}" has no COMMIT`);
  return blocks;
}
