import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PhalanxConfigError } from '@phalanx/errors';
import {
  constantLr,
  cosineLr,
  exponentialLr,
  polynomialLr,
  stepLr,
  toSchedule,
  warmRestartsLr,
  warmupLr,
} from './schedules';

describe('learning-rate schedules', () => {
  it('constant, step and milestone decay', () => {
    expect(constantLr(1e-3)(12345)).toBe(1e-3);
    const every = stepLr({ initial: 1, gamma: 0.5, every: 10 });
    expect([0, 9, 10, 19, 20].map(every)).toEqual([1, 1, 0.5, 0.5, 0.25]);
    const milestones = stepLr({ initial: 1e-2, milestones: [100, 200] });
    expect(milestones(99)).toBe(1e-2);
    expect(milestones(100)).toBeCloseTo(1e-3, 15);
    expect(milestones(250)).toBeCloseTo(1e-4, 15);
  });

  it('cosine decay follows ½(1 + cos(π t / T)) between initial and minimum', () => {
    const lr = cosineLr({ initial: 1, steps: 100, minimum: 0.1 });
    for (const t of [0, 10, 25, 50, 77, 100]) {
      expect(lr(t)).toBeCloseTo(0.1 + 0.45 * (1 + Math.cos((Math.PI * t) / 100)), 14);
    }
    expect(lr(500)).toBeCloseTo(0.1, 14);
  });

  it('exponential decay: initial · γ^(t / every), floored at minimum', () => {
    const lr = exponentialLr({ initial: 1e-3, gamma: 0.5, every: 1000 });
    expect(lr(0)).toBe(1e-3);
    expect(lr(1000)).toBeCloseTo(5e-4, 18);
    expect(lr(1500)).toBeCloseTo(1e-3 * Math.SQRT1_2 ** 3, 18);
    expect(exponentialLr({ initial: 1, gamma: 0.1, minimum: 1e-3 })(10)).toBe(1e-3);
  });

  it('polynomial decay: linear for power 1, (1 − t/T)^p in general, constant after T', () => {
    const linear = polynomialLr({ initial: 1, steps: 10 });
    expect([0, 5, 10, 20].map(linear)).toEqual([1, 0.5, 0, 0]);
    const quadratic = polynomialLr({ initial: 1e-3, steps: 1000, power: 2, minimum: 1e-5 });
    expect(quadratic(500)).toBeCloseTo(1e-5 + (1e-3 - 1e-5) * 0.25, 18);
    expect(quadratic(2000)).toBe(1e-5);
  });

  it('warm-up ramps linearly to the wrapped schedule, which then sees the global step', () => {
    const after = polynomialLr({ initial: 1e-3, steps: 1100 });
    const lr = warmupLr({ steps: 100, after, startFactor: 0.1 });
    expect(lr(0)).toBeCloseTo(after(100) * 0.1, 18);
    expect(lr(50)).toBeCloseTo(after(100) * (0.1 + 0.9 * 0.5), 18);
    expect(lr(100)).toBe(after(100));
    expect(lr(600)).toBe(after(600));
    // Continuous at the end of the warm-up, increasing during it.
    expect(Math.abs(lr(99) - lr(100))).toBeLessThan(0.01 * lr(100));
    for (let t = 1; t < 100; t++) expect(lr(t)).toBeGreaterThan(lr(t - 1));
  });

  it('warm restarts: the first cycle is the cycle alone, later ones repeat it scaled by factor^k', () => {
    const cycle = (n: number) => warmupLr({ steps: 10, after: cosineLr({ initial: 1e-3, steps: n }) });
    const lr = warmRestartsLr({ every: 100, steps: 250, factor: 0.5, cycle });
    const single = cycle(100);
    for (const t of [0, 5, 10, 37, 99]) expect(lr(t)).toBe(single(t));
    expect(lr(100)).toBe(0); // the second cycle warms up again …
    expect(lr(110)).toBeCloseTo(0.5 * single(10), 15); // … to half the first cycle's rate
    expect(lr(163)).toBeCloseTo(0.5 * single(63), 15);
    // The last cycle is cut to the 50 steps left: its cosine runs over 50 steps, at a quarter of the peak.
    const last = cycle(50);
    for (const t of [200, 215, 240, 250]) expect(lr(t)).toBeCloseTo(0.25 * last(t - 200), 15);
    expect(lr(250)).toBeCloseTo(0, 15);
    expect(lr(400)).toBeCloseTo(0, 15); // past the end it stays in the last cycle
    // Endless: every cycle is `every` long.
    const endless = warmRestartsLr({ every: 100, cycle });
    expect(endless(1234)).toBe(single(34));
    // The cycle builder is called once per distinct length.
    const lengths: number[] = [];
    const counted = warmRestartsLr({ every: 100, steps: 250, cycle: (n) => (lengths.push(n), 1e-3) });
    for (let t = 0; t <= 260; t++) counted(t);
    expect(lengths).toEqual([100, 50]);
  });

  it('rejects bad arguments with named errors', () => {
    const cases: [() => unknown, string][] = [
      [() => constantLr(-1), 'constantLr: value must be a finite number ≥ 0, but received -1.'],
      [() => stepLr({ initial: 1 }), 'stepLr: every / milestones must be exactly one of the two'],
      [() => stepLr({ initial: 1, milestones: [2, 1] }), 'stepLr: milestones must be increasing integers ≥ 1'],
      [() => cosineLr({ initial: 1, steps: 0 }), 'cosineLr: steps must be an integer ≥ 1, but received 0.'],
      [
        () => exponentialLr({ initial: 1, gamma: 0 }),
        'exponentialLr: gamma must be a finite number > 0, but received 0.',
      ],
      [() => polynomialLr({ initial: 1, steps: 5, power: -1 }), 'polynomialLr: power must be a finite number > 0'],
      [
        () => polynomialLr({ initial: 1, steps: 5, minimum: 2 }),
        'polynomialLr: minimum must be a number ≤ initial (1)',
      ],
      [() => warmupLr({ steps: 10, after: 1, startFactor: 2 }), 'warmupLr: startFactor must be a number in [0, 1]'],
      [() => warmRestartsLr({ every: 0, cycle: () => 1 }), 'warmRestartsLr: every must be an integer ≥ 1'],
      [() => warmRestartsLr({ every: 5, cycle: 1 as never }), 'warmRestartsLr: cycle must be a function'],
      [() => warmRestartsLr({ every: 5, factor: -1, cycle: () => 1 }), 'warmRestartsLr: factor must be a finite'],
      [
        () => toSchedule('Trainer', 'lr', 'fast' as never),
        "Trainer: lr must be a number or a function step → lr, but received 'fast'.",
      ],
    ];
    for (const [f, message] of cases) {
      expect(f).toThrow(PhalanxConfigError);
      expect(f).toThrow(message);
    }
  });

  it('refuses a misspelt argument and an array instead of the arguments, naming the schedule', () => {
    const cases: [() => unknown, string][] = [
      [() => stepLr({ initial: 1, every: 5, gama: 0.5 } as never), 'stepLr: args.gama must be an option (one of '],
      [() => cosineLr({ initial: 1, steps: 9, min: 0.1 } as never), 'cosineLr: args.min must be an option'],
      [() => exponentialLr({ initial: 1, gamma: 0.9, every: 1, minimun: 0 } as never), 'args.minimun'],
      [() => polynomialLr({ initial: 1, steps: 5, pow: 2 } as never), 'polynomialLr: args.pow must be an option'],
      [() => warmupLr({ steps: 10, after: 1, start: 0.1 } as never), 'warmupLr: args.start must be an option'],
      [() => warmRestartsLr({ every: 5, cycle: () => 1, factr: 0.5 } as never), 'warmRestartsLr: args.factr'],
      [() => cosineLr([] as never), 'cosineLr: args must be an object, but received [].'],
      [() => warmupLr(null as never), 'warmupLr: args must be an object, but received null.'],
    ];
    for (const [f, message] of cases) {
      expect(f).toThrow(PhalanxConfigError);
      expect(f).toThrow(message);
    }
    // Every documented key is accepted.
    expect(stepLr({ initial: 1, gamma: 0.5, milestones: [2], steps: 9 })(3)).toBe(0.5);
    expect(exponentialLr({ initial: 1, gamma: 0.5, every: 1, minimum: 0.1, steps: 9 })(9)).toBe(0.1);
  });
});

