/**
 * Bench sections measured in fresh processes (bench/probe.ts), so that each peak resident
 * memory belongs to one task:
 *   forward  tokens/s and peak memory of one forward at L = 256 and 2048, and the time of a
 *            forward+backward at L = 256, for the trained mamba2 and rwkv checkpoints, under
 *            the pure TypeScript reference, the WASM kernels on one thread, and the defaults
 *            (WASM + worker threads) — the "before" and "after" of the kernels work;
 *   weights  the same forward with weights decoded to float32 vs kept in their stored 16-bit
 *            dtype (--weights stored): the bf16 mamba2 and f16 rwkv fixtures, the float32
 *            default model converted to bf16 here with the project's safetensors writer, and a
 *            mamba-130m-shaped model (H 768, vocabulary 50280, 4 layers, random weights) written
 *            as bf16, where the weights dominate the memory;
 *   load     peak memory of loading the largest trained checkpoint, decoded and stored.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initModel } from '../src/models/index.js';
import { convertCheckpoint } from '../src/io/checkpoint-dtype.js';
import { openCheckpoint, writeCheckpoint } from '../src/io/checkpoint.js';
import type { TensorsToWrite } from '../src/io/safetensors.js';
import { architectureConfig } from '../src/train/architectures.js';
import { probe, round, type Setting } from './measure.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const log = (line: string) => process.stderr.write(`${line}\n`);
export const TRAINED = ['mamba2', 'rwkv'].map((name) => ({ name, dir: path.join(root, 'test/fixtures/trained', name) }));
const SETTINGS: Setting[] = ['reference', 'oneThread', 'fast'];

export interface ForwardRow {
  model: string;
  L: number;
  mode: 'forward' | 'forward+backward';
  /** Per setting: wall ms, CPU ms (all threads), tokens/s, peak MiB. */
  reference: Figures;
  oneThread: Figures;
  fast: Figures & { threads: number };
  speedup: number;
}

interface Figures {
  ms: number;
  cpuMs: number;
  tokensPerSecond: number;
  peakMiB: number;
}

function figures(r: Record<string, number>): Figures {
  return { ms: round(r.ms), cpuMs: round(r.cpuMs), tokensPerSecond: round(r.tokensPerSecond), peakMiB: round(r.peakMiB) };
}

export function forwardBench(): ForwardRow[] {
  const rows: ForwardRow[] = [];
  for (const { name, dir } of TRAINED) {
    const cases: Array<[number, 'forward' | 'forward+backward']> = [[256, 'forward'], [2048, 'forward'], [256, 'forward+backward']];
    for (const [L, mode] of cases) {
      const [reference, oneThread, fast] = SETTINGS.map((s) => probe(s, 'forward', dir, String(L), ...(mode === 'forward' ? [] : ['backward'])));
      const row: ForwardRow = { model: name, L, mode, reference: figures(reference), oneThread: figures(oneThread), fast: { ...figures(fast), threads: fast.threads }, speedup: round(reference.ms / fast.ms) };
      rows.push(row);
      log(`${mode} ${name} L=${L}: TS reference ${row.reference.tokensPerSecond} tokens/s (${row.reference.ms} ms, peak ${row.reference.peakMiB} MiB), WASM 1 thread ${row.oneThread.tokensPerSecond}, fast ${row.fast.tokensPerSecond} tokens/s (${row.fast.ms} ms, peak ${row.fast.peakMiB} MiB, ${fast.threads} threads): ×${row.speedup}`);
    }
  }
  return rows;
}

/** A mamba-130m-shaped checkpoint with random weights stored as bf16 (written once per run). */
function mambaShaped(dir: string): void {
  const raw = architectureConfig('mamba', { vocabSize: 50280, hidden: 768, layers: 4 });
  const model = initModel(raw, 0);
  const tensors: TensorsToWrite = {};
  for (const [name, t] of model.parameters) tensors[name] = { dtype: 'BF16', shape: [...t.shape], data: t.data };
  writeCheckpoint(dir, { ...model.hfConfig, torch_dtype: 'bfloat16' }, tensors);
}

