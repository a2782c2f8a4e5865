/**
 * The viewer page: the controls (model, second model, input, method and attention selectors)
 * and one or two panes. Language models get text panes; picking a vision model switches the
 * page to image mode (a generated sample or an uploaded PNG, image panes, the vision methods).
 * Initial settings may come from the URL: ?model=ID&compare=ID&text=…&method=NAME&steps=N
 * &seed=N&index=N&class=NAME&run=0 (run=0: do not analyse on load).
 */
import type { ImageSource, InfoResponse, ModelKind, PerturbationKind, ViewerReduce, ViewerVariant } from '../protocol.ts';
import { api, ApiFailure } from './api.ts';
import type { Curve } from './colors.ts';
import { clear, el, option } from './dom.ts';
import { base64Of } from './image-maps.ts';
import { ImagePane } from './image-pane.ts';
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

  const inputModeLabel = byId('input-mode-label');
  const textRow = byId('text-row');
  const imageRow = byId('image-row');
  const imageSource = byId<HTMLSelectElement>('image-source');
  const sampleSeed = byId<HTMLInputElement>('sample-seed');
  const sampleIndex = byId<HTMLInputElement>('sample-index');
  const sampleClass = byId<HTMLSelectElement>('sample-class');
  const upload = byId<HTMLInputElement>('upload');
  const explainImage = byId<HTMLButtonElement>('explain-image');
  const startLayer = byId<HTMLInputElement>('start-layer');

  const kindOf = (id: string): ModelKind => info.models.find((m) => m.id === id)?.kind ?? 'text';
  const initialA = info.models.find((m) => m.id === params.get('model')) ?? info.models.find((m) => m.isDefault) ?? info.models[0];
  const groups: [ModelKind, string][] = [
    ['text', 'language models'],
    ['vision', 'vision models (images)'],
  ];
  for (const [kind, label] of groups) {
    const members = info.models.filter((m) => m.kind === kind);
    if (members.length === 0) continue;
    const group = el('optgroup', { attrs: { label } });
    for (const m of members) group.append(option(m.id, m.name, m.id === initialA.id));
    modelA.append(group);
  }
  /** Model B offers the models of model A's kind. */
  const fillCompare = (wanted: string | null) => {
    clear(modelB);
    modelB.append(option('', '— none —', true));
    for (const m of info.models) if (m.kind === kindOf(modelA.value)) modelB.append(option(m.id, m.name, m.id === wanted));
  };
  fillCompare(params.get('compare'));
  let kind: ModelKind = kindOf(modelA.value);
  /** The method list of the page's kind, keeping the selection when the other list has it. */
  const fillMethods = (wanted: string) => {
    clear(method);
    const list = kind === 'text' ? info.methods : info.visionMethods;
    const chosen = list.some((m) => m.name === wanted) ? wanted : 'unified-attr';
    for (const m of list) method.append(option(m.name, m.name, m.name === chosen));
  };
  fillMethods(params.get('method') ?? 'unified-attr');
  for (const v of info.variants) variant.append(option(v, v, v === 'paper'));
  for (const [value, label] of REDUCE_OPTIONS) reduce.append(option(value, label, value === 'mean-abs'));
  sampleClass.append(option('', 'any', true));
  for (const c of info.samples.classes) sampleClass.append(option(c, c, c === params.get('class')));
  const intParam = (name: string) => {
    const v = Number(params.get(name));
    return params.get(name) !== null && Number.isInteger(v) && v >= 0 ? v : null;
  };
  sampleSeed.value = String(intParam('seed') ?? info.samples.testSeed);
  sampleIndex.value = String(intParam('index') ?? 0);
  steps.max = String(info.limits.maxSteps);
  const stepsParam = Number(params.get('steps'));
  if (Number.isInteger(stepsParam) && stepsParam >= 1) steps.value = String(Math.min(stepsParam, info.limits.maxSteps));
  text.value = params.get('text') ?? SAMPLE_TEXT;
  text.maxLength = info.limits.maxBodyBytes / 2;
  byId('limits').textContent = `up to ${info.limits.maxTokens} tokens`;
  byId('image-limits').textContent = `PNG up to ${(info.limits.maxImageBytes / (1024 * 1024)).toFixed(0)} MiB and ${info.limits.maxImagePixels} pixels; resized to the model's input`;

  const settings = (): Settings => ({
    method: method.value,
    variant: variant.value as ViewerVariant,
    reduce: reduce.value as ViewerReduce,
    channel: Math.max(0, Math.floor(Number(channel.value) || 0)),
    mode: mode.value as Settings['mode'],
    curve: curve.value as Curve,
    steps: Math.max(1, Math.min(info.limits.maxSteps, Math.floor(Number(steps.value) || 32))),
    perturbation: perturbation.value as PerturbationKind,
    startLayer: Math.max(0, Math.floor(Number(startLayer.value) || 0)),
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
  const imageA = new ImagePane(0, host);
  const imageB = new ImagePane(1, host);
  let active: (Pane | ImagePane)[] = [];
  let uploaded: ImageSource | null = null;

  /** Shows the controls of the page's kind (text or image). */
  const showKind = () => {
    const image = kind === 'vision';
    textRow.hidden = image;
    inputModeLabel.hidden = image;
    byId('limits').hidden = image;
    imageRow.hidden = !image;
    byId('mode-label').hidden = image;
    byId('perturbation-label').hidden = image;
    byId('start-layer-label').hidden = !image;
    byId('tagline').textContent = image
      ? 'Vision Mamba and MLLA as implicit non-causal attention · explanations of the predicted class over the image patches'
      : 'Gated-linear RNNs as implicit causal attention · explanations of the next-token prediction';
    const head = [...reduce.options].find((o) => o.value === 'head')!;
    head.disabled = image;
    if (image && reduce.value === 'head') reduce.value = 'mean-abs';
    const upload_ = imageSource.value === 'upload';
    for (const node of imageRow.querySelectorAll<HTMLElement>('.sample-only')) node.hidden = upload_;
    for (const node of imageRow.querySelectorAll<HTMLElement>('.upload-only')) node.hidden = !upload_;
  };

  const layout = () => {
    const nextKind = kindOf(modelA.value);
    if (nextKind !== kind) {
      kind = nextKind;
      fillMethods(method.value);
    }
    showKind();
    const [first, second] = kind === 'text' ? [paneA, paneB] : [imageA, imageB];
    for (const p of kind === 'text' ? [imageA, imageB] : [paneA, paneB]) p.stop();
    const compare = info.models.find((m) => m.id === modelB.value);
    first.setModel(info.models.find((m) => m.id === modelA.value)!);
    if (compare !== undefined) second.setModel(compare);
    else second.stop();
    active = compare === undefined ? [first] : [first, second];
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

  const readImage = (): ImageSource | string => {
    if (imageSource.value === 'upload') return uploaded ?? 'choose a PNG file first';
    const seed = Number(sampleSeed.value);
    const index = Number(sampleIndex.value);
    if (!Number.isInteger(seed) || seed < 0 || !Number.isInteger(index) || index < 0) return 'seed and index: non-negative integers';
    return { sample: { seed, index, ...(sampleClass.value === '' ? {} : { class: sampleClass.value }) } };
  };

  const say = (message: string, error: boolean) => {
    status.textContent = message;
    status.classList.toggle('error', error);
  };

  const run = (which: (Pane | ImagePane)[] = active) => {
    if (kind === 'vision') {
      const image = readImage();
      if (typeof image === 'string') return say(image, true);
      say('', false);
      for (const p of which) if (p instanceof ImagePane) void p.analyze(image);
      return;
    }
    const input = readInput();
    if (typeof input === 'string') return say(input, true);
    say('', false);
    for (const p of which) if (p instanceof Pane) void p.analyze(input);
    for (const p of which) p.recolor();
  };

  const syncChannel = () => {
    const needs = reduce.value === 'channel' || reduce.value === 'head';
    channel.disabled = !needs;
    byId('channel-label').classList.toggle('disabled', !needs);
  };

  analyzeButton.addEventListener('click', () => run());
  explainImage.addEventListener('click', () => run());
  text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      run();
    }
  });
  imageSource.addEventListener('change', () => {
    showKind();
    if (imageSource.value === 'sample' || uploaded !== null) run();
  });
  for (const control of [sampleSeed, sampleIndex, sampleClass]) control.addEventListener('change', () => run());
  upload.addEventListener('change', () => {
    const file = upload.files?.[0];
    if (file === undefined) return;
    if (file.size > info.limits.maxImageBytes) {
      uploaded = null;
      return say(`${file.name} is ${(file.size / (1024 * 1024)).toFixed(1)} MiB; the viewer accepts PNG files up to ${(info.limits.maxImageBytes / (1024 * 1024)).toFixed(0)} MiB`, true);
    }
    void file.arrayBuffer().then((buffer) => {
      uploaded = { png: base64Of(new Uint8Array(buffer)), name: file.name };
      run();
    });
  });
  modelA.addEventListener('change', () => {
    fillCompare(modelB.value);
    layout();
    run([active[0]]);
  });
  modelB.addEventListener('change', () => {
    layout();
    if (modelB.value !== '') run([active[active.length - 1]]);
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
    for (const p of active) {
      if (p instanceof Pane) p.redrawAttention();
      else p.recolor();
    }
  });
  startLayer.addEventListener('change', () => {
    if (kind === 'vision') run();
  });

  syncChannel();
  layout();
  document.body.dataset.ready = 'true';
  if (params.get('run') !== '0') run();
}

void main();
