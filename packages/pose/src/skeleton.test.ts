import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@phalanx/testing';
import { PhalanxConfigError, PhalanxShapeError } from '@phalanx/errors';
import { beforeAll, describe, expect, it } from 'vitest';
import { SKELETON_EDGES, TIP_AND_WRIST_JOINTS } from '@phalanx/skeleton';
import {
  FREIHAND_TO_RHD,
  JOINT_CLASSES,
  RHD_JOINT_NAMES,
  RHD_TO_FREIHAND,
  adjacency,
  freihandToRhd,
  hopDistances,
  invertPermutation,
  jointsOfClass,
  permuteJoints,
  rhdHandToFreihand,
  rhdToFreihand,
} from './skeleton';

beforeAll(async () => {
  await useBackend('cpu');
});

describe('joint classes', () => {
  it('classes joints by slot, with the thumb in the MCP/PIP/DIP/TIP slots', () => {
    expect(jointsOfClass('TIP')).toEqual([4, 8, 12, 16, 20]);
    expect(jointsOfClass('MCP')).toEqual([1, 5, 9, 13, 17]);
    expect(jointsOfClass('PIP')).toEqual([2, 6, 10, 14, 18]);
    expect(jointsOfClass('DIP')).toEqual([3, 7, 11, 15, 19]);
    expect(jointsOfClass('WRIST')).toEqual([0]);
    expect(JOINT_CLASSES[1]).toBe('MCP'); // thumb CMC
    expect(TIP_AND_WRIST_JOINTS).toEqual([0, 4, 8, 12, 16, 20]);
    expect(() => jointsOfClass('KNUCKLE' as never)).toThrow(
      "jointsOfClass: jointClass must be one of WRIST, MCP, PIP, DIP, TIP, but received 'KNUCKLE'.",
    );
  });
});

describe('adjacency', () => {
  it('1 hop is the symmetric skeleton with 40 ones and no self loops by default', () => {
    const a = adjacency();
    expect(a).toHaveLength(21);
    let ones = 0;
    for (let i = 0; i < 21; i++) {
      expect(a[i][i]).toBe(0);
      for (let j = 0; j < 21; j++) {
        expect(a[i][j]).toBe(a[j][i]);
        ones += a[i][j];
      }
    }
    expect(ones).toBe(40);
    for (const [p, c] of SKELETON_EDGES) expect(a[p][c]).toBe(1);
  });

  it('2 hops adds grand-parents and siblings through the wrist; self loops on request', () => {
    const a2 = adjacency({ hops: 2, selfLoops: true });
    const d = hopDistances();
    for (let i = 0; i < 21; i++) {
      for (let j = 0; j < 21; j++) expect(a2[i][j]).toBe(d[i][j] <= 2 ? 1 : 0);
    }
    expect(a2[0][2]).toBe(1); // wrist – thumb MCP
    expect(a2[1][5]).toBe(1); // thumb CMC – index MCP through the wrist
    expect(a2[0][3]).toBe(0);
    expect(a2[4][4]).toBe(1);
    expect(d[4][20]).toBe(8);
    // Wrist's 2-hop neighbourhood: 5 bases + 5 second joints.
    expect(adjacency({ hops: 2 })[0].reduce((s, v) => s + v, 0)).toBe(10);
    // Enough hops connect everything.
    expect(
      adjacency({ hops: 8 })
        .flat()
        .reduce((s, v) => s + v, 0),
    ).toBe(21 * 21 - 21);
  });

  it('accepts custom edges and rejects bad options', () => {
    expect(
      adjacency({
        edges: [
          [0, 1],
          [1, 2],
        ],
      }),
    ).toEqual([
      [0, 1, 0],
      [1, 0, 1],
      [0, 1, 0],
    ]);
    expect(() => adjacency({ hops: 0 })).toThrow('adjacency: hops must be an integer ≥ 1, but received 0.');
    expect(() => adjacency({ hops: 1.5 })).toThrow('adjacency: hops must be an integer ≥ 1, but received 1.5.');
    expect(() => adjacency({ edges: [[0, 5]], numJoints: 3 })).toThrow(
      'hopDistances: edges must be pairs of joint indices in [0, 2], but received [0, 5].',
    );
  });

  it('refuses a graph too large for its [J][J] arrays, and options of the wrong type, at once by name', () => {
    const start = performance.now();
    const cases: [() => unknown, string][] = [
      // Before: a 10⁶ × 10⁶ array of arrays, until the JavaScript heap ran out.
      [
        () => adjacency({ numJoints: 1e6 }),
        'adjacency: numJoints must be an integer in [1, 4096] (the result is a [J][J] array',
      ],
      [() => hopDistances({ edges: [[0, 1e9]] }), 'hopDistances: numJoints must be an integer in [1, 4096]'],
      [
        () => adjacency(null as never),
        'adjacency: options must be an options object {hops?, selfLoops?, edges?, numJoints?}, but received null.',
      ],
      [
        () => adjacency({ hop: 2 } as never),
        'adjacency: options.hop must be an option (one of hops, selfLoops, edges, numJoints), but received 2.',
      ],
      [() => hopDistances([] as never), 'hopDistances: options must be an options object {hops?, selfLoops?,'],
      [
        () => hopDistances({ edges: 5 as never }),
        'hopDistances: edges must be a list of joint index pairs [a, b], but received 5.',
      ],
      [
        () => hopDistances({ edges: [null as never] }),
        'hopDistances: edges must be a list of joint index pairs [a, b], but received [null].',
      ],
    ];
    for (const [f, message] of cases) {
      expect(f, message).toThrow(PhalanxConfigError);
      expect(f).toThrow(message);
    }
    expect(performance.now() - start).toBeLessThan(1000);
    expect(adjacency({ numJoints: 4096, edges: [[0, 4095]] })[4095][0]).toBe(1);
  });
});

