import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { expectClose, forEachBackend } from '@phalanx/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { fileSystem, registerFileSystemRouter } from './file-system';

const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'phalanx-fs-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function smallModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [4] });
  const hidden = tfl.layers.dense({ units: 3, activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 2 }).apply(hidden) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

forEachBackend(() => {
  describe('fileSystem', () => {
    it('saves model.json + weights.bin and loads identical outputs', async () => {
      const dir = freshDir();
      const model = smallModel();
      const x = tf.randomNormal([5, 4], 0, 1, 'float32', 3);
      await model.save(fileSystem(dir));
      expect(readdirSync(dir).sort()).toEqual(['model.json', 'weights.bin']);
      const loaded = await tfl.loadLayersModel(fileSystem(dir));
      expectClose(loaded.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor, { rtol: 0, atol: 0 });
    });

    it('routes file:// URLs once registered', async () => {
      registerFileSystemRouter();
      registerFileSystemRouter();
      const dir = freshDir();
      const model = smallModel();
      await model.save(`file://${dir}`);
      const loaded = await tfl.loadLayersModel(`file://${dir}`);
      const x = tf.ones([1, 4]);
      expectClose(loaded.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor, { rtol: 0, atol: 0 });
    });

    it('names the missing file when loading fails', async () => {
      const dir = join(freshDir(), 'nothing-here');
      await expect(tfl.loadLayersModel(fileSystem(dir))).rejects.toThrow(/nothing-here.*model\.json/);
    });
  });
});
