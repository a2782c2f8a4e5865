/**
 * Builds docs/results.md from the evaluation outputs of scripts/results.sh (Node):
 *
 *   node --import tsx src/cli/results-doc.ts OUT_DIR DOCS_DIR
 *
 * reads OUT_DIR/<name>/results.json (perturbation-*, groundtruth-*, vision-*; or OUT_DIR/<name>.json, the
 * layout of DOCS_DIR/results-data/, so the document can be rebuilt from the committed data), the training records of
 * the models they name (train_command.txt, trainer_state.json), draws the plots into
 * DOCS_DIR/figures/ (from the JSON, with the current plotting code), copies the documents to
 * DOCS_DIR/results-data/ and writes DOCS_DIR/results.md: the perturbation tables, the ground-truth
 * tables per family, and a reading derived from the numbers themselves (so that a rerun with
 * other seeds or sample sizes cannot leave stale claims behind), plus the standing caveats.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MethodEvidence } from '../evaluate/groundtruth.js';
import { formatMean, groundTruthSvg, markdownTable, perturbationSvg, perturbationTable } from '../evaluate/report.js';
import { svgToPng } from '../io/svg-png.js';
import type { GroundTruthDocument, PerturbationDocument } from '../evaluate/report.js';
import { VISION_EVAL_METHODS } from '../vision/evaluate.js';
import type { EvaluationResults } from '../vision/evaluate.js';
import { clearlyAbove, familyName, groupReading, groupTable, overviewColumn, perturbationGroups } from './results-perturbation.js';
import { VISION_NOTES, visionSection } from './results-vision.js';

interface Loaded {
  name: string;
  /** Its results.json. */
  file: string;
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** The training record of a checkpoint written by scripts/results.sh. */
function trainingRecord(modelDir: string): { command: string | null; accuracy: number | null; steps: number | null; nll: number | null } {
  const commandFile = path.join(modelDir, 'train_command.txt');
  const stateFile = path.join(modelDir, 'trainer_state.json');
  const command = fs.existsSync(commandFile) ? fs.readFileSync(commandFile, 'utf8').trim() : null;
  if (!fs.existsSync(stateFile)) return { command, accuracy: null, steps: null, nll: null };
  const state = readJson<{ global_step?: number; last_eval?: { val_accuracy?: number; val_nll?: number } }>(stateFile);
  return { command, accuracy: state.last_eval?.val_accuracy ?? null, steps: state.global_step ?? null, nll: state.last_eval?.val_nll ?? null };
}

/** Column order of the families in the ground-truth tables. */
const FAMILY_ORDER = ['mamba', 'falcon_mamba', 'mamba2', 'rwkv', 'recurrent_gemma', 'gla', 'hgrn', 'retnet'];
const familyRank = (modelType: string) => (FAMILY_ORDER.includes(modelType) ? FAMILY_ORDER.indexOf(modelType) : FAMILY_ORDER.length);


const pct = (x: number) => `${(100 * x).toFixed(1)} %`;


