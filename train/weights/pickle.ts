/**
 * A small Python pickle VM (protocols 0–5) and a protocol-2 writer, enough for what `torch.save` emits.
 *
 * Why not the installed `pickleparser`: it reads LONG1/LONG4 as unsigned (negative big ints come back wrong), its
 * DICT opcode ignores the Map dictionary mode (so non-string keys get stringified), REDUCE/NEWOBJ on unknown classes
 * build objects whose arguments are hidden, errors carry no byte offset, and it cannot resume at an offset for the
 * legacy format's back-to-back pickles. Owning ~300 lines gives exact ints (bigint beyond 2^53), Map dicts,
 * inspectable stand-ins for arbitrary Python objects (so Lightning's hyper_parameters load without registering
 * every class), offsets in errors, and a matching writer.
 */

/** Stand-in for a Python class or function the caller did not register. Calling it yields a PyObject. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Stand-in for an instance of an unregistered class: constructor args, BUILD state, and dict/list contents. */
export class PyObject {
  state: unknown = undefined;
  readonly items = new Map<unknown, unknown>();
  readonly list: unknown[] = [];
  constructor(readonly cls: string, readonly args: unknown[]) {}
}

/** A callable the unpickler may REDUCE: gets the argument tuple, returns the built value. */
export type PyCallable = (args: unknown[]) => unknown;

export interface UnpickleOptions {
  /** Resolve GLOBAL/STACK_GLOBAL; return undefined to get a PyGlobal stand-in. */
  findClass?: (module: string, name: string) => PyCallable | undefined;
  /** Resolve persistent ids (BINPERSID/PERSID); required if the stream uses them. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Names the source in error messages (e.g. `ckpt.pth:archive/data.pkl`). */
  source?: string;
}

export class PickleError extends Error {}

const BUILTIN_CALLABLES: Record<string, PyCallable> = {
  // torch.save pickles OrderedDicts as REDUCE(OrderedDict, ()) followed by SETITEMS.
  'collections.OrderedDict': (args) => new Map(args.length ? (args[0] as [unknown, unknown][]) : []),
  'builtins.set': (args) => (args.length ? [...(args[0] as unknown[])] : []),
  'builtins.frozenset': (args) => (args.length ? [...(args[0] as unknown[])] : []),
  // Protocol 2 writes py3 bytes as _codecs.encode(latin-1 text, 'latin1').
  '_codecs.encode': (args) => Uint8Array.from(String(args[0]), (c) => c.charCodeAt(0) & 0xff),
};
BUILTIN_CALLABLES['__builtin__.set'] = BUILTIN_CALLABLES['builtins.set']!;
BUILTIN_CALLABLES['__builtin__.frozenset'] = BUILTIN_CALLABLES['builtins.frozenset']!;

