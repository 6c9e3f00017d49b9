/**
 * Streaming keypoint evaluation with the semantics of the official `EvalUtil` (Learnable Groups
 * release, from Zimmermann & Brox's hand3d), in float64.
 */
import {
  PhalanxConfigError,
  PhalanxShapeError,
  checkFinite,
  checkInteger,
  checkIntegerIn,
  checkOptions,
} from '@phalanx/errors';
import {
  areaAxis,
  countAtMost,
  distance,
  medianOfSorted,
  readKeypointPair,
  readVisibility,
  refuseDistance,
} from './arrays';
import { auc as areaUnderCurve, linspace, trapezoid, type Keypoints, type Visibility } from './metrics';
import { JOINT_NAMES, NUM_JOINTS } from '@phalanx/skeleton';
import { JOINT_CLASSES } from './skeleton';

/** Options of {@link KeypointEvaluator}. */
export interface KeypointEvaluatorOptions {
  /** Number of joints J every fed sample has. Integer in [1, 4096] (the most joints a model builds); default 21. */
  numJoints?: number;
  /**
   * Class label of each joint, for `perClass` measures. Default: the skeleton's classes (WRIST, MCP,
   * PIP, DIP, TIP) when `numJoints` is 21, none otherwise. `null` turns per-class measures off.
   */
  jointClasses?: readonly string[] | null;
  /** Name of each joint, reported in `perJoint`. Default: the skeleton's names when `numJoints` is 21. */
  jointNames?: readonly string[];
}

/** Options of {@link KeypointEvaluator.measures}. */
export interface MeasuresOptions {
  /** Smallest PCK threshold (the official `val_min`), e.g. 0 (metres or pixels). */
  min: number;
  /** Largest PCK threshold (`val_max`), e.g. 0.05 for the 3D protocol in metres, 30 for 2D pixels. */
  max: number;
  /** Number of thresholds, `linspace(min, max, steps)`. Integer ≥ 2; default 20. */
  steps?: number;
  /**
   * Unit of the fed keypoints, `'m'` or `'mm'`. When given, `auc20to50` is reported: the AUC of the
   * averaged PCK curve's points with thresholds in [20 mm, 50 mm] (the official `pck_curve_all[8:]` for
   * `linspace(0, 0.05, 20)`). Omit it for 2D (pixel) evaluation.
   */
  units?: 'm' | 'mm';
}

/** Measures of one joint (or one joint class). `null` where no visible sample was fed. */
export interface JointMeasures {
  /** Mean end-point error. */
  epeMean: number | null;
  /** Median end-point error. */
  epeMedian: number | null;
  /** Normalised area under this PCK curve. */
  auc: number | null;
  /** PCK at each threshold. */
  pckCurve: number[] | null;
}

/** Per-joint entry of {@link KeypointMeasures.perJoint}. */
export interface PerJointMeasures extends JointMeasures {
  /** Joint index. */
  joint: number;
  /** Joint name, when known. */
  name?: string;
  /** Number of visible samples of this joint. */
  count: number;
}

/** Per-class entry of {@link KeypointMeasures.perClass}: means over the class's joints that have data. */
export interface ClassMeasures extends JointMeasures {
  /** The class's joint indices. */
  joints: number[];
  /** Number of visible samples over the class's joints. */
  count: number;
}

/** Result of {@link KeypointEvaluator.measures}. */
export interface KeypointMeasures {
  /** Mean over joints (with data) of each joint's mean end-point error. */
  epeMean: number;
  /** Mean over joints (with data) of each joint's median end-point error. */
  epeMedian: number;
  /** Mean over joints (with data) of each joint's normalised PCK area. */
  auc: number;
  /** PCK at each threshold, averaged over joints with data. */
  pckCurve: number[];
  /** `linspace(min, max, steps)`. */
  thresholds: number[];
  /** AUC of `pckCurve` over [20, 50] mm; only with `units`; `null` if fewer than two thresholds fall there. */
  auc20to50?: number | null;
  /** One entry per joint. */
  perJoint: PerJointMeasures[];
  /** One entry per joint class (absent without classes): an own property per label, `'__proto__'` too. */
  perClass?: Record<string, ClassMeasures>;
  /** Visible samples per joint. */
  counts: number[];
  /** Samples fed (visible or not). */
  numSamples: number;
  /** Joints that took part in the averages (those with at least one visible sample). */
  jointsEvaluated: number[];
}

