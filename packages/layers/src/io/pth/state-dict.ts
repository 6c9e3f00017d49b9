/**
 * Finds the state dict inside a checkpoint's object: the name → tensor mapping at the top level, or under
 * `state_dict`, `model_state_dict` or `model` (training checkpoints wrap it beside epochs and optimizer
 * state), or under a key the caller names; then strips DataParallel's `module.` prefixes.
 */
import { PhalanxFileError } from '@phalanx/errors';
import type { PyValue } from '@phalanx/pickle';
import { isTorchTensor, type TorchTensor } from './torch-pickle';

/** Where {@link findStateDict} looks when no key is given, after the top level. */
export const STATE_DICT_KEYS = ['state_dict', 'model_state_dict', 'model'] as const;

/** A dict whose keys are all strings and whose values are all tensors (an empty dict counts). */
function asStateDict(v: PyValue | undefined): Array<[string, TorchTensor]> | undefined {
  if (!(v instanceof Map)) return undefined;
  const out: Array<[string, TorchTensor]> = [];
  for (const [k, t] of v) {
    if (typeof k !== 'string' || !isTorchTensor(t)) return undefined;
    out.push([k, t]);
  }
  return out;
}

function describeRoot(root: PyValue): string {
  if (!(root instanceof Map)) return `the checkpoint holds ${Array.isArray(root) ? 'a list' : typeof root}`;
  const keys = [...root.keys()].slice(0, 8).map((k) => (typeof k === 'string' ? `'${k}'` : String(k)));
  return `the checkpoint is a dict of ${keys.join(', ')}${root.size > 8 ? ', …' : ''}`;
}

/** Follows `key` in `root`: the key itself, else a dotted path (`'ema.state_dict'`). */
function lookup(root: PyValue, key: string): PyValue | undefined {
  if (root instanceof Map && root.has(key)) return root.get(key);
  let at: PyValue | undefined = root;
  for (const part of key.split('.')) at = at instanceof Map ? at.get(part) : undefined;
  return at;
}

/**
 * The state dict's entries, in file order.
 *
 * @throws PhalanxFileError naming what the checkpoint holds when no state dict is found.
 */
export function findStateDict(root: PyValue, file: string, key?: string): Array<[string, TorchTensor]> {
  if (key !== undefined) {
    const found = asStateDict(lookup(root, key));
    if (found === undefined) {
      throw new PhalanxFileError(file, `key '${key}'`, `does not hold a name → tensor dict (${describeRoot(root)})`);
    }
    return found;
  }
  const top = asStateDict(root);
  if (top !== undefined && top.length > 0) return top;
  for (const k of STATE_DICT_KEYS) {
    const found = root instanceof Map ? asStateDict(root.get(k)) : undefined;
    if (found !== undefined) return found;
  }
  if (top !== undefined) return top;
  throw new PhalanxFileError(
    file,
    'state dict',
    `is not at the top level nor under ${STATE_DICT_KEYS.map((k) => `'${k}'`).join(', ')} (${describeRoot(root)}); name it with options.key`,
  );
}

/**
 * Removes `prefix` from every name that starts with it (as PyTorch's
 * `consume_prefix_in_state_dict_if_present`), failing if two names become one.
 */
export function stripPrefix(
  entries: Array<[string, TorchTensor]>,
  prefix: string,
  file: string,
): Array<[string, TorchTensor]> {
  if (prefix === '') return entries;
  const seen = new Set<string>();
  return entries.map(([name, t]) => {
    const stripped = name.startsWith(prefix) ? name.slice(prefix.length) : name;
    if (seen.has(stripped)) {
      throw new PhalanxFileError(
        file,
        `tensor '${name}'`,
        `becomes '${stripped}' without '${prefix}', a name already taken`,
      );
    }
    seen.add(stripped);
    return [stripped, t];
  });
}
