// Entry of a viewer compute worker (a worker thread): TypeScript runs through tsx's loader,
// registered here because a worker does not inherit the loader of the thread that started it.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
