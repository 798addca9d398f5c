/**
 * A small longest-match lexer engine with the semantics of a JFlex scanner: at each position every rule is tried,
 * the longest match wins, ties go to the rule listed first, and a rule `r1/r2` (trailing context) competes with the
 * length of r1r2 but consumes only r1. JavaScript's RegExp cannot do this (its alternation is leftmost-first, not
 * longest), which is why the PTB tokenizer re-implementation needs it.
 *
 * Patterns use a compact syntax: literals (matched case-insensitively, like a `%caseless` JFlex scanner), `[...]`
 * classes (case-sensitive; `^` negates, `[^]` is any character), `( | )`, `* + ?`, `{n}` / `{n,m}`, `{NAME}` for a
 * named sub-pattern or a predicate class, and escapes `\.`, `\uXXXX`, `\t` etc. Matching runs on UTF-16 code units
 * through a lazily built DFA (transitions cached per state), so a token costs about one array read per character.
 */

type Pred = (c: number) => boolean;

/** Pattern syntax tree. */
type Node =
  | { k: 'set'; p: Pred }
  | { k: 'cat'; a: Node[] }
  | { k: 'alt'; a: Node[] }
  | { k: 'rep'; n: Node; min: number; max: number }; // max = Infinity for * and +

const EMPTY: Node = { k: 'cat', a: [] };

function caselessChar(ch: number): Pred {
  const s = String.fromCharCode(ch);
  const lo = s.toLowerCase();
  const up = s.toUpperCase();
  const l = lo.length === 1 ? lo.charCodeAt(0) : ch;
  const u = up.length === 1 ? up.charCodeAt(0) : ch;
  return (c) => c === ch || c === l || c === u;
}

class Parser {
  private i = 0;
  constructor(
    private readonly src: string,
    private readonly named: (name: string) => Node,
  ) {}

  parse(): Node {
    const n = this.alt();
    if (this.i !== this.src.length) throw new Error(`pattern ${this.src}: unexpected '${this.src[this.i]}' at ${this.i}`);
    return n;
  }

  private alt(): Node {
    const parts = [this.cat()];
    while (this.src[this.i] === '|') {
      this.i++;
      parts.push(this.cat());
    }
    return parts.length === 1 ? parts[0]! : { k: 'alt', a: parts };
  }

  private cat(): Node {
    const parts: Node[] = [];
    while (this.i < this.src.length && this.src[this.i] !== '|' && this.src[this.i] !== ')') parts.push(this.postfix());
    return parts.length === 1 ? parts[0]! : { k: 'cat', a: parts };
  }

  private postfix(): Node {
    let n = this.atom();
    for (;;) {
      const c = this.src[this.i];
      if (c === '*') (this.i++, (n = { k: 'rep', n, min: 0, max: Infinity }));
      else if (c === '+') (this.i++, (n = { k: 'rep', n, min: 1, max: Infinity }));
      else if (c === '?') (this.i++, (n = { k: 'rep', n, min: 0, max: 1 }));
      else if (c === '{' && /^\{\d/.test(this.src.slice(this.i))) {
        const m = /^\{(\d+)(?:,(\d+))?\}/.exec(this.src.slice(this.i))!;
        this.i += m[0].length;
        const min = Number(m[1]);
        n = { k: 'rep', n, min, max: m[2] === undefined ? min : Number(m[2]) };
      } else return n;
    }
  }

  private escape(): number {
    const c = this.src[this.i++]!;
    if (c === 'u') {
      const code = parseInt(this.src.slice(this.i, this.i + 4), 16);
      this.i += 4;
      return code;
    }
    if (c === 'x') {
      const code = parseInt(this.src.slice(this.i, this.i + 2), 16);
      this.i += 2;
      return code;
    }
    const simple: Record<string, number> = { t: 9, n: 10, r: 13, f: 12 };
    return simple[c] ?? c.charCodeAt(0);
  }

  private atom(): Node {
    const c = this.src[this.i]!;
    if (c === '(') {
      this.i++;
      const n = this.i < this.src.length && this.src[this.i] === ')' ? EMPTY : this.alt();
      if (this.src[this.i++] !== ')') throw new Error(`pattern ${this.src}: missing ')'`);
      return n;
    }
    if (c === '[') return this.cls();
    if (c === '{') {
      const end = this.src.indexOf('}', this.i);
      const name = this.src.slice(this.i + 1, end);
      this.i = end + 1;
      return this.named(name);
    }
    this.i++;
    const code = c === '\\' ? this.escape() : c.charCodeAt(0);
    return { k: 'set', p: caselessChar(code) };
  }

  private cls(): Node {
    this.i++; // [
    let negate = false;
    if (this.src[this.i] === '^') (negate = true), this.i++;
    if (negate && this.src[this.i] === ']') {
      this.i++;
      return { k: 'set', p: () => true };
    }
    const singles = new Set<number>();
    const ranges: [number, number][] = [];
    while (this.src[this.i] !== ']') {
      if (this.i >= this.src.length) throw new Error(`pattern ${this.src}: missing ']'`);
      const lo = this.classChar();
      if (this.src[this.i] === '-' && this.src[this.i + 1] !== ']') {
        this.i++;
        ranges.push([lo, this.classChar()]);
      } else singles.add(lo);
    }
    this.i++;
    const inSet = (c: number) => singles.has(c) || ranges.some(([a, b]) => c >= a && c <= b);
    return { k: 'set', p: negate ? (c) => !inSet(c) : inSet };
  }

  private classChar(): number {
    const c = this.src[this.i++]!;
    return c === '\\' ? this.escape() : c.charCodeAt(0);
  }
}

/** Thompson NFA: state kinds are a character test, an epsilon fork, or an accept marker. */
interface NfaState {
  p?: Pred;
  out: number[]; // successors: one for a character state, any number for epsilon states
  accept?: number; // rule index
}

class Nfa {
  readonly states: NfaState[] = [];

