/**
 * The bench results as Markdown (bench/results/latest.md), for closing notes: every figure of
 * the fast path next to the pure TypeScript reference of the same run ("before" and "after"
 * side by side), and the committed baseline (bench/results/baseline-*.json, measured before the
 * parallel and stored-weights work) where it has the same figure. Sections this file does not
 * know are printed as generic tables.
 */
import type { ForwardRow, WeightsRow } from './forward.js';
import type { MatmulRow } from './matmul.js';

type Results = Record<string, unknown>;
type Baseline = { commit?: string; date?: string; matmul?: Array<{ dtype: string; n: number; matmulGflops: number; linearGflops: number }>; forward?: Array<{ model: string; L: number; mode: string; ms: number; tokensPerSecond: number; peakMiB: number }> } | null;

const table = (head: string[], rows: Array<Array<string | number>>): string =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

const times = (after: number, before: number): string => (before > 0 ? `×${(after / before).toPrecision(3)}` : '');

function matmulTable(rows: MatmulRow[], baseline: Baseline): string {
  const threads = rows[0]?.threads ?? 1;
  const base = (r: MatmulRow) => baseline?.matmul?.find((b) => b.dtype === r.dtype && b.n === r.n);
  return [
    `GFLOP/s of C = A·B (F.matmul) and y = x·Wᵀ (F.linear, in parentheses) on n×n×n; 'baseline' is the default path at the baseline commit (WASM, one thread).`,
    '',
    table(
      ['dtype', 'n', 'TS reference (before)', 'WASM, 1 thread', `WASM, ${threads} threads (after)`, 'after ÷ before', 'baseline'],
      rows.map((r) => [r.dtype, r.n, `${r.referenceGflops} (${r.linearReferenceGflops})`, `${r.oneThreadGflops} (${r.linearOneThreadGflops})`, `${r.threadsGflops} (${r.linearThreadsGflops})`, times(r.threadsGflops, r.referenceGflops), base(r) ? `${base(r)!.matmulGflops} (${base(r)!.linearGflops})` : '']),
    ),
  ].join('\n');
}

function forwardTable(rows: ForwardRow[], baseline: Baseline): string {
  const threads = rows[0]?.fast.threads ?? 1;
  const base = (r: ForwardRow) => baseline?.forward?.find((b) => b.model === r.model && b.L === r.L && b.mode === r.mode);
  return [
    `One forward (tokens/s) or forward+backward (ms) of the trained checkpoints; peak resident memory of the whole process in MiB. Reference = pure TypeScript kernels on one thread (IATTN_KERNELS=js IATTN_THREADS=1); fast = the defaults (WASM kernels, ${threads} threads).`,
    '',
    table(
      ['model', 'L', 'run', 'TS reference (before)', 'WASM, 1 thread', `fast (after)`, 'speed-up', 'peak MiB before → after', 'baseline'],
      rows.map((r) => {
        const b = base(r);
        const speed = (x: { tokensPerSecond: number; ms: number }) => (r.mode === 'forward' ? `${x.tokensPerSecond} tok/s` : `${x.ms} ms`);
        return [r.model, r.L, r.mode, speed(r.reference), speed(r.oneThread), speed(r.fast), `×${r.speedup}`, `${r.reference.peakMiB} → ${r.fast.peakMiB}`, b ? `${r.mode === 'forward' ? `${b.tokensPerSecond} tok/s` : `${b.ms} ms`}, ${b.peakMiB} MiB` : ''];
      }),
    ),
  ].join('\n');
}

function weightsTable(rows: WeightsRow[]): string {
  return [
    'Weights decoded to float32 (default) vs kept in their stored 16-bit dtype (--weights stored), fast kernels: one forward, and peak resident memory of the forward and of loading alone (MiB).',
    '',
    table(
      ['model', 'stored as', 'L', 'decoded tok/s', 'stored tok/s', 'speed', 'peak MiB decoded → stored', 'load peak MiB decoded → stored'],
      rows.map((r) => [r.model, r.storedDtypes, r.L, r.decoded.tokensPerSecond, r.stored.tokensPerSecond, `×${r.speed}`, `${r.decoded.peakMiB} → ${r.stored.peakMiB}`, `${r.decoded.loadPeakMiB} → ${r.stored.loadPeakMiB}`]),
    ),
  ].join('\n');
}

/** A table of an array of flat objects (nested objects one level deep become a.b columns). */
function genericTable(value: unknown): string {
  if (!Array.isArray(value)) {
    if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value as Record<string, unknown>);
      const arrays = entries.filter(([, v]) => Array.isArray(v));
      const scalars = entries.filter(([, v]) => !Array.isArray(v) && (v === null || typeof v !== 'object'));
      return [scalars.length > 0 ? table(scalars.map(([k]) => k), [scalars.map(([, v]) => String(v))]) : '', ...arrays.map(([k, v]) => `${k}:\n\n${genericTable(v)}`)].filter(Boolean).join('\n\n');
    }
    return String(value);
  }
  const flat = value.map((row) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row as Record<string, unknown>)) {
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) for (const [k2, v2] of Object.entries(v)) out[`${k}.${k2}`] = v2;
      else out[k] = v;
    }
    return out;
  });
  const head = [...new Set(flat.flatMap((r) => Object.keys(r)))];
  return table(head, flat.map((r) => head.map((h) => (r[h] === undefined ? '' : String(r[h])))));
}

export function markdownReport(results: Results, baseline: Baseline): string {
  const parts = [
    `# Bench results`,
    '',
    `${results.date} · Node ${results.node} · ${results.cpus} CPUs · \`npm run bench${results.sections ? ` -- ${(results.sections as string[]).join(' ')}` : ''}\`${baseline ? ` · baseline: commit ${baseline.commit} (${baseline.date})` : ''}`,
  ];
  for (const [name, value] of Object.entries(results)) {
    if (['date', 'node', 'cpus', 'sections', 'note'].includes(name)) continue;
    parts.push('', `## ${name}`, '');
    if (name === 'matmul') parts.push(matmulTable(value as MatmulRow[], baseline));
    else if (name === 'forward') parts.push(forwardTable(value as ForwardRow[], baseline));
    else if (name === 'weights') parts.push(weightsTable(value as WeightsRow[]));
    else parts.push(genericTable(value));
  }
  return `${parts.join('\n')}\n`;
}
