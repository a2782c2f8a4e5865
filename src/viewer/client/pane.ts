/**
 * One model's column of the viewer: the prediction, the input tokens coloured by the selected
 * method, every method side by side (one strip each), every layer's implicit attention (a
 * large heatmap of the focused layer with hover read-out, small ones of the others, or the
 * target row of every layer for long inputs), and the perturbation curve. Two panes show two
 * models on the same text.
 *
 * Requests of an earlier analysis are aborted and their answers ignored (a generation
 * counter), so quick changes never mix results.
 */
import type { AnalyzeResponse, ExplanationJson, InfoResponse, ModelSummary, PerturbationKind, PerturbationResponse, ViewerReduce, ViewerVariant } from '../protocol.ts';
import { visibleToken } from '../../viz/text.ts';
import { api, ApiFailure, isAbort } from './api.ts';
import { AttentionView } from './attention-view.ts';
import type { Curve } from './colors.ts';
import { clear, el } from './dom.ts';
import { fileSafe, saveJson } from './export.ts';
import { drawPerturbation } from './plot.ts';
import { renderMethodTable, renderTokenStrip } from './strips.ts';
import type { StripsView } from './strips.ts';

export interface Settings {
  method: string;
  variant: ViewerVariant;
  reduce: ViewerReduce;
  channel: number;
  mode: 'auto' | 'matrix' | 'row';
  curve: Curve;
  steps: number;
  perturbation: PerturbationKind;
  /** First layer of the attention recipes (image mode). */
  startLayer: number;
}

export interface Input {
  text?: string;
  ids?: number[];
}

export interface PaneHost {
  settings(): Settings;
  /** A method row was clicked. */
  selectMethod(name: string): void;
}

const PERTURBATION_HINT = 'Delete (or pad) 0–90 % of the tokens before the explained position in the order of the selected method, re-run the model, and follow the probability of its prediction.';

export class Pane {
  readonly root: HTMLElement;
  private model: ModelSummary | null = null;
  private input: Input = {};
  private analysis: AnalyzeResponse | null = null;
  private explanations = new Map<string, ExplanationJson>();
  private generation = 0;
  private controller: AbortController | null = null;
  private readonly attention: AttentionView;
  private perturbationResult: PerturbationResponse | null = null;

  private readonly title = el('h2', { class: 'model-name' });
  private readonly meta = el('span', { class: 'meta' });
  private readonly targetLine = el('p', { class: 'target' });
  private readonly error = el('p', { class: 'error', attrs: { hidden: true, role: 'alert' } });
  private readonly stripTitle = el('h3');
  private readonly strip = el('div', { class: 'strip', attrs: { 'aria-label': 'input tokens coloured by relevance' } });
  private readonly stripLegend = el('div', { class: 'legend' });
  private readonly methods = el('div', { class: 'methods' });
  private readonly curve = el('canvas', { class: 'curve', attrs: { hidden: true } });
  private readonly curveNote = el('p', { class: 'note' });
  private readonly curveButton = el('button', { class: 'secondary', text: 'Compute', attrs: { type: 'button' } });

  constructor(
    readonly index: number,
    private readonly info: InfoResponse,
    private readonly host: PaneHost,
  ) {
    const jsonButton = el('button', { class: 'secondary small', text: 'Save JSON', attrs: { type: 'button', 'data-action': 'export-json' } });
    jsonButton.addEventListener('click', () => this.exportJson());
    this.attention = new AttentionView(index, () => host.settings());
    this.curveButton.addEventListener('click', () => void this.computePerturbation());
    this.root = el(
      'section',
      { class: 'pane', data: { pane: index, state: 'idle' } },
      el('header', { class: 'pane-head' }, el('div', {}, this.title, this.meta), jsonButton),
      this.error,
      this.targetLine,
      el('div', { class: 'block' }, this.stripTitle, this.strip, this.stripLegend, el('h3', { text: 'All methods' }), this.methods),
      this.attention.root,
      el('div', { class: 'block perturbation' }, el('h3', {}, 'Perturbation curve ', this.curveButton), this.curveNote, this.curve),
    );
    this.curveNote.textContent = PERTURBATION_HINT;
  }

