/**
 * One vision model's column of the viewer in image mode: the predicted class with every
 * class's probability, the input image (and for a generated sample its ground-truth mask),
 * the selected method's relevance map over the image (the object's outline drawn on it when
 * known), every method's map side by side, the selected method's per-layer maps, and every
 * layer's implicit attention as the classifier reads it (the class token's row for Vision
 * Mamba, the mean row for MLLA). Hover any map for the patch and its value. Two panes show two
 * models on the same image.
 *
 * Requests of an earlier image are aborted and their answers ignored (a generation counter).
 */
import type { ImageRequest, ImageResponse, ImageSource, ModelSummary } from '../protocol.ts';
import { api, ApiFailure, isAbort } from './api.ts';
import type { ColorScale } from './colors.ts';
import { gradientCss, matrixScale, relevanceScale } from './colors.ts';
import { clear, el, formatValue } from './dom.ts';
import { fileSafe, saveJson } from './export.ts';
import { bytesOf, displayMap, drawImageMap, drawMask, hitPatch } from './image-maps.ts';
import type { ImageData3 } from './image-maps.ts';
import type { PaneHost } from './pane.ts';
import { legend } from './strips.ts';
import { hideTooltip, showTooltip } from './tooltip.ts';

const BIG = 184;
const SMALL = 112;

const REDUCE_TEXT: Record<string, string> = {
  'mean-abs': 'mean |H| over channels',
  mean: 'mean H over channels',
  'mean-positive': 'mean max(H, 0) over channels',
  channel: 'channel',
};

export class ImagePane {
  readonly root: HTMLElement;
  private model: ModelSummary | null = null;
  private input: ImageSource | null = null;
  private result: ImageResponse | null = null;
  private image: ImageData3 | null = null;
  private mask: Uint8Array | null = null;
  private generation = 0;
  private controller: AbortController | null = null;

  private readonly title = el('h2', { class: 'model-name' });
  private readonly meta = el('span', { class: 'meta' });
  private readonly error = el('p', { class: 'error', attrs: { hidden: true, role: 'alert' } });
  private readonly prediction = el('p', { class: 'target prediction' });
  private readonly probabilities = el('div', { class: 'probs', attrs: { 'aria-label': 'class probabilities' } });
  private readonly figures = el('div', { class: 'figures' });
  private readonly methods = el('div', { class: 'image-grid methods-grid' });
  private readonly layersTitle = el('h3');
  private readonly layers = el('div', { class: 'image-grid layers-grid' });
  private readonly attentionTitle = el('span', { class: 'attn-desc' });
  private readonly attentionStatus = el('span', { class: 'attn-status' });
  private readonly attention = el('div', { class: 'image-grid attention-grid' });

  constructor(
    readonly index: number,
    private readonly host: PaneHost,
  ) {
    const jsonButton = el('button', { class: 'secondary small', text: 'Save JSON', attrs: { type: 'button', 'data-action': 'export-json' } });
    jsonButton.addEventListener('click', () => this.exportJson());
    this.root = el(
      'section',
      { class: 'pane image-pane', data: { pane: index, state: 'idle', kind: 'vision' } },
      el('header', { class: 'pane-head' }, el('div', {}, this.title, this.meta), jsonButton),
      this.error,
      el('div', { class: 'block' }, this.prediction, this.probabilities),
      el('div', { class: 'block' }, this.figures),
      el('div', { class: 'block' }, el('h3', { text: 'All methods' }, el('span', { class: 'hint', text: '· click a map to select its method' })), this.methods),
      el('div', { class: 'block' }, this.layersTitle, this.layers),
      el('div', { class: 'block image-attention' }, el('h3', {}, 'Implicit attention per layer ', this.attentionTitle, this.attentionStatus), this.attention),
    );
  }

  setModel(model: ModelSummary): void {
    if (this.model?.id === model.id) return;
    this.model = model;
    this.root.dataset.model = model.id;
    this.title.textContent = model.name;
    this.describeModel();
  }

