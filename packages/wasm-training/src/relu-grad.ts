import * as tf from '@tensorflow/tfjs-core';

/**
 * Gradient of `Relu` from its **output**: ∂x = dy·[y > 0], and y = max(x, 0) > 0 exactly when x > 0,
 * so the values are bitwise those of tfjs-core's gradient (dy·[x > 0]), which saves the input instead.
 * Saving the output lets the tape drop the input: in pre-activation blocks (batch norm → ReLU → conv)
 * the batch-norm output is then freed right after the forward ReLU, since the convolution already
 * keeps the ReLU's output. (A NaN input gives a NaN gradient in tfjs's version and, as relu(NaN) is
 * 0 on wasm, 0 here.)
 */
export const reluGradConfig: tf.GradConfig = {
  kernelName: tf.Relu,
  outputsToSave: [true],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const [y] = saved;
    return { x: () => tf.mul(dy as tf.Tensor, tf.cast(tf.step(y), 'float32')) };
  },
};
