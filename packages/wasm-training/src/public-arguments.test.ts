import { PhalanxConfigError } from '@phalanx/errors';
import { describe, expect, it } from 'vitest';
import {
  getConv2DBackpropFilterStrategy,
  getConv2DBackpropInputStrategy,
  setConv2DBackpropFilterStrategy,
  setConv2DBackpropInputStrategy,
} from './conv2d-backprop';
import { setSimdKernelsEnabled } from './simd';

/** Calls `f` with a value its signature does not allow (what JavaScript callers and `as` casts can pass). */
function callWith<T>(f: (value: T) => void, value: unknown): () => void {
  return () => f(value as T);
}

const NOT_STRATEGIES: unknown[] = ['Winograd', 'gemm', '', undefined, null, 1, {}];

describe('public setters refuse values they cannot use by name, and keep the previous setting', () => {
  it('setConv2DBackpropFilterStrategy', () => {
    for (const value of NOT_STRATEGIES) {
      expect(callWith(setConv2DBackpropFilterStrategy, value), String(value)).toThrow(PhalanxConfigError);
      expect(getConv2DBackpropFilterStrategy()).toBe('winograd');
    }
    expect(callWith(setConv2DBackpropFilterStrategy, 'gemm')).toThrow(
      "setConv2DBackpropFilterStrategy: strategy must be one of 'winograd', 'shifted-gemm', 'swapped-conv', 'im2col', but received 'gemm'.",
    );
  });

  it('setConv2DBackpropInputStrategy', () => {
    for (const value of [...NOT_STRATEGIES, 'shifted-gemm']) {
      expect(callWith(setConv2DBackpropInputStrategy, value), String(value)).toThrow(PhalanxConfigError);
      expect(getConv2DBackpropInputStrategy()).toBe('winograd');
    }
  });

  it('setSimdKernelsEnabled', () => {
    // 'false' is truthy: it turned the kernels on.
    for (const value of ['false', 'true', 0, 1, undefined, null]) {
      expect(callWith(setSimdKernelsEnabled, value), String(value)).toThrow(PhalanxConfigError);
    }
    expect(callWith(setSimdKernelsEnabled, 'false')).toThrow(
      "setSimdKernelsEnabled: enabled must be a boolean, but received 'false'.",
    );
  });
});
