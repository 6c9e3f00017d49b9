import { describe, expect, it } from 'vitest';
import {
  FINGER_CHAINS,
  FINGER_NAMES,
  JOINT_NAMES,
  JOINT_PARENTS,
  NUM_JOINTS,
  SCALE_BONE,
  SKELETON_EDGES,
  TIP_AND_WRIST_JOINTS,
  TIP_JOINTS,
} from './index';

describe('skeleton constants', () => {
  // Moved here from @phalanx/pose with the constants.
  it('has 21 FreiHAND joints, finger chains base → tip and 20 bones', () => {
    expect(JOINT_NAMES).toHaveLength(21);
    expect(JOINT_NAMES[0]).toBe('wrist');
    expect(JOINT_NAMES[9]).toBe('middle_mcp');
    expect(JOINT_NAMES[10]).toBe('middle_pip');
    expect(JOINT_NAMES[20]).toBe('pinky_tip');
    expect(FINGER_CHAINS[2]).toEqual([9, 10, 11, 12]);
    expect(SKELETON_EDGES).toHaveLength(20);
    expect(SKELETON_EDGES.slice(0, 4)).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
    ]);
    expect(SKELETON_EDGES).toContainEqual([0, 17]);
    expect(JOINT_PARENTS.slice(0, 6)).toEqual([-1, 0, 1, 2, 3, 0]);
    // A tree: every joint but the wrist has exactly one parent edge.
    const children = SKELETON_EDGES.map(([, c]) => c).sort((a, b) => a - b);
    expect(children).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  // Moved here from @phalanx/layers (graph/adjacency) with the edges.
  it('has 20 undirected edges: wrist to each finger base and three bones per finger', () => {
    expect(SKELETON_EDGES).toHaveLength(20);
    const key = (e: readonly [number, number]) => `${Math.min(...e)}-${Math.max(...e)}`;
    const keys = new Set(SKELETON_EDGES.map(key));
    expect(keys.size).toBe(20);
    for (const base of [1, 5, 9, 13, 17]) {
      expect(keys.has(`0-${base}`)).toBe(true);
      expect(keys.has(`${base}-${base + 1}`)).toBe(true);
      expect(keys.has(`${base + 1}-${base + 2}`)).toBe(true);
      expect(keys.has(`${base + 2}-${base + 3}`)).toBe(true);
    }
    // No edge between fingers (e.g. thumb tip 4 – index MCP 5).
    expect(keys.has('4-5')).toBe(false);
  });

  it('names, chains, tips and sets agree with each other', () => {
    expect(NUM_JOINTS).toBe(JOINT_NAMES.length);
    FINGER_CHAINS.forEach((chain, f) => {
      // Each chain hangs from the wrist and runs parent → child, named after its finger.
      expect(JOINT_PARENTS[chain[0]]).toBe(0);
      for (let k = 1; k < 4; k++) expect(JOINT_PARENTS[chain[k]]).toBe(chain[k - 1]);
      for (const j of chain) expect(JOINT_NAMES[j].startsWith(`${FINGER_NAMES[f]}_`)).toBe(true);
    });
    expect(TIP_JOINTS).toEqual([4, 8, 12, 16, 20]);
    expect(TIP_JOINTS.every((j) => JOINT_NAMES[j].endsWith('_tip'))).toBe(true);
    expect(TIP_AND_WRIST_JOINTS).toEqual([0, 4, 8, 12, 16, 20]);
    expect(SCALE_BONE.map((j) => JOINT_NAMES[j])).toEqual(['middle_mcp', 'middle_pip']);
    expect(SKELETON_EDGES).toContainEqual(SCALE_BONE);
  });

  it('cannot be changed by a caller', () => {
    for (const value of [JOINT_NAMES, FINGER_NAMES, FINGER_CHAINS, JOINT_PARENTS, SKELETON_EDGES, TIP_JOINTS]) {
      expect(Object.isFrozen(value)).toBe(true);
    }
    expect(Object.isFrozen(FINGER_CHAINS[0])).toBe(true);
    expect(Object.isFrozen(SKELETON_EDGES[0])).toBe(true);
    expect(Object.isFrozen(TIP_AND_WRIST_JOINTS) && Object.isFrozen(SCALE_BONE)).toBe(true);
  });
});
