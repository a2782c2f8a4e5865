/**
 * The viewer page: the controls (model, second model, input, method and attention selectors)
 * and one or two panes. Initial settings may come from the URL: ?model=ID&compare=ID&text=…
 * &method=NAME&steps=N&run=0 (run=0: do not analyse on load).
 */
import type { InfoResponse, PerturbationKind, ViewerReduce, ViewerVariant } from '../protocol.ts';
import { api, ApiFailure } from './api.ts';
import type { Curve } from './colors.ts';
import { clear, option } from './dom.ts';
import { Pane } from './pane.ts';
import type { Input, Settings } from './pane.ts';
import './style.css';

const SAMPLE_TEXT = 'Emma Woodhouse, handsome, clever, and rich, with a comfortable home and happy disposition, seemed to unite some of the best blessings of';

const REDUCE_OPTIONS: [ViewerReduce, string][] = [
  ['mean-abs', 'mean |H| over channels'],
  ['mean', 'mean H (signed)'],
  ['mean-positive', 'mean max(H, 0)'],
  ['channel', 'one channel'],
  ['head', 'one head'],
];

function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`the page has no #${id}`);
  return node as T;
}

async function main(): Promise<void> {
  const status = byId<HTMLParagraphElement>('status');
  let info: InfoResponse;
  try {
    info = await api.info();
  } catch (error) {
    status.textContent = error instanceof ApiFailure ? error.message : String(error);
    status.classList.add('error');
    return;
  }
  const params = new URLSearchParams(window.location.search);
  const modelA = byId<HTMLSelectElement>('model-a');
  const modelB = byId<HTMLSelectElement>('model-b');
  const inputMode = byId<HTMLSelectElement>('input-mode');
  const text = byId<HTMLTextAreaElement>('text');
  const analyzeButton = byId<HTMLButtonElement>('analyze');
  const method = byId<HTMLSelectElement>('method');
  const variant = byId<HTMLSelectElement>('variant');
  const reduce = byId<HTMLSelectElement>('reduce');
  const channel = byId<HTMLInputElement>('channel');
  const mode = byId<HTMLSelectElement>('mode');
  const curve = byId<HTMLSelectElement>('curve');
  const steps = byId<HTMLInputElement>('steps');
  const perturbation = byId<HTMLSelectElement>('perturbation');
  const panes = byId<HTMLDivElement>('panes');

  const initialA = info.models.find((m) => m.id === params.get('model')) ?? info.models.find((m) => m.isDefault) ?? info.models[0];
  for (const m of info.models) modelA.append(option(m.id, `${m.name}`, m.id === initialA.id));
  modelB.append(option('', '— none —', true));
  for (const m of info.models) modelB.append(option(m.id, m.name, m.id === params.get('compare')));
  const initialMethod = params.get('method') ?? 'unified-attr';
  for (const m of info.methods) method.append(option(m.name, m.name, m.name === initialMethod));
  for (const v of info.variants) variant.append(option(v, v, v === 'paper'));
  for (const [value, label] of REDUCE_OPTIONS) reduce.append(option(value, label, value === 'mean-abs'));
  steps.max = String(info.limits.maxSteps);
  const stepsParam = Number(params.get('steps'));
  if (Number.isInteger(stepsParam) && stepsParam >= 1) steps.value = String(Math.min(stepsParam, info.limits.maxSteps));
  text.value = params.get('text') ?? SAMPLE_TEXT;
  text.maxLength = info.limits.maxBodyBytes / 2;
  byId('limits').textContent = `up to ${info.limits.maxTokens} tokens`;

  const settings = (): Settings => ({
    method: method.value,
    variant: variant.value as ViewerVariant,
    reduce: reduce.value as ViewerReduce,
    channel: Math.max(0, Math.floor(Number(channel.value) || 0)),
    mode: mode.value as Settings['mode'],
    curve: curve.value as Curve,
    steps: Math.max(1, Math.min(info.limits.maxSteps, Math.floor(Number(steps.value) || 32))),
    perturbation: perturbation.value as PerturbationKind,
  });
  const host = {
    settings,
    selectMethod(name: string) {
      method.value = name;
      for (const p of active) p.recolor();
    },
  };
  const paneA = new Pane(0, info, host);
  const paneB = new Pane(1, info, host);
  let active: Pane[] = [];

  const layout = () => {
    const compare = info.models.find((m) => m.id === modelB.value);
    paneA.setModel(info.models.find((m) => m.id === modelA.value)!);
    if (compare !== undefined) paneB.setModel(compare);
    if (compare === undefined) paneB.stop();
    active = compare === undefined ? [paneA] : [paneA, paneB];
    clear(panes);
    panes.classList.toggle('two', active.length === 2);
    for (const p of active) panes.append(p.root);
  };

  const readInput = (): Input | string => {
    const value = text.value;
    if (inputMode.value === 'text') return value.trim().length === 0 ? 'type some text first' : { text: value };
    const parts = value.split(/[\s,]+/).filter((p) => p.length > 0);
    if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) return 'token ids: give non-negative integers separated by spaces or commas';
    return { ids: parts.map(Number) };
  };

  const run = (which: Pane[] = active) => {
    const input = readInput();
    if (typeof input === 'string') {
      status.textContent = input;
      status.classList.add('error');
      return;
    }
    status.textContent = '';
    status.classList.remove('error');
    for (const p of which) void p.analyze(input);
    for (const p of which) p.recolor();
  };

  const syncChannel = () => {
    const needs = reduce.value === 'channel' || reduce.value === 'head';
    channel.disabled = !needs;
    byId('channel-label').classList.toggle('disabled', !needs);
  };

  analyzeButton.addEventListener('click', () => run());
  text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      run();
    }
  });
  modelA.addEventListener('change', () => {
    layout();
    run([paneA]);
  });
  modelB.addEventListener('change', () => {
    layout();
    if (modelB.value !== '') run([paneB]);
  });
  method.addEventListener('change', () => {
    for (const p of active) p.recolor();
  });
  for (const control of [variant, reduce, mode]) {
    control.addEventListener('change', () => {
      syncChannel();
      for (const p of active) void p.refreshAttention();
    });
  }
  channel.addEventListener('change', () => {
    for (const p of active) void p.refreshAttention();
  });
  curve.addEventListener('change', () => {
    for (const p of active) p.redrawAttention();
  });

  syncChannel();
  layout();
  document.body.dataset.ready = 'true';
  if (params.get('run') !== '0') run();
}

void main();
