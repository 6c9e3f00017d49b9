import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { renderSyntheticHand } from '@phalanx/data';
import { fileSystem } from '@phalanx/layers';
import '@phalanx/learnable-groups';
import { chromium, type Browser, type Page } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOINT_RADIUS } from '../src/draw';
import type { DemoState } from '../src/main';

const root = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = process.env.PHALANX_CHROMIUM ?? '/usr/bin/chromium';
const SEED = 11;

let server: PreviewServer;
let port = 0;
let browser: Browser;
let page: Page;
let state: DemoState;
const consoleErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`needs Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  // The real build: the demo model script, then vite build into dist/.
  execFileSync('pnpm', ['run', 'build'], { cwd: root, stdio: 'pipe' });
  server = await preview({ root, logLevel: 'silent', preview: { host: '127.0.0.1', port: 0, strictPort: false } });
  port = (server.httpServer.address() as AddressInfo).port;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1160, height: 580 }, deviceScaleFactor: 1 });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  await page.goto(`http://127.0.0.1:${port}/?seed=${SEED}`);
  await page.waitForFunction(
    () => window.__phalanxDemo?.ready === true || window.__phalanxDemo?.error !== undefined,
    null,
    {
      timeout: 120_000,
    },
  );
  state = (await page.evaluate(() => window.__phalanxDemo)) as DemoState;
});

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.httpServer.close(() => resolve()) : resolve()));
});

