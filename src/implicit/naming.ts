/**
 * Names of exported implicit-attention tensors, following the fixtures:
 * `attn.{layer}.{variant}` [B, C, L, L], `attn.{layer}.{variant}.last_row` [B, C, L],
 * `attn.{layer}.{variant}.abs_channel_mean` [B, L, L]; other rows are `.row_{t}` and the
 * other reductions `.channel_mean`, `.positive_channel_mean` and `.head_mean`.
 */
import type { Variant } from './decomposition.js';
import type { Reduce } from './extract.js';

const REDUCE_SUFFIX: Record<Reduce, string> = { none: '', mean: '.channel_mean', 'mean-abs': '.abs_channel_mean', 'mean-positive': '.positive_channel_mean', 'head-mean': '.head_mean' };

export function attentionKey(layer: number, variant: Variant, reduce: Reduce, row: number | undefined, length: number): string {
  const rowSuffix = row === undefined ? '' : row === length - 1 ? '.last_row' : `.row_${row}`;
  return `attn.${layer}.${variant}${rowSuffix}${REDUCE_SUFFIX[reduce]}`;
}
