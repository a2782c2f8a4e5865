import { describe } from 'vitest';
import { implicitAttentionTests } from '../helpers/implicit.js';

describe('implicit attention of Mamba', () => implicitAttentionTests('mamba', [0, 1]));
describe('implicit attention of FalconMamba', () => implicitAttentionTests('falcon_mamba', [0, 1]));
