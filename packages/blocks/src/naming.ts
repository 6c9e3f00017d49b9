/**
 * Layer naming shared by every block: a layer that holds the parameters of a PyTorch module is named
 * exactly like that module's path in the PyTorch `state_dict` (`backbone.r1.conv1`). TensorFlow.js
 * accepts dots in layer names (its tensor-name rule is `[A-Za-z0-9][-A-Za-z0-9._/]*`), so no escaping
 * is needed and the mapping is the identity. Layers that PyTorch does not have as modules (a zero
 * padding before a strided convolution, a ReLU, an addition) get a suffix after the path of the module
 * they belong to (`backbone.conv1_.pad`, `backbone.r1.add`); they hold no weights.
 */
import { PhalanxConfigError } from '@phalanx/errors';

const VALID_NAME = /^[A-Za-z0-9][-A-Za-z0-9._/]*$/;

/**
 * Joins a module path and child names with dots, skipping empty parts: `torchName('b_up1', 0,
 * 'block', 1)` → `'b_up1.0.block.1'`. Throws when the result is not a valid TensorFlow.js layer name.
 *
 * @example
 * torchName('backbone', 'hourglass', 0); // 'backbone.hourglass.0'
 */
export function torchName(...parts: (string | number)[]): string {
  const name = parts
    .map(String)
    .filter((p) => p.length > 0)
    .join('.');
  if (!VALID_NAME.test(name)) {
    throw new PhalanxConfigError('torchName', 'name', 'a valid layer name ([A-Za-z0-9][-A-Za-z0-9._/]*)', name);
  }
  return name;
}

/** A PyTorch `state_dict` key split into the module path and the parameter (or buffer) name. */
export interface TorchKey {
  /** The module path, e.g. `backbone.r1.conv1`: the name of the TensorFlow.js layer that holds it. */
  module: string;
  /** The parameter or buffer name, e.g. `weight`, `bias`, `running_mean`. */
  param: string;
}

/**
 * Splits a `state_dict` key at its last dot.
 *
 * @example
 * splitTorchKey('backbone.r1.conv1.weight'); // { module: 'backbone.r1.conv1', param: 'weight' }
 */
export function splitTorchKey(key: string): TorchKey {
  if (typeof key !== 'string')
    throw new PhalanxConfigError('splitTorchKey', 'key', "a 'module.param' state_dict key", key);
  const dot = key.lastIndexOf('.');
  if (dot <= 0 || dot === key.length - 1) {
    throw new PhalanxConfigError('splitTorchKey', 'key', "a 'module.param' state_dict key", key);
  }
  return { module: key.slice(0, dot), param: key.slice(dot + 1) };
}
