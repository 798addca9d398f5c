/**
 * numpy's default `argsort` (kind='quicksort': introsort with median-of-3 pivots, insertion sort for partitions of
 * at most 16 elements, heapsort past a depth limit), reproduced step by step.
 *
 * Why not a stable sort: bottom-up-attention's selection calls `argsort()[::-1]` twice (NMS order, min/max box
 * clamps), and its choice among equal scores is whatever this exact algorithm does. A stable sort agrees only for
 * arrays of at most 16 elements; on longer arrays with ties (e.g. many boxes with max_conf 0) the picked boxes and
 * their order differ. numpy >= 1.25 on AVX-512 CPUs dispatches to a SIMD sort instead; the published features were
 * made with older numpy, which is what this follows.
 */

/** numpy's float `<`: NaN sorts after everything. */
function less(a: number, b: number): boolean {
  return a < b || (b !== b && a === a);
}

function msb(n: number): number {
  let depth = 0;
  while (n > 1) {
    n = Math.floor(n / 2);
    depth++;
  }
  return depth;
}

/** Heapsort of idx[lo .. lo+n-1] by v (numpy's aheapsort, 1-based heap over that slice). */
function heapsort(v: ArrayLike<number>, idx: Int32Array, lo: number, n: number): void {
  const a = (k: number) => idx[lo + k - 1]!;
  const set = (k: number, x: number) => {
    idx[lo + k - 1] = x;
  };
  for (let l = n >> 1; l > 0; --l) {
    const tmp = a(l);
    let i = l;
    for (let j = l << 1; j <= n; ) {
      if (j < n && less(v[a(j)]!, v[a(j + 1)]!)) j += 1;
      if (less(v[tmp]!, v[a(j)]!)) {
        set(i, a(j));
        i = j;
        j += j;
      } else break;
    }
    set(i, tmp);
  }
  for (; n > 1; ) {
    const tmp = a(n);
    set(n, a(1));
    n -= 1;
    let i = 1;
    for (let j = 2; j <= n; ) {
      if (j < n && less(v[a(j)]!, v[a(j + 1)]!)) j++;
      if (less(v[tmp]!, v[a(j)]!)) {
        set(i, a(j));
        i = j;
        j += j;
      } else break;
    }
    set(i, tmp);
  }
}

/** Indices that sort `v` ascending, exactly as `numpy.argsort(v)` orders them (ties included). */
export function npArgsort(v: ArrayLike<number>): Int32Array {
  const num = v.length;
  const idx = new Int32Array(num);
  for (let i = 0; i < num; i++) idx[i] = i;
  if (num < 2) return idx;
  const swap = (i: number, j: number) => {
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
  };
  const stack: number[] = [];
  const depths: number[] = [];
  let pl = 0;
  let pr = num - 1;
  let cdepth = msb(num) * 2;
  for (;;) {
    if (cdepth < 0) {
      heapsort(v, idx, pl, pr - pl + 1);
    } else {
      while (pr - pl > 15) {
        const pm = pl + ((pr - pl) >> 1);
        if (less(v[idx[pm]!]!, v[idx[pl]!]!)) swap(pm, pl);
        if (less(v[idx[pr]!]!, v[idx[pm]!]!)) swap(pr, pm);
        if (less(v[idx[pm]!]!, v[idx[pl]!]!)) swap(pm, pl);
        const vp = v[idx[pm]!]!;
        let pi = pl;
        let pj = pr - 1;
        swap(pm, pj);
        for (;;) {
          do ++pi;
          while (less(v[idx[pi]!]!, vp));
          do --pj;
          while (less(vp, v[idx[pj]!]!));
          if (pi >= pj) break;
          swap(pi, pj);
        }
        swap(pi, pr - 1);
        // Keep the smaller side for now, push the larger one (bounded stack), as numpy does.
        if (pi - pl < pr - pi) {
          stack.push(pi + 1, pr);
          pr = pi - 1;
        } else {
          stack.push(pl, pi - 1);
          pl = pi + 1;
        }
        depths.push(--cdepth);
      }
      for (let pi = pl + 1; pi <= pr; ++pi) {
        const vi = idx[pi]!;
        const vv = v[vi]!;
        let pj = pi;
        while (pj > pl && less(vv, v[idx[pj - 1]!]!)) {
          idx[pj] = idx[pj - 1]!;
          pj--;
        }
        idx[pj] = vi;
      }
    }
    if (stack.length === 0) break;
    pr = stack.pop()!;
    pl = stack.pop()!;
    cdepth = depths.pop()!;
  }
  return idx;
}

/** `numpy.argsort(v)[::-1]`: descending order with numpy's tie order reversed. */
export function npArgsortDesc(v: ArrayLike<number>): Int32Array {
  return npArgsort(v).reverse();
}
