/**
 * `--weights FILE`: the chosen network with PyTorch weights instead of the shipped ones — a `.pth`/`.pt`
 * checkpoint as `torch.save` writes it (read directly, no Python) or a `.safetensors` file — holding a
 * `state_dict` of that network in the shipped model's configuration (e.g. `exportTorchStateDict` of the
 * shipped model, trained further in PyTorch).
 */
import {
  estimatorWithTorchWeights,
  loadHandPoseModel,
  type HandPoseEstimator,
  type HandPoseModelName,
} from '@phalanx/pretrained';

/**
 * The estimator of network `name` with the weights of the checkpoint `bytes` (named `file` in errors):
 * the shipped model's layers with the checkpoint imported strictly by PyTorch names
 * (`estimatorWithTorchWeights`; a mismatch is a named error and leaves nothing allocated).
 */
export async function shippedWithTorchWeights(
  name: HandPoseModelName,
  bytes: Uint8Array,
  file: string,
): Promise<HandPoseEstimator> {
  const model = await loadHandPoseModel(name);
  return estimatorWithTorchWeights(name, model, bytes, file);
}
