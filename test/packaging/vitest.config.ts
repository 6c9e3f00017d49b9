import { defineProject, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared';

export default mergeConfig(
  shared,
  defineProject({ test: { name: 'packaging', include: ['*.test.ts'], testTimeout: 600_000, hookTimeout: 600_000 } }),
);
