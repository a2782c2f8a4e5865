/**
 * One measured task per process (see measure.ts `probe`): prints JSON with the task's time and
 * CPU time (all threads), the process's peak resident memory (worker threads included) and the
 * baseline of a process that only started. The peak is Linux's VmHWM, which starts afresh with
 * the process (getrusage's maxRSS does not: it keeps the RSS of the parent the probe was forked
 * from); elsewhere maxRSS. Kernels and threads come from IATTN_KERNELS and IATTN_THREADS, as in the CLI;
 * the worker threads are started and ready before anything is timed.
 *   load DIR [stored]                    — load a checkpoint in float32
 *   forward DIR L [backward] [stored]    — one forward (and backward) of L tokens after a
 *                                          16-token warm-up; `stored` keeps bf16/f16 weights 16-bit
 */
import * as fs from 'node:fs';
import * as F from '../src/core/index.js';
import { Random } from '../src/core/index.js';
import { gemmBackend } from '../src/core/kernels/gemm.js';
import { parallelThreads } from '../src/core/parallel.js';
import { loadModel } from '../src/io/load-model.js';
import { installNodeExecutor, NodeExecutor } from '../src/io/parallel-node.js';

const [task, dir, ...rest] = process.argv.slice(2);
const flags = new Set(rest.filter((a) => !/^\d+$/.test(a)));
/** Peak resident memory of this process so far, in MiB. */
function rssMiB(): number {
  try {
    const hwm = /VmHWM:\s*(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (hwm !== null) return Number(hwm[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}
const baseline = rssMiB();
const executor = installNodeExecutor();
if (executor instanceof NodeExecutor) await executor.whenReady();
const weights = flags.has('stored') ? 'stored' : 'decoded';
const start = performance.now();
const { model } = loadModel(dir, { dtype: 'float32', weights });
const loadMs = performance.now() - start;
let result: Record<string, number | string> = { baselineMiB: baseline, loadMs, threads: parallelThreads(), kernels: gemmBackend(), weights };
if (task === 'forward') {
  const L = Number(rest.find((a) => /^\d+$/.test(a)));
  const rng = new Random(1);
  const ids = Int32Array.from({ length: L }, () => rng.int(model.config.vocabSize));
  const backward = flags.has('backward');
  const run = (n: number) => {
    const x = ids.subarray(0, n);
    if (backward) {
      for (const p of model.parameters.values()) p.requireGrad();
      const logits = model.forwardIds(x, 1, n);
      F.backward(F.crossEntropy(F.reshape(logits, [n, model.config.vocabSize]), x));
      for (const p of model.parameters.values()) p.grad = null;
    } else {
      F.noGrad(() => model.forwardIds(x, 1, n));
    }
  };
  run(Math.min(16, L)); // compiles the code paths (JIT, WASM tiers) outside the timing
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  run(L);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  result = { ...result, ms, cpuMs: (cpu.user + cpu.system) / 1000, tokensPerSecond: (L / ms) * 1000 };
}
process.stdout.write(JSON.stringify({ ...result, peakMiB: rssMiB() }));
