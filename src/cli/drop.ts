export const usage = "usage: softnet drop (not yet implemented)";
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write("softnet drop: not implemented yet\n");
  return 1;
}