  /** Shows `model` in this pane (a new model clears nothing until the next analysis; the same model keeps its results). */
  setModel(model: ModelSummary): void {
    if (this.model?.id === model.id) return;
    this.model = model;
    this.root.dataset.model = model.id;
    this.title.textContent = model.name;
    this.describeModel();
  }

  private describeModel(): void {
    const m = this.model!;
    this.meta.textContent = ` ${m.modelType} · ${m.layers} layers${m.hasTokenizer ? '' : ' · no tokenizer: give token ids'}`;
  }

  /** Runs the whole analysis of `input` (target position: `position`, default the last token). */
  async analyze(input: Input, position?: number): Promise<void> {
    if (this.model === null) return;
    this.controller?.abort();
    this.attention.stop();
    const controller = new AbortController();
    this.controller = controller;
    const generation = ++this.generation;
    this.input = input;
    this.perturbationResult = null;
    this.curve.hidden = true;
    this.curve.dataset.state = 'empty';
    this.curveNote.textContent = PERTURBATION_HINT;
    this.describeModel();
    this.setState('loading');
    this.showError(null);
    const settings = this.host.settings();
    const fast = this.info.methods.filter((m) => m.cost !== 'steps').map((m) => m.name);
    const slow = this.info.methods.filter((m) => m.cost === 'steps').map((m) => m.name);
    const request = { model: this.model.id, ...input, ...(position === undefined ? {} : { target: { position } }), options: { steps: settings.steps } };
    try {
      const analysis = await api.analyze({ ...request, methods: fast }, controller.signal);
      if (generation !== this.generation) return;
      this.analysis = analysis;
      this.explanations = new Map(analysis.explanations.map((e) => [e.method, e]));
      for (const name of slow) this.explanations.set(name, { ...this.info.methods.find((m) => m.name === name)!, method: name, error: 'computing…' });
      this.meta.textContent = ` ${analysis.model.modelType} · ${analysis.model.layers} layers · ${analysis.tokens.length} tokens`;
      this.renderTarget();
      this.renderExplanations();
      const slowDone = slow.length === 0 ? Promise.resolve() : this.loadSlow(request, slow, generation, controller.signal);
      const attention = this.attention.load({ model: this.model.id, input, analysis }, () => generation === this.generation);
      await Promise.all([attention, slowDone]);
      if (generation === this.generation) this.setState('ready');
    } catch (error) {
      if (isAbort(error) || generation !== this.generation) return;
      this.fail(error);
    }
  }

  /** Stops this pane's requests (it was taken off the page). */
  stop(): void {
    this.generation++;
    this.controller?.abort();
    this.attention.stop();
  }

  /** Recolours the token strip and method table for the selected method. */
  recolor(): void {
    if (this.analysis === null) return;
    this.renderExplanations();
    this.curveButton.textContent = `Compute for ${this.host.settings().method}`;
  }

  /** Re-fetches the attention pictures (variant, reduction, channel or mode changed). */
  async refreshAttention(): Promise<void> {
    if (this.analysis !== null) await this.attention.reload();
  }

  /** Redraws the attention pictures from the data at hand (the display curve changed). */
  redrawAttention(): void {
    this.attention.redraw();
  }

  exportJson(): void {
    if (this.analysis === null || this.model === null) return;
    saveJson(
      {
        model: this.analysis.model,
        input: this.input,
        target: this.analysis.target,
        tokens: this.analysis.tokens,
        explanations: [...this.explanations.values()],
        attention: this.attention.data(),
        ...(this.perturbationResult === null ? {} : { perturbation: this.perturbationResult }),
        encoding: 'attention[].data: base64 of little-endian float32, row-major, shape attention[].shape',
      },
      `iattn-${fileSafe(this.model.id)}.json`,
    );
  }

