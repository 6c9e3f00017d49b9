/** The shard of a data-parallel replica, checked once for `shardBatch`, `shardBatches` and `prefetchBatches`. */
import { checkInteger, describeCompact, PhalanxConfigError } from '@phalanx/errors';

/**
 * `shard` as `{index, count}`: integers with 1 ≤ count (≤ `maxCount` when given) and 0 ≤ index < count; else a
 * `PhalanxConfigError` naming `name` and the field.
 */
export function checkShard(
  name: string,
  shard: { index: number; count: number },
  maxCount?: { value: number; label: string },
): { index: number; count: number } {
  if (shard === null || typeof shard !== 'object') {
    throw new PhalanxConfigError(name, 'shard', 'an object { index, count }', shard, describeCompact);
  }
  const count = checkInteger(name, 'shard.count', shard.count, 1);
  if (maxCount !== undefined && count > maxCount.value) {
    throw new PhalanxConfigError(
      name,
      'shard.count',
      `an integer in [1, ${maxCount.label}] = [1, ${maxCount.value}]`,
      count,
    );
  }
  const index = checkInteger(name, 'shard.index', shard.index, 0);
  if (index >= count) throw new PhalanxConfigError(name, 'shard.index', `an integer in [0, ${count - 1}]`, index);
  return { index, count };
}
