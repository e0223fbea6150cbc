export const usage = "usage: softnet fwd (not yet implemented)";
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write("softnet fwd: not implemented yet\n");
  return 1;
}
