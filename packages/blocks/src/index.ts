/**
 * `@phalanx/blocks` — functional-API builders that compose TensorFlow.js layers into the sub-networks
 * of hand-pose models, with PyTorch arithmetic and layers named after the PyTorch modules so that
 * official `state_dict`s map onto them by name.
 *
 * @packageDocumentation
 */
export * from './limits';
export * from './naming';
export * from './torch-ops';
export * from './hourglass';
export * from './res2d';
export * from './nddr';
export * from './resnet';
export * from './stacked-hourglass';
export * from './transformer';
export * from './fold-batch-norm';