/** Unpickle one pickle starting at `offset`; returns the value and the offset just past its STOP opcode. */
export function unpickle(buf: Uint8Array, opts: UnpickleOptions = {}, offset = 0): { value: unknown; end: number } {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const latin1 = new TextDecoder('latin1');
  const utf8 = new TextDecoder('utf-8');
  let pos = offset;
  let opPos = offset;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const fail = (msg: string): never => {
    throw new PickleError(`${opts.source ?? 'pickle'}: ${msg} (opcode 0x${(buf[opPos] ?? 0).toString(16)} at byte ${opPos})`);
  };
  const need = (n: number): void => {
    if (pos + n > buf.length) fail(`truncated: needs ${n} more bytes`);
  };
  const u8 = (): number => (need(1), buf[pos++]!);
  const u16 = (): number => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const i32 = (): number => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const u32 = (): number => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('length too large');
    return Number(v);
  };
  const bytes = (n: number): Uint8Array => (need(n), (pos += n), buf.subarray(pos - n, pos));
  const line = (): string => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) fail('unterminated text argument');
    const s = latin1.decode(buf.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const top = (): unknown => (stack.length ? stack[stack.length - 1] : fail('stack underflow'));
  const pop = (): unknown => (stack.length ? stack.pop() : fail('stack underflow'));
  const popMark = (): unknown[] => {
    const items = stack;
    stack = metastack.pop() ?? fail('MARK expected');
    return items;
  };
  // Not `stack.push(popMark())`: that would evaluate `stack` before popMark swaps it.
  const pushMarked = (): void => {
    const items = popMark();
    stack.push(items);
  };
  const signedLE = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return intValue(v);
  };
  const resolve = (module: string, name: string): unknown => {
    const found = opts.findClass?.(module, name) ?? BUILTIN_CALLABLES[`${module}.${name}`];
    return found ?? new PyGlobal(module, name);
  };
  const call = (fn: unknown, args: unknown): unknown => {
    const argv = Array.isArray(args) ? args : fail('call arguments are not a tuple');
    if (typeof fn === 'function') return (fn as PyCallable)(argv as unknown[]);
    if (fn instanceof PyGlobal) return new PyObject(fn.qualname, argv as unknown[]);
    return fail('calling a value that is not a class or function');
  };
  const setItems = (target: unknown, kv: unknown[]): void => {
    const dict = target instanceof Map ? target : target instanceof PyObject ? target.items : fail('SETITEM on a non-dict');
    for (let i = 0; i + 1 < kv.length; i += 2) (dict as Map<unknown, unknown>).set(kv[i], kv[i + 1]);
  };
  const appendItems = (target: unknown, items: unknown[]): void => {
    const list = Array.isArray(target) ? target : target instanceof PyObject ? target.list : fail('APPEND on a non-list');
    for (const it of items) (list as unknown[]).push(it);
  };
  const persistent = (pid: unknown): unknown => (opts.persistentLoad ? opts.persistentLoad(pid) : fail('persistent id without a loader'));

  for (;;) {
    opPos = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('unsupported pickle protocol');
        break;
      case 0x95: // FRAME: framing is only a read-ahead hint
        pos += 8;
        break;
      case 0x2e: // STOP
        return { value: pop(), end: pos };
      case 0x28: // MARK
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x70: // PUT
        memo.set(parseInt(line(), 10), top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const key = op === 0x67 ? parseInt(line(), 10) : op === 0x68 ? u8() : u32();
        if (!memo.has(key)) fail(`memo key ${key} missing`);
        stack.push(memo.get(key));
        break;
      }
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x49: {
        // INT (protocol 0; I01/I00 are bools)
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : intValue(BigInt(s)));
        break;
      }
      case 0x4c: // LONG
        stack.push(intValue(BigInt(line().replace(/L$/, ''))));
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(signedLE(bytes(u8())));
        break;
      case 0x8b: // LONG4
        stack.push(signedLE(bytes(u32())));
        break;
      case 0x46: // FLOAT
        stack.push(parseFloat(line()));
        break;
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x53: {
        // STRING: quoted repr
        const s = line();
        stack.push(s.length >= 2 && (s[0] === "'" || s[0] === '"') && s.endsWith(s[0]) ? s.slice(1, -1) : fail('bad STRING'));
        break;
      }
      case 0x54: // BINSTRING (py2 str: bytes, read as latin-1 text)
        stack.push(latin1.decode(bytes(u32())));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(bytes(u8())));
        break;
      case 0x56: // UNICODE (raw-unicode-escape, good enough for ASCII keys)
        stack.push(line());
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8.decode(bytes(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8.decode(bytes(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8.decode(bytes(u64())));
        break;
      case 0x42: // BINBYTES
        stack.push(bytes(u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(bytes(u8()));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(bytes(u64()));
        break;
      case 0x97: // NEXT_BUFFER
        fail('out-of-band buffers are not supported');
        break;
      case 0x98: // READONLY_BUFFER
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: // TUPLE
        pushMarked();
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        pushMarked();
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const d = new Map();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push([]);
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x91: // FROZENSET
        pushMarked();
        break;
      case 0x63: {
        // GLOBAL
        const module = line();
        stack.push(resolve(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolve(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX: keyword args are dropped (kept stand-ins only need to be inspectable)
        pop();
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x69: {
        // INST
        const module = line();
        const cls = resolve(module, line());
        const args = popMark();
        stack.push(call(cls, args));
        break;
      }
      case 0x6f: {
        // OBJ
        const items = popMark();
        const cls = items.shift();
        stack.push(call(cls, items));
        break;
      }
      case 0x62: {
        // BUILD: only stand-ins keep state; registered results (tensors, Maps) ignore it
        const state = pop();
        const obj = top();
        if (obj instanceof PyObject) obj.state = state;
        break;
      }
      case 0x50: // PERSID
        stack.push(persistent(line()));
        break;
      case 0x51: // BINPERSID
        stack.push(persistent(pop()));
        break;
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        fail('extension registry codes are not supported');
        break;
      default:
        fail('unknown opcode');
    }
  }
}

function intValue(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Builds a protocol-2 pickle byte by byte; the caller emits opcodes in Python's order. */
export class PickleWriter {
  private chunks: number[] = [];
  private readonly enc = new TextEncoder();

  proto2(): this {
    return this.raw(0x80, 2);
  }
  global(module: string, name: string): this {
    this.raw(0x63);
    this.ascii(`${module}\n${name}\n`);
    return this;
  }
  int(v: number): this {
    if (!Number.isSafeInteger(v)) throw new Error(`pickle int out of range: ${v}`);
    if (v >= 0 && v < 256) return this.raw(0x4b, v);
    if (v >= 0 && v < 65536) return this.raw(0x4d, v & 0xff, v >> 8);
    if (v >= -0x80000000 && v <= 0x7fffffff) return this.raw(0x4a, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff);
    // LONG1: minimal two's complement little-endian
    const out: number[] = [];
    let x = BigInt(v);
    for (;;) {
      const byte = Number(x & 0xffn);
      out.push(byte);
      x >>= 8n;
      if ((x === 0n && !(byte & 0x80)) || (x === -1n && byte & 0x80)) break;
    }
    return this.raw(0x8a, out.length, ...out);
  }
  bool(v: boolean): this {
    return this.raw(v ? 0x88 : 0x89);
  }
  none(): this {
    return this.raw(0x4e);
  }
  str(s: string): this {
    const b = this.enc.encode(s);
    this.raw(0x58, b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff, (b.length >>> 24) & 0xff);
    for (const x of b) this.chunks.push(x);
    return this;
  }
  mark(): this {
    return this.raw(0x28);
  }
  /** Close a tuple of `n` items pushed since the matching mark (n > 3) or directly (n ≤ 3, no mark). */
  tuple(n: number): this {
    return this.raw(n === 0 ? 0x29 : n === 1 ? 0x85 : n === 2 ? 0x86 : n === 3 ? 0x87 : 0x74);
  }
  intTuple(values: readonly number[]): this {
    if (values.length > 3) this.mark();
    for (const v of values) this.int(v);
    return this.tuple(values.length);
  }
  reduce(): this {
    return this.raw(0x52);
  }
  binpersid(): this {
    return this.raw(0x51);
  }
  emptyDict(): this {
    return this.raw(0x7d);
  }
  setitems(): this {
    return this.raw(0x75);
  }
  stop(): Uint8Array {
    this.raw(0x2e);
    return Uint8Array.from(this.chunks);
  }
  private ascii(s: string): void {
    for (let i = 0; i < s.length; i++) this.chunks.push(s.charCodeAt(i));
  }
  private raw(...b: number[]): this {
    for (const x of b) this.chunks.push(x);
    return this;
  }
}
