// V8 leaves out its detached-buffer check at every typed-array and DataView access only while no
// ArrayBuffer in the process has ever been detached (the ArrayBufferDetaching protector). Loading
// the TypeScript compiler through tsx detaches one, so the XDP compiler (its only user) must load
// when a filter is compiled, never with the stack: 18% of the forwarding chain's instructions
// (README, performance).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('loading the stack through tsx, as a checkout runs it, does not load the TypeScript compiler', () => {
  const script = [
    "import { createRequire } from 'node:module';",
    "await import('./src/stack/stack.ts');",
    "const loaded = Object.keys(createRequire(process.cwd() + '/').cache);",
    "console.log(JSON.stringify(loaded.filter((k) => k.includes('/node_modules/typescript/'))));",
  ].join('\n');
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  expect(JSON.parse(out.trim().split('\n').at(-1)!) as string[]).toEqual([]);
});

test('compiling a filter does load it (the check above can see it)', () => {
  const script = [
    "import { createRequire } from 'node:module';",
    "await import('./src/bpf/compile.ts');",
    "const loaded = Object.keys(createRequire(process.cwd() + '/').cache);",
    "console.log(JSON.stringify(loaded.filter((k) => k.includes('/node_modules/typescript/'))));",
  ].join('\n');
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  expect((JSON.parse(out.trim().split('\n').at(-1)!) as string[]).length).toBeGreaterThan(0);
});
