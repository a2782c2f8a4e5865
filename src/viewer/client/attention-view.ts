/**
 * The implicit attention of one pane: the focused layer large (hover: the value and its two
 * tokens; the explained row outlined), every layer as a thumbnail (pooled for long inputs),
 * or — when full matrices cost more than the server allows — the explained row of every layer
 * stacked. Layers are fetched one request at a time, the focused one first, so the first
 * picture comes quickly and the page never waits for the whole model.
 */
import type { AnalyzeResponse, AttentionJson, AttentionRequest, ViewerReduce } from '../protocol.ts';
import { visibleToken } from '../../viz/text.ts';
import { api, attentionValues, isAbort } from './api.ts';
import type { ColorScale } from './colors.ts';
import { matrixScale } from './colors.ts';
import { clear, el, formatValue } from './dom.ts';
import { fileSafe, savePng } from './export.ts';
import type { MatrixData, PlotGeometry, RowsGeometry } from './heatmap.ts';
import { cellSpan, drawFocus, drawRows, drawThumbnail, hitCell, hitRow, sizeCanvas } from './heatmap.ts';
import type { Input, Settings } from './pane.ts';
import { legend } from './strips.ts';
import { hideTooltip, showTooltip } from './tooltip.ts';

/** What the pictures are of: a model, its input and the analysis of it. */
export interface AttentionContext {
  model: string;
  input: Input;
  analysis: AnalyzeResponse;
}

const REDUCE_LABELS: Record<ViewerReduce, string> = {
  'mean-abs': 'mean |H| over channels',
  mean: 'mean H over channels',
  'mean-positive': 'mean max(H, 0) over channels',
  channel: 'channel',
  head: 'head',
};

/** Side of a thumbnail in CSS pixels, and the most rows/columns asked for one. */
const THUMB = 150;
/** Attention answers kept, so going back to a layer or setting costs nothing. */
const CACHE_SIZE = 32;

export class AttentionView {
  readonly root: HTMLElement;
  private context: AttentionContext | null = null;
  private isCurrent: () => boolean = () => true;
  private controller: AbortController | null = null;
  private focusLayer: number | null = null;
  /** Full-resolution matrices (or rows) by layer. */
  private layerData = new Map<number, AttentionJson>();
  /** Pooled thumbnails by layer (long inputs). */
  private thumbData = new Map<number, AttentionJson>();
  private cache = new Map<string, AttentionJson>();
  private focusGeometry: PlotGeometry | null = null;
  private rowsGeometry: RowsGeometry | null = null;

  private readonly attentionTitle = el('span', { class: 'attn-desc' });
  private readonly attentionStatus = el('span', { class: 'attn-status' });
  private readonly attentionNote = el('p', { class: 'note', attrs: { hidden: true } });
  private readonly focusTitle = el('div', { class: 'focus-title' });
  private readonly focus = el('canvas', { class: 'focus', data: { state: 'empty' } });
  private readonly focusLegend = el('div', { class: 'legend' });
  private readonly thumbs = el('div', { class: 'thumbs' });
  private readonly rows = el('canvas', { class: 'rows', data: { state: 'empty' }, attrs: { hidden: true } });

  constructor(
    private readonly index: number,
    private readonly settings: () => Settings,
  ) {
    const pngButton = el('button', { class: 'secondary small', text: 'Save PNG', attrs: { type: 'button', 'data-action': 'export-png' } });
    pngButton.addEventListener('click', () => this.exportPng());
    this.root = el(
      'div',
      { class: 'block attention' },
      el('h3', {}, 'Implicit attention ', this.attentionTitle, this.attentionStatus, pngButton),
      this.attentionNote,
      el('div', { class: 'attn-body' }, el('div', { class: 'focus-wrap' }, this.focusTitle, this.focus, this.focusLegend), this.thumbs),
      this.rows,
    );
    this.focus.addEventListener('mousemove', (e) => this.hoverFocus(e));
    this.focus.addEventListener('mouseleave', hideTooltip);
    this.rows.addEventListener('mousemove', (e) => this.hoverRows(e));
    this.rows.addEventListener('mouseleave', hideTooltip);
  }

  /**
   * Fetches and draws every layer for `context` with the current settings; `isCurrent` says
   * whether the pane still shows this analysis (answers for an older one are dropped).
   */
  async load(context: AttentionContext, isCurrent: () => boolean): Promise<void> {
    this.context = context;
    this.isCurrent = isCurrent;
    this.layerData.clear();
    this.thumbData.clear();
    try {
      await this.loadAttention();
    } catch (error) {
      if (!isAbort(error)) this.failed(error);
    }
  }

