/**
 * The shipped models' accuracy, measured here rather than read from their cards: each estimator runs on
 * the card's held-out synthetic hands (a seed no training run used) through `estimateHands`, and the
 * result must equal the card's figures (so the card and the README's table cannot drift from the
 * weights) and meet the 2D targets the package states: Learnable Groups ≤ 0.35 × the hand-centre baseline,
 * EHPE ≤ 0.5 ×.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@phalanx/testing';
import { evaluateOnSyntheticHands } from '../scripts/evaluate';
import type { HandPoseEstimator } from './estimator';
import { loadHandPoseEstimator } from './load';

const estimators: Partial<Record<'learnable-groups' | 'ehpe', HandPoseEstimator>> = {};

beforeAll(async () => {
  await useBackend('wasm');
  estimators['learnable-groups'] = await loadHandPoseEstimator('learnable-groups');
  estimators.ehpe = await loadHandPoseEstimator('ehpe');
});

afterAll(() => {
  for (const estimator of Object.values(estimators)) estimator.dispose();
});

describe('the shipped models on held-out synthetic hands', () => {
  for (const [name, target] of [
    ['learnable-groups', 0.35],
    ['ehpe', 0.5],
  ] as const) {
    it(`${name}: the card's figures are what the weights give, ≤ ${target} × the hand centre`, async () => {
      const estimator = estimators[name]!;
      const card = estimator.card.evaluation!;
      expect(card.count).toBeGreaterThanOrEqual(128);
      const measured = await evaluateOnSyntheticHands(estimator, {
        seed: card.seed,
        count: card.count,
        imageSize: card.imageSize,
      });
      expect(measured.epe2dPx).toBeCloseTo(card.epe2dPx, 2);
      expect(measured.handCentrePx).toBeCloseTo(card.handCentrePx, 6);
      expect(measured.meanPosePx).toBeCloseTo(card.meanPosePx, 6);
      expect(measured.ratioToHandCentre).toBeLessThanOrEqual(target);
    }, 120_000);
  }
});
