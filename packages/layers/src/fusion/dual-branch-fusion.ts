/**
 * DualBranchFusion — learnable per-joint fusion of EHPE's two PG-stage branches (Eq. 11): the
 * structural (graph) branch mixed across joints, the visual (feature-enhancement) branch scaled per
 * joint.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { checkOneOf, PhalanxShapeError } from '@phalanx/errors';
import { checkElements, checkSize, checkTensor, type OwnArgsKeys } from '../util/checks';
import { checkInputCount, PhalanxLayer, shapeList, tensorList, tensorShapes } from '../util/phalanx-layer';
import { perWeightConverter, registerTorchConverter } from '../io/torch-converters';

const COMPONENT = 'DualBranchFusion';

/** The default of every optional argument of {@link DualBranchFusionArgs}; the single place it is written. */
export const DUAL_BRANCH_FUSION_DEFAULTS = Object.freeze({
  /** {@link DualBranchFusionArgs.visualWeight} */
  visualWeight: 'vector',
} as const);

/** Form of the visual branch's weight: one scale per joint, or a full joint-mixing matrix. */
export type VisualWeightForm = 'vector' | 'matrix';

/** `w [J, K]` repeated over a batch as `[B, J, K]` (a broadcasting multiply, whose gradient sums over B). */
function repeatOverBatch(w: tf.Tensor, batch: number): tf.Tensor3D {
  return tf.mul(tf.ones([batch, 1, 1]), w) as tf.Tensor3D;
}

/**
 * EHPE Eq. 11: `out[b] = W_s · structural[b] + W_v ⊙ visual[b]`, where `W_s [J, J]` mixes the
 * structural features across joints and `W_v [J, 1]` scales every joint's visual features (broadcast
 * over channels). When `visualWeight` is `[J, J]`, the visual term is the matrix product
 * `W_v · visual[b]` instead. The official release initialises `W_s = I`, `W_v = 1`.
 *
 * **Shapes**: `structural [B, J, C]`, `visual [B, J, C]`, `structuralWeight [J, J]`, `visualWeight
 * [J, 1]` or `[J, J]` → `[B, J, C]`.
 *
 * @example
 * const gatOut = tf.randomNormal([2, 21, 64]);
 * const femOut = tf.randomNormal([2, 21, 64]);
 * const out = dualBranchFusionCore(gatOut, femOut, tf.eye(21), tf.ones([21, 1])); // gatOut + femOut
 */
export function dualBranchFusionCore(
  structural: tf.Tensor,
  visual: tf.Tensor,
  structuralWeight: tf.Tensor,
  visualWeight: tf.Tensor,
): tf.Tensor3D {
  const fn = 'dualBranchFusionCore';
  const tensors = { structural, visual, structuralWeight, visualWeight };
  for (const [argument, value] of Object.entries(tensors)) checkTensor(fn, argument, value);
  if (structural.rank !== 3) throw new PhalanxShapeError(fn, 'structural', 'a [B, J, C] tensor', structural.shape);
  if (!tf.util.arraysEqual(structural.shape, visual.shape)) {
    throw new PhalanxShapeError(fn, 'visual', `the structural shape [${structural.shape.join(', ')}]`, visual.shape);
  }
  const [batch, joints] = structural.shape as number[];
  if (!tf.util.arraysEqual(structuralWeight.shape, [joints, joints])) {
    throw new PhalanxShapeError(fn, 'structuralWeight', `[J, J] = [${joints}, ${joints}]`, structuralWeight.shape);
  }
  const vShape = visualWeight.shape;
  if (vShape.length !== 2 || vShape[0] !== joints || (vShape[1] !== 1 && vShape[1] !== joints)) {
    throw new PhalanxShapeError(fn, 'visualWeight', `[${joints}, 1] or [${joints}, ${joints}]`, vShape);
  }
  return tf.tidy(() => {
    const fusedStructural = tf.matMul(repeatOverBatch(structuralWeight, batch), structural);
    const fusedVisual =
      vShape[1] === 1 // [J, 1] scales rows; for J = 1 this equals the 1×1 matrix product
        ? tf.mul(visual, visualWeight)
        : tf.matMul(repeatOverBatch(visualWeight, batch), visual);
    return tf.add(fusedStructural, fusedVisual) as tf.Tensor3D;
  });
}

/**
 * Configuration of {@link DualBranchFusion}. Optional fields default to {@link DUAL_BRANCH_FUSION_DEFAULTS}.
 */
export interface DualBranchFusionArgs extends LayerArgs {
  /** Number of joints J (an integer ≥ 1; the weight `[J, J]` has at most {@link MAX_ELEMENTS} entries). Required. */
  numJoints: number;
  /**
   * `'vector'` (the paper and the release): the visual weight is `[J, 1]`, initialised to ones, scaling
   * each joint's visual features. `'matrix'`: `[J, J]`, initialised to the identity, mixing visual features
   * across joints like the structural weight.
   */
  visualWeight?: VisualWeightForm;
}

/**
 * The keys of {@link DualBranchFusionArgs} beyond tfjs's `LayerArgs`: the constructor accepts these, `getConfig()`
 * writes them.
 */
const ARGS_KEYS = { numJoints: true, visualWeight: true } satisfies OwnArgsKeys<DualBranchFusionArgs>;