const NAME = 'KeypointEvaluator';

/**
 * The most joints a {@link KeypointEvaluator} takes: the most a Phalanx model builds (`MODEL_LIMITS.joints`
 * of `@phalanx/blocks`). The evaluator allocates a list per joint, so 10⁹ joints would exhaust the heap.
 */
const MAX_EVALUATOR_JOINTS = 4096;

const OPTION_KEYS = { numJoints: true, jointClasses: true, jointNames: true } satisfies Record<
  keyof KeypointEvaluatorOptions,
  true
>;
const MEASURES_KEYS = { min: true, max: true, steps: true, units: true } satisfies Record<keyof MeasuresOptions, true>;

/**
 * Accumulates end-point errors over any number of `feed` calls and reports the official hand-pose
 * measures, identical to the official `EvalUtil.get_measures`:
 * - each joint's errors `e = ‖gt − pred‖₂` over its visible samples;
 * - `epeMean` = mean over joints of each joint's mean; `epeMedian` = mean over joints of each joint's median;
 * - PCK at `thresholds = linspace(min, max, steps)`: the fraction of a joint's errors `≤ t`;
 *   `pckCurve` = mean over joints;
 * - `auc` = mean over joints of `trapz(pck_j, thresholds) / trapz(1, thresholds)`;
 * - `auc20to50` (with `units`) = `auc` of `pckCurve` restricted to thresholds in [20, 50] mm.
 *
 * **Visibility**: a keypoint with `visible` ≠ 1 is not recorded (the official `EvalUtil_SingleFrame`).
 * A joint with no recorded sample is left out of every average — as the official code `continue`s
 * past it — and reported with `count: 0` and `null` measures; `jointsEvaluated` lists the others.
 *
 * **Shapes**: `feed(gt, pred, visible?)` with `gt`, `pred` `[N, J, D]` (or one sample `[J, D]`), D = 2
 * or 3 and the same D in every call; `visible` `[N, J]` (or `[J]`). Arrays or tensors.
 * @example
 * const gtXyz = tf.randomNormal([8, 21, 3]); // metres
 * const predXyz = tf.add(gtXyz, tf.randomNormal([8, 21, 3], 0, 0.01));
 * const ev = new KeypointEvaluator({ numJoints: 21 });
 * ev.feed(gtXyz, predXyz);                          // any number of times
 * const m = ev.measures({ min: 0, max: 0.05, steps: 20, units: 'm' });
 * console.log(m.epeMean * 1000, m.auc, m.auc20to50);
 */
export class KeypointEvaluator {
  /** Number of joints per sample. */
  readonly numJoints: number;
  private readonly classes: readonly string[] | null;
  private readonly names: readonly string[] | null;
  private readonly data: number[][];
  private dims: number | null = null;
  private samples = 0;

  /**
   * Throws `PhalanxConfigError` for `options` that are not an object of the keys of
   * {@link KeypointEvaluatorOptions}, a `numJoints` that is not an integer in [1, 4096], and `jointClasses` or
   * `jointNames` that are not arrays of `numJoints` entries.
   */
  constructor(options: KeypointEvaluatorOptions = {}) {
    checkOptions(NAME, 'options', options, OPTION_KEYS, 'an options object {numJoints?, jointClasses?, jointNames?}');
    this.numJoints = checkIntegerIn(NAME, 'numJoints', options.numJoints ?? NUM_JOINTS, 1, MAX_EVALUATOR_JOINTS);
    const classes =
      options.jointClasses === undefined
        ? this.numJoints === NUM_JOINTS
          ? JOINT_CLASSES
          : null
        : options.jointClasses;
    if (classes !== null && (!Array.isArray(classes) || classes.length !== this.numJoints)) {
      throw new PhalanxConfigError(NAME, 'jointClasses', `an array of ${this.numJoints} labels or null`, classes);
    }
    const names = options.jointNames ?? (this.numJoints === NUM_JOINTS ? JOINT_NAMES : null);
    if (names !== null && (!Array.isArray(names) || names.length !== this.numJoints)) {
      throw new PhalanxConfigError(NAME, 'jointNames', `an array of ${this.numJoints} names`, names);
    }
    this.classes = classes;
    this.names = names;
    this.data = Array.from({ length: this.numJoints }, () => []);
  }

