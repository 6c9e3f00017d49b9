/**
 * Where the shipped models sit: `models/<name>/` of this package, beside `src/` and `dist/`.
 */

/** `import.meta.url` kept in a variable: bundlers rewrite only the literal `new URL('…', import.meta.url)` form. */
const here: string = import.meta.url;

/**
 * URL of the folder that holds a shipped model's `model.json`, `weights.bin`, training log, `metrics.json`
 * and curve: `file://…/node_modules/@phalanx/pretrained/models/<name>/` in Node, the package's address
 * when it is served as-is (a CDN) in a browser.
 *
 * @example
 * ```ts
 * shippedModelUrl('ehpe').href; // 'file:///…/@phalanx/pretrained/models/ehpe/'
 * ```
 */
export function shippedModelUrl(name: string): URL {
  return new URL(`../models/${name}/`, here);
}
