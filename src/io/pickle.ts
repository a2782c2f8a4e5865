/**
 * A restricted reader of Python pickles, for PyTorch state dicts (src/io/torch-checkpoint.ts).
 * Nothing in a pickle is ever executed here: the reader understands the opcodes a plain
 * `torch.save(state_dict)` emits (protocols 2–5: containers, numbers, strings, bytes, the memo,
 * persistent ids, globals, REDUCE and BUILD) and builds plain values. A global (a Python name
 * the pickle refers to) is accepted only when the caller lists it, as a function over the
 * REDUCE arguments or as a plain marker value; any other global, and any other opcode, stops
 * the read with one line that names it. So a pickle that would run code in Python (`os.system`,
 * `builtins.eval`, `subprocess.…`, an arbitrary class) is refused, not interpreted.
 */

export class PickleError extends Error {
  override name = 'PickleError';
}

/** A Python dict (also collections.OrderedDict), in insertion order; `state` is what BUILD set on it. */
export class PyDict {
  readonly entries = new Map<unknown, unknown>();
  state: unknown = undefined;
}

/** A global the caller allowed as a plain value (e.g. the storage type torch.FloatStorage). */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}

  get fullName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A global the caller allowed as a callable: REDUCE calls `call` with the argument tuple. */
class PyCallable {
  constructor(
    readonly fullName: string,
    readonly call: (args: unknown[]) => unknown,
  ) {}
}

export interface UnpickleOptions {
  /** Allowed globals by `module.name`: a function (for REDUCE) or 'value' (pushed as a PyGlobal). */
  globals: Readonly<Record<string, ((args: unknown[]) => unknown) | 'value'>>;
  /** Resolves a persistent id (BINPERSID); absent: persistent ids are refused. */
  persistentLoad?(pid: unknown): unknown;
}

const OPCODE_NAMES: Record<number, string> = {
  0x63: 'GLOBAL', 0x69: 'INST', 0x6f: 'OBJ', 0x81: 'NEWOBJ', 0x92: 'NEWOBJ_EX', 0x50: 'PERSID', 0x49: 'INT', 0x4c: 'LONG', 0x46: 'FLOAT',
  0x53: 'STRING', 0x56: 'UNICODE', 0x70: 'PUT', 0x67: 'GET', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
  0x90: 'EMPTY_SET', 0x91: 'ADDITEMS', 0x96: 'BYTEARRAY8', 0x8f: 'FROZENSET',
};