describe('learning-rate schedules at their edge steps', () => {
  it('edge steps against the documented formulas: step 0, end of warm-up, last step, past it, restarts, 1-step runs', () => {
    const near = (a: number, b: number, what: string) => expect(Math.abs(a - b), what).toBeLessThanOrEqual(1e-15);
    const cosine = (t: number, T: number, hi: number, lo: number) =>
      lo + 0.5 * (hi - lo) * (1 + Math.cos((Math.PI * Math.min(t, T)) / T));
    // One-step runs: the rate at step 0 is the initial one, at step 1 and later the final one.
    const c1 = cosineLr({ initial: 0.3, steps: 1, minimum: 0.1 });
    expect([c1(0), c1(1), c1(7)]).toEqual([0.3, 0.1, 0.1]);
    const p1 = polynomialLr({ initial: 0.3, steps: 1, power: 2 });
    expect([p1(0), p1(1), p1(7)]).toEqual([0.3, 0, 0]);
    const w1 = warmupLr({ steps: 1, after: 0.2, startFactor: 0.25 });
    expect([w1(0), w1(1), w1(9)]).toEqual([0.05, 0.2, 0.2]);
    // Warm-up into a cosine: step 0, mid, the last warm-up step, its end, the last step, past it.
    const lr = warmupLr({ steps: 10, after: cosineLr({ initial: 1e-3, steps: 110, minimum: 1e-5 }) });
    const peak = cosine(10, 110, 1e-3, 1e-5);
    near(lr(0), 0, 'step 0');
    near(lr(5), peak * 0.5, 'mid warm-up');
    near(lr(9), peak * 0.9, 'last warm-up step');
    near(lr(10), peak, 'end of warm-up');
    near(lr(110), 1e-5, 'last step');
    near(lr(1000), 1e-5, 'past the last step');
    // Restarts: each cycle starts at factor^k times the peak; a 1-step cycle is its step 0 only.
    const sgdr = warmRestartsLr({ every: 4, steps: 9, factor: 0.5, cycle: (n) => cosineLr({ initial: 1, steps: n }) });
    const expected = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12].map((t) => {
      const k = Math.min(2, Math.floor(t / 4));
      return 0.5 ** k * cosine(t - 4 * k, Math.min(4, 9 - 4 * k), 1, 0);
    });
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12].forEach((t, i) => near(sgdr(t), expected[i], `restarts, step ${t}`));
    expect([sgdr(0), sgdr(4), sgdr(8)]).toEqual([1, 0.5, 0.25]); // the restarts
    const single = warmRestartsLr({ every: 1, cycle: (n) => cosineLr({ initial: 0.7, steps: n }) });
    expect([single(0), single(1), single(50)]).toEqual([0.7, 0.7, 0.7]);
    // Exponential and step decay at their run's end and past it.
    const exp = exponentialLr({ initial: 1, gamma: 0.5, every: 3, steps: 6, minimum: 0.3 });
    expect([exp(0), exp(3), exp(6), exp(60)]).toEqual([1, 0.5, 0.3, 0.3]);
    const step = stepLr({ initial: 1, gamma: 3, every: 2, steps: 5 });
    expect([step(0), step(1), step(2), step(5), step(50)]).toEqual([1, 1, 3, 9, 9]);
  });
});