export interface WeightsRow {
  model: string;
  storedDtypes: string;
  L: number;
  decoded: { tokensPerSecond: number; peakMiB: number; loadPeakMiB: number };
  stored: { tokensPerSecond: number; peakMiB: number; loadPeakMiB: number };
  /** stored ÷ decoded. */
  speed: number;
  memory: number;
}

export function weightsBench(): WeightsRow[] {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iattn-bench-weights-'));
  try {
    const defaultBf16 = path.join(tmp, 'default-bf16');
    convertCheckpoint(path.join(root, 'models/default'), defaultBf16, 'BF16');
    const shaped = path.join(tmp, 'mamba-130m-shape-4-layers');
    mambaShaped(shaped);
    const models: Array<[string, string, number[]]> = [
      ...TRAINED.map(({ name, dir }): [string, string, number[]] => [name, dir, [256, 2048]]),
      ['default (f32 → bf16)', defaultBf16, [256, 2048]],
      ['mamba-130m shape, 4 layers (random bf16)', shaped, [256]],
    ];
    const rows: WeightsRow[] = [];
    for (const [name, dir, lengths] of models) {
      const checkpoint = openCheckpoint(dir);
      const storedDtypes = Object.keys(checkpoint.dtypes()).join('+');
      checkpoint.close();
      const loads = { decoded: probe('fast', 'load', dir), stored: probe('fast', 'load', dir, 'stored') };
      for (const L of lengths) {
        const decoded = probe('fast', 'forward', dir, String(L));
        const stored = probe('fast', 'forward', dir, String(L), 'stored');
        const row: WeightsRow = {
          model: name,
          storedDtypes,
          L,
          decoded: { tokensPerSecond: round(decoded.tokensPerSecond), peakMiB: round(decoded.peakMiB), loadPeakMiB: round(loads.decoded.peakMiB) },
          stored: { tokensPerSecond: round(stored.tokensPerSecond), peakMiB: round(stored.peakMiB), loadPeakMiB: round(loads.stored.peakMiB) },
          speed: round(stored.tokensPerSecond / decoded.tokensPerSecond),
          memory: round(stored.peakMiB / decoded.peakMiB),
        };
        rows.push(row);
        log(`weights ${name} (${storedDtypes}) L=${L}: decoded ${row.decoded.tokensPerSecond} tokens/s, peak ${row.decoded.peakMiB} MiB; stored ${row.stored.tokensPerSecond} tokens/s, peak ${row.stored.peakMiB} MiB (load peaks ${row.decoded.loadPeakMiB} / ${row.stored.loadPeakMiB} MiB)`);
      }
    }
    return rows;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

export function loadBench() {
  const dirs = fs.readdirSync(path.join(root, 'test/fixtures/trained'), { withFileTypes: true }).filter((d) => d.isDirectory() && fs.existsSync(path.join(root, 'test/fixtures/trained', d.name, 'model.safetensors')));
  const sizes = dirs.map((d) => ({ dir: path.join(root, 'test/fixtures/trained', d.name), bytes: fs.statSync(path.join(root, 'test/fixtures/trained', d.name, 'model.safetensors')).size }));
  const largest = sizes.sort((a, b) => b.bytes - a.bytes)[0];
  const decoded = probe('fast', 'load', largest.dir);
  const stored = probe('fast', 'load', largest.dir, 'stored');
  log(`load ${path.basename(largest.dir)} (${(largest.bytes / 2 ** 20).toFixed(1)} MiB file): peak RSS ${decoded.peakMiB.toFixed(0)} MiB decoded, ${stored.peakMiB.toFixed(0)} MiB stored (baseline ${decoded.baselineMiB.toFixed(0)})`);
  return {
    model: path.basename(largest.dir),
    fileMiB: round(largest.bytes / 2 ** 20),
    loadMs: round(decoded.loadMs),
    peakMiB: round(decoded.peakMiB),
    storedLoadMs: round(stored.loadMs),
    storedPeakMiB: round(stored.peakMiB),
    baselineMiB: round(decoded.baselineMiB),
  };
}