  /**
   * Records the end-point errors of a batch. Returns `this` for chaining.
   * Throws `PhalanxShapeError` when gt and pred differ in shape, the joint count is not `numJoints`,
   * D is not 2 or 3 or differs from earlier calls, or `visible` does not match; and `PhalanxConfigError`
   * naming the entry when a coordinate of a visible keypoint is not finite
   * (`KeypointEvaluator.feed: pred[0][3][1] must be a finite number, but received NaN.`) — then nothing of
   * the batch is recorded. Keypoints that `visible` masks out are not read.
   */
  feed(gt: Keypoints, pred: Keypoints, visible?: Visibility): this {
    const { gt: g, pred: p, batched, joints: j, dims: d } = readKeypointPair(`${NAME}.feed`, gt, pred);
    if (j !== this.numJoints) {
      throw new PhalanxShapeError(`${NAME}.feed`, 'gt', `keypoints with ${this.numJoints} joints (numJoints)`, j);
    }
    if (this.dims !== null && d !== this.dims) {
      throw new PhalanxShapeError(`${NAME}.feed`, 'gt', `keypoints with D = ${this.dims} as in earlier feeds`, d);
    }
    const vis = visible === undefined ? undefined : readVisibility(`${NAME}.feed`, visible, g.length, j, batched);
    // Measured in full before anything is recorded: a refused batch leaves the evaluator as it was.
    const errors: number[][] = Array.from({ length: j }, () => []);
    g.forEach((hand, i) => {
      for (let k = 0; k < j; k++) {
        if (vis && !vis[i][k]) continue;
        const e = distance(hand[k], p[i][k]);
        if (!Number.isFinite(e)) refuseDistance(`${NAME}.feed`, hand[k], p[i][k], batched ? [i, k] : [k]);
        errors[k].push(e);
      }
    });
    this.dims = d;
    errors.forEach((e, k) => {
      for (const v of e) this.data[k].push(v);
    });
    this.samples += g.length;
    return this;
  }

  /** Forgets everything fed so far. */
  reset(): void {
    this.data.forEach((d) => (d.length = 0));
    this.dims = null;
    this.samples = 0;
  }

  /** Number of samples fed so far. */
  get numSamples(): number {
    return this.samples;
  }

  /** The recorded errors of one joint, in feed order (a copy). */
  errors(joint: number): number[] {
    checkInteger(`${NAME}.errors`, 'joint', joint, 0);
    if (joint >= this.numJoints) throw new PhalanxConfigError(`${NAME}.errors`, 'joint', `< ${this.numJoints}`, joint);
    return [...this.data[joint]];
  }

  /**
   * The official measures over everything fed so far; see the class description. Throws
   * `PhalanxConfigError` for `options` that are not an object `{min, max, steps?, units?}` (or have another
   * key), `min`/`max` not finite or `max ≤ min`, `steps` not an integer ≥ 2, `units` not `'m'`/`'mm'`; and
   * `PhalanxShapeError` when no visible keypoint was fed. A `min`…`max` range wider than the largest double
   * (`-1.7e308`…`1.7e308`) gives finite thresholds and AUCs, as {@link linspace} and {@link auc} compute them.
   */
  measures(options: MeasuresOptions): KeypointMeasures {
    const name = `${NAME}.measures`;
    const { thresholds, steps } = measureThresholds(name, options);
    const area = areaAxis(thresholds);
    const perJoint: PerJointMeasures[] = this.data.map((errors, joint) => ({
      joint,
      ...(this.names ? { name: this.names[joint] } : {}),
      count: errors.length,
      ...jointMeasures(errors, thresholds, area),
    }));
    const jointsEvaluated = perJoint.filter((m) => m.count > 0).map((m) => m.joint);
    if (jointsEvaluated.length === 0) {
      throw new PhalanxShapeError(name, 'the number of visible keypoints fed', 'at least 1', 0);
    }
    const overall = aggregate(
      jointsEvaluated.map((j) => perJoint[j]),
      steps,
    );
    const result: KeypointMeasures = {
      epeMean: overall.epeMean as number,
      epeMedian: overall.epeMedian as number,
      auc: overall.auc as number,
      pckCurve: overall.pckCurve as number[],
      thresholds,
      perJoint,
      counts: perJoint.map((m) => m.count),
      numSamples: this.samples,
      jointsEvaluated,
    };
    if (options.units !== undefined) result.auc20to50 = auc20to50(thresholds, result.pckCurve, options.units);
    if (this.classes) result.perClass = perClassMeasures(this.classes, perJoint, steps);
    return result;
  }
}

