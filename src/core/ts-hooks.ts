/**
 * Module hooks (node:module `register`) that let plain node import a user's TypeScript module:
 * each `.ts`/`.mts` file is transpiled on load by the TypeScript compiler's `transpileModule`
 * (types removed, no type check) and run as an ES module. Registered by ts-loader.ts, never
 * imported directly; runs on Node's hooks thread.
 *
 * A relative `./x.js` that does not exist, imported from a `.ts` module, resolves to `./x.ts`
 * (how TypeScript's NodeNext style names its own files). Syntax errors name file:line:col.
 */
import { readFile } from 'node:fs/promises';
import type { LoadHook, ResolveHook } from 'node:module';
import { fileURLToPath } from 'node:url';

type TypeScript = typeof import('typescript');

const TS_FILE = /\.m?ts$/;
let typescript: Promise<TypeScript> | null = null;

export const resolve: ResolveHook = async (specifier, context, nextResolve) => {
  try {
    return await nextResolve(specifier, context);
  } catch (e) {
    const fromTs = context.parentURL !== undefined && TS_FILE.test(context.parentURL);
    if (!fromTs || (e as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND' || !/^\.\.?\/.*\.m?js$/.test(specifier)) throw e;
    return nextResolve(specifier.replace(/js$/, 'ts'), context);
  }
};

export const load: LoadHook = async (url, context, nextLoad) => {
  if (!url.startsWith('file:') || !TS_FILE.test(url)) return nextLoad(url, context);
  const file = fileURLToPath(url);
  const ts = await (typescript ??= import('typescript').then((m) => m.default));
  const out = ts.transpileModule(await readFile(file, 'utf8'), {
    fileName: file,
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, inlineSourceMap: true, inlineSources: true },
  });
  const d = out.diagnostics?.find((x) => x.category === ts.DiagnosticCategory.Error);
  if (d) {
    const at = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : null;
    const where = at ? `${file}:${at.line + 1}:${at.character + 1}` : file;
    throw new SyntaxError(`${where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
  }
  return { format: 'module', source: out.outputText, shortCircuit: true };
};
