/**
 * `@phalanx/train` — a training loop for TensorFlow.js pose models: a small step core (parameter groups
 * with their own optimizers and learning rates, gradient accumulation, clipping, a finiteness check,
 * exact checkpoints and resume) and callbacks around it (temperature annealing, a moving average of the
 * weights, evaluation with the pose metrics, checkpoints, JSON-lines logs, a progress display, a clean
 * stop on Ctrl-C).
 *
 * @packageDocumentation
 */
export * from './schedules';
export * from './clipping';
export * from './optimizer-state';
export * from './flat-tensors';
export * from './flat-adam';
export * from './freeze';
export * from './progress';
export * from './jsonl-log';
export * from './trainer-state';
export * from './checkpoint';
export * from './checkpoint-folders';
export * from './restore';
export * from './evaluation';
export * from './parameter-groups';
export * from './step';
export * from './data-source';
export * from './ema';
export * from './fit-options';
export * from './callbacks/callback';
export * from './callbacks/annealing';
export * from './callbacks/evaluation';
export * from './callbacks/checkpointing';
export * from './callbacks/logging';
export * from './callbacks/progress';
export * from './callbacks/sigint';
export * from './callbacks/history';
export * from './trainer';
export * from './seeded-init';
export * from './precise-batch-norm';