function perturbationReading(d: PerturbationDocument, label: string): string[] {
  const byDelta = [...d.methods].sort((a, b) => b.deltaAF.mean - a.deltaAF.mean);
  const random = d.methods.find((m) => m.method === 'random');
  const lines: string[] = [];
  const best = byDelta[0];
  lines.push(`${label}: the best ΔA^F is ${best.method} (${formatMean(best.deltaAF)}), then ${byDelta.slice(1, 3).map((m) => `${m.method} (${formatMean(m.deltaAF)})`).join(', ')}.`);
  if (random !== undefined) {
    const above = d.methods.filter((m) => m.method !== 'random' && clearlyAbove(m.deltaAF, random.deltaAF)).map((m) => m.method);
    const notAbove = d.methods.filter((m) => m.method !== 'random' && !clearlyAbove(m.deltaAF, random.deltaAF)).map((m) => m.method);
    lines.push(
      `  Random scores ΔA^F ${formatMean(random.deltaAF)}. More than two standard errors above it: ${above.length ? above.join(', ') : 'none'}; not distinguishable from random (or below): ${notAbove.length ? notAbove.join(', ') : 'none'}.`,
    );
  }
  const recency = d.methods.find((m) => m.method === 'recency');
  if (recency !== undefined) {
    const aboveRecency = d.methods.filter((m) => m.method !== 'recency' && clearlyAbove(m.deltaAF, recency.deltaAF)).map((m) => m.method);
    lines.push(`  The recency baseline scores ${formatMean(recency.deltaAF)}; more than two standard errors above it: ${aboveRecency.length ? aboveRecency.join(', ') : 'none'}.`);
  }
  if (d.igRelativeCompleteness !== null) lines.push(`  Integrated gradients' relative completeness error here: ${formatMean(d.igRelativeCompleteness)}.`);
  const morfBest = [...d.methods].sort((a, b) => a.aucMorf.mean - b.aucMorf.mean)[0];
  const lerfBest = [...d.methods].sort((a, b) => b.aucLerf.mean - a.aucLerf.mean)[0];
  lines.push(`  Lowest MoRF AUC: ${morfBest.method} (${formatMean(morfBest.aucMorf)}); highest LeRF AUC: ${lerfBest.method} (${formatMean(lerfBest.aucLerf)}).`);
  return lines;
}

const GT_METRICS: Array<[key: 'auroc' | 'mass' | 'topK', title: string]> = [
  ['auroc', 'AUROC of relevance vs the evidence mask (chance 0.5)'],
  ['mass', 'share of positive relevance on the evidence'],
  ['topK', 'top-k hit rate (k = number of evidence positions)'],
];

function groundTruthTables(docs: GroundTruthDocument[]): { tables: string[]; reading: string[] } {
  const learned = docs.filter((d) => d.result.learned);
  const tables: string[] = [];
  const reading: string[] = [];
  if (learned.length === 0) return { tables: ['No model learned this task: no attribution table.'], reading };
  const methods = learned[0].result.methods.map((m) => m.method);
  const families = learned.map((d) => familyName(d.model.modelType));
  for (const [key, title] of GT_METRICS) {
    const rows = methods.map((method) => {
      const cells = learned.map((d) => {
        const m = d.result.methods.find((x: MethodEvidence) => x.method === method);
        return m === undefined ? '–' : formatMean(m[key], 2);
      });
      return [method, ...cells];
    });
    // Bold the best method per family.
    learned.forEach((d, col) => {
      const values = methods.map((method) => d.result.methods.find((x) => x.method === method)?.[key].mean ?? NaN);
      const best = Math.max(...values.filter(Number.isFinite));
      values.forEach((v, row) => {
        if (v === best) rows[row][col + 1] = `**${rows[row][col + 1]}**`;
      });
    });
    if (key !== 'auroc') {
      rows.push(['*chance*', ...learned.map((d) => `*${(d.result.evidencePerExample / d.result.positionsScored).toFixed(2)}*`)]);
    }
    tables.push(`**${title}** (mean ± SE over the correctly answered examples)\n\n${markdownTable(['method', ...families], rows)}`);
  }
  for (const d of learned) {
    const sorted = [...d.result.methods].sort((a, b) => b.auroc.mean - a.auroc.mean);
    const random = d.result.methods.find((m) => m.method === 'random');
    const beat = random === undefined ? [] : d.result.methods.filter((m) => m.method !== 'random' && clearlyAbove(m.auroc, random.auroc)).map((m) => m.method);
    const ig = d.result.igRelativeCompleteness;
    reading.push(
      `${familyName(d.model.modelType)}: best AUROC ${sorted[0].method} (${formatMean(sorted[0].auroc, 2)}), worst ${sorted.at(-1)!.method} (${formatMean(sorted.at(-1)!.auroc, 2)}); ` +
        `clearly above random: ${beat.length ? beat.join(', ') : 'none'}${ig === null ? '' : `; IG relative completeness error ${formatMean(ig, 2)}`}.`,
    );
  }
  return { tables, reading };
}