  add(s: NfaState): number {
    this.states.push(s);
    return this.states.length - 1;
  }

  /** Build `n` so that it enters at the returned state and leaves to `next`. */
  build(n: Node, next: number): number {
    switch (n.k) {
      case 'set':
        return this.add({ p: n.p, out: [next] });
      case 'cat': {
        let s = next;
        for (let j = n.a.length - 1; j >= 0; j--) s = this.build(n.a[j]!, s);
        return s;
      }
      case 'alt':
        return this.add({ out: n.a.map((a) => this.build(a, next)) });
      case 'rep': {
        let s = next;
        if (n.max === Infinity) {
          const loop = this.add({ out: [] });
          const body = this.build(n.n, loop);
          this.states[loop]!.out.push(body, next);
          s = loop;
        } else {
          for (let j = n.max; j > n.min; j--) s = this.add({ out: [this.build(n.n, s), next] });
        }
        for (let j = 0; j < n.min; j++) s = this.build(n.n, s);
        return s;
      }
    }
  }
}

/** A DFA built on demand from an NFA; states are sets of NFA states. */
class LazyDfa {
  private readonly ids = new Map<string, number>();
  private readonly sets: number[][] = [];
  private readonly accepts: number[] = []; // lowest accepting rule, or -1
  private readonly ascii: Int32Array[] = []; // -2 = not computed yet, -1 = dead
  private readonly other: Map<number, number>[] = [];
  readonly start: number;

  constructor(
    private readonly nfa: Nfa,
    starts: number[],
  ) {
    this.start = this.intern(this.closure(starts));
  }

  private closure(seed: number[]): number[] {
    const seen = new Set<number>();
    const stack = [...seed];
    const out: number[] = [];
    while (stack.length > 0) {
      const s = stack.pop()!;
      if (seen.has(s)) continue;
      seen.add(s);
      const st = this.nfa.states[s]!;
      if (st.p || st.accept !== undefined) out.push(s);
      if (!st.p) stack.push(...st.out);
    }
    return out.sort((a, b) => a - b);
  }

  private intern(set: number[]): number {
    if (set.length === 0) return -1;
    const key = set.join(',');
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.sets.length;
      this.ids.set(key, id);
      this.sets.push(set);
      let acc = -1;
      for (const s of set) {
        const a = this.nfa.states[s]!.accept;
        if (a !== undefined && (acc < 0 || a < acc)) acc = a;
      }
      this.accepts.push(acc);
      this.ascii.push(new Int32Array(128).fill(-2));
      this.other.push(new Map());
    }
    return id;
  }

  accept(state: number): number {
    return this.accepts[state]!;
  }