  private setState(state: 'idle' | 'loading' | 'ready' | 'error'): void {
    this.root.dataset.state = state;
    // A failed analysis hides the results of the previous one, so nothing stale is on screen.
    this.root.classList.toggle('failed', state === 'error');
  }

  private fail(error: unknown): void {
    this.setState('error');
    this.showError(error instanceof ApiFailure ? error.message : `unexpected error: ${(error as Error).message}`);
  }

  private showError(message: string | null): void {
    this.error.hidden = message === null;
    this.error.textContent = message ?? '';
  }

  private async loadSlow(request: object, methods: string[], generation: number, signal: AbortSignal): Promise<void> {
    for (const name of methods) {
      try {
        const result = await api.analyze({ ...(request as { model: string }), methods: [name] }, signal);
        if (generation !== this.generation) return;
        for (const e of result.explanations) this.explanations.set(e.method, e);
      } catch (error) {
        if (isAbort(error) || generation !== this.generation) return;
        const base = this.explanations.get(name)!;
        this.explanations.set(name, { ...base, error: error instanceof Error ? error.message : String(error) });
      }
      this.renderExplanations();
    }
  }

  // ---- prediction and explanations -------------------------------------------------------

  private renderTarget(): void {
    const a = this.analysis!;
    const t = a.target;
    clear(this.targetLine);
    const token = (text: string) => el('span', { class: 'token-chip', text: visibleToken(text) });
    this.targetLine.append(
      t.token === t.topToken ? 'next token ' : 'target token ',
      token(t.text),
      ` p = ${t.probability.toFixed(3)} after position ${t.position}`,
      ...(t.token === t.topToken ? [] : [' (model’s top: ', token(t.topText), ` p = ${t.topProbability.toFixed(3)})`]),
      el('span', { class: 'hint', text: ' · click a token to explain the prediction after it' }),
    );
  }

  private renderExplanations(): void {
    const method = this.host.settings().method;
    this.stripTitle.textContent = `Relevance · ${method}`;
    this.curveButton.textContent = `Compute for ${method}`;
    const view: StripsView = {
      pane: this.index,
      analysis: this.analysis!,
      explanations: this.explanations,
      methods: this.info.methods,
      selected: method,
      onToken: (position) => void this.analyze(this.input, position),
      onMethod: (name) => this.host.selectMethod(name),
    };
    renderTokenStrip(this.strip, this.stripLegend, view);
    renderMethodTable(this.methods, view, Math.max(200, (this.methods.clientWidth || this.root.clientWidth - 28) - 170));
  }

  // ---- perturbation ------------------------------------------------------------------------

  private async computePerturbation(): Promise<void> {
    if (this.analysis === null || this.model === null) return;
    const s = this.host.settings();
    const generation = this.generation;
    this.curveButton.disabled = true;
    this.curveNote.textContent = `re-running the model on perturbed inputs (${s.method}, ${s.perturbation})…`;
    this.curve.dataset.state = 'loading';
    try {
      const r = await api.perturbation(
        { model: this.model.id, ...this.input, method: s.method, target: { position: this.analysis.target.position }, options: { steps: s.steps }, perturbation: s.perturbation },
        this.controller?.signal,
      );
      if (generation !== this.generation) return;
      this.perturbationResult = r;
      this.curve.hidden = false;
      drawPerturbation(this.curve, r, this.root.clientWidth - 24);
      Object.assign(this.curve.dataset, { state: 'ready', method: r.method, aucMorf: String(r.auc.morf), aucLerf: String(r.auc.lerf) });
      this.curveNote.textContent = `${r.method}: probability of ${JSON.stringify(visibleToken(r.target.text))} as the most (MoRF) or least (LeRF) relevant tokens are ${r.perturbation === 'delete' ? 'deleted' : 'replaced by the pad token'}.`;
    } catch (error) {
      if (isAbort(error)) return;
      this.curve.dataset.state = 'error';
      this.curveNote.textContent = error instanceof Error ? error.message : String(error);
    } finally {
      this.curveButton.disabled = false;
    }
  }
}
