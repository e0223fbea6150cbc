export const usage = "usage: softnet gen (not yet implemented)";
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write("softnet gen: not implemented yet\n");
  return 1;
}