/** Draws a run's plot from its results.json into DOCS/figures/NAME.svg (and .png with `png`); returns the path the doc links. */
function figure(name: string, svg: string, docsDir: string, png: boolean): string {
  const figures = path.join(docsDir, 'figures');
  fs.mkdirSync(figures, { recursive: true });
  fs.writeFileSync(path.join(figures, `${name}.svg`), svg);
  if (png) fs.writeFileSync(path.join(figures, `${name}.png`), svgToPng(svg, { scale: 1.5 }));
  return `figures/${name}.${png ? 'png' : 'svg'}`;
}

/**
 * The headline table: one row per method; ΔA^F of every group of perturbation runs (the mean
 * over its families, or the run itself), and the AUROC of every task averaged over the
 * families that learned it.
 */
function overview(perturbation: PerturbationDocument[], groundTruth: GroundTruthDocument[]): string[] {
  const tasks = [...new Set(groundTruth.map((d) => d.task.name))];
  const learned = (task: string) => groundTruth.filter((d) => d.task.name === task && d.result.learned);
  const methods = [...new Set([...perturbation.flatMap((d) => d.methods.map((m) => m.method)), ...groundTruth.flatMap((d) => d.result.methods.map((m) => m.method))])];
  if (methods.length === 0) return [];
  const groups = perturbationGroups(perturbation).map(overviewColumn);
  const header = ['method', ...groups.map((g) => g.header), ...tasks.map((t) => `AUROC ${t} (${learned(t).length} families) ↑`)];
  const columns: Array<Map<string, string>> = groups.map((g) => g.cells);
  for (const task of tasks) {
    const docs = learned(task);
    const mean = (method: string) => {
      const values = docs.map((d) => d.result.methods.find((m) => m.method === method)?.auroc.mean ?? NaN);
      return values.length === 0 || values.some((v) => !Number.isFinite(v)) ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
    };
    const best = Math.max(...methods.map(mean).filter(Number.isFinite));
    columns.push(new Map(methods.map((m) => [m, Number.isFinite(mean(m)) ? (mean(m) === best ? `**${mean(m).toFixed(2)}**` : mean(m).toFixed(2)) : '–'])));
  }
  return [
    '## Overview',
    '',
    markdownTable(header, methods.map((m) => [m, ...columns.map((c) => c.get(m) ?? '–')])),
    '',
    'ΔA^F: perturbation test (higher is better; random ≈ 0 in expectation) — for a group of runs, the mean over its families of each run\'s mean ΔA^F (the per-family values with standard errors are in section 1). AUROC: ground truth, relevance vs the evidence positions, averaged over the families that learned the task (chance 0.5). Details, sample sizes and plots below.',
    '',
  ];
}

/**
 * Every which-novel classifier trained beside the evaluated ones (their folder's siblings named
 * classifier-*): validation accuracy, training command, and whether it was evaluated — a
 * classifier left at chance is not (perturbing a model that ignores its input measures nothing).
 */
function classifierRoster(evaluated: PerturbationDocument[]): { table: string[]; reading: string[] } {
  const parents = [...new Set(evaluated.map((d) => path.dirname(d.model.dir)))].filter((dir) => fs.existsSync(dir));
  const dirs = parents.flatMap((parent) =>
    fs
      .readdirSync(parent)
      .filter((n) => n.startsWith('classifier-') && fs.existsSync(path.join(parent, n, 'trainer_state.json')))
      .map((n) => path.join(parent, n).split(path.sep).join('/')),
  );
  if (dirs.length === 0) return { table: [], reading: [] };
  const rows = dirs.map((dir) => {
    const record = trainingRecord(dir);
    const modelType = readJson<{ model_type?: string }>(path.join(dir, 'config.json')).model_type ?? '?';
    const done = evaluated.some((d) => d.model.dir === dir);
    return { dir, modelType, record, done };
  });
  rows.sort((a, b) => familyRank(a.modelType) - familyRank(b.modelType));
  const notLearned = rows.filter((r) => !r.done);
  return {
    table: [
      'Classifiers trained (validation accuracy at the end of training; chance 16.7 % over 6 novels). Only those clearly above chance are evaluated:',
      '',
      markdownTable(
        ['family', 'accuracy', 'evaluated', 'training command'],
        rows.map((r) => [familyName(r.modelType), r.record.accuracy === null ? '?' : pct(r.record.accuracy), r.done ? 'yes' : '**no — at chance**', `\`${r.record.command ?? '?'}\``]),
      ),
      '',
    ],
    reading: notLearned.length
      ? [`Which-novel classifiers of ${notLearned.map((r) => familyName(r.modelType)).join(', ')} stayed at chance with the recipes tried (the commands in the table; RWKV and Griffin learn with the same one), so ${notLearned.length === 1 ? 'it has' : 'they have'} no perturbation result.`]
      : [],
  };
}

