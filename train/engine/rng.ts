/**
 * Seeded random numbers for everything a run draws: data order, masking, negatives, dropout seeds.
 *
 * xoshiro128** (Blackman & Vigna): 128 bits of state, fast in JS with Math.imul, and the state is four uint32s, so
 * it goes into a checkpoint as a plain array and a resumed run continues the exact same stream. Streams are derived
 * from (seed, ...labels) with splitmix32, so e.g. epoch 3's shuffle depends only on (seed, "order", 3) and not on
 * how many numbers other consumers drew before it.
 */

export type RngState = [number, number, number, number];

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** splitmix32 step: a well-mixed 32-bit value from a 32-bit counter. */
function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Hash a seed and labels (numbers or strings) into one 32-bit value. */
function mix(seed: number, labels: Array<number | string>): number {
  let h = splitmix32(seed >>> 0);
  for (const l of labels) {
    if (typeof l === 'number') h = splitmix32(h ^ (l >>> 0));
    else for (let i = 0; i < l.length; i++) h = splitmix32(h ^ l.charCodeAt(i));
    h = splitmix32(h ^ 0x5bd1e995);
  }
  return h;
}

export class Rng {
  private s: Uint32Array;

  private constructor(state: ArrayLike<number>) {
    this.s = Uint32Array.from(state);
    if (this.s.length !== 4 || this.s.every((v) => v === 0)) throw new Error('xoshiro128** state must be 4 uint32s, not all zero');
  }

  /** The generator for (seed, ...labels): `Rng.from(seed, 'order', epoch)`. */
  static from(seed: number, ...labels: Array<number | string>): Rng {
    let h = mix(seed, labels);
    const st: number[] = [];
    for (let i = 0; i < 4; i++) st.push((h = splitmix32(h)));
    return new Rng(st);
  }

  static fromState(state: ArrayLike<number>): Rng {
    return new Rng(state);
  }

  state(): RngState {
    return [this.s[0]!, this.s[1]!, this.s[2]!, this.s[3]!];
  }

  /** Next uint32. */
  u32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  float(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992;
  }

  /** Uniform integer in [0, n) without modulo bias (n ≤ 2^32). */
  int(n: number): number {
    if (!(n > 0 && n <= 2 ** 32 && Number.isInteger(n))) throw new Error(`Rng.int: n must be an integer in [1, 2^32] (got ${n})`);
    const limit = 2 ** 32 - (2 ** 32 % n);
    let x: number;
    do x = this.u32();
    while (x >= limit);
    return x % n;
  }

  /** Standard normal (Box–Muller; one value per call for simple state accounting). */
  normal(): number {
    const u = 1 - this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.float());
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(a: T[] | Uint32Array | Int32Array): typeof a {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p) as Uint32Array;
  }
}

/** The data order of one epoch: depends only on (seed, epoch, n), so a resumed run recomputes it exactly. */
export function epochPermutation(seed: number, epoch: number, n: number): Uint32Array {
  return Rng.from(seed, 'order', epoch).permutation(n);
}

/**
 * mulberry32: a tiny 32-bit generator for places that want a plain `() => number` seeded by one uint32 (per-image
 * augmentation, synthetic test data). Training order and masking use Rng, whose state is checkpointed.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