  private describeModel(): void {
    const m = this.model!;
    const img = m.image;
    this.meta.textContent = ` ${m.modelType} · ${m.layers} layers${img === undefined ? '' : ` · ${img.imageSize}×${img.imageSize} pixels, ${img.grid}×${img.grid} patches of ${img.patchSize}×${img.patchSize}`}`;
  }

  private request(input: ImageSource, methods?: string[]): ImageRequest {
    const s = this.host.settings();
    return {
      model: this.model!.id,
      image: input,
      ...(methods === undefined ? {} : { methods }),
      options: { steps: s.steps, startLayer: Math.min(s.startLayer, Math.max(0, this.model!.layers - 1)) },
      attention: { variant: s.variant, reduce: s.reduce === 'head' ? 'mean-abs' : s.reduce, ...(s.reduce === 'channel' ? { channel: s.channel } : {}) },
    };
  }

  /** Explains `input` with every method. */
  async analyze(input: ImageSource): Promise<void> {
    if (this.model === null) return;
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    const generation = ++this.generation;
    this.input = input;
    this.setState('loading');
    this.showError(null);
    try {
      const result = await api.image(this.request(input), controller.signal);
      if (generation !== this.generation) return;
      this.result = result;
      this.image = { rgb: bytesOf(result.image.pixels), size: result.image.size, grid: result.grid };
      this.mask = result.image.mask === undefined ? null : bytesOf(result.image.mask);
      this.render();
      this.setState('ready');
    } catch (error) {
      if (isAbort(error) || generation !== this.generation) return;
      this.setState('error');
      this.showError(error instanceof ApiFailure ? error.message : `unexpected error: ${(error as Error).message}`);
    }
  }

