/**
 * The worker-thread entry of `prefetchBatches`: renders one batch and transfers its buffers (no copy) to
 * the thread that asked.
 */
import { Tinypool, type Transferable } from 'tinypool';
import { packedBuffers } from '../batch-pack';
import { renderBatch, type BatchTask } from './batch-task';

/** Tinypool calls the default export with each task; the result's buffers are moved, not copied. */
export default function renderTask(task: BatchTask) {
  const rendered = renderBatch(task);
  // Tinypool's transferable protocol: the value sent and the buffers moved with it.
  const movable = { [Tinypool.transferableSymbol]: packedBuffers(rendered.batch), [Tinypool.valueSymbol]: rendered };
  return Tinypool.move(movable as unknown as Transferable);
}