  /** Fetches again with the current settings (variant, reduction, channel or mode changed). */
  async reload(): Promise<void> {
    if (this.context !== null) await this.load(this.context, this.isCurrent);
  }

  stop(): void {
    this.controller?.abort();
  }

  /** Redraws from the data at hand (the display curve changed). */
  redraw(): void {
    if (this.focusLayer !== null && this.layerData.has(this.focusLayer)) this.renderMatrixView();
    if (!this.rows.hidden) this.renderRows();
  }

  /** Everything fetched, by layer (full matrices, else the pooled thumbnails). */
  data(): AttentionJson[] {
    const pooledOnly = [...this.thumbData].filter(([layer]) => !this.layerData.has(layer)).map(([, data]) => data);
    return [...this.layerData.values(), ...pooledOnly].sort((x, y) => x.layer - y.layer);
  }

  exportPng(): void {
    if (this.context === null) return;
    const canvas = this.rows.hidden ? this.focus : this.rows;
    const layer = this.rows.hidden ? `-layer${this.focusLayer ?? 0}` : '-rows';
    savePng(canvas, `iattn-${fileSafe(this.context.model)}${layer}.png`);
  }

  private attentionRequest(layer: number, mode: AttentionRequest['mode'], maxSide?: number): AttentionRequest {
    const s = this.settings();
    return {
      model: this.context!.model,
      ...this.context!.input,
      layer,
      variant: s.variant,
      reduce: s.reduce,
      ...(s.reduce === 'channel' || s.reduce === 'head' ? { channel: s.channel } : {}),
      ...(mode === undefined ? {} : { mode }),
      ...(maxSide === undefined ? {} : { maxSide }),
      target: { position: this.context!.analysis.target.position },
    };
  }

