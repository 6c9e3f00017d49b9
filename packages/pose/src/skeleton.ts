/**
 * What pose analysis adds to the 21-joint hand skeleton of `@phalanx/skeleton` (FreiHAND / MANO
 * order): joint classes, adjacency with hops, and the permutations to and from the order of the
 * Rendered Hand Pose dataset (RHD).
 */
import * as tf from '@tensorflow/tfjs-core';
import { PhalanxConfigError, PhalanxShapeError, checkInteger, checkOptions } from '@phalanx/errors';
import { JOINT_NAMES, NUM_JOINTS, SKELETON_EDGES } from '@phalanx/skeleton';
import { checkArray, nestedShape } from './arrays';

/** Joint classes for per-class error analysis (EHPE Fig. 1), from the wrist outwards. */
export const JOINT_CLASS_NAMES = Object.freeze(['WRIST', 'MCP', 'PIP', 'DIP', 'TIP'] as const);

/** One of {@link JOINT_CLASS_NAMES}. */
export type JointClass = (typeof JOINT_CLASS_NAMES)[number];

/**
 * Class of each joint. The thumb's CMC, MCP and IP joints sit in the MCP, PIP and DIP slots and are
 * classed by slot (thumb CMC → `'MCP'`, thumb MCP → `'PIP'`, thumb IP → `'DIP'`), as docs/conventions.md orders them.
 */
export const JOINT_CLASSES: readonly JointClass[] = Object.freeze(
  Array.from({ length: NUM_JOINTS }, (_, j): JointClass =>
    j === 0 ? 'WRIST' : (['MCP', 'PIP', 'DIP', 'TIP'] as const)[(j - 1) % 4],
  ),
);

/** Joint indices of one class, e.g. `jointsOfClass('TIP')` → `[4, 8, 12, 16, 20]`. */
export function jointsOfClass(jointClass: JointClass): number[] {
  if (!JOINT_CLASS_NAMES.includes(jointClass)) {
    throw new PhalanxConfigError('jointsOfClass', 'jointClass', `one of ${JOINT_CLASS_NAMES.join(', ')}`, jointClass);
  }
  return JOINT_CLASSES.flatMap((c, j) => (c === jointClass ? [j] : []));
}

/** Options of {@link adjacency} and {@link hopDistances}. */
export interface AdjacencyOptions {
  /** Joints within this many bones of each other are connected. Integer ≥ 1; default 1 (the skeleton's bones). */
  hops?: number;
  /** Put ones on the diagonal (each joint its own neighbour). Default `false`. */
  selfLoops?: boolean;
  /** Undirected edges `[a, b]`; default {@link @phalanx/skeleton!SKELETON_EDGES}. */
  edges?: readonly (readonly [number, number])[];
  /** Number of nodes; default 21, or one more than the largest index in `edges` when edges are given. */
  numJoints?: number;
}

/**
 * The most joints {@link hopDistances} and {@link adjacency} take: their `[J][J]` result is plain arrays
 * (4096² ≈ 16.8 million numbers, 134 MB); a larger J would exhaust the JavaScript heap.
 */
const MAX_GRAPH_JOINTS = 4096;

/**
 * The keys of {@link AdjacencyOptions}, accepted by `adjacency` and `hopDistances` alike (one options
 * object may serve both): any other key is a named error.
 */
const ADJACENCY_OPTION_KEYS = { hops: true, selfLoops: true, edges: true, numJoints: true } satisfies Record<
  keyof AdjacencyOptions,
  true
>;

/** The edges and joint count of `options`, checked with named errors naming `component`. */
function graphOf(
  component: string,
  options: Pick<AdjacencyOptions, 'edges' | 'numJoints'>,
): { edges: readonly (readonly [number, number])[]; n: number } {
  checkOptions(
    component,
    'options',
    options,
    ADJACENCY_OPTION_KEYS,
    'an options object {hops?, selfLoops?, edges?, numJoints?}',
  );
  const edges = options.edges ?? SKELETON_EDGES;
  if (!Array.isArray(edges) || !edges.every((e) => Array.isArray(e) && e.length === 2)) {
    throw new PhalanxConfigError(component, 'edges', 'a list of joint index pairs [a, b]', edges);
  }
  const maxIndex = edges.reduce((m, [a, b]) => Math.max(m, a, b), -1);
  const n = options.numJoints ?? (options.edges ? maxIndex + 1 : NUM_JOINTS);
  checkInteger(component, 'numJoints', n, 1);
  if (n > MAX_GRAPH_JOINTS) {
    const expected = `an integer in [1, ${MAX_GRAPH_JOINTS}] (the result is a [J][J] array; J is one more than the largest index of edges when not given)`;
    throw new PhalanxConfigError(component, 'numJoints', expected, n);
  }
  return { edges, n };
}

