/**
 * Correctly rounded ln, exp and pow for the scorers. V8's Math.log / Math.pow are off by one unit in the last
 * place for some arguments (Math.log(3) = 1.0986122886681096, glibc gives 1.0986122886681098), and pycocoevalcap's
 * numbers come from glibc / numpy, which round correctly in practice. Computing in double-double arithmetic
 * (about 106 bits) and rounding once makes per-image CIDEr and BLEU agree with the official values bit for bit.
 */

type DD = [number, number]; // hi + lo, |lo| ≤ ulp(hi)/2

const SPLITTER = 134217729; // 2^27 + 1

function twoSum(a: number, b: number): DD {
  const s = a + b;
  const bb = s - a;
  return [s, a - (s - bb) + (b - bb)];
}

function quickTwoSum(a: number, b: number): DD {
  const s = a + b;
  return [s, b - (s - a)];
}

function twoProd(a: number, b: number): DD {
  const p = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return [p, ah * bh - p + ah * bl + al * bh + al * bl];
}

function add(a: DD, b: DD): DD {
  const [s, e] = twoSum(a[0], b[0]);
  const [t, f] = twoSum(a[1], b[1]);
  const [s2, e2] = quickTwoSum(s, e + t);
  return quickTwoSum(s2, e2 + f);
}

function mul(a: DD, b: DD): DD {
  const [p, e] = twoProd(a[0], b[0]);
  return quickTwoSum(p, e + (a[0] * b[1] + a[1] * b[0]));
}

function div(a: DD, b: DD): DD {
  const q1 = a[0] / b[0];
  let r = add(a, neg(mul(b, [q1, 0])));
  const q2 = r[0] / b[0];
  r = add(r, neg(mul(b, [q2, 0])));
  const q3 = r[0] / b[0];
  return add(quickTwoSum(q1, q2), [q3, 0]);
}

const neg = (a: DD): DD => [-a[0], -a[1]];

const LN2: DD = [0.6931471805599453, 2.3190468138462996e-17];

// Series coefficients as double-double constants: 1/(2k+1) for atanh, 1/i! for exp (Horner, no divisions).
const INV_ODD: DD[] = Array.from({ length: 24 }, (_, k) => div([1, 0], [2 * k + 1, 0]));
const INV_FACT: DD[] = [[1, 0]];
for (let i = 1; i < 28; i++) INV_FACT.push(div(INV_FACT[i - 1]!, [i, 0]));

/** ln(x) for a positive finite double, in double-double. */
function ddLog(x: number): DD {
  let e = Math.floor(Math.log2(x));
  let m = x / 2 ** e;
  // Math.log2 can be off by one near powers of two: renormalise m into [1, 2), then centre it around 1.
  while (m >= 2) (m /= 2), e++;
  while (m < 1) (m *= 2), e--;
  if (m > Math.SQRT2) (m /= 2), e++;
  // ln m = 2·atanh(s), s = (m − 1)/(m + 1), |s| < 0.172: 24 odd terms reach ~1e-37.
  const s = div([m - 1, 0], twoSum(m, 1));
  const s2 = mul(s, s);
  let sum = INV_ODD[INV_ODD.length - 1]!;
  for (let k = INV_ODD.length - 2; k >= 0; k--) sum = add(INV_ODD[k]!, mul(s2, sum));
  return add(mul(mul(sum, s), [2, 0]), mul(LN2, [e, 0]));
}

/** exp(a) for a double-double argument, rounded to a double. */
function ddExp(a: DD): number {
  if (a[0] > 709.8) return Infinity;
  if (a[0] < -745.2) return 0;
  const k = Math.round(a[0] / LN2[0]);
  const r = add(a, neg(mul(LN2, [k, 0]))); // |r| ≤ 0.35: 28 Taylor terms reach ~1e-36
  let sum = INV_FACT[INV_FACT.length - 1]!;
  for (let i = INV_FACT.length - 2; i >= 0; i--) sum = add(INV_FACT[i]!, mul(r, sum));
  // Scale by 2^k in two steps so that neither factor overflows.
  const k1 = Math.trunc(k / 2);
  return (sum[0] + sum[1]) * 2 ** k1 * 2 ** (k - k1);
}

/** Correctly rounded natural logarithm (as glibc's log / numpy's np.log give it). */
export function log(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return Math.log(x);
  if (x === 1) return 0;
  const [hi, lo] = ddLog(x);
  return hi + lo;
}

/** Correctly rounded exp. */
export function exp(x: number): number {
  if (!Number.isFinite(x)) return Math.exp(x);
  if (x === 0) return 1;
  return ddExp([x, 0]);
}

/** Correctly rounded x ** y for x ≥ 0 (Python's float ** / glibc pow on the values the scorers produce). */
export function pow(x: number, y: number): number {
  if (y === 0 || x === 1) return 1;
  if (y === 1) return x;
  if (!(x > 0) || !Number.isFinite(x) || !Number.isFinite(y)) return Math.pow(x, y);
  return ddExp(mul(ddLog(x), [y, 0]));
}
