import { describe, expect, it } from 'vitest';
import { PhalanxConfigError } from '@phalanx/errors';
import { NUM_JOINTS } from '@phalanx/skeleton';
import { adjacencyFromEdges, handAdjacency, hopNeighborhood, validateAdjacency } from './adjacency';

/** Breadth-first shortest-path lengths from `start` (independent of the matrix-power implementation). */
function bfs(adjacency: number[][], start: number): number[] {
  const dist = adjacency.map(() => Infinity);
  dist[start] = 0;
  const queue = [start];
  while (queue.length > 0) {
    const i = queue.shift()!;
    adjacency[i].forEach((v, j) => {
      if (v === 1 && dist[j] === Infinity) {
        dist[j] = dist[i] + 1;
        queue.push(j);
      }
    });
  }
  return dist;
}

describe('hand skeleton', () => {
  it('handAdjacency is a symmetric 21×21 0/1 matrix with zero diagonal, a tree', () => {
    const a = handAdjacency();
    expect(a).toHaveLength(NUM_JOINTS);
    expect(validateAdjacency(a, 'test')).toEqual(a);
    expect(a.flat().reduce((s, v) => s + v, 0)).toBe(40);
    a.forEach((row, i) => expect(row[i]).toBe(0));
    // Degrees: wrist 5, finger bases and middle joints 2, tips 1.
    const degree = a.map((row) => row.reduce((s, v) => s + v, 0));
    expect(degree[0]).toBe(5);
    for (const tip of [4, 8, 12, 16, 20]) expect(degree[tip]).toBe(1);
    // Connected: every joint reachable from the wrist; tips are 4 bones away.
    const dist = bfs(a, 0);
    expect(dist.every(Number.isFinite)).toBe(true);
    for (const tip of [4, 8, 12, 16, 20]) expect(dist[tip]).toBe(4);
  });

  it('returns a fresh array each time', () => {
    const a = handAdjacency();
    a[0][1] = 7;
    expect(handAdjacency()[0][1]).toBe(1);
  });
});

describe('hopNeighborhood', () => {
  it('matches breadth-first distances ≤ hops on the hand skeleton, self included', () => {
    const a = handAdjacency();
    for (const hops of [0, 1, 2, 3]) {
      const n = hopNeighborhood(a, hops);
      for (let i = 0; i < a.length; i++) {
        const dist = bfs(a, i);
        expect(n[i], `hops ${hops}, row ${i}`).toEqual(dist.map((d) => (d <= hops ? 1 : 0)));
      }
    }
    // 1 hop: identity + 40 edge entries.
    expect(
      hopNeighborhood(a, 1)
        .flat()
        .reduce((s, v) => s + v, 0),
    ).toBe(61);
  });

  it('works on a path graph', () => {
    const path = adjacencyFromEdges(4, [
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
    expect(hopNeighborhood(path, 1)).toEqual([
      [1, 1, 0, 0],
      [1, 1, 1, 0],
      [0, 1, 1, 1],
      [0, 0, 1, 1],
    ]);
    expect(hopNeighborhood(path, 2)[0]).toEqual([1, 1, 1, 0]);
  });

  it('returns at once for any number of hops: beyond J − 1 nothing changes (1e9 hops hung)', () => {
    const start = performance.now();
    const all = hopNeighborhood(handAdjacency(), 1e9);
    expect(performance.now() - start).toBeLessThan(1000);
    expect(all).toEqual(hopNeighborhood(handAdjacency(), 20));
    expect(all.flat().every((v) => v === 1)).toBe(true); // the skeleton is connected
    expect(hopNeighborhood([[0]], 5)).toEqual([[1]]);
  });

  it('rejects bad hops and bad adjacency', () => {
    expect(() => hopNeighborhood(handAdjacency(), 1.5)).toThrow(
      'hopNeighborhood: hops must be an integer ≥ 0, but received 1.5.',
    );
    expect(() => hopNeighborhood([[0, 1]], 1)).toThrow(PhalanxConfigError);
  });
});

describe('validateAdjacency', () => {
  it('rejects non-square matrices', () => {
    expect(() => validateAdjacency([[0, 1], [1]], 'L')).toThrow(
      "L: adjacency must be square (2 rows of length 2), but received 'row 1 of length 1'.",
    );
    expect(() => validateAdjacency([], 'L')).toThrow(/L: adjacency must be a non-empty square/);
    expect(() => validateAdjacency('eye', 'L')).toThrow(PhalanxConfigError);
  });

  it('rejects asymmetric matrices', () => {
    expect(() =>
      validateAdjacency(
        [
          [0, 1],
          [0, 0],
        ],
        'L',
      ),
    ).toThrow("L: adjacency must be symmetric, but received '[0, 1] = 1 but [1, 0] = 0'.");
  });

  it('rejects entries other than 0 and 1', () => {
    expect(() =>
      validateAdjacency(
        [
          [0, 0.5],
          [0.5, 0],
        ],
        'L',
      ),
    ).toThrow("L: adjacency must be a matrix of 0s and 1s, but received '0.5 at [0, 1]'.");
  });

  it('rejects out-of-range edges', () => {
    expect(() => adjacencyFromEdges(3, [[0, 3]])).toThrow(PhalanxConfigError);
  });

  it('rejects a node count too large for its n × n arrays, and edges that are not pairs, at once by name', () => {
    const start = performance.now();
    const cases: [() => unknown, string][] = [
      // Before: a 10⁶ × 10⁶ array of arrays, until the JavaScript heap ran out.
      [
        () => adjacencyFromEdges(1e6, []),
        'adjacencyFromEdges: numNodes must be an integer in [1, 4096] (the result is an n × n array), but received 1000000.',
      ],
      [
        () => adjacencyFromEdges(3, null as never),
        'adjacencyFromEdges: edges must be a list of node index pairs [i, j], but received null.',
      ],
      [
        () => adjacencyFromEdges(3, [5 as never]),
        'adjacencyFromEdges: edges must be a list of node index pairs [i, j], but received [5].',
      ],
    ];
    for (const [f, message] of cases) {
      expect(f, message).toThrow(PhalanxConfigError);
      expect(f).toThrow(message);
    }
    expect(performance.now() - start).toBeLessThan(1000);
  });
});
