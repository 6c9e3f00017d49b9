import { describe, expect, it } from 'vitest';
import { det3, mulABt, svd3, type Matrix3 } from './linalg';
import { randomRotation, rng } from '../test/hands';

function reconstruct(U: Matrix3, S: number[], V: Matrix3): Matrix3 {
  const us = U.map((row) => row.map((v, k) => v * S[k]));
  return mulABt(us, V);
}

function maxAbs(a: Matrix3, b: Matrix3): number {
  return Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i][j]))));
}

const I: Matrix3 = [
  [1, 0, 0],
  [0, 1, 0],
  [0, 0, 1],
];

function expectOrthogonal(m: Matrix3): void {
  expect(maxAbs(mulABt(m, m), I)).toBeLessThan(1e-14);
}

describe('svd3', () => {
  it('decomposes random matrices to 1e-14 with orthogonal factors and sorted singular values', () => {
    const rand = rng(3);
    for (let trial = 0; trial < 200; trial++) {
      const a = [0, 1, 2].map(() => [0, 1, 2].map(() => 2 * rand() - 1));
      const { U, S, V } = svd3(a);
      expect(maxAbs(reconstruct(U, S, V), a)).toBeLessThan(1e-14);
      expectOrthogonal(U);
      expectOrthogonal(V);
      expect(S[0]).toBeGreaterThanOrEqual(S[1]);
      expect(S[1]).toBeGreaterThanOrEqual(S[2]);
      expect(S[2]).toBeGreaterThanOrEqual(0);
      expect(Math.abs(Math.abs(det3(a)) - S[0] * S[1] * S[2])).toBeLessThan(1e-14);
    }
  });

  it('recovers known singular values, also tiny ones, to high relative accuracy', () => {
    const rand = rng(11);
    const u = randomRotation(rand);
    const v = randomRotation(rand);
    const s = [5, 1e-3, 1e-9];
    const a = reconstruct(u, s, v);
    const { S } = svd3(a);
    expect(Math.abs(S[0] - 5) / 5).toBeLessThan(1e-14);
    expect(Math.abs(S[1] - 1e-3) / 1e-3).toBeLessThan(1e-10);
    expect(Math.abs(S[2] - 1e-9) / 1e-9).toBeLessThan(1e-5);
  });

  it('handles rank-deficient and zero matrices with orthonormal completions', () => {
    const rank1 = [
      [1, 2, 3],
      [2, 4, 6],
      [-1, -2, -3],
    ];
    const planar = [
      [1, 0, 0],
      [0, 2, 0],
      [0, 0, 0],
    ];
    const zero = [
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ];
    for (const a of [rank1, planar, zero]) {
      const { U, S, V } = svd3(a);
      expect(maxAbs(reconstruct(U, S, V), a)).toBeLessThan(1e-13);
      expectOrthogonal(U);
      expectOrthogonal(V);
    }
    expect(svd3(planar).S).toEqual([2, 1, 0]);
    expect(svd3(zero).S).toEqual([0, 0, 0]);
    // A pure reflection has all singular values 1 and det(U)·det(V) = −1.
    const { U, S, V } = svd3([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, -1],
    ]);
    expect(S).toEqual([1, 1, 1]);
    expect(det3(U) * det3(V)).toBeCloseTo(-1, 14);
  });
});
