/**
 * A small deterministic pseudo-random number generator (sfc32, "small fast counting", by Chris Doty-Humphrey)
 * and the few distributions the synthetic renderer and the augmentations need. `Math.random` is never used
 * in this package, so every sample is a pure function of its seed.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /**
   * Seeds the generator from any number (integer or not) and an optional stream index. Seeds beyond ±2⁶³
   * and streams from 2³² up have streams of their own (not those of their low 64 or 32 bits).
   */
  constructor(seed: number, stream = 0) {
    const h = hashSeed(seed, stream);
    this.a = h[0];
    this.b = h[1];
    this.c = h[2];
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** Next unsigned 32-bit integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer uniform in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** Standard normal (Box–Muller). */
  normal(mean = 0, std = 1): number {
    const u = 1 - this.next();
    const v = this.next();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** One element of `items`, uniformly. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** `true` with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const TWO_31 = 2 ** 31;
const TWO_32 = 2 ** 32;
const TWO_63 = 2 ** 63;
const FLOAT64 = new DataView(new ArrayBuffer(8));

/** The two 32-bit words of `value`'s float64 encoding, mixed into one (splitmix32 finaliser). */
function float64Word(value: number): number {
  FLOAT64.setFloat64(0, value);
  let z = FLOAT64.getUint32(0) ^ Math.imul(FLOAT64.getUint32(4), 0x27d4eb2f);
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return z ^ (z >>> 15);
}

/**
 * Mixes a seed and a stream index into three 32-bit words (splitmix32-style finaliser).
 *
 * The fold keeps a seed's low 64 bits (two's complement) and a stream's low 32 bits, so on its own a seed
 * from 2⁶³ up (or below −2⁶³) and a stream from 2³² up (or below −2³¹) would alias a smaller one — seed 2⁶⁴
 * would be seed 0. Only those values mix in their full float64 encoding as well: every seed and stream the
 * fold keeps apart has the stream it always had.
 */
function hashSeed(seed: number, stream: number): [number, number, number] {
  // Fold non-integer and large seeds into 32 bits deterministically.
  const hi = Math.floor(seed / TWO_32) | 0;
  let x = (seed >>> 0) ^ Math.imul(hi, 0x9e3779b1) ^ Math.imul(stream | 0, 0x85ebca6b);
  if (!Number.isInteger(seed)) x ^= Math.floor((seed % 1) * TWO_32) | 0;
  if (seed >= TWO_63 || seed < -TWO_63) x ^= Math.imul(float64Word(seed), 0x165667b1);
  if (stream >= TWO_32 || stream < -TWO_31) x ^= Math.imul(float64Word(stream), 0xc2b2ae35);
  const out: [number, number, number] = [0, 0, 0];
  for (let i = 0; i < 3; i++) {
    x = (x + 0x9e3779b9) | 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    out[i] = (z ^ (z >>> 15)) >>> 0;
  }
  return out;
}
