/**
 * A state dict laid out exactly as hustvl/Vim releases it (`checkpoint["model"]` of
 * vim_t_midclstok_76p1acc.pth and siblings: `VisionMamba` of vim/models_mamba.py with
 * `bimamba_type="v2"`, blocks of mamba-1p1p1's `Mamba` + `RMSNorm`), written out name by name
 * here — independent of the model code — with seeded random values of the right shapes.
 * `rmsNorm: false` / `bias: true` add the LayerNorm and linear-bias tensors those options create.
 */
import { Random } from '../../src/core/index.js';

export interface HustvlSizes {
  /** E (embed_dim), C (channels), P (patch_size), S (img_size), depth, N (d_state), K (d_conv), classes. */
  E: number;
  C: number;
  P: number;
  S: number;
  depth: number;
  N: number;
  K: number;
  classes: number;
  rmsNorm?: boolean;
  bias?: boolean;
}

export interface StateTensor {
  shape: number[];
  data: Float32Array;
}

export function hustvlStateDict(z: HustvlSizes, seed = 7): Map<string, StateTensor> {
  const rng = new Random(seed);
  const D = 2 * z.E; // expand 2
  const R = Math.ceil(z.E / 16); // dt_rank "auto"
  const M = (z.S / z.P) ** 2;
  const out = new Map<string, StateTensor>();
  const put = (name: string, shape: number[], scale = 0.2, offset = 0) => {
    const size = shape.reduce((a, b) => a * b, 1);
    out.set(name, { shape, data: Float32Array.from({ length: size }, () => offset + scale * (2 * rng.next() - 1)) });
  };
  put('patch_embed.proj.weight', [z.E, z.C, z.P, z.P]);
  put('patch_embed.proj.bias', [z.E]);
  put('cls_token', [1, 1, z.E]);
  put('pos_embed', [1, M + 1, z.E]);
  for (let l = 0; l < z.depth; l++) {
    const m = `layers.${l}.mixer`;
    put(`${m}.A_log`, [D, z.N], 0.3, 0.5);
    put(`${m}.D`, [D], 0.2, 1);
    put(`${m}.in_proj.weight`, [2 * D, z.E]);
    if (z.bias) put(`${m}.in_proj.bias`, [2 * D]);
    put(`${m}.conv1d.weight`, [D, 1, z.K]);
    put(`${m}.conv1d.bias`, [D]);
    put(`${m}.x_proj.weight`, [R + 2 * z.N, D]);
    put(`${m}.dt_proj.weight`, [D, R]);
    put(`${m}.dt_proj.bias`, [D], 0.5, -3);
    put(`${m}.A_b_log`, [D, z.N], 0.3, 0.5);
    put(`${m}.conv1d_b.weight`, [D, 1, z.K]);
    put(`${m}.conv1d_b.bias`, [D]);
    put(`${m}.x_proj_b.weight`, [R + 2 * z.N, D]);
    put(`${m}.dt_proj_b.weight`, [D, R]);
    put(`${m}.dt_proj_b.bias`, [D], 0.5, -3);
    put(`${m}.D_b`, [D], 0.2, 1);
    put(`${m}.out_proj.weight`, [z.E, D]);
    if (z.bias) put(`${m}.out_proj.bias`, [z.E]);
    put(`layers.${l}.norm.weight`, [z.E], 0.1, 1);
    if (z.rmsNorm === false) put(`layers.${l}.norm.bias`, [z.E]);
  }
  put('norm_f.weight', [z.E], 0.1, 1);
  if (z.rmsNorm === false) put('norm_f.bias', [z.E]);
  put('head.weight', [z.classes, z.E]);
  put('head.bias', [z.classes]);
  return out;
}
