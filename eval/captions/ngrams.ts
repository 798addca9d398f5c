/**
 * n-gram bookkeeping shared by BLEU and CIDEr. Words and n-grams are interned to integers (an n-gram is its
 * (n−1)-gram prefix extended by one word), so counting needs no string keys. A caption's n-grams are listed in
 * pycocoevalcap's insertion order — all 1-grams by first occurrence, then 2-grams, … — because its floating-point
 * sums run in that order and we want the same bits, not just the same printed digits.
 */

/** Words of a tokenized caption as pycocoevalcap's `str.split()` gives them (any whitespace run). */
export function words(s: string): string[] {
  const w = s.split(/\s+/);
  if (w.length > 0 && w[0] === '') w.shift();
  if (w.length > 0 && w[w.length - 1] === '') w.pop();
  return w;
}

/** One caption: its distinct n-grams (insertion order, grouped by order 1..n) with counts, and its word count. */
export interface Encoded {
  grams: Int32Array;
  counts: Int32Array;
  words: number;
}

export class GramTable {
  private readonly wordIds = new Map<string, number>();
  // Open-addressing hash of (prefix gram, word) → gram id: Map with non-Smi number keys was the hot spot.
  private keyPrefix = new Int32Array(4096);
  private keyWord = new Int32Array(4096);
  private slots = new Int32Array(4096).fill(-1);
  /** n-gram order (1..4) per gram id. */
  order = new Int8Array(1024);
  size = 0;
  private scratch = new Int32Array(1024);

  private static hash(prefix: number, word: number, mask: number): number {
    return (Math.imul(prefix + 1, 0x9e3779b1) ^ Math.imul(word, 0x85ebca77)) & mask;
  }

  private grow(): void {
    const oldP = this.keyPrefix;
    const oldW = this.keyWord;
    const oldS = this.slots;
    const cap = oldS.length * 2;
    this.keyPrefix = new Int32Array(cap);
    this.keyWord = new Int32Array(cap);
    this.slots = new Int32Array(cap).fill(-1);
    for (let i = 0; i < oldS.length; i++) if (oldS[i] !== -1) this.insert(oldP[i]!, oldW[i]!, oldS[i]!);
  }

  private insert(prefix: number, word: number, id: number): void {
    const mask = this.slots.length - 1;
    let h = GramTable.hash(prefix, word, mask);
    while (this.slots[h] !== -1) h = (h + 1) & mask;
    this.keyPrefix[h] = prefix;
    this.keyWord[h] = word;
    this.slots[h] = id;
  }

  private gram(prefix: number, word: number): number {
    const mask = this.slots.length - 1;
    for (let h = GramTable.hash(prefix, word, mask); this.slots[h] !== -1; h = (h + 1) & mask) {
      if (this.keyPrefix[h] === prefix && this.keyWord[h] === word) return this.slots[h]!;
    }
    const id = this.size++;
    if (this.size * 2 > this.slots.length) this.grow();
    this.insert(prefix, word, id);
    if (id >= this.order.length) {
      const o = new Int8Array(this.order.length * 2);
      o.set(this.order);
      this.order = o;
      const s = new Int32Array(this.order.length);
      s.set(this.scratch);
      this.scratch = s;
    }
    this.order[id] = prefix < 0 ? 1 : this.order[prefix]! + 1;
    return id;
  }

  encode(caption: string, n = 4): Encoded {
    const ws = words(caption);
    const ids = ws.map((w) => {
      let id = this.wordIds.get(w);
      if (id === undefined) {
        id = this.wordIds.size;
        this.wordIds.set(w, id);
      }
      return id;
    });
    const seen: number[] = [];
    let prev: number[] = [];
    for (let k = 1; k <= n && k <= ids.length; k++) {
      const cur: number[] = [];
      for (let i = 0; i + k <= ids.length; i++) {
        const g = this.gram(k === 1 ? -1 : prev[i]!, ids[i + k - 1]!);
        cur.push(g);
        if (this.scratch[g]++ === 0) seen.push(g);
      }
      prev = cur;
    }
    const grams = Int32Array.from(seen);
    const counts = new Int32Array(seen.length);
    seen.forEach((g, i) => {
      counts[i] = this.scratch[g]!;
      this.scratch[g] = 0;
    });
    return { grams, counts, words: ids.length };
  }
}

/** References and results of a corpus, encoded against one table. */
export interface EncodedCorpus {
  table: GramTable;
  refs: Encoded[][];
  hyps: Encoded[];
}

export function encodeCorpus(refs: string[][], hyps: string[]): EncodedCorpus {
  const table = new GramTable();
  return { table, refs: refs.map((rs) => rs.map((r) => table.encode(r))), hyps: hyps.map((h) => table.encode(h)) };
}