describe('RHD permutations', () => {
  it('follows RHD: wrist, then each finger tip → base', () => {
    expect(RHD_TO_FREIHAND).toEqual([0, 4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9, 16, 15, 14, 13, 20, 19, 18, 17]);
    expect(RHD_JOINT_NAMES.slice(0, 5)).toEqual(['wrist', 'thumb_tip', 'thumb_ip', 'thumb_mcp', 'thumb_cmc']);
    // The Learnable Groups protocol's RHD root 12 and bone 12–11 are FreiHAND's 9 and 10.
    expect(RHD_TO_FREIHAND[9]).toBe(12);
    expect(RHD_TO_FREIHAND[10]).toBe(11);
    expect(RHD_JOINT_NAMES[12]).toBe('middle_mcp');
  });

  it('the two permutations are inverse to each other', () => {
    const ids = Array.from({ length: 21 }, (_, i) => i);
    expect(ids.map((i) => FREIHAND_TO_RHD[RHD_TO_FREIHAND[i]])).toEqual(ids);
    expect(ids.map((i) => RHD_TO_FREIHAND[FREIHAND_TO_RHD[i]])).toEqual(ids);
    expect(invertPermutation([2, 0, 1])).toEqual([1, 2, 0]);
    expect(() => invertPermutation([0, 0, 1])).toThrow('invertPermutation: perm must be a permutation of 0…2');
    const pts = ids.map((i) => [i, 10 * i, 100 * i]);
    expect(freihandToRhd(rhdToFreihand(pts))).toEqual(pts);
    expect(rhdToFreihand([pts, pts])[1][1]).toEqual([4, 40, 400]);
    expect(
      rhdToFreihand(
        ids.map((i) => i * 2),
        -1,
      ),
    ).toEqual(RHD_TO_FREIHAND.map((i) => i * 2));
  });

  it("works on tensors and picks a hand out of RHD's 42 keypoints", () => {
    const rhd42 = Array.from({ length: 42 }, (_, i) => [i, -i]);
    const left = rhdHandToFreihand(rhd42, 'left');
    const right = rhdHandToFreihand(rhd42, 'right');
    expect(left[0]).toEqual([0, -0]);
    expect(left[1]).toEqual([4, -4]);
    expect(right[0]).toEqual([21, -21]);
    expect(right[9]).toEqual([33, -33]);
    const t = tf.tensor3d([rhd42]);
    const rt = rhdHandToFreihand(t, 'right');
    expect(rt.shape).toEqual([1, 21, 2]);
    expect(rt.arraySync()).toEqual([right]);
    const p = permuteJoints(tf.tensor2d(left), FREIHAND_TO_RHD);
    expect(p.arraySync()).toEqual(rhd42.slice(0, 21));
    tf.dispose([t, rt, p]);
    expect(() => rhdHandToFreihand(left, 'right')).toThrow(
      'rhdHandToFreihand: x must be an array or tensor with 42 keypoints on axis -2, but received [21, 2].',
    );
    expect(() => rhdHandToFreihand(rhd42, 'both' as never)).toThrow("hand must be 'left' or 'right'");
    expect(() => rhdToFreihand([[1, 2, 3]])).toThrow(
      'permuteJoints: x must be an array or tensor with 21 joints on axis -2, but received [1, 3].',
    );
  });

  it('permuteJoints and rhdHandToFreihand refuse a ragged array, by name', () => {
    // Ragged on the first or second axis, by length or by depth.
    const pair = [1, 2];
    const m = [pair, pair];
    const ragged = [
      [pair, [3], pair],
      [m, [pair], m],
      [pair, 3, pair],
      [m, pair, m],
    ];
    for (const x of ragged) {
      for (const axis of [0, -1, -2]) {
        expect(() => permuteJoints(x as never, [2, 1, 0], axis), `${JSON.stringify(x)}, axis ${axis}`).toThrow(
          "permuteJoints: x must be an array (a rectangular array), but received 'a ragged array'.",
        );
      }
    }
    const hand = Array.from({ length: 42 }, (_, j) => (j === 30 ? [j] : [j, -j]));
    expect(() => rhdHandToFreihand(hand, 'left')).toThrow(
      "rhdHandToFreihand: x must be an array (a rectangular array), but received 'a ragged array'.",
    );
    expect(() => permuteJoints([[1, 'a']] as never, [0])).toThrow(PhalanxShapeError);
    expect(permuteJoints([[1], [2], [3]], [2, 0, 1])).toEqual([[3], [1], [2]]);
    expect(permuteJoints([[true, false]], [1, 0], -1)).toEqual([[false, true]]);
  });

  it('permuteJoints refuses a perm that is not a permutation (arrays and tensors), by name', () => {
    const xs = [
      [1, 10],
      [2, 20],
      [3, 30],
    ];
    const t = tf.tensor2d(xs);
    const before = tf.memory().numTensors;
    for (const perm of [
      [0, 0, 2],
      [0, 1, 3],
      [0, 1, -1],
      [0, 1, 1.5],
      [2, 1, NaN],
    ]) {
      for (const x of [xs, t]) {
        expect(() => permuteJoints(x, perm), JSON.stringify(perm)).toThrow(PhalanxConfigError);
        expect(() => permuteJoints(x, perm)).toThrow(/^permuteJoints: perm must be a permutation of 0…2, but received/);
      }
    }
    expect(tf.memory().numTensors).toBe(before);
    t.dispose();
  });
});
