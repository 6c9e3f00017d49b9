/**
 * A PyTorch checkpoint picked in the page — a `.pth`/`.pt` file as `torch.save` writes it (read in the
 * browser, no Python) or a `.safetensors` file — loaded into the network the page runs. The checkpoint
 * must be a `state_dict` of the same network and configuration (e.g. the official code's, or
 * `exportTorchStateDict` of a Phalanx model): the page builds a fresh model of the current network's
 * topology as loaded (batch norms and all — the estimator's own model has them folded away), imports the
 * tensors by their PyTorch names (strictly; a mismatch names every wrong key and leaves the running model as
 * it was) and runs the copy through an estimator of its own.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import {
  estimatorWithTorchWeights,
  readTorchCheckpoint,
  type HandPoseEstimator,
  type HandPoseModelName,
} from '@phalanx/pretrained';
import type { NetworkTopology } from './pose-model';

/** Reads a `.safetensors` file or a PyTorch checkpoint (`readTorchCheckpoint` of `@phalanx/pretrained`). */
export const readCheckpoint = readTorchCheckpoint;

/** A new model of `topology` (fresh weights) with a copy of `metadata`. */
async function freshCopy(topology: NetworkTopology, metadata: Record<string, unknown> = {}): Promise<tfl.LayersModel> {
  const copy = await tfl.models.modelFromJSON({ modelTopology: topology });
  copy.setUserDefinedMetadata({ ...metadata });
  return copy;
}

/**
 * Loads the checkpoint `bytes` (named `name`) into a fresh model of `topology`, a `kind` network with the
 * user-defined `metadata` (its card), and returns the estimator of that model (`estimatorWithTorchWeights`).
 * Throws the import's named error (and frees everything it made) when the checkpoint does not fit the network.
 */
export async function estimatorFromCheckpoint(
  kind: HandPoseModelName,
  topology: NetworkTopology,
  metadata: Record<string, unknown> | undefined,
  bytes: Uint8Array,
  name: string,
): Promise<HandPoseEstimator> {
  return estimatorWithTorchWeights(kind, await freshCopy(topology, metadata), bytes, name);
}
