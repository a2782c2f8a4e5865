/** Timing and memory helpers for benchmarks. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Median wall time (ms) of `repeats` runs after one warm-up. */
export function timeMs(fn: () => void, repeats = 3): number {
  fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    fn();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export const round = (x: number, digits = 3): number => Number(x.toPrecision(digits));

/**
 * The kernel settings every figure is measured under, as environment variables of a probe:
 *   reference  the pure TypeScript kernels on one thread (IATTN_KERNELS=js, IATTN_THREADS=1);
 *   oneThread  the WASM kernels on one thread (IATTN_THREADS=1);
 *   fast       the defaults: WASM kernels, worker threads on every core.
 */
export const SETTINGS = {
  reference: { IATTN_KERNELS: 'js', IATTN_THREADS: '1' },
  oneThread: { IATTN_KERNELS: 'auto', IATTN_THREADS: '1' },
  fast: { IATTN_KERNELS: 'auto', IATTN_THREADS: '' },
} as const;
export type Setting = keyof typeof SETTINGS;

/**
 * Runs bench/probe.ts in a fresh Node process under `setting` and returns its JSON result, so
 * that the peak resident memory (maxRSS) belongs to that one task alone.
 */
export function probe(setting: Setting, task: string, ...args: string[]): Record<string, number> {
  const script = fileURLToPath(new URL('./probe.ts', import.meta.url));
  const env = { ...process.env, ...SETTINGS[setting] };
  const result = spawnSync(process.execPath, ['--import', 'tsx', script, task, ...args], { encoding: 'utf8', maxBuffer: 1 << 20, env });
  if (result.status !== 0) throw new Error(`probe ${task} ${args.join(' ')} (${setting}) failed: ${result.stderr.trim().split('\n').slice(-3).join(' ')}`);
  return JSON.parse(result.stdout) as Record<string, number>;
}
