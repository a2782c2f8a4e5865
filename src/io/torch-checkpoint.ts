/**
 * PyTorch checkpoint files (`.pth`, `.pt`, `.bin` written by torch.save ≥ 1.6): a zip archive
 * holding `<archive>/data.pkl` (the pickled object) and one raw little-endian storage per
 * tensor in `<archive>/data/<key>`. The pickle is read by the restricted reader of pickle.ts,
 * which allows exactly what a plain state dict uses:
 *
 *   collections.OrderedDict                 the dicts (REDUCE with no arguments, then items)
 *   torch._utils._rebuild_tensor_v2         (storage, offset, size, stride, requires_grad, hooks[, metadata]) → a tensor view
 *   torch._utils._rebuild_parameter         (tensor, requires_grad, hooks) → the tensor
 *   torch.{Float,Double,Half,BFloat16,Long,Int,Short,Char,Byte,Bool}Storage   storage types in the persistent ids
 *
 * and refuses everything else (argparse.Namespace in a training checkpoint's `args`, any
 * class, any callable) with one line. Tensors are views until a state dict is chosen: only its
 * tensors are copied out of the storages (strided views made contiguous, bounds checked).
 */
import * as fs from 'node:fs';
import { unzipSync } from 'fflate';
import { codecOf } from './dtypes.js';
import type { SupportedDType } from './dtypes.js';
import { PickleError, PyDict, PyGlobal, unpickle } from './pickle.js';

export { PickleError } from './pickle.js';