/**
 * Weighted fusion of the structural and visual branch outputs (EHPE Eq. 11):
 * `out[b] = structuralWeight · structural[b] + visualWeight ⊙ visual[b]` (`'matrix'`:
 * `visualWeight · visual[b]`). With its initial weights (identity, ones) the layer returns
 * `structural + visual`.
 *
 * Weights: `structuralWeight [J, J]` (identity), `visualWeight [J, 1]` (ones) or `[J, J]` (identity).
 *
 * **Shapes**: inputs `[structural [B, J, C], visual [B, J, C]]` → output `[B, J, C]`.
 *
 * @example
 * const fusion = dualBranchFusion({ numJoints: 21 });
 * const gatOut = tf.randomNormal([2, 21, 128]); // structural branch
 * const femOut = tf.randomNormal([2, 21, 128]); // visual branch
 * const fused = fusion.apply([gatOut, femOut]) as tf.Tensor; // [2, 21, 128], gatOut + femOut initially
 */
export class DualBranchFusion extends PhalanxLayer<DualBranchFusionArgs> {
  /** Name under which the class is registered for serialisation. */
  static className = 'DualBranchFusion';
  /** Number of joints J (size of `structuralWeight [J, J]`). */
  readonly numJoints: number;
  /**
   * Form of `visualWeight`: `'vector'` `[J, 1]` (scales each joint) or `'matrix'` `[J, J]` (mixes joints); the
   * constructor argument `visualWeight`.
   */
  readonly visualWeightForm: VisualWeightForm;
  private structuralWeight: tfl.LayerVariable | null = null;
  private visualWeight: tfl.LayerVariable | null = null;

  constructor(args: DualBranchFusionArgs) {
    super(args, ARGS_KEYS);
    this.numJoints = checkSize(COMPONENT, 'numJoints', args.numJoints, 1);
    checkElements(COMPONENT, 'structuralWeight [J, J] (numJoints²)', [this.numJoints, this.numJoints]);
    this.visualWeightForm = checkOneOf(
      COMPONENT,
      'visualWeight',
      args.visualWeight ?? DUAL_BRANCH_FUSION_DEFAULTS.visualWeight,
      ['vector', 'matrix'] as const,
    );
  }

  /** Checks the input shapes (`[structural, visual]`) for `build`, `computeOutputShape` and `call`. */
  private checkShapes(shapes: tfl.Shape[]): tfl.Shape {
    // One shape is shown as itself, a list of another length as the list.
    checkInputCount(
      COMPONENT,
      shapes,
      [2],
      'a list [structural, visual] of two tensors',
      shapes.length === 1 ? shapes[0] : shapes,
    );
    const [structural, visual] = shapes;
    for (const [name, shape] of [
      ['structural', structural],
      ['visual', visual],
    ] as const) {
      if (shape.length !== 3 || shape[1] !== this.numJoints) {
        throw new PhalanxShapeError(COMPONENT, `${name} shape`, `[B, numJoints = ${this.numJoints}, C]`, shape);
      }
    }
    if (structural[2] !== visual[2] || (structural[0] != null && visual[0] != null && structural[0] !== visual[0])) {
      throw new PhalanxShapeError(
        COMPONENT,
        'visual shape',
        `the structural shape ${JSON.stringify(structural)}`,
        visual,
      );
    }
    return structural;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    this.checkShapes(shapeList(inputShape));
    const J = this.numJoints;
    this.structuralWeight = this.addWeight(
      'structuralWeight',
      [J, J],
      'float32',
      tfl.initializers.identity({ gain: 1 }),
      undefined,
      true,
    );
    this.visualWeight =
      this.visualWeightForm === 'vector'
        ? this.addWeight('visualWeight', [J, 1], 'float32', tfl.initializers.ones(), undefined, true)
        : this.addWeight('visualWeight', [J, J], 'float32', tfl.initializers.identity({ gain: 1 }), undefined, true);
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return this.checkShapes(shapeList(inputShape));
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    void kwargs;
    return tf.tidy(() => {
      this.checkShapes(tensorShapes(inputs));
      const list = tensorList(inputs);
      const ws = (this.structuralWeight as tfl.LayerVariable).read();
      const wv = (this.visualWeight as tfl.LayerVariable).read();
      return dualBranchFusionCore(list[0], list[1], ws, wv);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { numJoints: this.numJoints, visualWeight: this.visualWeightForm, ...super.getConfig() };
  }
}
tf.serialization.registerClass(DualBranchFusion);
// EHPE's PGStage: omega_g [J, J] (structural), omega_e [J, 1] (visual), parameters of the module the
// layer is named after (`pg.omega_g`).
registerTorchConverter(
  DualBranchFusion,
  perWeightConverter({ structuralWeight: { torch: 'omega_g' }, visualWeight: { torch: 'omega_e' } }),
);

/**
 * Creates a {@link DualBranchFusion} layer.
 *
 * @example
 * const gatOut = tf.randomNormal([2, 21, 64]);
 * const femOut = tf.randomNormal([2, 21, 64]);
 * const fused = dualBranchFusion({ numJoints: 21 }).apply([gatOut, femOut]) as tf.Tensor; // [2, 21, 64]
 */
export function dualBranchFusion(args: DualBranchFusionArgs): DualBranchFusion {
  return new DualBranchFusion(args);
}
