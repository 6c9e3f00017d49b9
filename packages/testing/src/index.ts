export * from './golden';
export * from './close';
export * from './backends';
export * from './layer-golden';
export * from './gradcheck';
export * from './leaks';
export * from './model-checks';
export * from './environment';