  step(state: number, c: number): number {
    if (c < 128) {
      const cached = this.ascii[state]![c]!;
      if (cached !== -2) return cached;
    } else {
      const cached = this.other[state]!.get(c);
      if (cached !== undefined) return cached;
    }
    const next: number[] = [];
    for (const s of this.sets[state]!) {
      const st = this.nfa.states[s]!;
      if (st.p && st.p(c)) next.push(...st.out);
    }
    const id = this.intern(this.closure(next));
    if (c < 128) this.ascii[state]![c] = id;
    else this.other[state]!.set(c, id);
    return id;
  }
}

export interface Rule {
  pattern: string;
  /** Trailing context: must follow the match, counts for the longest-match choice, is not consumed. */
  trail?: string;
  /**
   * What the rule does with the matched text: a token (string), nothing (null: skipped text), and optionally how
   * many characters it really consumes (less than the match: the rest is scanned again, like `yypushback`).
   */
  action: (text: string) => { token: string | null; consume?: number };
}

/** Compiled rule set: call `lex(text)` for the tokens of a string. */
export class LongestMatchLexer {
  private readonly all: LazyDfa;
  private readonly heads: (LazyDfa | null)[];
  private readonly tails: (LazyDfa | null)[];

  constructor(
    private readonly rules: Rule[],
    macros: Record<string, string>,
    classes: Record<string, Pred>,
  ) {
    const cache = new Map<string, Node>();
    const named = (name: string): Node => {
      const cls = classes[name];
      if (cls) return { k: 'set', p: cls };
      let n = cache.get(name);
      if (!n) {
        const src = macros[name];
        if (src === undefined) throw new Error(`unknown pattern name {${name}}`);
        n = new Parser(src, named).parse();
        cache.set(name, n);
      }
      return n;
    };
    const parse = (src: string) => new Parser(src, named).parse();
    const nfa = new Nfa();
    const single = (n: Node): LazyDfa => {
      const acc = nfa.add({ out: [], accept: 0 });
      return new LazyDfa(nfa, [nfa.build(n, acc)]);
    };
    const starts: number[] = [];
    this.heads = [];
    this.tails = [];
    rules.forEach((r, idx) => {
      const head = parse(r.pattern);
      const tail = r.trail === undefined ? null : parse(r.trail);
      const acc = nfa.add({ out: [], accept: idx });
      starts.push(nfa.build(tail ? { k: 'cat', a: [head, tail] } : head, acc));
      this.heads.push(tail ? single(head) : null);
      this.tails.push(tail ? single(tail) : null);
    });
    this.all = new LazyDfa(nfa, starts);
  }

  /** Longest match at `pos`: [rule index, total length]. */
  private longest(text: string, pos: number): [number, number] {
    let state = this.all.start;
    let rule = -1;
    let len = 0;
    for (let j = pos; j <= text.length; j++) {
      const a = this.all.accept(state);
      if (a >= 0) (rule = a), (len = j - pos);
      if (j === text.length) break;
      state = this.all.step(state, text.charCodeAt(j));
      if (state < 0) break;
    }
    return [rule, len];
  }

  /** Whether `dfa` matches exactly text[from, to). */
  private static whole(dfa: LazyDfa, text: string, from: number, to: number): boolean {
    let state = dfa.start;
    for (let j = from; j < to; j++) {
      state = dfa.step(state, text.charCodeAt(j));
      if (state < 0) return false;
    }
    return dfa.accept(state) >= 0;
  }

  /** Length of the head of a trailing-context match: the longest head whose rest matches the trail exactly. */
  private headLength(rule: number, text: string, pos: number, total: number): number {
    const head = this.heads[rule]!;
    const tail = this.tails[rule]!;
    let state = head.start;
    let best = -1;
    for (let j = pos; j <= pos + total; j++) {
      if (head.accept(state) >= 0 && LongestMatchLexer.whole(tail, text, j, pos + total)) best = j - pos;
      if (j === pos + total) break;
      state = head.step(state, text.charCodeAt(j));
      if (state < 0) break;
    }
    return best;
  }

  lex(text: string, emit: (token: string) => void): void {
    let pos = 0;
    while (pos < text.length) {
      const [rule, total] = this.longest(text, pos);
      if (rule < 0 || total === 0) throw new Error(`lexer: no rule matches at offset ${pos}`);
      const len = this.tails[rule] ? this.headLength(rule, text, pos, total) : total;
      const r = this.rules[rule]!.action(text.slice(pos, pos + len));
      if (r.token !== null) emit(r.token);
      pos += r.consume ?? len;
    }
  }
}