describe('browser demo (built page in headless Chromium)', () => {
  it('loads the bundled model and runs it on webgl without errors', () => {
    expect(state.error).toBeUndefined();
    expect(state.backend).toBe('webgl');
    expect(state.backendsFailed).toEqual([]);
    expect(state.inputSize).toBe(64);
    expect(state.source).toBe(`synthetic hand, seed ${SEED}`);
    expect(state.inferenceMs).toBeGreaterThan(0);
    expect(consoleErrors).toEqual([]);
  });

  it("feeds the model the synthetic hand of @phalanx/data's renderer, resized to the input size", async () => {
    const sample = renderSyntheticHand(SEED, { size: 256 });
    await tf.setBackend('cpu');
    const expected = tf.tidy(() =>
      tf.div(tf.image.resizeBilinear(tf.tensor3d(sample.image, [256, 256, 3], 'float32'), [64, 64], true), 255),
    );
    const data = await expected.data();
    expected.dispose();
    let worst = 0;
    data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - state.input[i]))));
    expect(state.input.length).toBe(64 * 64 * 3);
    expect(worst).toBeLessThan(1e-4);
  });

  it("draws the model's keypoints: the page's output equals the model recomputed in Node on the same input", async () => {
    await tf.setBackend('cpu');
    const model = await tfl.loadLayersModel(fileSystem(`${root}dist/model`));
    const input = tf.tensor4d(state.input, [1, 64, 64, 3]);
    const [uv, depth] = model.predict(input) as tf.Tensor[];
    const uvNode = (await uv.array()) as number[][][];
    const depthNode = (await depth.array()) as number[][];
    tf.dispose([input, uv, depth]);
    let worstUv = 0;
    let worstDepth = 0;
    for (let j = 0; j < 21; j++) {
      worstUv = Math.max(
        worstUv,
        Math.abs(uvNode[0][j][0] - state.keypoints[j][0]),
        Math.abs(uvNode[0][j][1] - state.keypoints[j][1]),
      );
      worstDepth = Math.max(worstDepth, Math.abs(depthNode[0][j] - state.depth[j]));
    }
    // float32 on webgl vs cpu: well below a hundredth of a model pixel.
    expect(worstUv).toBeLessThan(1e-2);
    expect(worstDepth).toBeLessThan(1e-3);
    // The groups shown are the selector's of the same model.
    const selector = model.layers.find((l) => l.getClassName() === 'ConcreteJointSelector') as unknown as {
      groups(): number[][];
    };
    expect(state.groups).toEqual(selector.groups());
    expect(new Set(state.jointGroup).size).toBeGreaterThan(1);
    model.dispose();
    // Display positions follow from the keypoints (model pixel → 256-px picture → 448-px canvas).
    state.keypoints.forEach(([x, y], j) => {
      const d = [x, y].map((v) => ((v * 255) / 63 + 0.5) * (448 / 256) - 0.5);
      expect(state.display[j][0]).toBeCloseTo(d[0], 6);
      expect(state.display[j][1]).toBeCloseTo(d[1], 6);
    });
  });

  it('colours each drawn joint by its learned group (overlay pixels at the keypoints)', async () => {
    const pixels = await page.evaluate((points) => {
      const ctx = (document.getElementById('overlay') as HTMLCanvasElement).getContext('2d')!;
      return points.map(([x, y]) => Array.from(ctx.getImageData(Math.round(x), Math.round(y), 1, 1).data));
    }, state.display);
    const hex = (rgba: number[]): string =>
      `#${rgba
        .slice(0, 3)
        .map((v) => v.toString(16).padStart(2, '0'))
        .join('')}`;
    // The centre of joint j shows the fill colour of the last-drawn dot that covers it (dots of radius
    // JOINT_RADIUS are drawn in joint order; an untrained model may put several joints on one spot).
    const inner = JOINT_RADIUS - 1.5;
    state.display.forEach(([x, y], j) => {
      let top = j;
      state.display.forEach(([x2, y2], k) => {
        if (k > top && Math.hypot(x2 - x, y2 - y) < inner) top = k;
      });
      expect(hex(pixels[j]), `joint ${j} (topmost dot: joint ${top})`).toBe(state.colors[state.jointGroup[top]]);
    });
    // Every group colour that the keypoints should show is on the canvas.
    const shown = new Set(pixels.map(hex));
    expect(shown.size).toBeGreaterThanOrEqual(1);
  });

  it('is served cross-origin isolated, so its wasm fallback runs threaded: getThreadsCount() > 1, same keypoints', async () => {
    const wasmPage = await browser.newPage({ viewport: { width: 1160, height: 580 }, deviceScaleFactor: 1 });
    const errors: string[] = [];
    wasmPage.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    const response = await wasmPage.goto(`http://127.0.0.1:${port}/?seed=${SEED}&backend=wasm`);
    expect(response?.headers()['cross-origin-opener-policy']).toBe('same-origin');
    expect(response?.headers()['cross-origin-embedder-policy']).toBe('require-corp');
    await wasmPage.waitForFunction(
      () => window.__phalanxDemo?.ready === true || window.__phalanxDemo?.error !== undefined,
      null,
      { timeout: 120_000 },
    );
    const wasm = (await wasmPage.evaluate(() => window.__phalanxDemo)) as DemoState;
    await wasmPage.close();
    expect(wasm.error).toBeUndefined();
    expect(errors).toEqual([]);
    expect(wasm.crossOriginIsolated).toBe(true);
    expect(wasm.backend).toBe('wasm');
    // getThreadsCount() of tfjs-backend-wasm on the page: one thread per logical core (Chromium here has 2).
    expect(wasm.wasmThreads).toBeGreaterThan(1);
    expect(wasm.input).toEqual(state.input);
    wasm.keypoints.forEach(([x, y], j) => {
      expect(Math.abs(x - state.keypoints[j][0])).toBeLessThan(1e-2);
      expect(Math.abs(y - state.keypoints[j][1])).toBeLessThan(1e-2);
    });
  });

  // The screenshot goes to test-results/ on every run (git ignores it); `UPDATE_SCREENSHOT=1` refreshes the
  // README's copy in docs/, so that an ordinary test run never modifies tracked files.
  it('saves a screenshot for the README', async () => {
    const dir = process.env.UPDATE_SCREENSHOT === '1' ? `${root}docs` : `${root}test-results`;
    mkdirSync(dir, { recursive: true });
    const shot = await page.screenshot({ path: `${dir}/screenshot.png` });
    expect(shot.length).toBeGreaterThan(10_000);
  });
});