/**
 * Shortest-path lengths (in bones) between all joints of an undirected graph; `Infinity` between
 * disconnected joints. Breadth-first search from every joint. Throws `PhalanxConfigError` for options that
 * are not an object, `edges` that are not index pairs in `[0, J − 1]`, and a J that is not an integer in
 * [1, 4096].
 *
 * **Shapes**: returns `[J][J]`.
 * @example
 * hopDistances()[0][4]; // 4: wrist → thumb tip
 */
export function hopDistances(options: Pick<AdjacencyOptions, 'edges' | 'numJoints'> = {}): number[][] {
  const { edges, n } = graphOf('hopDistances', options);
  const neighbours: number[][] = Array.from({ length: n }, () => []);
  for (const [a, b] of edges) {
    if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < 0 || a >= n || b >= n) {
      throw new PhalanxConfigError('hopDistances', 'edges', `pairs of joint indices in [0, ${n - 1}]`, [a, b]);
    }
    neighbours[a].push(b);
    neighbours[b].push(a);
  }
  return neighbours.map((_, source) => {
    const dist = new Array<number>(n).fill(Infinity);
    dist[source] = 0;
    const queue = [source];
    for (let head = 0; head < queue.length; head++) {
      const u = queue[head];
      for (const v of neighbours[u]) {
        if (dist[v] === Infinity) {
          dist[v] = dist[u] + 1;
          queue.push(v);
        }
      }
    }
    return dist;
  });
}

/**
 * Symmetric 0/1 adjacency matrix: `A[i][j] = 1` when joints i and j are 1 … `hops` bones apart
 * (and on the diagonal with `selfLoops`). `hops: 2` gives the two-hop neighbourhood of EHPE's second
 * graph-attention layer. Throws `PhalanxConfigError` as {@link hopDistances}, and for `hops` and
 * `selfLoops` that are not an integer ≥ 1 and a boolean.
 *
 * **Shapes**: returns `[J][J]` (plain numbers; `tf.tensor2d(adjacency())` for a tensor).
 * @example
 * const a = adjacency({ hops: 2 });
 * a[0][2]; // 1: wrist – thumb CMC – thumb MCP
 */
export function adjacency(options: AdjacencyOptions = {}): number[][] {
  graphOf('adjacency', options);
  const hops = checkInteger('adjacency', 'hops', options.hops ?? 1, 1);
  const selfLoops = options.selfLoops ?? false;
  if (typeof selfLoops !== 'boolean') throw new PhalanxConfigError('adjacency', 'selfLoops', 'a boolean', selfLoops);
  return hopDistances(options).map((row) => row.map((d) => (d === 0 ? (selfLoops ? 1 : 0) : d <= hops ? 1 : 0)));
}

// ---------------------------------------------------------------------------------------------
// RHD order
// ---------------------------------------------------------------------------------------------

/** Keypoints per RHD sample: left hand 0–20, right hand 21–41. */
export const RHD_NUM_KEYPOINTS = 42;

/**
 * Gather indices from RHD's per-hand order to FreiHAND order: `freihand[i] = rhd[RHD_TO_FREIHAND[i]]`.
 * RHD stores 0 wrist, then each finger from tip to base (thumb 1 tip, 2 IP, 3 MCP, 4 CMC; index 5
 * tip … 8 MCP; middle 9–12; ring 13–16; pinky 17–20), so each finger's four slots are reversed.
 */
export const RHD_TO_FREIHAND: readonly number[] = Object.freeze(
  Array.from({ length: NUM_JOINTS }, (_, i) => (i === 0 ? 0 : 4 * Math.floor((i - 1) / 4) + 4 - ((i - 1) % 4))),
);

/** Gather indices from FreiHAND order to RHD order: `rhd[i] = freihand[FREIHAND_TO_RHD[i]]` (the inverse permutation). */
export const FREIHAND_TO_RHD: readonly number[] = Object.freeze(invertPermutation(RHD_TO_FREIHAND));

/** Joint names in RHD's per-hand order (0 wrist, then each finger tip first). */
export const RHD_JOINT_NAMES: readonly string[] = Object.freeze(FREIHAND_TO_RHD.map((i) => JOINT_NAMES[i]));

/** Inverse of a permutation given as gather indices: `inverse[perm[i]] = i`. */
export function invertPermutation(perm: readonly number[]): number[] {
  return checkedInverse('invertPermutation', perm);
}

/** The inverse of `perm`, or a `PhalanxConfigError` of `component` when `perm` is not a permutation. */
function checkedInverse(component: string, perm: readonly number[]): number[] {
  if (!Array.isArray(perm)) throw new PhalanxConfigError(component, 'perm', 'an array (a permutation)', perm);
  const inverse = new Array<number>(perm.length).fill(-1);
  perm.forEach((p, i) => {
    if (!Number.isInteger(p) || p < 0 || p >= perm.length || inverse[p] !== -1) {
      throw new PhalanxConfigError(component, 'perm', `a permutation of 0…${perm.length - 1}`, perm);
    }
    inverse[p] = i;
  });
  return inverse;
}

