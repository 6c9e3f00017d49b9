/** The packages whose API the docs render (typedoc.json's entry points) and whose examples are checked. */
export const DOCUMENTED_PACKAGES: readonly string[] = [
  'errors',
  'skeleton',
  'pickle',
  'layers',
  'losses',
  'pose',
  'data',
  'wasm-training',
  'blocks',
  'learnable-groups',
  'ehpe',
  'train',
  'pretrained',
];
