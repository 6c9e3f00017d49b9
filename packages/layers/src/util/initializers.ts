/**
 * Serialisable weight initializers for Phalanx layers, accepted in the same forms as
 * `tf.layers.dense`'s `kernelInitializer`: an identifier string (`'glorotUniform'`), an initializer
 * object (`tf.initializers.heNormal({})`), or a serialised `{className, config}` (what a saved model
 * stores). tfjs-layers keeps its own `getInitializer` / `serializeInitializer` private, so the lookup
 * goes through the public serialisation registry.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { PhalanxArgumentError, PhalanxConfigError } from '@phalanx/errors';

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

/** A class (constructor) as found in the serialisation registry. */
type AnyClass = abstract new (...args: never[]) => unknown;

/** The registered classes: `className` → `[class, fromConfig]`. */
const registry = () => tf.serialization.SerializationMap.getMap().classNameMap;

let initializerBase: AnyClass | undefined;
let nonInitializerBases: [kind: string, base: AnyClass][] | undefined;

/**
 * The base classes of the registered classes that are not initializers although they have `apply` and
 * `getConfig` (layers, regularizers, constraints, activations) or are otherwise registered (optimizers), each
 * with what to call them in a message. Found from instances, as tfjs-layers exports few of its base classes.
 */
function nonInitializers(): [kind: string, base: AnyClass][] {
  if (nonInitializerBases) return nonInitializerBases;
  const parent = (cls: unknown) => Object.getPrototypeOf(cls) as AnyClass;
  const bases: [string, AnyClass][] = [
    ['a layer', tfl.layers.Layer],
    ['a regularizer', parent(tfl.regularizers.l1l2().constructor)],
    ['a constraint', parent(tfl.constraints.nonNeg().constructor)],
    ['an optimizer', tf.Optimizer],
  ];
  const classes = registry();
  if (Object.prototype.hasOwnProperty.call(classes, 'linear')) bases.push(['an activation', parent(classes.linear[0])]);
  nonInitializerBases = bases;
  return bases;
}

/**
 * `null` if the registered class `cls` makes initializers: a subclass of tfjs-layers' `Initializer`, or a
 * custom class (e.g. `NddrKernel`) with `apply` and `getConfig` that is none of {@link nonInitializers}.
 * Otherwise what it is instead (`'a regularizer'`, `'a layer'`, …).
 */
function notAnInitializer(cls: unknown): string | null {
  const proto: unknown = typeof cls === 'function' ? (cls as { prototype?: unknown }).prototype : undefined;
  if (typeof proto !== 'object' || proto === null) return 'not a class';
  initializerBase ??= Object.getPrototypeOf(tfl.initializers.zeros().constructor) as AnyClass;
  if (proto instanceof initializerBase) return null;
  for (const [kind, base] of nonInitializers()) if (proto instanceof base) return kind;
  return isInitializer(proto) ? null : 'another registered class';
}

/** The registered initializer class names, sorted: what {@link resolveInitializer} accepts as `className`. */
export function registeredInitializerClasses(): string[] {
  const classes = registry();
  return Object.keys(classes)
    .filter((name) => notAnInitializer(classes[name][0]) === null)
    .sort();
}

/** A plain object (a config as parsed from JSON), not `null`, an array or a primitive. */
function isConfig(value: unknown): value is tf.serialization.ConfigDict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Turns an initializer argument into an initializer object; throws a `PhalanxConfigError` naming
 * `component` and `argument` for anything else. Identifier strings map to the registered class of the
 * same name with a capital first letter (`'heNormal'` → `HeNormal`), as in tfjs-layers; a saved
 * model's snake-case form (`'he_normal'`) is accepted too. Only classes registered under that exact name
 * are looked up (prototype keys such as `'__proto__'` or `'toString'` are refused, not dereferenced), and
 * only initializer classes ({@link registeredInitializerClasses}): a registered regularizer (`'L1L2'`),
 * layer (`'Dense'`), constraint, activation or optimizer is refused by name before it is constructed. A
 * `config` that is not an object, or that the class refuses, is a `PhalanxConfigError` too.
 *
 * @example
 * resolveInitializer('MyLayer', 'kernelInitializer', 'he_normal'); // a VarianceScaling initializer
 * resolveInitializer('MyLayer', 'kernelInitializer', { className: 'L1L2', config: {} }); // throws: not a regularizer
 */
export function resolveInitializer(component: string, argument: string, spec: unknown): Initializer {
  if (isInitializer(spec)) return spec;
  let className: string;
  let config: unknown = {};
  if (typeof spec === 'string') {
    const camel = spec.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    className = camel.charAt(0).toUpperCase() + camel.slice(1);
  } else if (isSerialized(spec)) {
    className = spec.className;
    config = spec.config ?? {};
  } else {
    throw new PhalanxConfigError(component, argument, 'an initializer, an identifier or {className, config}', spec);
  }
  const classes = registry();
  // Own properties only: a prototype key ('__proto__', 'toString', …) names no registered class.
  if (!Object.prototype.hasOwnProperty.call(classes, className)) {
    throw new PhalanxConfigError(component, argument, 'a registered initializer', spec);
  }
  const [cls, fromConfig] = classes[className];
  const kind = notAnInitializer(cls);
  if (kind !== null) {
    const names = registeredInitializerClasses().map((name) => `'${name}'`);
    const accepted = `a registered initializer class (${names.join(', ')})`;
    const expected = `an initializer, not ${kind}: ${accepted} or its identifier (e.g. 'glorotUniform', 'he_normal')`;
    throw new PhalanxConfigError(component, argument, expected, spec);
  }
  if (!isConfig(config)) throw new PhalanxConfigError(component, `${argument}.config`, 'an object', config);
  let made: unknown;
  try {
    made = fromConfig(cls, config);
  } catch (error) {
    if (error instanceof PhalanxArgumentError) throw error;
    const expected = `a valid ${className} config (${(error as Error).message})`;
    throw new PhalanxConfigError(component, `${argument}.config`, expected, config);
  }
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
