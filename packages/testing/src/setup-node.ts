// Vitest setup for the Node test projects: marks the run as a test so tfjs does not print its
// "install tfjs-node" hint (and other one-time warnings) into every test file's output.
import * as tf from '@tensorflow/tfjs-core';

tf.env().set('IS_TEST', true);
