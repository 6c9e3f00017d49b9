import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveEhpeConfig } from '@phalanx/ehpe';
import { PhalanxConfigError } from '@phalanx/errors';
import { useBackend } from '@phalanx/testing';
import { modelSize, SIZE_FLAGS, sizedModel, type SizeFlags } from './model-size';
import { buildModel, MODEL_SIZES, SMALL_BACKBONES, type SmallBackboneStride } from './pipeline';
import { openRun, RUN_CONFIG_FILE, type RunRecord } from './run-config';
import { tinyJob } from './tiny-job';

const root = mkdtempSync(join(tmpdir(), 'phalanx-ehpe-size-'));

beforeAll(async () => {
  await useBackend('cpu');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Parameters of the job's full model (`buildModel`) on the tiny size with `flags` over it. */
async function tinyParams(flags: SizeFlags): Promise<number> {
  const model = await buildModel(tinyJob({ model: { ...tinyJob().model, ...sizedModel(MODEL_SIZES.tiny, flags) } }));
  const n = model.countParams();
  model.dispose();
  return n;
}

describe('train-ehpe model-size flags', () => {
  it('without flags: the small model of --backbone-stride, exactly as before the flags', () => {
    for (const stride of [4, 8, 16, 32] as SmallBackboneStride[]) {
      expect(modelSize(false, stride, {})).toEqual({ ...MODEL_SIZES.small, backbone: SMALL_BACKBONES[stride] });
    }
    expect(modelSize(true, 8, {})).toEqual(MODEL_SIZES.full);
    // --backbone-stride picks the defaults; one flag replaces its list only.
    expect(modelSize(false, 16, { 'backbone-layers': '2,1,3' }).backbone).toEqual({
      ...SMALL_BACKBONES[16],
      layers: [2, 1, 3],
    });
    expect(modelSize(false, 8, { 'backbone-widths': '64,128', 'hourglass-stacks': '2' })).toMatchObject({
      backbone: { layers: [1, 1], widths: [64, 128] },
      hourglassChannels: 32,
      hourglassStacks: 2,
    });
    expect(SMALL_BACKBONES[8].widths).toEqual([32, 96]); // not mutated
  });

  it('the flags reach the built model: parameter counts change as the sizes say', async () => {
    const tiny = await tinyParams({});
    // One more basic block in the last stage (8 channels): two 3×3 convolutions without bias, 8 → 8,
    // and two batch norms (γ, β, moving mean and variance).
    expect((await tinyParams({ 'backbone-layers': '1,1,1,2' })) - tiny).toBe(2 * 9 * 8 * 8 + 2 * 4 * 8);
    expect(await tinyParams({ 'backbone-widths': '4,4,8,16' })).toBeGreaterThan(tiny);
    const hourglass = await tinyParams({ 'hourglass-channels': '16' });
    const stacks = await tinyParams({ 'hourglass-stacks': '2' });
    expect(hourglass).toBeGreaterThan(tiny);
    expect(stacks).toBeGreaterThan(tiny);
    const resolved = resolveEhpeConfig(
      sizedModel(MODEL_SIZES.tiny, { 'hourglass-channels': '16', 'hourglass-stacks': '2' }),
    );
    expect([resolved.tw.hourglassChannels, resolved.tw.hourglassStacks]).toEqual([16, 2]);
    // The PG-stage: a wider node (the tiny size's 16 → 32) and a second FEM layer.
    expect(await tinyParams({ 'node-dim': '32' })).toBeGreaterThan(tiny);
    expect(await tinyParams({ 'fem-layers': '2' })).toBeGreaterThan(tiny);
    const pg = resolveEhpeConfig(sizedModel(MODEL_SIZES.tiny, { 'node-dim': '32', 'fem-layers': '3' }));
    expect([pg.nodeDim, pg.fem.dim, pg.fem.layers]).toEqual([32, 32, 3]);
  });

  it.each<[keyof SizeFlags, string, RegExp]>([
    ['backbone-layers', '1,,1', /--backbone-layers must be a comma-separated list of integers ≥ 1 without empty items/],
    ['backbone-layers', '1,', /without empty items/],
    ['backbone-layers', '', /without empty items/],
    ['backbone-layers', '0,1', /integers ≥ 1/],
    ['backbone-layers', '-1,1', /integers ≥ 1/],
    ['backbone-layers', '1.5,1', /integers ≥ 1/],
    ['backbone-layers', '1,a', /integers ≥ 1/],
    ['backbone-layers', '1,1,1', /--backbone-layers must be a list of 2 items, one per stage of the stride-8 backbone/],
    ['backbone-widths', '96', /--backbone-widths must be a list of 2 items/],
    ['backbone-widths', '32,0', /--backbone-widths must be a comma-separated list of integers ≥ 1/],
    ['hourglass-channels', '0', /--hourglass-channels must be an even integer ≥ 2, but received '0'/],
    ['hourglass-channels', '-4', /an even integer ≥ 2/],
    ['hourglass-channels', '33', /an even integer ≥ 2/],
    ['hourglass-channels', '32.5', /an even integer ≥ 2/],
    ['hourglass-channels', '', /an even integer ≥ 2/],
    ['hourglass-stacks', '0', /--hourglass-stacks must be an integer ≥ 1, but received '0'/],
    ['hourglass-stacks', '-1', /an integer ≥ 1/],
    ['hourglass-stacks', '1.5', /an integer ≥ 1/],
    ['hourglass-stacks', 'two', /an integer ≥ 1/],
    ['node-dim', '0', /--node-dim must be an integer ≥ 1, but received '0'/],
    ['node-dim', '64.5', /an integer ≥ 1/],
    ['fem-layers', '0', /--fem-layers must be an integer ≥ 1, but received '0'/],
    ['fem-layers', '', /an integer ≥ 1/],
  ])('--%s %j is a named error', (flag, value, message) => {
    const call = () => modelSize(false, 8, { [flag]: value });
    expect(call).toThrow(PhalanxConfigError);
    expect(call).toThrow(message);
  });

  it('the stage count follows --backbone-stride; every flag is refused with --full', () => {
    expect(modelSize(false, 32, { 'backbone-layers': '1,2,2,1' }).backbone?.layers).toEqual([1, 2, 2, 1]);
    expect(() => modelSize(false, 16, { 'backbone-widths': '32,96' })).toThrow(
      /--backbone-widths must be a list of 3 items, one per stage of the stride-16 backbone/,
    );
    for (const flag of SIZE_FLAGS) {
      expect(() => modelSize(true, 8, { [flag]: '2' })).toThrow(PhalanxConfigError);
      expect(() => modelSize(true, 8, { [flag]: '2' })).toThrow(`--${flag} must be absent with --full`);
    }
  });

  it('a run recorded before the flags resumes with their defaults; another value is refused, named', () => {
    // The long run's record, written before these flags existed, as the run folder's config.json.
    const file = fileURLToPath(new URL('../long-run/config.json', import.meta.url));
    const stored = JSON.parse(readFileSync(file, 'utf8')) as RunRecord;
    const dir = join(root, 'old');
    mkdirSync(dir);
    copyFileSync(file, join(dir, RUN_CONFIG_FILE));
    const given = (flags: SizeFlags): RunRecord => ({
      ...stored,
      config: { ...stored.config, model: { ...stored.config.model, ...modelSize(false, 8, flags) } },
    });
    expect(openRun(dir, given({}), true)).toBe('resumed');
    expect(() => openRun(dir, given({ 'hourglass-channels': '64' }), true)).toThrow(PhalanxConfigError);
    expect(() => openRun(dir, given({ 'hourglass-channels': '64' }), true)).toThrow(
      /the settings config\.model\.hourglassChannels must be those of the run in .* \(config\.model\.hourglassChannels = 32\), but received \{"config\.model\.hourglassChannels":64\}/,
    );
    expect(() => openRun(dir, given({ 'backbone-layers': '2,1', 'hourglass-stacks': '2' }), true)).toThrow(
      /the settings config\.model\.backbone\.layers\.0, config\.model\.hourglassStacks must be/,
    );
    expect(() => openRun(dir, given({ 'backbone-widths': '32,128' }), true)).toThrow(
      /config\.model\.backbone\.widths\.1 = 96/,
    );
  });
});
