/**
 * `@phalanx/train` — a training loop for TensorFlow.js pose models: parameter groups with their own
 * optimizers and learning rates, schedules, temperature annealing, freezing, gradient clipping,
 * progress display, JSON-lines logs, checkpoints with exact resume, and evaluation with the pose
 * metrics.
 *
 * @packageDocumentation
 */
export * from './schedules';
export * from './clipping';
export * from './optimizer-state';
export * from './freeze';
export * from './progress';
export * from './jsonl-log';
export * from './checkpoint';
export * from './evaluation';
export * from './trainer';