/** torch storage types and the safetensors dtypes they hold. */
const STORAGE_DTYPES: Readonly<Record<string, SupportedDType>> = {
  FloatStorage: 'F32',
  DoubleStorage: 'F64',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

/** Largest entry this reader inflates (a zip bomb cannot make it allocate more). */
const MAX_ENTRY_BYTES = 2 ** 31 - 1;

interface StorageRef {
  dtype: SupportedDType;
  key: string;
  numel: number;
}

/** A tensor as the pickle describes it: a strided view of a storage. */
export class TensorView {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

/** A tensor copied out of its storage, row-major, in its stored dtype. */
export interface TorchTensor {
  dtype: SupportedDType;
  shape: number[];
  data: ArrayLike<number>;
}

/** An opened checkpoint: the unpickled object and the storages to copy tensors from. */
export interface TorchCheckpoint {
  root: unknown;
  /** Copies a tensor view out of its storage. */
  materialise(view: TensorView): TorchTensor;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

function intTuple(value: unknown, what: string): number[] {
  if (!Array.isArray(value) || !value.every(isInt)) throw new PickleError(`malformed tensor: ${what} must be a tuple of non-negative integers`);
  return value as number[];
}

/** Opens the bytes of a torch.save zip file. */
export function openTorchCheckpoint(bytes: Uint8Array, name = 'the file'): TorchCheckpoint {
  const isZip = bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
  if (!isZip) {
    if (bytes[0] === 0x80) throw new PickleError(`${name} is a legacy (pre-1.6, non-zip) PyTorch file; re-save it with a current torch.save`);
    throw new PickleError(`${name} is not a PyTorch checkpoint (no zip archive)`);
  }
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, {
      filter(file) {
        if (file.originalSize > MAX_ENTRY_BYTES) throw new PickleError(`${name}: the zip entry ${file.name} would inflate to ${file.originalSize} bytes`);
        return true;
      },
    });
  } catch (error) {
    if (error instanceof PickleError) throw error;
    throw new PickleError(`${name} is not a readable zip archive (${(error as Error).message})`);
  }
  const pkl = Object.keys(files).filter((f) => f === 'data.pkl' || f.endsWith('/data.pkl'));
  if (pkl.length !== 1) throw new PickleError(`${name}: expected one data.pkl in the archive, found ${pkl.length}`);
  const prefix = pkl[0].slice(0, -'data.pkl'.length);
  const order = files[`${prefix}byteorder`];
  if (order !== undefined && new TextDecoder().decode(order).trim() !== 'little') throw new PickleError(`${name}: big-endian storages are not supported`);

  const storageType = (value: unknown): SupportedDType => {
    if (value instanceof PyGlobal && value.module === 'torch' && Object.hasOwn(STORAGE_DTYPES, value.name)) return STORAGE_DTYPES[value.name];
    throw new PickleError('malformed persistent id: the storage type is not a torch storage class');
  };
  const globals: Record<string, ((args: unknown[]) => unknown) | 'value'> = {
    'collections.OrderedDict': (args) => {
      if (args.length !== 0) throw new PickleError('refusing collections.OrderedDict with arguments');
      return new PyDict();
    },
    'torch._utils._rebuild_tensor_v2': (args) => {
      const [storage, offset, size, stride] = args;
      if (!(storage instanceof Object) || !('key' in (storage as object))) throw new PickleError('malformed tensor: its first argument is not a storage');
      if (!isInt(offset)) throw new PickleError('malformed tensor: the storage offset must be a non-negative integer');
      const shape = intTuple(size, 'size');
      const strides = intTuple(stride, 'stride');
      if (shape.length !== strides.length) throw new PickleError('malformed tensor: size and stride differ in length');
      return new TensorView(storage as StorageRef, offset, shape, strides);
    },
    'torch._utils._rebuild_parameter': (args) => {
      if (!(args[0] instanceof TensorView)) throw new PickleError('malformed parameter: not a tensor');
      return args[0];
    },
  };
  for (const storage of Object.keys(STORAGE_DTYPES)) globals[`torch.${storage}`] = 'value';
  const root = unpickle(files[pkl[0]], {
    globals,
    persistentLoad(pid) {
      if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') throw new PickleError(`refusing persistent id ${JSON.stringify(String(pid)).slice(0, 60)}: not a tensor storage`);
      const [, type, key, , numel] = pid;
      if (typeof key !== 'string' || !/^[0-9A-Za-z_.-]+$/.test(key)) throw new PickleError('malformed persistent id: bad storage key');
      if (!isInt(numel)) throw new PickleError('malformed persistent id: bad element count');
      return { dtype: storageType(type), key, numel } satisfies StorageRef;
    },
  });
  return {
    root,
    materialise(view) {
      const data = files[`${prefix}data/${view.storage.key}`];
      if (data === undefined) throw new PickleError(`${name}: storage data/${view.storage.key} is missing from the archive`);
      const codec = codecOf(view.storage.dtype);
      const available = Math.min(view.storage.numel, Math.floor(data.length / codec.bytes));
      const count = view.shape.reduce((a, b) => a * b, 1);
      let last = view.offset;
      view.shape.forEach((d, k) => (last += d > 0 ? (d - 1) * view.stride[k] : 0));
      if (count > 0 && last >= available) throw new PickleError(`${name}: a tensor reads past the end of storage ${view.storage.key} (element ${last} of ${available})`);
      const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
      const out = view.storage.dtype === 'F32' ? new Float32Array(count) : view.storage.dtype === 'F64' ? new Float64Array(count) : new Array<number>(count);
      const index = new Array<number>(view.shape.length).fill(0);
      for (let i = 0; i < count; i++) {
        let at = view.offset;
        for (let k = 0; k < index.length; k++) at += index[k] * view.stride[k];
        out[i] = codec.get(dv, at * codec.bytes);
        for (let k = index.length - 1; k >= 0; k--) {
          if (++index[k] < view.shape[k]) break;
          index[k] = 0;
        }
      }
      return { dtype: view.storage.dtype, shape: [...view.shape], data: out };
    },
  };
}

/** The keys under which training checkpoints keep the model's state dict, in the order tried. */
export const STATE_DICT_KEYS = ['model', 'state_dict', 'model_state_dict', 'module'];

const isStateDict = (v: unknown): v is PyDict => v instanceof PyDict && v.entries.size > 0 && [...v.entries].every(([k, t]) => typeof k === 'string' && t instanceof TensorView);

/**
 * The state dict of a checkpoint: the object itself when it is a dict of tensors, else its
 * entry `key` (default: the first of STATE_DICT_KEYS that holds a dict of tensors).
 */
export function stateDict(checkpoint: TorchCheckpoint, key?: string): { key: string | null; tensors: Map<string, TorchTensor> } {
  const root = checkpoint.root;
  let chosen: PyDict | undefined;
  let chosenKey: string | null = null;
  if (key !== undefined) {
    const entry = root instanceof PyDict ? root.entries.get(key) : undefined;
    if (!isStateDict(entry)) throw new PickleError(`the checkpoint has no state dict of tensors under '${key}'${root instanceof PyDict ? ` (keys: ${[...root.entries.keys()].map(String).join(', ')})` : ''}`);
    [chosen, chosenKey] = [entry, key];
  } else if (isStateDict(root)) {
    chosen = root;
  } else if (root instanceof PyDict) {
    for (const k of STATE_DICT_KEYS) {
      if (isStateDict(root.entries.get(k))) {
        [chosen, chosenKey] = [root.entries.get(k) as PyDict, k];
        break;
      }
    }
    if (chosen === undefined) throw new PickleError(`no state dict of tensors in the checkpoint (top-level keys: ${[...root.entries.keys()].map(String).join(', ')}); name one with --key`);
  } else {
    throw new PickleError('the checkpoint holds no dict of tensors');
  }
  const tensors = new Map<string, TorchTensor>();
  for (const [name, view] of chosen.entries) tensors.set(name as string, checkpoint.materialise(view as TensorView));
  return { key: chosenKey, tensors };
}

/** Reads a .pth file's state dict (see stateDict). */
export function readTorchStateDict(file: string, key?: string): { key: string | null; tensors: Map<string, TorchTensor> } {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    throw new PickleError(`cannot read ${file}: ${(error as Error).message}`);
  }
  return stateDict(openTorchCheckpoint(bytes, file), key);
}
