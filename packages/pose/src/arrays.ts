/**
 * Internal helpers: validate nested number arrays and turn tensors into float64 arrays, with named
 * errors that say which argument had which shape.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PhalanxShapeError } from './errors';

/** The shape of a nested array, read along its first elements. */
export function nestedShape(x: unknown): number[] {
  const shape: number[] = [];
  let v: unknown = x;
  while (Array.isArray(v) || ArrayBuffer.isView(v)) {
    const arr = v as ArrayLike<unknown>;
    shape.push(arr.length);
    v = arr[0];
  }
  return shape;
}

/** Shape of a tensor or nested array (for error messages). */
export function shapeOfInput(x: unknown): number[] | string {
  if (x instanceof tf.Tensor) return x.shape;
  if (Array.isArray(x) || ArrayBuffer.isView(x)) return nestedShape(x);
  return x === null ? 'null' : typeof x;
}

/**
 * Checks that `x` is a rectangular nested array of finite-or-NaN numbers whose rank is one of `ranks`
 * and whose last axis (when `lastDims` is given) has one of those sizes; returns its shape.
 */
export function checkArray(
  component: string,
  argument: string,
  x: unknown,
  ranks: readonly number[],
  expected: string,
  lastDims?: readonly number[],
): number[] {
  const shape = nestedShape(x);
  const fail = (): never => {
    throw new PhalanxShapeError(component, argument, expected, shapeOfInput(x));
  };
  if (!ranks.includes(shape.length)) fail();
  if (lastDims && !lastDims.includes(shape[shape.length - 1])) fail();
  const walk = (v: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (typeof v !== 'number' && typeof v !== 'boolean') {
        throw new PhalanxShapeError(component, argument, `${expected} of numbers`, typeof v);
      }
      return;
    }
    if (!(Array.isArray(v) || ArrayBuffer.isView(v)) || (v as ArrayLike<unknown>).length !== shape[depth]) {
      throw new PhalanxShapeError(component, argument, `${expected} (a rectangular array)`, 'a ragged array');
    }
    const arr = v as ArrayLike<unknown>;
    for (let i = 0; i < arr.length; i++) walk(arr[i], depth + 1);
  };
  walk(x, 0);
  return shape;
}

/** A tensor's values as nested float64 arrays (synchronous read; meant for metrics, not for a forward pass). */
export function tensorToArray(x: tf.Tensor): unknown {
  return x.arraySync();
}

/** Nested array or tensor → nested array, checked as in {@link checkArray}. */
export function readPoints(
  component: string,
  argument: string,
  x: unknown,
  ranks: readonly number[],
  expected: string,
  lastDims?: readonly number[],
): { value: unknown; shape: number[] } {
  if (x instanceof tf.Tensor) {
    if (!ranks.includes(x.rank) || (lastDims && !lastDims.includes(x.shape[x.rank - 1]))) {
      throw new PhalanxShapeError(component, argument, expected, x.shape);
    }
    return { value: tensorToArray(x), shape: x.shape };
  }
  const shape = checkArray(component, argument, x, ranks, expected, lastDims);
  return { value: x, shape };
}
