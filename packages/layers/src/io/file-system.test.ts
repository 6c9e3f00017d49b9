import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InjectedCrash } from '@phalanx/testing/fault-injection';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';
import { expectClose, forEachBackend, useBackend } from '@phalanx/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { fileSystem, makeFolder, registerFileSystemRouter } from './file-system';

/**
 * Interrupted saves: the mocked `node:fs/promises` throws at a chosen mutating operation (before it, or
 * half-way through a write), which leaves the disk as a kill there would. Inactive unless `crash.at` is set.
 */
const crash = vi.hoisted(() => ({ at: 0, halfWrite: false, count: 0 }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const { crashingFsPromises } = await import('@phalanx/testing/fault-injection');
  return crashingFsPromises(await importOriginal(), crash, ['writeFile', 'rename', 'link', 'copyFile', 'rm', 'unlink']);
});

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

describe('fileSystem: the directory argument', () => {
  it('refuses a directory that is not a non-empty path or file:// URL, by name', () => {
    for (const directory of [null, undefined, 5, '', 'file://']) {
      const make = () => fileSystem(directory as string);
      expect(make, String(directory)).toThrow(PhalanxConfigError);
      expect(make).toThrow(/^fileSystem: directory must be a non-empty directory path or file:\/\/ URL, but received/);
    }
  });
});

/** Rewrites the manifest's weight paths of the model saved in `dir`. */
function setManifestPaths(dir: string, paths: string[]): void {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
  json.weightsManifest[0].paths = paths;
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
}

/** Loading `dir` fails with a PhalanxFileError whose message matches `pattern`, and leaks no tensor. */
async function expectLoadError(dir: string, pattern: RegExp): Promise<void> {
  const before = tf.memory().numTensors;
  const error = await tfl.loadLayersModel(fileSystem(dir)).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(PhalanxFileError);
  expect((error as Error).message).toMatch(pattern);
  expect(tf.memory().numTensors).toBe(before);
}

/**
 * A fresh root for a test's model folder (`root/model`), holding a valid weights file of the same model outside
 * that folder (`root/secret.bin`), so that an escape would load.
 */
async function freshRoot(): Promise<string> {
  const root = freshDir();
  await smallModel().save(fileSystem(join(root, 'outside')));
  copyFileSync(join(root, 'outside', 'weights.bin'), join(root, 'secret.bin'));
  return root;
}

describe('fileSystem: manifest paths stay inside the model folder', () => {
  let root: string;
  beforeAll(async () => {
    await useBackend('cpu');
  });
  beforeEach(async () => {
    root = await freshRoot();
  });

  const escapes: [string, (dir: string) => string[], RegExp][] = [
    [
      '../ to a sibling file',
      () => ['../secret.bin'],
      /paths\[0\] \("\.\.\/secret\.bin"\) leaves the model folder: '\.\.' climbs/,
    ],
    ['.. through a subfolder', () => ['sub/../../secret.bin'], /leaves the model folder: '\.\.' climbs/],
    ['an absolute path', (dir) => [join(dir, '..', 'secret.bin')], /leaves the model folder: it is absolute/],
    ['a Windows drive path', () => ['C:\\weights.bin'], /leaves the model folder: it is absolute/],
    ['a URL', () => ['file:///etc/passwd'], /leaves the model folder: it is absolute/],
    ['the folder itself', () => ['.'], /leaves the model folder/],
    ['a backslash climb (Windows)', () => ['..\\secret.bin'], /must separate folders with '\/', not a backslash/],
    ['.. alone', () => ['..'], /leaves the model folder: '\.\.' climbs/],
    ['.. through a dotted subfolder', () => ['..sub/../../secret.bin'], /leaves the model folder: '\.\.' climbs/],
  ];
  for (const [what, paths, message] of escapes) {
    it(`rejects ${what}`, async () => {
      const dir = join(root, 'model');
      await smallModel().save(fileSystem(dir));
      setManifestPaths(dir, paths(dir));
      await expectLoadError(dir, message);
    });
  }

  it('rejects a subfolder that is a symbolic link to outside, and a weights file that is one', async () => {
    const dir = join(root, 'model');
    await smallModel().save(fileSystem(dir));
    symlinkSync(root, join(dir, 'shards'));
    setManifestPaths(dir, ['shards/secret.bin']);
    await expectLoadError(dir, /leaves the model folder: a symbolic link leads out of it/);
    symlinkSync(join(root, 'secret.bin'), join(dir, 'linked.bin'));
    setManifestPaths(dir, ['./linked.bin']);
    await expectLoadError(dir, /leaves the model folder: a symbolic link leads out of it/);
  });

  it('accepts weights in a real subfolder and a symbolic link that stays inside', async () => {
    const dir = join(root, 'model');
    const model = smallModel();
    await model.save(fileSystem(dir));
    mkdirSync(join(dir, 'shards'));
    copyFileSync(join(dir, 'weights.bin'), join(dir, 'shards', 'w.bin'));
    symlinkSync(join(dir, 'shards', 'w.bin'), join(dir, 'inner-link.bin'));
    const x = tf.ones([2, 4]);
    for (const paths of [['shards/w.bin'], ['./shards/../inner-link.bin']]) {
      setManifestPaths(dir, paths);
      const loaded = await tfl.loadLayersModel(fileSystem(dir));
      expectClose(loaded.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor, { rtol: 0, atol: 0 });
    }
  });

  it('accepts weights files whose names start with dots (not a traversal)', async () => {
    const dir = join(root, 'model');
    const model = smallModel();
    await model.save(fileSystem(dir));
    mkdirSync(join(dir, '..shards'));
    copyFileSync(join(dir, 'weights.bin'), join(dir, '..weights.bin'));
    copyFileSync(join(dir, 'weights.bin'), join(dir, '...bin'));
    copyFileSync(join(dir, 'weights.bin'), join(dir, '..shards', 'w.bin'));
    const x = tf.ones([2, 4]);
    for (const paths of [['..weights.bin'], ['./..weights.bin'], ['...bin'], ['..shards/w.bin']]) {
      setManifestPaths(dir, paths);
      const loaded = await tfl.loadLayersModel(fileSystem(dir));
      expectClose(loaded.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor, { rtol: 0, atol: 0 });
      loaded.dispose();
    }
    x.dispose();
  });
});

