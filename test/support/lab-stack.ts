// A softnet stack in this process on a lab of src/tools/lab.ts (host A — softnet — host B,
// softnet's ends in the root namespace): the lab made fresh in beforeAll, and in afterAll the
// stack stopped with every frame back and no XDP program left, the lab gone with no namespace left.
import { expect } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { Stack } from '../../src/stack/stack.ts';
import { labDown, labUp, type Lab } from '../../src/tools/lab.ts';
import { hasXdp, namespaces } from './netns.ts';

/** The lab `name`, replacing a leftover of a killed run. */
export async function freshLab(name: string): Promise<Lab> {
  await labDown(name);
  return labUp({ name });
}

/**
 * A fresh lab `name` and a started stack of the same name (its control socket at the default
 * path, so `softnet ... --name <name>` reaches it): port p0 on A's link, xdp-drv, 10.1.0.1/24,
 * then the config lines `yaml` (services...).
 */
export async function labWithStack(name: string, yaml: string): Promise<{ lab: Lab; stack: Stack }> {
  const lab = await freshLab(name);
  const stack = await Stack.fromConfig(
    parseConfig(`
name: ${name}
ports:
  - {name: p0, dev: ${lab.a.dev}, mode: xdp-drv, addresses: [10.1.0.1/24]}
${yaml}`),
  );
  try {
    await stack.start();
  } catch (e) {
    await stack.stop();
    throw e;
  }
  return { lab, stack };
}

/** Stop a stack: every frame back in the pool, no XDP program left on its ports' devices. */
export async function expectStopped(stack: Stack): Promise<void> {
  const devs = stack.portInfo().map((p) => p.dev);
  const acct = await stack.stop();
  expect(acct.lost).toBe(0);
  expect(acct.free).toBe(acct.total);
  for (const d of devs) expect(hasXdp(d)).toBe(false);
}

/** afterAll of a lab test: stop its stack if one was made (expectStopped), take the lab down even after a failure, and check no namespace of it is left. */
export async function labTeardown(name: string, stack?: Stack | null): Promise<void> {
  try {
    if (stack) await expectStopped(stack);
  } finally {
    await labDown(name);
  }
  expect(namespaces(`sn-${name}-`)).toEqual([]);
}
