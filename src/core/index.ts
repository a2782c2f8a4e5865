/** The tensor engine: tensors, autograd and ops. Import from here. */
export * from './dtype.js';
export * from './tensor.js';
export * from './ops/unary.js';
export * from './ops/binary.js';
export * from './ops/matmul.js';
export * from './ops/reduce.js';
export * from './ops/shape.js';
export * from './ops/nn.js';
export * from './gradcheck.js';
export * from './random.js';
