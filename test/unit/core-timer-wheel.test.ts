import { describe, expect, it } from 'vitest';
import { TimerWheel } from '../../src/core/timer-wheel.ts';
import { waitFor } from '../support/wait.ts';

function manual(opts: { slots?: number; resolutionMs?: number } = {}) {
  const clock = { t: 1000 };
  const w = new TimerWheel({ ...opts, now: () => clock.t, wake: false });
  const log: Array<[number, number]> = [];
  const k = w.kind('test', (arg) => log.push([arg, clock.t]));
  const step = (to: number) => {
    clock.t = to;
    return w.advance(to);
  };
  return { w, clock, log, k, step };
}

describe('timer wheel', () => {
  it('fires a timer when the clock reaches its expiry, not before', () => {
    const { w, log, k, step } = manual();
    const id = w.create(k, 7);
    w.arm(id, 1040.5);
    expect(w.isArmed(id)).toBe(true);
    expect(w.pending).toBe(1);
    step(1040);
    expect(log).toEqual([]);
    step(1041);
    expect(log).toEqual([[7, 1041]]);
    expect(w.isArmed(id)).toBe(false);
    expect(w.pending).toBe(0);
  });

  it('re-arm moves a timer, cancel removes it, both O(1) list operations', () => {
    const { w, log, k, step } = manual();
    const a = w.create(k, 1);
    const b = w.create(k, 2);
    w.arm(a, 1010);
    w.arm(b, 1010);
    w.arm(a, 1100); // re-arm later
    w.cancel(b);
    w.cancel(b); // twice is fine
    step(1050);
    expect(log).toEqual([]);
    step(1100);
    expect(log).toEqual([[1, 1100]]);
  });

  it('a timer in the past fires on the next advance', () => {
    const { w, log, k, step } = manual();
    w.arm(w.create(k, 3), 0);
    step(1001);
    expect(log).toEqual([[3, 1001]]);
  });

  it('timers beyond one revolution wait in the overflow list and fire on time', () => {
    const { w, log, k, step } = manual({ slots: 64 });
    const far = w.create(k, 9);
    w.arm(far, 1000 + 64 * 10 + 5); // ten revolutions out
    const near = w.create(k, 8);
    w.arm(near, 1030);
    for (let t = 1001; t <= 1000 + 64 * 10 + 4; t++) step(t);
    expect(log).toEqual([[8, 1030]]);
    step(1000 + 64 * 10 + 5);
    expect(log).toEqual([
      [8, 1030],
      [9, 1645],
    ]);
  });

  it('a long jump fires everything due, near and far, and nothing else', () => {
    const { w, log, k, step } = manual({ slots: 64 });
    for (let j = 0; j < 200; j++) w.arm(w.create(k, j), 1000 + j * 7);
    step(1000 + 700);
    expect(log.map((x) => x[0]).sort((a, b) => a - b)).toEqual([...Array(101).keys()]);
    step(1000 + 2000);
    expect(log.length).toBe(200);
  });

  it('handlers may re-arm themselves and arm others: no double fire, no loss', () => {
    const clock = { t: 0 };
    const w = new TimerWheel({ now: () => clock.t, wake: false, slots: 16 });
    let fires = 0;
    let other = -1;
    const k = w.kind('rearm', (arg, id) => {
      fires++;
      if (fires < 5) w.arm(id, clock.t); // "now": lands in the next slot, fires on the next tick
      if (arg === 1 && other >= 0) w.cancel(other);
    });
    const id = w.create(k, 1);
    other = w.create(k, 2);
    w.arm(id, 1);
    w.arm(other, 2);
    for (let t = 1; t <= 10; t++) {
      clock.t = t;
      w.advance(t);
    }
    expect(fires).toBe(5);
    expect(w.isArmed(id)).toBe(false);
    expect(w.isArmed(other)).toBe(false);
  });

  it('ids are reused after destroy and the arrays grow past the initial capacity', () => {
    const clock = { t: 0 };
    const w = new TimerWheel({ now: () => clock.t, wake: false, capacity: 8 });
    let n = 0;
    const k = w.kind('count', () => n++);
    const ids = [];
    for (let j = 0; j < 100; j++) {
      const id = w.create(k, j);
      w.arm(id, 5 + (j % 3));
      ids.push(id);
    }
    expect(new Set(ids).size).toBe(100);
    w.destroy(ids[10]);
    expect(w.live).toBe(99);
    expect(w.create(k, 0)).toBe(ids[10]);
    clock.t = 10;
    w.advance(10);
    expect(n).toBe(99);
  });

  it('matches a reference model under random arm/cancel/advance', () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const clock = { t: 0 };
    const w = new TimerWheel({ now: () => clock.t, wake: false, slots: 32, resolutionMs: 2 });
    // id -> the tick it fires at: its expiry's tick, but never the tick it was armed in.
    const model = new Map<number, number>();
    const fired: Array<[number, number]> = [];
    const k = w.kind('m', (_arg, id) => fired.push([id, clock.t]));
    const ids = Array.from({ length: 50 }, (_, j) => w.create(k, j));
    for (let step = 0; step < 5000; step++) {
      const op = rnd(10);
      const id = ids[rnd(ids.length)];
      if (op < 5) {
        const at = clock.t + rnd(300);
        w.arm(id, at);
        model.set(id, Math.max(Math.ceil(at / 2), Math.floor(clock.t / 2) + 1));
      } else if (op < 7) {
        w.cancel(id);
        model.delete(id);
      } else {
        clock.t += rnd(op === 9 ? 200 : 6);
        fired.length = 0;
        w.advance(clock.t);
        const tick = Math.floor(clock.t / 2);
        const due = [...model].filter(([, t]) => t <= tick).map(([i]) => i).sort((a, b) => a - b);
        expect(fired.map((f) => f[0]).sort((a, b) => a - b)).toEqual(due);
        for (const i of due) model.delete(i);
      }
      expect(w.pending).toBe(model.size);
    }
  });

  it('fires on its own JS timer while nothing drives it (idle), then goes quiet', async () => {
    const w = new TimerWheel();
    let at = 0;
    const t0 = performance.now();
    const k = w.kind('idle', () => (at = performance.now()));
    w.arm(w.create(k, 0), t0 + 30);
    await waitFor('the idle timer to fire', () => at > 0);
    expect(at - t0).toBeGreaterThanOrEqual(29);
    expect(w.pending).toBe(0);
    w.stop();
  });
});