export function buildResults(outDir: string, docsDir: string): string {
  // OUT/<name>/results.json as the CLI writes them, or OUT/<name>.json as DOCS/data/ holds them.
  const entries: Loaded[] = fs
    .readdirSync(outDir)
    .sort()
    .flatMap((n) => {
      if (fs.existsSync(path.join(outDir, n, 'results.json'))) return [{ name: n, file: path.join(outDir, n, 'results.json') }];
      if (n.endsWith('.json') && fs.statSync(path.join(outDir, n)).isFile()) return [{ name: n.slice(0, -'.json'.length), file: path.join(outDir, n) }];
      return [];
    });
  const perturbation = entries
    .filter((e) => e.name.startsWith('perturbation-'))
    .map((e) => ({ ...e, doc: readJson<PerturbationDocument>(e.file) }))
    .sort((a, b) => Number(a.doc.model.objective === 'classify') - Number(b.doc.model.objective === 'classify') || familyRank(a.doc.model.modelType) - familyRank(b.doc.model.modelType));
  const groundTruth = entries
    .filter((e) => e.name.startsWith('groundtruth-'))
    .map((e) => ({ ...e, doc: readJson<GroundTruthDocument>(e.file) }))
    .sort((a, b) => a.doc.task.name.localeCompare(b.doc.task.name) || familyRank(a.doc.model.modelType) - familyRank(b.doc.model.modelType));
  // `iattn vision evaluate` documents (their SVG curves are not kept: the figure is drawn from the numbers).
  const vision = entries
    .filter((e) => e.name.startsWith('vision-'))
    .map((e) => {
      const { curves: _curves, ...doc } = readJson<EvaluationResults>(e.file);
      return { name: e.name, doc: doc as EvaluationResults };
    });
  const all = [...perturbation.map((p) => p.doc), ...groundTruth.map((g) => g.doc)];
  if (all.length === 0 && vision.length === 0) throw new Error(`no results under ${outDir} (expected NAME/results.json or NAME.json)`);
  // The machine-readable documents next to the text, compact.
  const data = path.join(docsDir, 'results-data');
  fs.rmSync(data, { recursive: true, force: true });
  fs.mkdirSync(data, { recursive: true });
  for (const { name, doc } of [...perturbation, ...groundTruth, ...vision]) fs.writeFileSync(path.join(data, `${name}.json`), `${JSON.stringify(doc)}\n`);
  const commits = [...new Set(all.map((d) => d.code.commit ?? 'unknown'))];
  const lines: string[] = [];
  const reading: string[] = [];
  lines.push(
    '# Results: how faithful are the explanations?',
    '',
    `Generated by \`scripts/results.sh\` from real runs; do not edit by hand. ` +
      `Code: ${all[0].code.package} ${all[0].code.version}; the runs were made at commit${commits.length > 1 ? 's' : ''} ${commits.join(', ')} (HEAD at run time; uncommitted changes are not recorded). ` +
      `Runs finished ${all.map((d) => d.createdAt).sort().at(-1)}.`,
    '',
    `What is measured (\`iattn evaluate --help\`, src/evaluate/): **perturbation tests** on ${perturbationGroups(perturbation.map((p) => p.doc)).map((g) => `${g.docs.length} ${g.label} (${g.docs.map((d) => familyName(d.model.modelType)).join(', ')})`).join('; ')}, and a **ground-truth test** on small models of ${new Set(groundTruth.map((g) => g.doc.model.modelType)).size} families trained on synthetic tasks whose evidence is known. ` +
      'Every run\'s full results document (settings, seeds, per-sample numbers) is in [results-data/](results-data/).',
    '',
  );

  if (vision.length > 0) {
    lines.push('Section 3 explains two **vision classifiers** (Vision Mamba and MLLA) on synthetic images whose object masks are known: a segmentation test against the masks and a patch-perturbation test.', '');
  }
  lines.push(...overview(perturbation.map((p) => p.doc), groundTruth.map((g) => g.doc)));

  // --- Perturbation ------------------------------------------------------------------
  lines.push('## 1. Perturbation tests', '');
  if (perturbation.length > 0) {
    const p0 = perturbation[0].doc;
    lines.push(
      `Protocol: ${p0.perturbation.auc}. Perturbation kind: **${p0.perturbation.kind}**${p0.perturbation.neutral === null ? ' (the perturbed tokens are removed; the recurrent models have no positions, so nothing marks the gap)' : ''}. ` +
        'MoRF removes the most relevant eligible tokens first (lower AUC is better), LeRF the least relevant first (higher is better), ΔA^F = AUC(LeRF) − AUC(MoRF) (higher is better). ' +
        'Ties in a ranking are broken in a seeded random order. Every number is a mean ± standard error over the samples.',
      '',
    );
  }
  for (const group of perturbationGroups(perturbation.map((p) => p.doc))) {
    lines.push(`### ${group.title}: ΔA^F by family`, '', groupTable(group), '', 'Mean ± SE over each run\'s samples; best method per family in bold; the last column is the mean over the families.', '');
    reading.push(...groupReading(group));
    if (group.key === 'classifier') {
      const { table, reading: r } = classifierRoster(group.docs);
      lines.push(...table);
      reading.push(...r);
    }
  }
  lines.push('### Every run in detail', '');
  for (const { name, doc } of perturbation) {
    const title = doc.model.objective === 'classify' ? `Which-novel classifier (${familyName(doc.model.modelType)}, ${doc.model.dir})` : `Austen language model: ${familyName(doc.model.modelType)} (${doc.model.dir})`;
    const u = doc.unperturbed;
    lines.push(`#### ${title}`, '');
    if (!doc.model.dir.startsWith('test/fixtures/')) {
      const record = trainingRecord(doc.model.dir);
      const quality =
        doc.model.objective === 'classify'
          ? `validation accuracy at the end of training ${record.accuracy === null ? 'unknown' : pct(record.accuracy)} on ${doc.model.labels?.length ?? '?'} classes (${doc.model.labels?.join(', ') ?? ''}; chance ${doc.model.labels ? pct(1 / doc.model.labels.length) : '?'})`
          : `validation NLL at the end of training ${record.nll === null ? 'unknown' : `${record.nll.toFixed(3)} nats/token`}`;
      lines.push(`Trained in TypeScript with \`${record.command ?? 'iattn train … (command not recorded)'}\`; ${quality}.`, '');
    }
    lines.push(
      `- target: ${doc.target}`,
      `- samples: ${doc.data.samples} (seed ${doc.data.seed}) from ${doc.data.slice}`,
      `- excluded from perturbation: ${doc.perturbation.excluded}`,
      `- unperturbed model on these samples: p(target) ${formatMean(u.probability)}${u.accuracy === null ? '' : `; accuracy ${pct(u.accuracy)} (top prediction = true ${doc.model.objective === 'classify' ? 'book' : 'next token'})`}`,
      ...(doc.igRelativeCompleteness === null ? [] : [`- integrated gradients, relative completeness error |Σ relevance − (f(x) − f(0))| / |f(x) − f(0)|: ${formatMean(doc.igRelativeCompleteness)}`]),
      `- command: \`${doc.command}\` (${doc.seconds.total.toFixed(0)} s, ${doc.forwards} perturbed forwards)`,
      '',
      perturbationTable(doc.methods),
      '',
      `![${name}](${figure(name, perturbationSvg(doc), docsDir, true)})`,
      '',
    );
    reading.push(...perturbationReading(doc, title));
    const failed = Object.entries(doc.failures);
    if (failed.length) lines.push(...failed.map(([m, f]) => `- ${m} could not run on ${f.samples} sample(s): ${f.message}`), '');
  }

  // --- Ground truth ------------------------------------------------------------------
  lines.push('## 2. Ground truth on synthetic tasks', '');
  const tasks = [...new Set(groundTruth.map((g) => g.doc.task.name))];
  if (tasks.length > 0) {
    lines.push(
      'Each family is trained from scratch in TypeScript on each task (tiny configs: hidden 64, 2 layers — Griffin 3 — with a 32-id vocabulary, unless its command below says otherwise). ' +
        'A model counts as having learned a task at ≥ 90 % accuracy on a fresh seeded set of examples; a model below that is listed with its accuracy and **excluded** from the attribution tables. ' +
        "The explained output is the label's logit at the last position on the correctly answered examples; relevance is scored over the positions before it (the query token at the explained position is left out).",
      '',
      '| model | task | training | accuracy (eval set) | learned? |',
      '| --- | --- | --- | --- | --- |',
    );
    for (const { doc } of groundTruth) {
      const record = trainingRecord(doc.model.dir);
      const r = doc.result;
      lines.push(
        `| ${familyName(doc.model.modelType)} (\`${doc.model.dir}\`) | ${doc.task.name} | ${record.steps ?? '?'} steps | ${pct(r.accuracy)} of ${r.examples} | ${r.learned ? 'yes' : '**no — excluded**'} |`,
      );
    }
    lines.push('', 'Training commands (run by scripts/results.sh when the model is missing; weights under `models/eval/`):', '', '```');
    const commands = new Set<string>();
    for (const { doc } of groundTruth) commands.add(trainingRecord(doc.model.dir).command ?? `# ${doc.model.dir}: command not recorded`);
    lines.push(...commands, '```', '');
    for (const task of tasks) {
      const docs = groundTruth.filter((g) => g.doc.task.name === task).map((g) => g.doc);
      const d0 = docs[0];
      lines.push(
        `### task:${task}`,
        '',
        `${d0.task.description}; ${d0.task.length} tokens; evidence: ${d0.task.evidence}. ${docs[0].result.examples} examples drawn with seed ${d0.seed}.`,
        '',
      );
      const { tables, reading: r } = groundTruthTables(docs);
      lines.push(...tables.flatMap((t) => [t, '']));
      reading.push(...r.map((x) => `task:${task}, ${x}`));
      const learnedDocs = docs.filter((d) => d.result.learned);
      if (learnedDocs.length > 1) {
        const names = learnedDocs[0].result.methods.map((m) => m.method);
        const averages = names
          .map((method) => ({ method, auroc: learnedDocs.reduce((a, d) => a + (d.result.methods.find((m) => m.method === method)?.auroc.mean ?? NaN), 0) / learnedDocs.length }))
          .sort((a, b) => b.auroc - a.auroc);
        reading.push(
          `task:${task}, averaged over the ${learnedDocs.length} families that learned it (${learnedDocs.map((d) => familyName(d.model.modelType)).join(', ')}): AUROC ranking ${averages.map((a) => `${a.method} ${a.auroc.toFixed(2)}`).join(' > ')}.`,
        );
      }
      const notLearned = docs.filter((d) => !d.result.learned);
      if (notLearned.length) reading.push(`task:${task}: not learned (excluded): ${notLearned.map((d) => `${familyName(d.model.modelType)} (${pct(d.result.accuracy)})`).join(', ')}.`);
      const learned = groundTruth.filter((g) => g.doc.task.name === task && g.doc.result.learned);
      if (learned.length) {
        lines.push('Evidence found vs fraction of positions inspected (most relevant first):', '');
        lines.push(learned.map((g) => `![${g.name}](${figure(g.name, groundTruthSvg(g.doc), docsDir, false)})`).join('\n'), '');
      }
    }
  }

  // --- Vision --------------------------------------------------------------------------
  const visionPart = visionSection(vision, (name, svg) => figure(name, svg, docsDir, true), VISION_EVAL_METHODS);
  lines.push(...visionPart.lines);
  reading.push(...visionPart.reading);

  // --- Reading -----------------------------------------------------------------------
  lines.push(`## ${vision.length > 0 ? 4 : 3}. Reading (derived from the numbers above)`, '');
  lines.push(...reading.map((r) => (r.startsWith('  ') ? `  ${r.trim()}` : `- ${r}`)), '');
  return lines.join('\n');
}

