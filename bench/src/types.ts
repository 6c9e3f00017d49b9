import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** What a layer benchmark needs: a built-on-demand layer and its inputs at the papers' sizes. */
export interface LayerBenchCase {
  /** Layer name as shown in the table, e.g. `ConcreteJointSelector (training)`. */
  name: string;
  /** The size measured, e.g. `B=32 J=21 G=3 C=2`. */
  size: string;
  /** Creates the layer and its inputs on the active backend. Called once per backend. */
  create(): { layer: tfl.layers.Layer; inputs: tf.Tensor[]; kwargs?: Record<string, unknown> };
}