/** Reads one pickle from `bytes` and returns its value (tuples and lists as arrays, dicts as PyDict). */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > bytes.length) throw new PickleError(`truncated pickle: ${n} bytes needed at byte ${pos} of ${bytes.length}`);
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const i32 = () => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new PickleError(`pickle length ${v} is too large`);
    return Number(v);
  };
  const take = (n: number) => {
    need(n);
    pos += n;
    return bytes.subarray(pos - n, pos);
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw new PickleError(`truncated pickle: no end of line after byte ${pos}`);
    const s = new TextDecoder('latin1').decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const text = (n: number) => {
    try {
      return utf8.decode(take(n));
    } catch {
      throw new PickleError(`invalid UTF-8 string in the pickle at byte ${pos - n}`);
    }
  };
  const pop = () => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1])) throw new PickleError(`malformed pickle: stack underflow at byte ${pos - 1}`);
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0) throw new PickleError(`malformed pickle: empty stack at byte ${pos - 1}`);
    return stack[stack.length - 1];
  };
  const popMark = () => {
    const at = marks.pop();
    if (at === undefined) throw new PickleError(`malformed pickle: no MARK before byte ${pos - 1}`);
    return stack.splice(at);
  };
  const global = (module: string, name: string) => {
    const full = `${module}.${name}`;
    const allowed = Object.hasOwn(options.globals, full) ? options.globals[full] : undefined;
    if (allowed === undefined) {
      throw new PickleError(`refusing the pickle global ${full}: only plain state dicts of tensors are read (allowed: ${Object.keys(options.globals).join(', ')})`);
    }
    return allowed === 'value' ? new PyGlobal(module, name) : new PyCallable(full, allowed);
  };
  const dictOf = (value: unknown, op: string): PyDict => {
    if (!(value instanceof PyDict)) throw new PickleError(`malformed pickle: ${op} on a ${typeName(value)}, not a dict`);
    return value;
  };
  const listOf = (value: unknown, op: string): unknown[] => {
    if (!Array.isArray(value)) throw new PickleError(`malformed pickle: ${op} on a ${typeName(value)}, not a list`);
    return value;
  };
  const put = (index: number) => memo.set(index, top());
  const get = (index: number) => {
    if (!memo.has(index)) throw new PickleError(`malformed pickle: memo entry ${index} is not set`);
    stack.push(memo.get(index));
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const version = u8();
        if (version > 5) throw new PickleError(`pickle protocol ${version} is not supported (at most 5)`);
        break;
      }
      case 0x95: // FRAME: a length prefix only
        u64();
        break;
      case 0x2e: { // STOP
        const value = pop();
        if (stack.length !== 0) throw new PickleError('malformed pickle: values left on the stack at STOP');
        return value;
      }
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
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
        stack.push(littleEndianInt(take(u8())));
        break;
      case 0x8b: { // LONG4
        const n = i32();
        if (n < 0 || n > 64) throw new PickleError(`pickle integer of ${n} bytes is not supported`);
        stack.push(littleEndianInt(take(n)));
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x54: // BINSTRING (Python 2 str)
        stack.push(new TextDecoder('latin1').decode(take(u32())));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(new TextDecoder('latin1').decode(take(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()).slice());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x74: // TUPLE
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x61: { // APPEND
        const v = pop();
        listOf(top(), 'APPEND').push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        listOf(top(), 'APPENDS').push(...items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x64: { // DICT
        const items = popMark();
        const d = new PyDict();
        for (let i = 0; i + 1 < items.length; i += 2) d.entries.set(items[i], items[i + 1]);
        stack.push(d);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        dictOf(top(), 'SETITEM').entries.set(k, v);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        if (items.length % 2 !== 0) throw new PickleError('malformed pickle: SETITEMS with an odd number of values');
        const d = dictOf(top(), 'SETITEMS');
        for (let i = 0; i < items.length; i += 2) d.entries.set(items[i], items[i + 1]);
        break;
      }
      case 0x71: // BINPUT
        put(u8());
        break;
      case 0x72: // LONG_BINPUT
        put(u32());
        break;
      case 0x94: // MEMOIZE
        put(memo.size);
        break;
      case 0x68: // BINGET
        get(u8());
        break;
      case 0x6a: // LONG_BINGET
        get(u32());
        break;
      case 0x63: { // GLOBAL
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new PickleError('malformed pickle: STACK_GLOBAL needs two strings');
        stack.push(global(module, name));
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (options.persistentLoad === undefined) throw new PickleError('refusing a pickle persistent id: not expected here');
        stack.push(options.persistentLoad(pid));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const fn = pop();
        if (!(fn instanceof PyCallable)) throw new PickleError(`refusing to call ${fn instanceof PyGlobal ? fn.fullName : typeName(fn)} (REDUCE at byte ${at})`);
        if (!Array.isArray(args)) throw new PickleError(`malformed pickle: the arguments of ${fn.fullName} are not a tuple`);
        stack.push(fn.call(args));
        break;
      }
      case 0x62: { // BUILD: only a dict's state (an OrderedDict's __dict__, e.g. a state dict's _metadata)
        const state = pop();
        dictOf(top(), 'BUILD').state = state;
        break;
      }
      default: {
        const name = OPCODE_NAMES[op] ?? `0x${op.toString(16).padStart(2, '0')}`;
        throw new PickleError(`refusing pickle opcode ${name} at byte ${at}: not part of a plain state dict of tensors`);
      }
    }
  }
}

/** A little-endian two's-complement integer (LONG1/LONG4) as a number (exact up to 2^53) or bigint. */
function littleEndianInt(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function typeName(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'tuple or list';
  if (v instanceof PyDict) return 'dict';
  if (v instanceof PyGlobal || v instanceof PyCallable) return v.fullName;
  return typeof v;
}