describe('learning-rate schedules: finite rates over the whole run, or a named error at construction', () => {
  it('exponentialLr: a growing rate needs `steps`, and must stay finite up to it', () => {
    expect(() => exponentialLr({ initial: 1, gamma: 2 })).toThrow(
      'exponentialLr: steps must be given when gamma > 1 (the rate grows without end), but received undefined.',
    );
    expect(() => exponentialLr({ initial: 1, gamma: 2, steps: 2000 })).toThrow(PhalanxConfigError);
    expect(() => exponentialLr({ initial: 1, gamma: 2, steps: 2000 })).toThrow(
      /exponentialLr: gamma must be a factor whose rate stays finite over the 2000 steps .* = Infinity\), but received 2\./,
    );
    expect(() => exponentialLr({ initial: 1, gamma: 1.5, every: 1e-320, steps: 1 })).toThrow(PhalanxConfigError);
    const growing = exponentialLr({ initial: 1e-5, gamma: 10, every: 100, steps: 300 });
    expect(growing(200)).toBeCloseTo(1e-3, 15);
    expect(growing(300)).toBeCloseTo(1e-2, 15);
    expect(growing(10_000)).toBe(growing(300)); // past `steps` the rate stays
    // Decay: finite at every step, even when step / every overflows (1^∞ and 0 · ∞ were NaN).
    expect(exponentialLr({ initial: 1, gamma: 1, every: 1e-320 })(1)).toBe(1);
    expect(exponentialLr({ initial: 1, gamma: 0.5, every: 1e-320 })(1)).toBe(0);
    expect(exponentialLr({ initial: 0, gamma: 2, every: 1e-320 })(1)).toBe(0);
  });

  it('stepLr: a growing rate must stay finite (steps needed with every)', () => {
    expect(() => stepLr({ initial: 1, gamma: 2, every: 1 })).toThrow('stepLr: steps must be given with every');
    expect(() => stepLr({ initial: 1, gamma: 2, every: 1, steps: 2000 })).toThrow(
      /stepLr: gamma must be a factor whose rate stays finite/,
    );
    expect(() => stepLr({ initial: 1e300, gamma: 1e10, milestones: [5] })).toThrow(PhalanxConfigError);
    expect(stepLr({ initial: 1, gamma: 2, milestones: [5, 10] })(1e9)).toBe(4);
    const growing = stepLr({ initial: 1, gamma: 2, every: 10, steps: 30 });
    expect([0, 10, 30, 1e6].map(growing)).toEqual([1, 2, 8, 8]);
  });

  it('warmRestartsLr: growing cycles need `steps`, and every rate of the run must be finite', () => {
    expect(() => warmRestartsLr({ every: 1, factor: 1e308, cycle: () => 1 })).toThrow(
      'warmRestartsLr: steps must be given when factor > 1 (the rates grow without end), but received undefined.',
    );
    expect(() => warmRestartsLr({ every: 1, steps: 10, factor: 1e308, cycle: () => 1 })).toThrow(
      /warmRestartsLr: factor must be a factor whose rates stay finite over the 10 steps \(factor\^8 · 1 = Infinity at step 8\), but received 1e\+308\./,
    );
    // factor^k finite, but times the cycle's peak it overflows — in the cut last cycle only.
    const peaky = (n: number) => (n === 5 ? constantLr(1e300) : constantLr(1));
    expect(() => warmRestartsLr({ every: 10, steps: 25, factor: 1e10, cycle: peaky })).toThrow(/factor\^2 · 1e\+300/);
    expect(() => warmRestartsLr({ every: 10, steps: 25, factor: 2, cycle: () => () => Number.NaN })).toThrow(
      'warmRestartsLr: cycle must be finite rates (step 0 of cycle 1), but received NaN.',
    );
    const growing = warmRestartsLr({ every: 10, steps: 25, factor: 2, cycle: () => 1e-3 });
    expect([0, 10, 20, 25, 99].map(growing)).toEqual([1e-3, 2e-3, 4e-3, 4e-3, 4e-3]);
  });

  it('fuzz: every built-in schedule that constructs gives finite rates ≥ 0 on its run', () => {
    const positive = fc.double({ min: Number.MIN_VALUE, max: Number.MAX_VALUE, noNaN: true });
    const nonNegative = fc.oneof(fc.constant(0), positive);
    const run = fc.option(fc.integer({ min: 1, max: 1e6 }), { nil: undefined });
    const step = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
    const built = (make: () => (t: number) => number) => {
      try {
        return make();
      } catch (error) {
        expect(error).toBeInstanceOf(PhalanxConfigError); // refusing is fine, only with a named error
        return null;
      }
    };
    const finite = (lr: ((t: number) => number) | null, steps: number[]) => {
      for (const t of steps) if (lr) expect(Number.isFinite(lr(t)) && lr(t) >= 0, `lr(${t}) = ${lr(t)}`).toBe(true);
    };
    fc.assert(
      fc.property(
        nonNegative,
        positive,
        positive,
        run,
        fc.array(step, { maxLength: 5 }),
        (initial, gamma, every, steps, ts) => {
          finite(
            built(() => exponentialLr({ initial, gamma, every, steps })),
            [0, 1, steps ?? 1e6, ...ts],
          );
          const integerEvery = Math.max(1, Math.min(Math.round(every), 1e9));
          finite(
            built(() => stepLr({ initial, gamma, every: integerEvery, steps })),
            [0, steps ?? 1e6, ...ts],
          );
        },
      ),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 200 }),
        nonNegative,
        positive,
        fc.array(step, { maxLength: 5 }),
        (every, steps, factor, initial, ts) => {
          const cycle = (n: number) => cosineLr({ initial: Math.min(initial, Number.MAX_VALUE), steps: n });
          const lr = built(() => warmRestartsLr({ every, steps, factor, cycle }));
          finite(lr, [...Array.from({ length: steps + 1 }, (_, t) => t), ...ts]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
