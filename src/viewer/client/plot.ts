/** The perturbation curve on a canvas: normalised target probability against the fraction perturbed, MoRF and LeRF. */
import type { PerturbationResponse } from '../protocol.ts';
import { sizeCanvas } from './heatmap.ts';

const MORF = '#d62728';
const LERF = '#1f77b4';

export function drawPerturbation(canvas: HTMLCanvasElement, r: PerturbationResponse, width: number): void {
  const w = Math.min(width, 520);
  const h = 240;
  const ctx = sizeCanvas(canvas, w, h);
  const left = 60;
  const right = 150;
  const top = 14;
  const bottom = 34;
  const pw = w - left - right;
  const ph = h - top - bottom;
  const ymax = Math.max(1.2, ...r.morf, ...r.lerf);
  const xmax = r.fractions[r.fractions.length - 1] || 1;
  const X = (x: number) => left + (x / xmax) * pw;
  const Y = (y: number) => top + ph - (Math.max(0, y) / ymax) * ph;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, h);
  ctx.font = '11px system-ui, sans-serif';
  ctx.strokeStyle = '#ddd';
  ctx.fillStyle = '#666';
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  const yStep = ymax > 3 ? 1 : 0.25;
  for (let y = 0; y <= ymax + 1e-9; y += yStep) {
    ctx.beginPath();
    ctx.moveTo(left, Y(y) + 0.5);
    ctx.lineTo(left + pw, Y(y) + 0.5);
    ctx.stroke();
    ctx.fillText(y.toFixed(yStep < 1 ? 2 : 0), left - 5, Y(y));
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const x of r.fractions) if (Math.round(x * 10) % 2 === 0) ctx.fillText(`${Math.round(x * 100)}%`, X(x), top + ph + 5);
  ctx.fillText('tokens perturbed (by relevance)', left + pw / 2, top + ph + 19);
  ctx.save();
  ctx.translate(12, top + ph / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText('p(target) / p₀', 0, 0);
  ctx.restore();
  ctx.strokeStyle = '#999';
  ctx.beginPath();
  ctx.moveTo(left + 0.5, top);
  ctx.lineTo(left + 0.5, top + ph + 0.5);
  ctx.lineTo(left + pw, top + ph + 0.5);
  ctx.stroke();
  const line = (ys: number[], color: string) => {
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ys.forEach((y, i) => (i === 0 ? ctx.moveTo(X(r.fractions[i]), Y(y)) : ctx.lineTo(X(r.fractions[i]), Y(y))));
    ctx.stroke();
    ys.forEach((y, i) => {
      ctx.beginPath();
      ctx.arc(X(r.fractions[i]), Y(y), 2.5, 0, 2 * Math.PI);
      ctx.fill();
    });
  };
  line(r.lerf, LERF);
  line(r.morf, MORF);
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  const legend = (y: number, color: string, label: string, auc: number) => {
    ctx.fillStyle = color;
    ctx.fillRect(left + pw + 14, y - 1.5, 16, 3);
    ctx.fillStyle = '#333';
    ctx.fillText(`${label}`, left + pw + 36, y - 7);
    ctx.fillStyle = '#666';
    ctx.fillText(`AUC ${auc.toFixed(3)}`, left + pw + 36, y + 7);
  };
  legend(top + 12, MORF, 'MoRF (↓ better)', r.auc.morf);
  legend(top + 48, LERF, 'LeRF (↑ better)', r.auc.lerf);
  ctx.fillStyle = '#333';
  ctx.fillText(`ΔA^F ${r.auc.delta.toFixed(3)}`, left + pw + 14, top + 86);
  ctx.fillStyle = '#666';
  ctx.fillText(`${r.perturbation}, ${r.perturbable} positions`, left + pw + 14, top + 104);
}
