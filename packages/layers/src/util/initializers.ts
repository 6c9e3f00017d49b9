/**
 * Serialisable weight initializers for Phalanx layers, accepted in the same forms as
 * `tf.layers.dense`'s `kernelInitializer`: an identifier string (`'glorotUniform'`), an initializer
 * object (`tf.initializers.heNormal({})`), or a serialised `{className, config}` (what a saved model
 * stores). tfjs-layers keeps its own `getInitializer` / `serializeInitializer` private, so the lookup
 * goes through the public serialisation registry.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { PhalanxConfigError } from '@phalanx/errors';

/** A tfjs-layers initializer object (the type `tf.initializers.*` return). */
export type Initializer = ReturnType<typeof tfl.initializers.constant>;

/** The initializer identifiers tfjs-layers accepts, e.g. `'glorotUniform'`, `'zeros'`. */
export type InitializerIdentifier = Exclude<
  NonNullable<Parameters<typeof tfl.layers.dense>[0]['kernelInitializer']>,
  Initializer
>;

/** An initializer as it is stored in a layer config: `{className: 'GlorotUniform', config: {...}}`. */
export interface SerializedInitializer {
  /** Registered class name of the initializer, e.g. `'GlorotUniform'` or `'NddrKernel'`. */
  className: string;
  /** The initializer's `getConfig()`. */
  config: tf.serialization.ConfigDict;
}

/** Every form an initializer argument may take. */
export type InitializerSpec = InitializerIdentifier | Initializer | SerializedInitializer;

function isSerialized(value: unknown): value is SerializedInitializer {
  return typeof value === 'object' && value !== null && typeof (value as SerializedInitializer).className === 'string';
}

function isInitializer(value: unknown): value is Initializer {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Initializer).apply === 'function' &&
    typeof (value as Initializer).getConfig === 'function'
  );
}

/**
 * Turns an initializer argument into an initializer object; throws a `PhalanxConfigError` naming
 * `component` and `argument` for anything else. Identifier strings map to the registered class of the
 * same name with a capital first letter (`'heNormal'` → `HeNormal`), as in tfjs-layers; a saved
 * model's snake-case form (`'he_normal'`) is accepted too. Only classes registered under that exact name
 * are looked up (prototype keys such as `'__proto__'` or `'toString'` are refused, not dereferenced).
 */
export function resolveInitializer(component: string, argument: string, spec: unknown): Initializer {
  if (isInitializer(spec)) return spec;
  let className: string;
  let config: tf.serialization.ConfigDict = {};
  if (typeof spec === 'string') {
    const camel = spec.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    className = camel.charAt(0).toUpperCase() + camel.slice(1);
  } else if (isSerialized(spec)) {
    className = spec.className;
    config = spec.config ?? {};
  } else {
    throw new PhalanxConfigError(component, argument, 'an initializer, an identifier or {className, config}', spec);
  }
  const classes = tf.serialization.SerializationMap.getMap().classNameMap;
  // Own properties only: a prototype key ('__proto__', 'toString', …) names no registered class.
  if (!Object.prototype.hasOwnProperty.call(classes, className)) {
    throw new PhalanxConfigError(component, argument, 'a registered initializer', spec);
  }
  const [cls, fromConfig] = classes[className];
  const made = fromConfig(cls, config);
  if (!isInitializer(made)) throw new PhalanxConfigError(component, argument, 'an initializer', spec);
  return made;
}

/**
 * The `{className, config}` form of an initializer, as layers store it in `getConfig()`; an absent
 * value (e.g. the `seed` of an unseeded initializer) is `null`, as a saved model stores it, so a config
 * equals itself after a save and load.
 */
export function serializeInitializer(initializer: Initializer): SerializedInitializer {
  const config = Object.fromEntries(
    Object.entries(initializer.getConfig()).map(([key, value]) => [key, value === undefined ? null : value]),
  );
  return { className: initializer.getClassName(), config };
}

/**
 * The initializer of the `index`-th of several weights drawn from one initializer argument (e.g. the
 * query, key, value and output kernels of an attention layer). A seeded tfjs initializer draws the same
 * numbers every time it is applied, so weights of equal shape would start equal: with a numeric `seed`
 * the `index`-th weight gets a copy seeded `seed + index` (never 0, which tfjs reads as unseeded); an
 * unseeded initializer, or index 0, is returned as it is.
 *
 * @example
 * const glorot = tfl.initializers.glorotUniform({ seed: 3 });
 * const keys = nthInitializer(glorot, 1); // seed 4: not the query kernel's numbers
 */
export function nthInitializer(initializer: Initializer, index: number): Initializer {
  const { className, config } = serializeInitializer(initializer);
  if (index === 0 || typeof config.seed !== 'number') return initializer;
  const seed = config.seed + index;
  return resolveInitializer('nthInitializer', 'initializer', {
    className,
    config: { ...config, seed: seed === 0 ? 0x7fffffff : seed },
  });
}