  private async fetchLayer(request: AttentionRequest, signal: AbortSignal): Promise<AttentionJson> {
    const key = JSON.stringify(request);
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const result = await api.attention(request, signal);
    this.cache.set(key, result);
    while (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    return result;
  }

  private async loadAttention(): Promise<void> {
    const a = this.context!.analysis;
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    const current = this.isCurrent;
    const stale = () => controller.signal.aborted || !current();
    const s = this.settings();
    clear(this.thumbs);
    this.attentionNote.hidden = true;
    this.attentionTitle.textContent = `· ${s.variant} · ${REDUCE_LABELS[s.reduce]}${s.reduce === 'channel' || s.reduce === 'head' ? ` ${s.channel}` : ''}`;
    const layers = a.layers.map((l) => l.layer);
    if (layers.length === 0) {
      this.attentionStatus.textContent = ' — this model has no layer with an implicit attention';
      return;
    }
    if (this.focusLayer === null || !layers.includes(this.focusLayer)) this.focusLayer = layers[layers.length - 1];
    this.focus.dataset.state = 'loading';
    this.attentionStatus.textContent = ` — computing layer ${this.focusLayer}…`;
    let first: AttentionJson;
    try {
      first = await this.fetchLayer(this.attentionRequest(this.focusLayer, s.mode), controller.signal);
    } catch (error) {
      if (stale() || isAbort(error)) return;
      this.failed(error);
      return;
    }
    if (stale()) return;
    this.layerData.set(first.layer, first);
    if (first.note !== undefined) {
      this.attentionNote.hidden = false;
      this.attentionNote.textContent = `${first.note} (pick one channel, or the hidden variant, for full matrices)`;
    }
    const mode = first.mode;
    this.rows.hidden = mode !== 'row';
    this.focus.parentElement!.hidden = mode === 'row';
    this.focusTitle.textContent = mode === 'row' ? '' : this.focusTitle.textContent;
    this.thumbs.hidden = mode === 'row';
    if (mode === 'matrix') {
      for (const layer of layers) this.thumbs.append(this.thumbCard(layer, a.layers.find((l) => l.layer === layer)!.mixer));
      this.renderMatrixView();
    } else {
      this.renderRows();
    }
    let done = 1;
    for (const layer of layers) {
      if (layer === first.layer) continue;
      this.attentionStatus.textContent = ` — computing layer ${layer} (${done}/${layers.length})…`;
      try {
        const data = await this.fetchLayer(this.attentionRequest(layer, mode, mode === 'matrix' ? THUMB : undefined), controller.signal);
        if (stale()) return;
        if (mode === 'row') {
          this.layerData.set(layer, data);
          this.renderRows();
        } else {
          // Unpooled thumbnails are the full matrices: keep them for focusing and export.
          if (data.pooled) this.thumbData.set(layer, data);
          else this.layerData.set(layer, data);
          this.drawThumb(layer, data);
        }
      } catch (error) {
        if (stale() || isAbort(error)) return;
        const card = this.thumbs.querySelector<HTMLElement>(`.thumb[data-layer="${layer}"]`);
        if (card !== null) {
          card.dataset.state = 'error';
          card.querySelector('.thumb-range')!.textContent = error instanceof Error ? error.message : String(error);
        }
      }
      done++;
    }
    this.attentionStatus.textContent = '';
  }

  failed(error: unknown): void {
    this.focus.dataset.state = 'error';
    this.attentionStatus.textContent = '';
    this.attentionNote.hidden = false;
    this.attentionNote.textContent = error instanceof Error ? error.message : String(error);
  }

  private thumbCard(layer: number, mixer: string): HTMLElement {
    const canvas = el('canvas', { class: 'thumb-canvas' });
    const card = el(
      'button',
      { class: `thumb${layer === this.focusLayer ? ' selected' : ''}`, data: { layer, state: 'loading' }, attrs: { type: 'button', title: `show layer ${layer} large` } },
      el('span', { class: 'thumb-title', text: `layer ${layer} · ${mixer}` }),
      canvas,
      el('span', { class: 'thumb-range', text: 'computing…' }),
    );
    sizeCanvas(canvas, THUMB, THUMB);
    card.addEventListener('click', () => void this.selectLayer(layer));
    return card;
  }

  private drawThumb(layer: number, data: AttentionJson): void {
    const card = this.thumbs.querySelector<HTMLElement>(`.thumb[data-layer="${layer}"]`);
    if (card === null) return;
    const m = matrixOf(data);
    drawThumbnail(card.querySelector('canvas')!, m, matrixScale(data.min, data.max, this.settings().curve), THUMB);
    card.dataset.state = 'ready';
    card.querySelector('.thumb-range')!.textContent = `[${formatValue(data.min)}, ${formatValue(data.max)}]${data.pooled ? ` · pooled ${data.shape[0]}²` : ''}`;
  }

  private async selectLayer(layer: number): Promise<void> {
    this.focusLayer = layer;
    for (const card of this.thumbs.querySelectorAll<HTMLElement>('.thumb')) card.classList.toggle('selected', card.dataset.layer === String(layer));
    const full = this.layerData.get(layer);
    if (full !== undefined && !full.pooled) {
      this.renderMatrixView();
      return;
    }
    this.focus.dataset.state = 'loading';
    const controller = this.controller ?? new AbortController();
    try {
      const data = await this.fetchLayer(this.attentionRequest(layer, 'matrix'), controller.signal);
      if (this.focusLayer !== layer) return;
      this.layerData.set(layer, data);
      this.renderMatrixView();
    } catch (error) {
      if (!isAbort(error)) this.failed(error);
    }
  }

  /** The focused layer large, and its thumbnail. */
  private renderMatrixView(): void {
    const layer = this.focusLayer!;
    const data = this.layerData.get(layer)!;
    const m = matrixOf(data);
    const scale = matrixScale(data.min, data.max, this.settings().curve);
    const width = this.root.clientWidth || 640;
    this.focusGeometry = drawFocus(this.focus, m, scale, this.context!.analysis.tokens.map((t) => t.text), width, this.context!.analysis.target.position);
    Object.assign(this.focus.dataset, {
      state: 'ready',
      layer: String(layer),
      length: String(data.length),
      side: String(data.shape[0]),
      plotLeft: String(this.focusGeometry.left),
      plotTop: String(this.focusGeometry.top),
      plotSize: String(this.focusGeometry.size),
    });
    this.focusTitle.textContent = `layer ${layer} · ${data.mixer}${data.kind === 'attention' ? ' (softmax attention)' : ''} · ${data.length}×${data.length}${data.pooled ? ` pooled to ${data.shape[0]}²` : ''} · ${data.elapsedMs.toFixed(0)} ms`;
    clear(this.focusLegend);
    this.focusLegend.append(legend(scale, data.min < 0 ? -scale.scale : 0, scale.scale), el('span', { class: 'hint', text: ' hover for values; the explained row is outlined' }));
    const channels = data.reduce === 'head' ? `${data.heads} heads` : `${data.channels} ${data.kind === 'attention' ? 'heads' : data.variant === 'hidden' ? 'cores' : 'channels'}`;
    this.focusLegend.append(el('span', { class: 'hint', text: ` · ${channels}` }));
    this.drawThumb(layer, data);
  }

  hoverFocus(e: MouseEvent): void {
    const g = this.focusGeometry;
    const layer = this.focusLayer;
    const data = layer === null ? undefined : this.layerData.get(layer);
    if (g === null || data === undefined || this.context === null || data.mode !== 'matrix') return;
    const side = data.shape[0];
    const hit = hitCell(g, side, e.offsetX, e.offsetY);
    if (hit === null) {
      hideTooltip();
      return;
    }
    const values = attentionValuesCached(data);
    const value = values[hit.row * side + hit.col];
    const tokens = this.context.analysis.tokens;
    const name = (i: number) => `${i} ${JSON.stringify(visibleToken(tokens[i].text))}`;
    const lines = [`layer ${data.layer} · ${data.mixer} · ${data.variant} · ${REDUCE_LABELS[data.reduce]}${data.channel === undefined ? '' : ` ${data.channel}`}`];
    if (data.pooled) {
      const [t0, t1] = cellSpan(hit.row, side, data.length);
      const [s0, s1] = cellSpan(hit.col, side, data.length);
      lines.push(`query ${t0}–${t1}, source ${s0}–${s1}`, Number.isNaN(value) ? 'future positions (masked)' : `mean of the block: ${formatValue(value)}`);
    } else if (hit.col > hit.row) {
      lines.push(`query ${name(hit.row)}`, `source ${name(hit.col)}`, 'a future position: not attended (causal)');
    } else {
      lines.push(`H[t=${hit.row}, s=${hit.col}] = ${formatValue(value)}`, `query  ${name(hit.row)}`, `source ${name(hit.col)}`);
    }
    showTooltip(e.clientX, e.clientY, lines, { kind: 'attention', pane: this.index, layer: data.layer, row: hit.row, col: hit.col, value: String(value) });
  }

  private renderRows(): void {
    const a = this.context!.analysis;
    const layers = a.layers.map((l) => l.layer);
    const rows = layers.map((l) => {
      const d = this.layerData.get(l);
      return d === undefined ? null : attentionValuesCached(d);
    });
    const curve = this.settings().curve;
    const scales: (ColorScale | null)[] = layers.map((l) => {
      const d = this.layerData.get(l);
      return d === undefined ? null : matrixScale(d.min, d.max, curve);
    });
    const width = this.root.clientWidth || 640;
    this.rowsGeometry = drawRows(this.rows, rows, scales, layers.map((l) => `layer ${l}`), a.tokens.length, a.target.position, width);
    this.rows.dataset.state = rows.every((r) => r !== null) ? 'ready' : 'loading';
    this.rows.dataset.length = String(a.tokens.length);
  }

  hoverRows(e: MouseEvent): void {
    const g = this.rowsGeometry;
    const a = this.context?.analysis;
    if (g === null || a === undefined) return;
    const layers = a.layers.map((l) => l.layer);
    const hit = hitRow(g, layers.length, a.tokens.length, e.offsetX, e.offsetY);
    const data = hit === null ? undefined : this.layerData.get(layers[hit.k]);
    if (hit === null || data === undefined) {
      hideTooltip();
      return;
    }
    const value = attentionValuesCached(data)[hit.s];
    const t = a.target.position;
    showTooltip(
      e.clientX,
      e.clientY,
      [`layer ${data.layer} · ${data.mixer} · row of the explained position`, `H[t=${t}, s=${hit.s}] = ${formatValue(value)}`, `query  ${t} ${JSON.stringify(visibleToken(a.tokens[t].text))}`, `source ${hit.s} ${JSON.stringify(visibleToken(a.tokens[hit.s].text))}`],
      { kind: 'attention-row', pane: this.index, layer: data.layer, row: t, col: hit.s, value: String(value) },
    );
  }
}

const decoded = new WeakMap<AttentionJson, Float32Array>();

function attentionValuesCached(a: AttentionJson): Float32Array {
  let v = decoded.get(a);
  if (v === undefined) {
    v = attentionValues(a);
    decoded.set(a, v);
  }
  return v;
}

function matrixOf(a: AttentionJson): MatrixData {
  return { values: attentionValuesCached(a), side: a.shape[0], length: a.length };
}