/** The checked options' `steps` thresholds, evenly spaced from `min` to `max`. */
function measureThresholds(name: string, options: MeasuresOptions): { thresholds: number[]; steps: number } {
  checkOptions(name, 'options', options, MEASURES_KEYS, '{min, max, steps?, units?}');
  const min = checkFinite(name, 'min', options.min);
  const max = checkFinite(name, 'max', options.max);
  if (!(max > min)) throw new PhalanxConfigError(name, 'max', `greater than min (${min})`, max);
  const steps = checkInteger(name, 'steps', options.steps ?? 20, 2);
  if (options.units !== undefined && options.units !== 'm' && options.units !== 'mm') {
    throw new PhalanxConfigError(name, 'units', "'m' or 'mm'", options.units);
  }
  return { thresholds: linspace(min, max, steps), steps };
}

/**
 * One joint's mean and median error, PCK curve and AUC (the trapezoid area over `area.x` divided by
 * `area.norm`, see `areaAxis`); `null`s without data.
 */
function jointMeasures(
  errors: readonly number[],
  thresholds: readonly number[],
  area: { x: readonly number[]; norm: number },
): JointMeasures {
  if (errors.length === 0) return { epeMean: null, epeMedian: null, auc: null, pckCurve: null };
  const sorted = Float64Array.from(errors).sort();
  let sum = 0;
  for (const e of errors) sum += e;
  const pckCurve = thresholds.map((t) => countAtMost(sorted as unknown as number[], t) / errors.length);
  return {
    epeMean: sum / errors.length,
    epeMedian: medianOfSorted(sorted as unknown as number[]),
    auc: trapezoid(pckCurve, area.x) / area.norm,
    pckCurve,
  };
}

/** AUC of the PCK curve over the thresholds within 20–50 mm (`null` with fewer than two of them). */
function auc20to50(thresholds: readonly number[], pckCurve: readonly number[], units: 'm' | 'mm'): number | null {
  const mm = units === 'm' ? 1e-3 : 1;
  const lo = 20 * mm * (1 - 1e-9);
  const hi = 50 * mm * (1 + 1e-9);
  const idx = thresholds.flatMap((t, i) => (t >= lo && t <= hi ? [i] : []));
  return idx.length >= 2
    ? areaUnderCurve(
        idx.map((i) => thresholds[i]),
        idx.map((i) => pckCurve[i]),
      )
    : null;
}

/**
 * The measures of each joint class: the joints with that label, their count and their plain means. Keyed by
 * the label as an own property of a plain object, whatever the label (`'__proto__'` and `'constructor'` too).
 */
function perClassMeasures(
  classes: readonly string[],
  perJoint: readonly PerJointMeasures[],
  steps: number,
): Record<string, ClassMeasures> {
  const perClass: Record<string, ClassMeasures> = {};
  for (const label of new Set(classes)) {
    const joints = classes.flatMap((c, j) => (c === label ? [j] : []));
    const withData = joints.filter((j) => perJoint[j].count > 0).map((j) => perJoint[j]);
    const measures: ClassMeasures = {
      joints,
      count: withData.reduce((s, m) => s + m.count, 0),
      ...aggregate(withData, steps),
    };
    // Defined, not assigned: `perClass['__proto__'] = …` would set the object's prototype, not add the class.
    Object.defineProperty(perClass, label, { value: measures, enumerable: true, writable: true, configurable: true });
  }
  return perClass;
}

/** Official averaging: plain means over the given joints' measures (all `null` when there are none). */
function aggregate(joints: readonly JointMeasures[], steps: number): JointMeasures {
  if (joints.length === 0) return { epeMean: null, epeMedian: null, auc: null, pckCurve: null };
  const mean = (f: (m: JointMeasures) => number): number => joints.reduce((s, m) => s + f(m), 0) / joints.length;
  return {
    epeMean: mean((m) => m.epeMean as number),
    epeMedian: mean((m) => m.epeMedian as number),
    auc: mean((m) => m.auc as number),
    pckCurve: Array.from({ length: steps }, (_, i) => mean((m) => (m.pckCurve as number[])[i])),
  };
}
