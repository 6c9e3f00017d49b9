/**
 * Hand skeleton graph helpers: the 21-joint FreiHAND/MANO skeleton, its adjacency matrix, k-hop
 * neighbourhoods and adjacency validation. Small and dependency-free (plain arrays, no tensors) so
 * that `@phalanx/pose` and the graph layers can share them.
 *
 * Joint order (docs/conventions.md): 0 wrist; thumb 1–4, index 5–8, middle 9–12, ring 13–16, pinky 17–20, each
 * finger ordered MCP, PIP, DIP, TIP (thumb: CMC, MCP, IP, TIP).
 */
import { PhalanxConfigError } from '@phalanx/errors';

/** Number of joints of the FreiHAND/MANO hand skeleton. */
export const HAND_NUM_JOINTS = 21;

/**
 * The 20 undirected bones of the 21-joint hand skeleton as `[parent, child]` pairs: the wrist (0) to
 * each finger base (1, 5, 9, 13, 17) and the three bones of each finger (base → … → tip).
 *
 * @example
 * HAND_SKELETON_EDGES.length; // 20
 * HAND_SKELETON_EDGES[0];     // [0, 1]  (wrist – thumb CMC)
 */
export const HAND_SKELETON_EDGES: ReadonlyArray<readonly [number, number]> = Object.freeze(
  [0, 1, 2, 3, 4].flatMap((finger) => {
    const base = 1 + 4 * finger;
    return [
      Object.freeze([0, base] as const),
      Object.freeze([base, base + 1] as const),
      Object.freeze([base + 1, base + 2] as const),
      Object.freeze([base + 2, base + 3] as const),
    ];
  }),
);

/**
 * Builds a symmetric `n × n` 0/1 adjacency matrix (zero diagonal unless an edge is a self loop) from
 * undirected edges.
 *
 * **Shapes**: `edges` `[E][2]` → `[n][n]`.
 *
 * @example
 * adjacencyFromEdges(3, [[0, 1], [1, 2]]); // [[0,1,0],[1,0,1],[0,1,0]]
 */
export function adjacencyFromEdges(numNodes: number, edges: ReadonlyArray<readonly [number, number]>): number[][] {
  if (!Number.isInteger(numNodes) || numNodes < 1) {
    throw new PhalanxConfigError('adjacencyFromEdges', 'numNodes', 'an integer ≥ 1', numNodes);
  }
  const a = Array.from({ length: numNodes }, () => new Array<number>(numNodes).fill(0));
  for (const [i, j] of edges) {
    for (const v of [i, j]) {
      if (!Number.isInteger(v) || v < 0 || v >= numNodes) {
        throw new PhalanxConfigError('adjacencyFromEdges', 'edges', `node indices in [0, ${numNodes - 1}]`, [i, j]);
      }
    }
    a[i][j] = 1;
    a[j][i] = 1;
  }
  return a;
}

/**
 * The 21 × 21 0/1 adjacency matrix of the hand skeleton ({@link HAND_SKELETON_EDGES}): symmetric,
 * zero diagonal, 40 ones (20 undirected edges). A fresh array on each call.
 *
 * **Shapes**: → `[21][21]`.
 *
 * @example
 * const a = handAdjacency();
 * a[0][5]; // 1 (wrist – index MCP)
 * a[4][5]; // 0 (thumb tip and index MCP are not connected)
 */
export function handAdjacency(): number[][] {
  return adjacencyFromEdges(HAND_NUM_JOINTS, HAND_SKELETON_EDGES);
}

/**
 * Checks that `adjacency` is a non-empty square, symmetric matrix of 0s and 1s and returns it as a
 * fresh `number[][]`. Throws a {@link PhalanxConfigError} naming `component` and `argument` otherwise.
 *
 * @example
 * validateAdjacency([[0, 1], [1, 0]], 'MyLayer'); // ok
 * validateAdjacency([[0, 1], [0, 0]], 'MyLayer'); // throws: MyLayer: adjacency must be symmetric …
 */
export function validateAdjacency(adjacency: unknown, component: string, argument = 'adjacency'): number[][] {
  if (!Array.isArray(adjacency) || adjacency.length === 0) {
    throw new PhalanxConfigError(component, argument, 'a non-empty square J×J array of 0/1 rows', adjacency);
  }
  const n = adjacency.length;
  adjacency.forEach((row: unknown, i) => {
    if (!Array.isArray(row) || row.length !== n) {
      throw new PhalanxConfigError(
        component,
        argument,
        `square (${n} rows of length ${n})`,
        `row ${i} of length ${Array.isArray(row) ? row.length : typeof row}`,
      );
    }
    row.forEach((v: unknown, j) => {
      if (v !== 0 && v !== 1) {
        throw new PhalanxConfigError(
          component,
          argument,
          'a matrix of 0s and 1s',
          `${describeValue(v)} at [${i}, ${j}]`,
        );
      }
    });
  });
  const a = adjacency as number[][];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (a[i][j] !== a[j][i]) {
        throw new PhalanxConfigError(
          component,
          argument,
          'symmetric',
          `[${i}, ${j}] = ${a[i][j]} but [${j}, ${i}] = ${a[j][i]}`,
        );
      }
    }
  }
  return a.map((row) => row.slice());
}

function describeValue(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : String(v);
}

/**
 * The `hops`-step neighbourhood of every node: `N[i][j] = 1` when j can be reached from i in at most
 * `hops` steps along `adjacency`, i itself included (`N = [(I + A)^hops > 0]`).
 *
 * **Shapes**: `adjacency` `[J][J]` (validated: square, symmetric, 0/1) → `[J][J]` 0/1 with ones on
 * the diagonal.
 *
 * @example
 * hopNeighborhood([[0, 1, 0], [1, 0, 1], [0, 1, 0]], 1); // [[1,1,0],[1,1,1],[0,1,1]]
 * hopNeighborhood([[0, 1, 0], [1, 0, 1], [0, 1, 0]], 2); // all ones
 */
export function hopNeighborhood(adjacency: readonly (readonly number[])[], hops: number): number[][] {
  const a = validateAdjacency(adjacency, 'hopNeighborhood');
  if (!Number.isInteger(hops) || hops < 0) {
    throw new PhalanxConfigError('hopNeighborhood', 'hops', 'an integer ≥ 0', hops);
  }
  const n = a.length;
  let reach = a.map((_, i) => a.map((__, j) => (i === j ? 1 : 0)));
  for (let step = 0; step < hops; step++) {
    const next = reach.map((row) => row.slice());
    for (let i = 0; i < n; i++) {
      for (let m = 0; m < n; m++) {
        if (reach[i][m] !== 1) continue;
        for (let j = 0; j < n; j++) if (a[m][j] === 1) next[i][j] = 1;
      }
    }
    reach = next;
  }
  return reach;
}
