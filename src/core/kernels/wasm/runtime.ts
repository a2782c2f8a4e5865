/**
 * What every embedded WebAssembly kernel module shares: feature detection (WebAssembly with
 * fixed-width SIMD), base64 decoding of the embedded bytes, and loading — synchronously with
 * `new WebAssembly.Module` (Node, workers); where the runtime refuses synchronous compiles of
 * this size (Chrome's main thread, > 4 KiB), asynchronously, while callers use the JS kernels
 * until it is ready; and the layout of a call's buffers in a module's memory. Pure module: no
 * Node APIs.
 */
import type { FloatArray } from '../../dtype.js';

/** The subset of the WebAssembly JS API used here (the project's lib has no DOM typings). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  compile?(bytes: Uint8Array): Promise<object>;
}

/** Bytes per WebAssembly memory page. */
export const WASM_PAGE = 65536;

/**
 * Smallest module using a v128 instruction (`(func (result v128) i32.const 0 i8x16.splat
 * i8x16.popcnt)`), as in wasm-feature-detect: `WebAssembly.validate` says whether SIMD exists.
 */
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

function wasmApi(): WasmApi | null {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  return api !== undefined && typeof api.validate === 'function' ? api : null;
}

/** Whether this runtime has WebAssembly with fixed-width SIMD. */
export function simdSupported(): boolean {
  const api = wasmApi();
  if (api === null) return false;
  try {
    return api.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

export function decodeBase64(text: string): Uint8Array {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const lookup = new Uint8Array(128);
  for (let i = 0; i < alphabet.length; i++) lookup[alphabet.charCodeAt(i)] = i;
  const clean = text.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (let i = 0; i < clean.length; i++) {
    value = (value << 6) | lookup[clean.charCodeAt(i)];
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

/**
 * One embedded module, loaded on first use. `get()` returns its exports once instantiated, or
 * null (unavailable, or still compiling asynchronously); `reason()` says why it is unavailable.
 * `onReady` runs once on the fresh exports (e.g. to find the heap base).
 */
export class EmbeddedWasm<Exports> {
  private state: 'unloaded' | 'loading' | 'ready' | 'unavailable' = 'unloaded';
  private exports: Exports | null = null;
  private unavailableReason = '';

  constructor(
    private readonly base64: string,
    private readonly onReady: (exports: Exports) => void = () => {},
  ) {}

  bytes(): Uint8Array {
    return decodeBase64(this.base64);
  }

  get(): Exports | null {
    if (this.state === 'ready') return this.exports;
    if (this.state !== 'unloaded') return null;
    const api = wasmApi();
    if (api === null || !simdSupported()) {
      this.state = 'unavailable';
      this.unavailableReason = api === null ? 'no WebAssembly' : 'no WebAssembly SIMD';
      return null;
    }
    const bytes = this.bytes();
    try {
      this.instantiate(api, new api.Module(bytes));
      return this.exports;
    } catch (e) {
      if (typeof api.compile !== 'function') {
        this.fail(e);
        return null;
      }
      this.state = 'loading';
      api.compile(bytes).then((module) => {
        try {
          this.instantiate(api, module);
        } catch (err) {
          this.fail(err);
        }
      }, (err: unknown) => this.fail(err));
      return null;
    }
  }

  /** Why the module is unavailable ('' when it is available or still loading). */
  reason(): string {
    this.get();
    return this.unavailableReason;
  }

  private instantiate(api: WasmApi, module: object): void {
    const exports = new api.Instance(module, {}).exports as Exports;
    this.onReady(exports);
    this.exports = exports;
    this.state = 'ready';
  }

  private fail(err: unknown): void {
    this.state = 'unavailable';
    this.unavailableReason = err instanceof Error ? err.message : String(err);
  }
}

/** Grows `memory` to at least `bytes`. */
export function ensureWasmMemory(memory: WasmMemory, bytes: number): void {
  const have = memory.buffer.byteLength;
  if (bytes > have) memory.grow(Math.ceil((bytes - have) / WASM_PAGE));
}

/** x rounded up to a multiple of m. */
export function alignUp(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}

/**
 * Bump allocation of one call's buffers in a module's memory: regions handed out from `base`
 * (rounded up to `align`), each starting on an `align`-byte boundary. `top` is the first byte
 * after the last region (what the memory must hold).
 */
export class WasmLayout {
  top: number;
  constructor(base: number, private readonly align = 64) {
    this.top = alignUp(base, align);
  }

  /** Reserves `bytes` and returns the region's byte address. */
  take(bytes: number): number {
    const at = this.top;
    this.top = alignUp(at + bytes, this.align);
    return at;
  }
}

/**
 * Typed views over a module's whole memory, rebuilt only when growing the memory replaced
 * its buffer: `ensure` before any copy of a call, then read the views.
 */
export class WasmViews {
  f32 = new Float32Array(0);
  f64 = new Float64Array(0);
  u16 = new Uint16Array(0);

  /** Grows `memory` to at least `bytes` and refreshes the views. */
  ensure(memory: WasmMemory, bytes: number): void {
    ensureWasmMemory(memory, bytes);
    if (this.f64.buffer !== memory.buffer) {
      this.f32 = new Float32Array(memory.buffer);
      this.f64 = new Float64Array(memory.buffer);
      this.u16 = new Uint16Array(memory.buffer);
    }
  }

  /** The view of elements of `bytes` bytes: float64 for 8, float32 for 4. */
  floats(bytes: number): FloatArray {
    return bytes === 8 ? this.f64 : this.f32;
  }
}
