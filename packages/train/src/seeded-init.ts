/**
 * Reproducible initial weights. tfjs has no global seed: every random initializer built without a
 * `seed` draws one from `Math.random` when it runs, so two builds of the same model start from different
 * weights and two runs of the same training command end in different places. {@link seedInitialWeights}
 * rebuilds the model from its own configuration with a seed in every random initializer and copies the
 * result in: nothing global is touched.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { PhalanxConfigError } from '@phalanx/errors';
import { deriveNoiseSeed } from '@phalanx/layers';
import { allLayers } from './freeze';

const COMPONENT = 'seedInitialWeights';

/**
 * The tfjs-layers initializers that draw random numbers, by registered class name (the Glorot, He and
 * LeCun initializers serialise as `VarianceScaling`).
 *
 * @example
 * ```ts
 * import { RANDOM_INITIALIZER_CLASSES } from '@phalanx/train';
 *
 * RANDOM_INITIALIZER_CLASSES.includes('VarianceScaling'); // true
 * ```
 */
export const RANDOM_INITIALIZER_CLASSES: readonly string[] = [
  'RandomUniform',
  'RandomNormal',
  'TruncatedNormal',
  'VarianceScaling',
  'GlorotUniform',
  'GlorotNormal',
  'HeUniform',
  'HeNormal',
  'LeCunUniform',
  'LeCunNormal',
  'Orthogonal',
];

type Json = { [key: string]: unknown };

function isRandomInitializer(node: Json): node is Json & { config: Json } {
  const className = node.class_name ?? node.className;
  return (
    typeof className === 'string' &&
    RANDOM_INITIALIZER_CLASSES.includes(className) &&
    typeof node.config === 'object' &&
    node.config !== null
  );
}

/**
 * The seed of the `index`-th random initializer of a model seeded with `seed`: a 31-bit mix of both,
 * never 0 (tfjs reads a seed of 0 as "unseeded").
 *
 * @example
 * ```ts
 * import { initializerSeed } from '@phalanx/train';
 *
 * const first = initializerSeed(1, 0); // an integer in [1, 2³¹)
 * ```
 */
export function initializerSeed(seed: number, index: number): number {
  return deriveNoiseSeed(seed, index); // the same 31-bit mix as the layers' noise sites
}

/**
 * Sets the `seed` of every random initializer in a serialised model topology, in the order they
 * appear, to {@link initializerSeed}`(seed, k)`. Returns how many were seeded. Layer configs that carry
 * a `seed` of their own (e.g. a Gumbel noise stream) are left alone: only initializer objects change.
 *
 * @example
 * ```ts
 * import { seedTopology } from '@phalanx/train';
 *
 * const topology = { kernel_initializer: { class_name: 'VarianceScaling', config: { seed: null } } };
 * seedTopology(topology, 1); // 1; the config's seed is now initializerSeed(1, 0)
 * ```
 */
export function seedTopology(topology: unknown, seed: number): number {
  let count = 0;
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    const object = node as Json;
    if (isRandomInitializer(object)) {
      object.config.seed = initializerSeed(seed, count++);
      return;
    }
    Object.values(object).forEach(visit);
  };
  visit(topology);
  return count;
}

/** The layers that hold weights themselves: every layer but the models (whose weights are their layers'). */
function leafLayers(model: tfl.LayersModel): tfl.layers.Layer[] {
  return allLayers(model).filter((layer) => !Array.isArray((layer as { layers?: unknown }).layers));
}

/**
 * Copies the weights of `from` (the rebuilt model) into `to`, layer by layer and, within a layer, by name.
 * Not by position in `model.weights`, which lists the trainable weights first and so depends on which
 * layers are frozen: a nested model frozen with `trainable = false` (not recorded in the topology) moved
 * its weights behind the others in `to` only, and weights of equal shapes were swapped.
 */
function copyWeights(from: tfl.LayersModel, to: tfl.LayersModel): void {
  const sources = leafLayers(from);
  leafLayers(to).forEach((layer, i) => {
    const byName = new Map((sources[i]?.weights ?? []).map((w) => [w.originalName, w]));
    for (const weight of layer.weights) {
      const source = byName.get(weight.originalName);
      if (source === undefined) {
        const expected = 'a model its own topology rebuilds (every weight found again by layer and name)';
        throw new PhalanxConfigError(COMPONENT, 'model', expected, `no rebuilt weight ${weight.originalName}`);
      }
      weight.write(source.read());
    }
  });
}

/**
 * Re-draws the initial weights of `model` from seeded initializers, so that the same `seed` gives the
 * same starting weights in every process, on every backend: the model is rebuilt from its serialised
 * topology (`model.toJSON`) with the `k`-th random initializer seeded by
 * {@link initializerSeed}`(seed, k)`, and the rebuilt model's weights are copied into `model`.
 * Deterministic initializers (zeros, ones, constants, NDDR) give the values they gave before; batch-norm
 * moving statistics are reset to their initial values. Call it right after building, before training;
 * every layer must be serialisable (registered), as for saving.
 *
 * **Shapes**: unchanged; every weight keeps its shape and dtype.
 *
 * @param model A built model (functional or sequential).
 * @param seed Any integer (negative allowed).
 * @returns How many random initializers were seeded.
 * @throws PhalanxConfigError when `seed` is not an integer.
 *
 * @example
 * ```ts
 * import * as tfl from '@tensorflow/tfjs-layers';
 * import { seedInitialWeights } from '@phalanx/train';
 *
 * const build = () =>
 *   tfl.sequential({ layers: [tfl.layers.dense({ units: 4, inputShape: [3] })] });
 * const a = build();
 * const b = build();
 * await seedInitialWeights(a, 7);
 * await seedInitialWeights(b, 7); // a and b now hold the same weights
 * ```
 */
export async function seedInitialWeights(model: tfl.LayersModel, seed: number): Promise<number> {
  if (typeof (model as Partial<tfl.LayersModel> | null)?.toJSON !== 'function' || !Array.isArray(model.weights)) {
    throw new PhalanxConfigError(COMPONENT, 'model', 'a tf.LayersModel', model === null ? null : typeof model);
  }
  if (!Number.isSafeInteger(seed)) throw new PhalanxConfigError(COMPONENT, 'seed', 'an integer', seed);
  const topology = model.toJSON(null, false) as Exclude<ReturnType<tfl.LayersModel['toJSON']>, string>;
  const seeded = seedTopology(topology, seed);
  const rebuilt = await tfl.models.modelFromJSON({ modelTopology: topology });
  try {
    copyWeights(rebuilt, model);
  } finally {
    rebuilt.dispose();
  }
  return seeded;
}
