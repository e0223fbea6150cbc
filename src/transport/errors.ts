import { constants } from 'node:os';

/** A system error shaped like node's (uvException): message `syscall CODE address:port`, code, errno, syscall. */
export interface SysError extends Error {
  code: string;
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
}

export function sysError(code: string, syscall: string, address?: string, port?: number, detail?: string): SysError {
  const where = address !== undefined ? ` ${address}${port !== undefined ? `:${port}` : ''}` : '';
  const e = new Error(`${syscall} ${code}${detail ? `: ${detail}` : ''}${where}`) as SysError;
  e.code = code;
  const n = (constants.errno as Record<string, number>)[code];
  e.errno = n === undefined ? 0 : -n;
  e.syscall = syscall;
  if (address !== undefined) e.address = address;
  if (port !== undefined) e.port = port;
  return e;
}
