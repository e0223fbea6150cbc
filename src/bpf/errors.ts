/**
 * A filter the compiler refuses: where (file:line:col, 1-based), what, and what to do instead.
 * The filter then runs in JS (src/bpf/offload.ts says so in the log).
 */
export class BpfCompileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    readonly what: string,
    readonly hint: string,
  ) {
    super(`${file}:${line}:${col}: ${what}${hint ? ` — ${hint}` : ''}`);
    this.name = 'BpfCompileError';
  }
}

/**
 * The kernel's verifier refused the compiled program: the failing instruction mapped back to the
 * filter's source line, the verifier's reason, and its log (the tail, where the reason is).
 */
export class BpfVerifierError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    readonly pc: number,
    readonly reason: string,
    readonly log: string,
    readonly errno: string,
  ) {
    super(`${file}:${line}:${col}: the kernel verifier refused the compiled filter (${errno}) at instruction ${pc}: ${reason}`);
    this.name = 'BpfVerifierError';
  }
}
