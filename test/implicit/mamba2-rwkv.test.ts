import { describe } from 'vitest';
import { implicitAttentionTests } from '../helpers/implicit.js';

describe('implicit attention of Mamba2', () => implicitAttentionTests('mamba2', [0, 1]));
describe('implicit attention of RWKV-4', () => implicitAttentionTests('rwkv', [0, 1]));
