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
 * Runs bench/probe.ts in a fresh Node process and returns its JSON result, so that the peak
 * resident memory (maxRSS) belongs to that one task alone.
 */
export function probe(task: string, ...args: string[]): Record<string, number> {
  const script = fileURLToPath(new URL('./probe.ts', import.meta.url));
  const result = spawnSync(process.execPath, ['--import', 'tsx', script, task, ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (result.status !== 0) throw new Error(`probe ${task} failed: ${result.stderr.trim().split('\n').slice(-3).join(' ')}`);
  return JSON.parse(result.stdout) as Record<string, number>;
}
