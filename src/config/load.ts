import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError, validateConfig, type Config } from './schema.ts';

/** Parse and validate config text (YAML, so JSON works too). Throws ConfigError. */
export function parseConfig(text: string, file?: string): Config {
  // uniqueKeys: a key given twice is a mistake, not "the last one wins".
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return { path: `line ${pos.line}:${pos.col}`, problem: `YAML: ${e.message.split('\n')[0]}` };
      }),
      file,
    );
  }
  return validateConfig(doc.toJS(), file);
}

/** Read, parse and validate a config file. Throws ConfigError (also for an unreadable file). */
export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ConfigError([{ path: '', problem: `cannot read the file: ${err.code ?? ''} ${err.message}`.trim() }], file);
  }
  return parseConfig(text, file);
}
