/**
 * The standard-library classes the unpickler may call: `_codecs.encode` (how Python 3 writes `bytes` in
 * protocols ≤ 2), `bytearray`, `set`, `frozenset` (protocols ≤ 3 pickle them by calling the class) and
 * `collections.OrderedDict` (a `Map`; attributes set by BUILD, such as a PyTorch `state_dict`'s
 * `_metadata`, are dropped).
 */
import { latin1Bytes, type PickleClass, type PickleContext, type PickleGlobals } from './machine';
import type { PyValue } from './values';

const LATIN1_NAMES = new Set(['latin1', 'latin-1', 'iso-8859-1', 'iso8859-1', 'l1']);

function strictLatin1(ctx: PickleContext, s: string): Uint8Array {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0xff) ctx.fail(`encodes the character U+${s.charCodeAt(i).toString(16)} as latin-1`);
  }
  return latin1Bytes(s);
}

const encode: PickleClass = {
  create(args, ctx) {
    const [text, encoding = 'utf-8'] = args;
    if (typeof text !== 'string') return ctx.fail('encodes something that is not a string');
    ctx.charge(text.length);
    if (typeof encoding !== 'string' || !LATIN1_NAMES.has(encoding.toLowerCase())) {
      return ctx.fail(`encodes text as ${String(encoding)}; this reader knows latin-1 only`);
    }
    return strictLatin1(ctx, text);
  },
};

const bytearray: PickleClass = {
  create(args, ctx) {
    const [source] = args;
    if (source === undefined) return new Uint8Array(0);
    if (typeof source === 'string' || source instanceof Uint8Array) ctx.charge(source.length);
    if (typeof source === 'string') return strictLatin1(ctx, source);
    if (source instanceof Uint8Array) return new Uint8Array(source);
    return ctx.fail('builds a bytearray from something that is not bytes or text');
  },
};

/** `set(list)` / `frozenset(list)` (protocols ≤ 3): an array of the items. */
const setClass: PickleClass = {
  create(args, ctx) {
    const [items = []] = args;
    if (!Array.isArray(items)) return ctx.fail('builds a set from something that is not a list');
    ctx.charge(8 * items.length);
    return [...items];
  },
};

const orderedDict: PickleClass = {
  create(args, ctx) {
    const out = new Map<PyValue, PyValue>();
    const [items = []] = args;
    if (!Array.isArray(items)) return ctx.fail('builds an OrderedDict from something that is not a list of pairs');
    ctx.charge(16 * items.length);
    for (const pair of items) {
      if (!Array.isArray(pair) || pair.length !== 2)
        return ctx.fail('builds an OrderedDict from an item that is not a pair');
      out.set(pair[0], pair[1]);
    }
    return out;
  },
  setState(_target, state, ctx) {
    if (state !== null && !(state instanceof Map) && !Array.isArray(state)) {
      ctx.fail('sets the attributes of an OrderedDict from something that is not a dict');
    }
  },
};

/** The standard-library globals, under their Python 3 and Python 2 module names. */
export const builtinGlobals: PickleGlobals = new Map<string, PickleClass>([
  ['_codecs.encode', encode],
  ['builtins.bytearray', bytearray],
  ['__builtin__.bytearray', bytearray],
  ['builtins.set', setClass],
  ['__builtin__.set', setClass],
  ['builtins.frozenset', setClass],
  ['__builtin__.frozenset', setClass],
  ['collections.OrderedDict', orderedDict],
]);