/** Caveats and protocol notes that hold for every run; appended after the generated part. */
export const STANDING_NOTES = `## 4. Caveats

- **Sample sizes** (see each table's n): 200 samples per model trained here, 40 for the two larger fixture language models (their runs have to fit a shared 2-core machine). Differences smaller than about two standard errors are not evidence of anything.
- **The language models are weak** (validation NLL 4.6–5.0 nats/token for the ones trained here, ≈ 4.2–4.8 for the fixtures): their top next token often has a small probability, so the normalised score p/p₀ is noisy and can exceed 1 when a perturbation happens to raise it; means of ratios are sensitive to a few such windows.
- **Integrated gradients' completeness**: IG integrates from the all-zero embedding (32 Gauss–Legendre points in ln α over [10⁻¹⁵, 1], plus one on [0, 10⁻¹⁵]). The models' norms and gates make f(α·e) change over many decades of small α — on the PyTorch-trained Mamba2 and the opening of *Emma*, f(10⁻¹⁵·e) = 9.9 while f(0) = 0, and f wanders between 2.9 and 10.3 as α grows to 1 (\`npx tsx scripts/ig-path.ts test/fixtures/trained/mamba2 "Emma Woodhouse, handsome, clever, and rich, with a comfortable home" --dtype float64\`) — and no rule of 32–64 points tried integrates that (uniform Gauss–Legendre on [0, 1], the previous rule, did better on some runs and worse on others: the mean error fell on four of the ten runs measured both ways and rose on six). The relative completeness errors listed per run are therefore large on most models (0.03 to 2.4): IG's values are not a decomposition of the logit here, though its ranking can still be useful — the perturbation and ground-truth numbers measure exactly that.
- **Deletion vs replacement**: the tables use deletion (the input gets shorter). Replacement with a neutral token (\`--kind replace --neutral space|pad|#ID\`) is available and gives different numbers; an out-of-distribution replacement token can move the prediction by itself.
- **Baselines**: recency (later tokens first) is a strong baseline for next-token prediction, where the last few tokens matter most; a method is only informative on the language models where it beats recency, not merely random. The random baseline gets a fresh seed per sample (seed ⊕ sample index), so its rows are the same for every model evaluated on the same examples.
- **Ground truth**: the evidence is what the task generator uses to set the label; a model may in principle solve a task with other cues (e.g. in assoc-recall the value token alone, right after its key, is also sufficient to copy) — both key and value positions are counted as evidence. Chance levels are given under each table.
- The classifiers are tiny models (hidden 64 — Mamba 128 —, 2 layers — Griffin 3) trained for a few minutes on 32-token passages; their accuracy is far from what a larger model reaches (the shipped default classifier, 64-token passages, reaches 80 %), and their explanations explain *their* decisions, good or bad. The recipe is not the same for every family: RWKV and Griffin learn with lr 1e-2 in 500 steps, while the other families stayed at chance (15–19 %) with it and with 3e-3, and learn only with lr 1e-3 and more steps (the command of each is listed with its run).
`;

function main(argv: string[]): void {
  const [outDir, docsDir] = argv;
  if (outDir === undefined || docsDir === undefined) {
    process.stderr.write('usage: node --import tsx src/cli/results-doc.ts OUT_DIR DOCS_DIR\n');
    process.exitCode = 2;
    return;
  }
  fs.mkdirSync(docsDir, { recursive: true });
  const body = buildResults(outDir, docsDir);
  // With a vision section (## 3) the reading is ## 4 and the caveats ## 5.
  const notes = /^## 3\. Vision/m.test(body) ? `${STANDING_NOTES.replace('## 4. Caveats', '## 5. Caveats')}${VISION_NOTES}` : STANDING_NOTES;
  const text = `${body}\n${notes}`;
  fs.writeFileSync(path.join(docsDir, 'results.md'), text);
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
