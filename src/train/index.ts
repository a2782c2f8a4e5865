/** Training from scratch: optimiser, schedule, data, loop, checkpoints. Import from here. */
export * from './optimizer.js';
export * from './schedule.js';
export * from './data.js';
export * from './classifier.js';
export * from './architectures.js';
export * from '../io/training-checkpoint.js';
export * from '../io/datasets.js';
export * from './trainer.js';