/** Nested number arrays of any depth (`[J][D]`, `[N][J][D]`, `[N][J]`, …). */
export type NestedArray = number | boolean | NestedArray[];

/**
 * The shape of a tensor, or of a nested array checked rectangular with numbers or booleans at the leaves (a
 * ragged array such as `[[1, 2], [3]]` is a `PhalanxShapeError` naming `component`'s `x`, not a result with
 * holes).
 */
function shapeOf(component: string, x: tf.Tensor | NestedArray[]): readonly number[] {
  if (x instanceof tf.Tensor) return x.shape;
  return checkArray(component, 'x', x, [nestedShape(x).length], 'an array');
}

/**
 * Reorders the joint axis of an array or tensor: `out[…, i, …] = x[…, perm[i], …]`.
 *
 * **Shapes**: any rank ≥ 1; `axis` (default −2, i.e. `[…, J, D]`; use −1 for `[…, J]` visibility)
 * must have `perm.length` entries, and `perm` must be a permutation of `0…J − 1` (else a
 * `PhalanxConfigError`). Tensors in, tensors out (`tf.gather`); arrays in, arrays out — a ragged array
 * (`[[1, 2], [3]]`) is a `PhalanxShapeError`.
 * @example
 * const rhdXyz = Array.from({ length: 21 }, (_, j) => [j, 0, 0]); // one RHD hand, RHD joint order
 * permuteJoints(rhdXyz, RHD_TO_FREIHAND); // [21][3] in FreiHAND order
 */
export function permuteJoints<T extends tf.Tensor | NestedArray[]>(x: T, perm: readonly number[], axis = -2): T {
  checkedInverse('permuteJoints', perm);
  const shape = shapeOf('permuteJoints', x);
  const ax = axis < 0 ? shape.length + axis : axis;
  if (ax < 0 || ax >= shape.length || shape[ax] !== perm.length) {
    throw new PhalanxShapeError(
      'permuteJoints',
      'x',
      `an array or tensor with ${perm.length} joints on axis ${axis}`,
      shape,
    );
  }
  if (x instanceof tf.Tensor) return tf.gather(x, Array.from(perm), ax) as T;
  const go = (v: NestedArray[], depth: number): NestedArray[] =>
    depth === ax ? perm.map((p) => v[p]) : v.map((child) => go(child as NestedArray[], depth + 1));
  return go(x as NestedArray[], 0) as T;
}

/** RHD per-hand order → FreiHAND order (see {@link permuteJoints} for shapes). */
export function rhdToFreihand<T extends tf.Tensor | NestedArray[]>(x: T, axis = -2): T {
  return permuteJoints(x, RHD_TO_FREIHAND, axis);
}

/** FreiHAND order → RHD per-hand order (see {@link permuteJoints} for shapes). */
export function freihandToRhd<T extends tf.Tensor | NestedArray[]>(x: T, axis = -2): T {
  return permuteJoints(x, FREIHAND_TO_RHD, axis);
}

/**
 * Picks one hand out of RHD's 42 keypoints (left 0–20, right 21–41) and returns it in FreiHAND order.
 *
 * **Shapes**: `[…, 42, D]` (axis −2, default) or `[…, 42]` (axis −1) → the same with 21. A ragged array
 * is a `PhalanxShapeError`, as in {@link permuteJoints}.
 * @example
 * const anno = { xyz: Array.from({ length: 42 }, (_, j) => [j, 0, 0]) }; // RHD: left hand 0–20, right 21–41
 * rhdHandToFreihand(anno.xyz, 'right'); // [21][3]
 */
export function rhdHandToFreihand<T extends tf.Tensor | NestedArray[]>(x: T, hand: 'left' | 'right', axis = -2): T {
  if (hand !== 'left' && hand !== 'right') {
    throw new PhalanxConfigError('rhdHandToFreihand', 'hand', "'left' or 'right'", hand);
  }
  const offset = hand === 'left' ? 0 : NUM_JOINTS;
  const shape = shapeOf('rhdHandToFreihand', x);
  const ax = axis < 0 ? shape.length + axis : axis;
  if (ax < 0 || ax >= shape.length || shape[ax] !== RHD_NUM_KEYPOINTS) {
    throw new PhalanxShapeError(
      'rhdHandToFreihand',
      'x',
      `an array or tensor with 42 keypoints on axis ${axis}`,
      shape,
    );
  }
  const gathered = RHD_TO_FREIHAND.map((p) => p + offset);
  if (x instanceof tf.Tensor) return tf.gather(x, gathered, ax) as T;
  const go = (v: NestedArray[], depth: number): NestedArray[] =>
    depth === ax ? gathered.map((p) => v[p]) : v.map((child) => go(child as NestedArray[], depth + 1));
  return go(x as NestedArray[], 0) as T;
}
