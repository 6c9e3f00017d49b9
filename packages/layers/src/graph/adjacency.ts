/**
 * Graph helpers of the graph layers: adjacency matrices from edges, the hand skeleton's adjacency (the
 * bones of `@phalanx/skeleton`), k-hop neighbourhoods and adjacency validation. Plain arrays, no
 * tensors.
 */
import { PhalanxConfigError } from '@phalanx/errors';
import { NUM_JOINTS, SKELETON_EDGES } from '@phalanx/skeleton';

/**
 * The most nodes {@link adjacencyFromEdges} takes: its `n × n` result is plain arrays (4096² ≈ 16.8
 * million numbers, 134 MB); a larger n would exhaust the JavaScript heap.
 */
const MAX_NODES = 4096;

/**
 * Builds a symmetric `n × n` 0/1 adjacency matrix (zero diagonal unless an edge is a self loop) from
 * undirected edges. Throws `PhalanxConfigError` for a `numNodes` that is not an integer in [1, 4096] and
 * `edges` that are not a list of node index pairs in `[0, n − 1]`.
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
  if (numNodes > MAX_NODES) {
    const expected = `an integer in [1, ${MAX_NODES}] (the result is an n × n array)`;
    throw new PhalanxConfigError('adjacencyFromEdges', 'numNodes', expected, numNodes);
  }
  if (!Array.isArray(edges) || !edges.every((e) => Array.isArray(e) && e.length === 2)) {
    throw new PhalanxConfigError('adjacencyFromEdges', 'edges', 'a list of node index pairs [i, j]', edges);
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
 * The 21 × 21 0/1 adjacency matrix of the hand skeleton (the bones
 * {@link @phalanx/skeleton!SKELETON_EDGES}): symmetric,
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
  return adjacencyFromEdges(NUM_JOINTS, SKELETON_EDGES);
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
  // Every node reachable at all is reachable in n − 1 steps: more hops change nothing (and 1e9 of them hung).
  for (let step = 0; step < Math.min(hops, n - 1); step++) {
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