describe('fileSystem: manifest contents and leftover files', () => {
  let root: string;
  beforeAll(async () => {
    await useBackend('cpu');
  });
  beforeEach(async () => {
    root = await freshRoot();
  });

  it('rejects weights whose byte length differs from the manifest total', async () => {
    const dir = join(root, 'model');
    await smallModel().save(fileSystem(dir));
    const bytes = readFileSync(join(dir, 'weights.bin'));
    expect(bytes.byteLength).toBe((4 * 3 + 3 + 3 * 2 + 2) * 4);
    writeFileSync(join(dir, 'weights.bin'), bytes.subarray(0, bytes.byteLength - 4));
    await expectLoadError(dir, /weightsManifest needs 92 bytes of weights, but the weights files hold 88$/);
    writeFileSync(join(dir, 'weights.bin'), Buffer.concat([bytes, Buffer.alloc(4)]));
    await expectLoadError(dir, /weightsManifest needs 92 bytes of weights, but the weights files hold 96$/);
  });

  it('refuses a weights file listed twice, which would be read once per listing', async () => {
    // 10 000 listings of one 92-byte file and a manifest whose shapes add up: 920 KB read from 92 bytes,
    // as 10 000 listings of a 100 MB file would read 1 TB.
    const dir = join(root, 'model');
    await smallModel().save(fileSystem(dir));
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
    const paths = Array.from({ length: 10_000 }, (_, i) => (i % 2 === 0 ? 'weights.bin' : './sub/../weights.bin'));
    json.weightsManifest = [{ paths, weights: [{ name: 'big', shape: [23 * 10_000], dtype: 'float32' }] }];
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    mkdirSync(join(dir, 'sub'));
    await expectLoadError(
      dir,
      /weightsManifest\[0\]\.paths\[1\] \("\.\/sub\/\.\.\/weights\.bin"\) names a weights file listed before/,
    );
  });

  it('refuses a weight name given twice or missing, which would load the wrong values or leave one unset', async () => {
    const dir = join(root, 'model');
    await smallModel().save(fileSystem(dir));
    const original = readFileSync(join(dir, 'model.json'), 'utf8');
    const weightsBin = readFileSync(join(dir, 'weights.bin'));
    const edit = (change: (weights: tf.io.WeightsManifestEntry[]) => void, extraBytes = 0) => {
      const json = JSON.parse(original) as tf.io.ModelJSON;
      change(json.weightsManifest[0].weights);
      writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
      writeFileSync(join(dir, 'weights.bin'), Buffer.concat([weightsBin, Buffer.alloc(extraBytes)]));
    };
    const before = tf.memory().numTensors;
    edit((w) => w.push({ ...w[0] }), 4 * w0Size(original));
    await expectLoadError(dir, /weightsManifest\[0\]\.weights\[4\] repeats the weight '/);
    for (const name of [undefined, '', 7]) {
      edit((w) => ((w[1] as { name: unknown }).name = name));
      await expectLoadError(dir, /weightsManifest\[0\]\.weights\[1\]\.name must be a non-empty string/);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names weight entries that are not objects', async () => {
    const dir = join(root, 'model');
    await smallModel().save(fileSystem(dir));
    for (const entry of [null, 3, 'kernel']) {
      const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
      (json.weightsManifest[0].weights as unknown[])[1] = entry;
      writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
      await expectLoadError(dir, /weightsManifest\[0\]\.weights\[1\] must be an object \{name, shape, dtype\}/);
    }
  });

  it('names a model.json that is not JSON', async () => {
    const dir = join(root, 'model');
    mkdirSync(dir);
    writeFileSync(join(dir, 'model.json'), '{"modelTopology": ');
    await expectLoadError(dir, /model\.json: content is not valid JSON/);
  });

  it('removes what a killed save left behind, but not the staged weights model.json still uses', async () => {
    const dir = join(root, 'model');
    await smallModel().save(fileSystem(dir));
    writeFileSync(join(dir, 'model.json.tmp-1-a-b'), '{}');
    writeFileSync(join(dir, 'weights.bin.tmp-1-a-b'), 'x');
    writeFileSync(join(dir, 'notes.txt'), 'kept');
    await smallModel().save(fileSystem(dir));
    expect(readdirSync(dir).sort()).toEqual(['model.json', 'notes.txt', 'weights.bin']);
  });
});

function seededModel(hidden: number, seed: number): tfl.LayersModel {
  const input = tfl.input({ shape: [4] });
  const init = () => tfl.initializers.glorotUniform({ seed: seed++ });
  const h = tfl.layers.dense({ units: hidden, kernelInitializer: init() }).apply(input) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 2, kernelInitializer: init() }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

describe('fileSystem save is atomic', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('an interruption at any operation leaves the old or the new model, never a mix', async () => {
    const x = tf.randomNormal([3, 4], 0, 1, 'float32', 1);
    const oldModel = seededModel(3, 10);
    const newModel = seededModel(5, 20); // another size: a mix cannot pass for either
    const outputs = (m: tfl.LayersModel) => Array.from((m.predict(x) as tf.Tensor).dataSync());
    const oldOut = outputs(oldModel);
    const newOut = outputs(newModel);

    crash.at = 0;
    crash.count = 0;
    await newModel.save(fileSystem(freshDir()));
    const operations = crash.count;
    expect(operations).toBeGreaterThanOrEqual(3);

    const seen = { old: 0, new: 0 };
    for (const halfWrite of [false, true]) {
      for (let at = 1; at <= operations; at++) {
        const dir = join(freshDir(), 'model');
        crash.at = 0;
        await oldModel.save(fileSystem(dir));
        crash.count = 0;
        crash.at = at;
        crash.halfWrite = halfWrite;
        await expect(newModel.save(fileSystem(dir)), `crash at ${at}`).rejects.toBeInstanceOf(InjectedCrash);
        crash.at = 0;
        const loaded = await tfl.loadLayersModel(fileSystem(dir));
        const out = outputs(loaded);
        const which = out.length === oldOut.length && out.every((v, i) => v === oldOut[i]) ? 'old' : 'new';
        if (which === 'new') expect(out, `crash at ${at}`).toEqual(newOut);
        seen[which] += 1;
        loaded.dispose();
        // The next save into the folder succeeds and cleans up.
        await newModel.save(fileSystem(dir));
        expect(outputs(await tfl.loadLayersModel(fileSystem(dir)))).toEqual(newOut);
      }
    }
    expect(seen.old).toBeGreaterThan(0);
    expect(seen.new).toBeGreaterThan(0);
  });
});

/** The element count of the first weight in a model.json text. */
function w0Size(modelJson: string): number {
  const json = JSON.parse(modelJson) as tf.io.ModelJSON;
  return json.weightsManifest[0].weights[0].shape.reduce((a, b) => a * b, 1);
}

describe('makeFolder', () => {
  it('makes the missing levels, leaves an existing folder, and refuses a file on the way by name', async () => {
    const dir = freshDir();
    await makeFolder(join(dir, 'a', 'b', 'c'));
    await makeFolder(join(dir, 'a', 'b', 'c')); // already there: fine
    expect(statSync(join(dir, 'a', 'b', 'c')).isDirectory()).toBe(true);
    writeFileSync(join(dir, 'file'), 'x');
    const error = await makeFolder(join(dir, 'file', 'sub'), 'output folder').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PhalanxFileError);
    expect((error as Error).message).toContain(`${join(dir, 'file', 'sub')}: output folder cannot be created: `);
    await expect(makeFolder('' as string)).rejects.toThrow(PhalanxConfigError);
  });

  it('a model folder that cannot be made fails the save by name instead of hanging (under /proc as root)', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'file'), 'x');
    const targets = [join(dir, 'file', 'model')];
    // Node 20's recursive mkdir loops for ever under /proc; only root gets that far (others fail with EACCES).
    if (process.platform === 'linux' && process.getuid?.() === 0) targets.push('/proc/phalanx-no-such/model');
    for (const target of targets) {
      const error = await smallModel()
        .save(fileSystem(target))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error, target).toBeInstanceOf(PhalanxFileError);
      expect((error as Error).message).toContain('model folder cannot be created');
    }
  }, 30_000);
});