  /** Fetches the per-layer attention again (variant, reduction or channel changed); the methods' maps stay. */
  async refreshAttention(): Promise<void> {
    if (this.result === null || this.input === null || this.model === null) return;
    const generation = this.generation;
    this.attention.dataset.state = 'loading';
    this.attentionStatus.textContent = ' — computing…';
    try {
      const r = await api.image(this.request(this.input, ['random']), this.controller?.signal);
      if (generation !== this.generation || this.result === null) return;
      this.result = { ...this.result, attention: r.attention, query: r.query };
      this.renderAttention();
    } catch (error) {
      if (isAbort(error)) return;
      this.attention.dataset.state = 'error';
      this.attentionStatus.textContent = ` — ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  stop(): void {
    this.generation++;
    this.controller?.abort();
  }

  /** Redraws for the selected method and display curve. */
  recolor(): void {
    if (this.result !== null) this.render();
  }

  exportJson(): void {
    if (this.result === null || this.model === null) return;
    saveJson({ ...this.result, encoding: 'image.pixels: base64 of 8-bit RGB [S, S, 3]; image.mask: base64 of bytes 0/1 [S, S]; scores: per patch, row-major over the G×G grid' }, `iattn-${fileSafe(this.model.id)}-image.json`);
  }

  private setState(state: 'idle' | 'loading' | 'ready' | 'error'): void {
    this.root.dataset.state = state;
    this.root.classList.toggle('failed', state === 'error');
  }

  private showError(message: string | null): void {
    this.error.hidden = message === null;
    this.error.textContent = message ?? '';
  }

  private render(): void {
    this.renderPrediction();
    this.renderFigures();
    this.renderMethods();
    this.renderLayers();
    this.renderAttention();
  }

  private renderPrediction(): void {
    const r = this.result!;
    const p = r.prediction;
    clear(this.prediction);
    clear(this.probabilities);
    this.prediction.append('predicted ', el('span', { class: 'token-chip', text: p.predictedName }), ` p = ${p.predictedProbability.toFixed(3)}`);
    if (p.label !== p.predicted) this.prediction.append(' · explaining ', el('span', { class: 'token-chip', text: p.labelName }), ` p = ${p.probability.toFixed(3)}`);
    if (r.image.labelName !== undefined) {
      const right = r.image.labelName === p.predictedName;
      this.prediction.append(' · true class ', el('span', { class: 'token-chip', text: r.image.labelName }), el('span', { class: right ? 'verdict right' : 'verdict wrong', text: right ? ' ✓' : ' ✗' }));
    }
    this.prediction.dataset.predicted = p.predictedName;
    this.prediction.dataset.probability = String(p.predictedProbability);
    r.labels.forEach((name, k) => {
      const bar = el('span', { class: 'prob-bar' });
      bar.style.width = `${(100 * p.probabilities[k]).toFixed(1)}%`;
      this.probabilities.append(
        el(
          'div',
          { class: `prob-row${k === p.predicted ? ' top' : ''}`, data: { class: name, p: p.probabilities[k] } },
          el('span', { class: 'prob-name', text: name }),
          el('span', { class: 'prob-track' }, bar),
          el('span', { class: 'prob-value', text: p.probabilities[k].toFixed(3) }),
        ),
      );
    });
  }

  private renderFigures(): void {
    const r = this.result!;
    const img = this.image!;
    const method = this.host.settings().method;
    const e = r.explanations.find((x) => x.method === method);
    clear(this.figures);
    const input = el('canvas', { class: 'image-input' });
    drawImageMap(input, img, BIG, null, null);
    const source = r.image.source === 'sample' ? r.image.name : `${r.image.name} (${r.image.width}×${r.image.height} → ${r.image.size}×${r.image.size})`;
    this.figures.append(figure(`input · ${source}`, input));
    if (this.mask !== null) {
      const mask = el('canvas', { class: 'image-mask' });
      drawMask(mask, this.mask, img.size, BIG);
      this.figures.append(figure('ground-truth mask', mask));
    }
    const focus = el('canvas', { class: 'image-focus', data: { method, state: 'empty' } });
    const box = figure(`${method} over the image`, focus);
    if (e?.scores !== undefined) {
      const shown = this.drawMap(focus, BIG, e.scores, 'relevance', this.mask);
      focus.dataset.state = 'ready';
      this.hover(focus, method, e.scores);
      box.append(el('div', { class: 'legend' }, legend(shown.scale, shown.lo, shown.hi)));
    } else {
      drawImageMap(focus, img, BIG, null, null, { mask: this.mask });
      focus.dataset.state = 'error';
      box.append(el('p', { class: 'method-error', text: e?.error ?? `${method} is not a vision method` }));
    }
    this.figures.append(box);
  }

  private renderMethods(): void {
    const r = this.result!;
    const selected = this.host.settings().method;
    clear(this.methods);
    for (const e of r.explanations) {
      const card = el('div', { class: `map-card${e.method === selected ? ' selected' : ''}`, data: { method: e.method }, title: `${e.description}\n${e.recipe}` });
      card.append(el('span', { class: 'map-title', text: e.method }));
      if (e.scores !== undefined) {
        const canvas = el('canvas', { class: 'method-map', data: { method: e.method } });
        this.drawMap(canvas, SMALL, e.scores, 'relevance');
        this.hover(canvas, e.method, e.scores);
        card.append(canvas);
        if (e.elapsedMs !== undefined) card.append(el('span', { class: 'map-note', text: `${e.elapsedMs < 10 ? e.elapsedMs.toFixed(1) : e.elapsedMs.toFixed(0)} ms` }));
      } else {
        card.append(el('span', { class: 'method-error', text: e.error ?? 'not run' }));
      }
      card.addEventListener('click', () => this.host.selectMethod(e.method));
      this.methods.append(card);
    }
  }

  private renderLayers(): void {
    const method = this.host.settings().method;
    const e = this.result!.explanations.find((x) => x.method === method);
    clear(this.layers);
    this.layersTitle.textContent = `Layers · ${method}`;
    if (e?.layers === undefined) {
      this.layers.append(el('p', { class: 'note', text: `${method} has no per-layer maps (the attention recipes raw, rollout, hidden-attr, unified-attr and grad-attn do)` }));
      return;
    }
    for (const l of e.layers) {
      const canvas = el('canvas', { class: 'layer-map', data: { layer: l.layer, method } });
      this.drawMap(canvas, SMALL, l.scores, 'relevance');
      this.hover(canvas, `${method} · layer ${l.layer}`, l.scores);
      this.layers.append(el('div', { class: 'map-card' }, el('span', { class: 'map-title', text: `layer ${l.layer}` }), canvas));
    }
  }

  private renderAttention(): void {
    const r = this.result!;
    const a = r.attention;
    clear(this.attention);
    this.attention.dataset.state = 'ready';
    this.attentionStatus.textContent = '';
    const row = r.query === 'cls' ? 'the class token’s row' : 'the mean of the rows (the classifier averages the tokens)';
    this.attentionTitle.textContent = `· ${row} · ${a.variant} · ${REDUCE_TEXT[a.reduce] ?? a.reduce}${a.channel === undefined ? '' : ` ${a.channel}`} (of ${a.channels}) · each map min–max scaled`;
    const bar = el('span', { class: 'bar' });
    bar.style.background = gradientCss(matrixScale(0, 1, this.host.settings().curve));
    this.attentionTitle.append(' ', el('span', { class: 'colorbar' }, el('span', { text: 'min' }), bar, el('span', { text: 'max' })));
    for (const l of a.layers) {
      const canvas = el('canvas', { class: 'attention-map', data: { layer: l.layer } });
      this.drawMap(canvas, SMALL, l.scores, 'attention');
      this.hover(canvas, `layer ${l.layer} attention`, l.scores);
      const note = `max ${formatValue(l.max)}${l.cls === undefined ? '' : ` · cls→cls ${formatValue(l.cls)}`}`;
      this.attention.append(el('div', { class: 'map-card', data: { layer: l.layer } }, el('span', { class: 'map-title', text: `layer ${l.layer} · ${l.mixer}` }), canvas, el('span', { class: 'map-note', text: note })));
    }
  }

  /**
   * One map over the image: relevance in orange (blue–red when signed), opacity growing with
   * the value; attention in viridis with the display curve, a fixed opacity. Non-negative maps
   * are min–max scaled (the colour bar gives the values of its ends).
   */
  private drawMap(canvas: HTMLCanvasElement, side: number, values: readonly number[], kind: 'relevance' | 'attention', mask: Uint8Array | null = null): { scale: ColorScale; lo: number; hi: number } {
    const curve = this.host.settings().curve;
    const shown =
      kind === 'relevance'
        ? displayMap(values, relevanceScale([1], 0), relevanceScale([-1, 1], 1))
        : displayMap(values, matrixScale(0, 1, curve), matrixScale(-1, 1, curve));
    drawImageMap(canvas, this.image!, side, shown.values, shown.scale, { mask, opacity: kind === 'relevance' ? 'value' : 0.8 });
    canvas.dataset.lo = String(shown.lo);
    canvas.dataset.hi = String(shown.hi);
    return shown;
  }

  /** Hover read-out of a map: the patch and its value (also as data attributes for tests). */
  private hover(canvas: HTMLCanvasElement, label: string, values: readonly number[]): void {
    const grid = this.image!.grid;
    canvas.addEventListener('mousemove', (ev) => {
      const side = Number(canvas.dataset.side);
      const hit = hitPatch(side, grid, ev.offsetX, ev.offsetY);
      if (hit === null) return hideTooltip();
      const v = values[hit.i * grid + hit.j];
      showTooltip(ev.clientX, ev.clientY, [`${label} · patch (${hit.i}, ${hit.j})`, `value ${formatValue(v)}`], {
        kind: 'patch',
        pane: this.index,
        map: label,
        row: hit.i,
        col: hit.j,
        value: String(v),
      });
    });
    canvas.addEventListener('mouseleave', hideTooltip);
  }
}

function figure(caption: string, canvas: HTMLCanvasElement): HTMLElement {
  return el('figure', { class: 'image-figure' }, canvas, el('figcaption', { text: caption }));
}
