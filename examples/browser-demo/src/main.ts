import * as tf from '@tensorflow/tfjs-core';
import { renderSyntheticHand } from '@phalanx/data';
import { chooseBackend, wasmThreads, type BackendChoice } from './backend';
import { draw3D, drawSkeleton, groupColor } from './draw';
import { loadPoseModel, modelInput, predict, type PoseModel, type Prediction } from './pose-model';

/** What the page exposes for tests and for the curious (`window.__phalanxDemo` in the console). */
export interface DemoState {
  ready: boolean;
  error?: string;
  backend: string;
  backendsFailed: string[];
  /** Threads of the wasm backend's pool when the backend is wasm, else `null`. */
  wasmThreads: number | null;
  /** Whether the page is cross-origin isolated (what wasm threads need). */
  crossOriginIsolated: boolean;
  model: string;
  inputSize: number;
  /** The model input `[S·S·3]` of the last run (RGB in [0, 1], row-major HWC). */
  input: number[];
  /** `[J][2]` model output in model-input pixels. */
  keypoints: number[][];
  /** `[J][2]` the same keypoints on the overlay canvas (where the dots are drawn). */
  display: number[][];
  depth: number[];
  groups: number[][];
  jointGroup: number[];
  colors: string[];
  inferenceMs: number;
  source: string;
  runs: number;
}

declare global {
  interface Window {
    __phalanxDemo?: DemoState;
  }
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const imageCanvas = $<HTMLCanvasElement>('image');
const overlay = $<HTMLCanvasElement>('overlay');
const view = $<HTMLCanvasElement>('view3d');
const video = $<HTMLVideoElement>('video');
const statusEl = $('status');
const timingEl = $('timing');
const DISPLAY = imageCanvas.width;

const params = new URLSearchParams(location.search);
let pose: PoseModel | null = null;
let modelName = 'bundled demo model (untrained)';
let backend = '';
let backendsFailed: string[] = [];
let threads: number | null = null;
/** The current picture, square, at its own resolution. */
let square: HTMLCanvasElement | null = null;
let sourceName = '';
/** Ground truth of a synthetic picture, in the square's pixels. */
let truth: number[][] | null = null;
let last: Prediction | null = null;
let lastInput: number[] = [];
let runs = 0;
let yaw = -0.5;
let pitch = 0.35;
let webcamStream: MediaStream | null = null;
let busy = false;

function setStatus(html: string): void {
  statusEl.innerHTML = html;
}

function showStatus(): void {
  const fallback =
    backendsFailed.length > 0 ? ` <span class="muted">(fell back: ${backendsFailed.join('; ')})</span>` : '';
  setStatus(
    `backend <b>${backend}</b>${threads === null ? '' : ` (${threads} threads)`}${fallback} · model <b>${modelName}</b>${pose ? ` · input ${pose.inputSize}×${pose.inputSize}` : ''}`,
  );
}

function squareFrom(source: CanvasImageSource, width: number, height: number, maxSide = 512): HTMLCanvasElement {
  const side = Math.min(width, height);
  const out = document.createElement('canvas');
  out.width = out.height = Math.min(side, maxSide);
  const ctx = out.getContext('2d')!;
  ctx.drawImage(source, (width - side) / 2, (height - side) / 2, side, side, 0, 0, out.width, out.height);
  return out;
}

/** Square-picture pixel → overlay pixel (both with pixel centres at integers). */
const toDisplay = (p: number[], side: number): number[] => p.map((v) => ((v + 0.5) * DISPLAY) / side - 0.5);

function renderGroups(): void {
  const list = $('groups');
  list.innerHTML = '';
  if (pose === null) return;
  pose.groups.forEach((joints, g) => {
    const li = document.createElement('li');
    li.innerHTML =
      `<span class="swatch" style="background:${groupColor(g)}"></span>` +
      `<span><b>group ${g + 1}</b> <span class="joints">${joints.length ? joints.join(', ') : '—'}</span></span>`;
    list.appendChild(li);
  });
}

function lift3D(p: Prediction): number[][] {
  // depth is root-relative and divided by the hand scale (bone 9–10); in pixels that bone is |uv10 − uv9|.
  const bone = Math.hypot(p.uv[10][0] - p.uv[9][0], p.uv[10][1] - p.uv[9][1]) || 1;
  return p.uv.map(([u, v], j) => [u, v, p.depth[j] * bone]);
}

function redraw(): void {
  if (square === null) return;
  const ictx = imageCanvas.getContext('2d')!;
  ictx.imageSmoothingQuality = 'high';
  ictx.drawImage(square, 0, 0, DISPLAY, DISPLAY);
  if (pose === null || last === null) return;
  const scale = (square.width - 1) / (pose.inputSize - 1);
  const display = last.uv.map(([x, y]) => toDisplay([x * scale, y * scale], square!.width));
  const showTruth = ($<HTMLInputElement>('show-truth').checked && truth) || null;
  drawSkeleton(overlay.getContext('2d')!, display, pose.jointGroup, {
    truth: showTruth ? showTruth.map((p) => toDisplay(p, square!.width)) : undefined,
  });
  draw3D(view.getContext('2d')!, lift3D(last), pose.jointGroup, yaw, pitch);
  timingEl.innerHTML =
    `inference <b>${last.ms.toFixed(1)} ms</b> on ${backend} · ${sourceName}` +
    (showTruth ? ' · <span class="muted">dashed: ground truth</span>' : '');
  window.__phalanxDemo = {
    ready: true,
    backend,
    backendsFailed,
    wasmThreads: threads,
    crossOriginIsolated: window.crossOriginIsolated,
    model: modelName,
    inputSize: pose.inputSize,
    input: lastInput,
    keypoints: last.uv,
    display,
    depth: last.depth,
    groups: pose.groups,
    jointGroup: pose.jointGroup,
    colors: pose.groups.map((_, g) => groupColor(g)),
    inferenceMs: last.ms,
    source: sourceName,
    runs,
  };
}

async function run(): Promise<void> {
  if (pose === null || square === null || busy) return;
  busy = true;
  try {
    const input = modelInput(square, pose.inputSize);
    // A first run compiles the backend's kernels; time a second one so the figure is the steady state.
    if (runs === 0) tf.dispose((pose.model.predict(input) as tf.Tensor[]).map((t) => (t.dataSync(), t)));
    last = await predict(pose, input);
    lastInput = Array.from(await input.data());
    input.dispose();
    runs++;
    redraw();
  } catch (error) {
    fail(error);
  } finally {
    busy = false;
  }
}

function fail(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  setStatus(`<b style="color:#ff6b6b">error</b> ${message}`);
  window.__phalanxDemo = { ...(window.__phalanxDemo as DemoState), ready: false, error: message };
  console.error(error);
}

function useSynthetic(seed: number): void {
  stopWebcam();
  const sample = renderSyntheticHand(seed, { size: 256 });
  const canvas = document.createElement('canvas');
  canvas.width = sample.width;
  canvas.height = sample.height;
  const rgba = new ImageData(sample.width, sample.height);
  for (let i = 0; i < sample.width * sample.height; i++) {
    rgba.data[4 * i] = sample.image[3 * i];
    rgba.data[4 * i + 1] = sample.image[3 * i + 1];
    rgba.data[4 * i + 2] = sample.image[3 * i + 2];
    rgba.data[4 * i + 3] = 255;
  }
  canvas.getContext('2d')!.putImageData(rgba, 0, 0);
  square = canvas;
  truth = Array.from({ length: 21 }, (_, j) => [sample.uv[2 * j], sample.uv[2 * j + 1]]);
  sourceName = `synthetic hand, seed ${seed}`;
}

async function useImageFile(file: File): Promise<void> {
  stopWebcam();
  const bitmap = await createImageBitmap(file);
  square = squareFrom(bitmap, bitmap.width, bitmap.height);
  truth = null;
  sourceName = file.name;
  await run();
}

async function loadModel(source: string | tf.io.IOHandler, name: string): Promise<void> {
  setStatus(`loading model <b>${name}</b>…`);
  const loaded = await loadPoseModel(source);
  pose?.model.dispose();
  pose = loaded;
  modelName = name;
  runs = 0;
  renderGroups();
  showStatus();
}

async function setBackend(choice: BackendChoice): Promise<void> {
  const result = await chooseBackend(choice);
  backend = result.backend;
  backendsFailed = result.failed;
  threads = wasmThreads();
  runs = 0;
  showStatus();
}

function stopWebcam(): void {
  webcamStream?.getTracks().forEach((t) => t.stop());
  webcamStream = null;
  $('webcam').textContent = 'Webcam';
}

async function toggleWebcam(): Promise<void> {
  if (webcamStream !== null) return stopWebcam();
  try {
    webcamStream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
  } catch (error) {
    return fail(new Error(`webcam not available: ${(error as Error).message}`));
  }
  video.srcObject = webcamStream;
  await video.play();
  $('webcam').textContent = 'Stop webcam';
  truth = null;
  sourceName = 'webcam';
  const loop = async (): Promise<void> => {
    if (webcamStream === null) return;
    square = squareFrom(video, video.videoWidth, video.videoHeight, 256);
    await run();
    requestAnimationFrame(() => void loop());
  };
  await loop();
}

function wireUi(): void {
  $('synthetic').addEventListener('click', () => {
    const seedInput = $<HTMLInputElement>('seed');
    const seed = Number(seedInput.value) + 1;
    seedInput.value = String(seed);
    useSynthetic(seed);
    void run();
  });
  $<HTMLInputElement>('image-file').addEventListener('change', (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (file) void useImageFile(file).catch(fail);
  });
  $<HTMLInputElement>('model-files').addEventListener('change', (e) => {
    const files = Array.from((e.target as HTMLInputElement).files ?? []);
    const json = files.find((f) => f.name.endsWith('.json'));
    if (!json) return fail(new Error('choose a model.json together with its weight files'));
    const weights = files.filter((f) => f !== json);
    void loadModel(tf.io.browserFiles([json, ...weights]), json.name)
      .then(run)
      .catch(fail);
  });
  $<HTMLFormElement>('model-url-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const url = $<HTMLInputElement>('model-url').value.trim();
    if (url) void loadModel(url, url).then(run).catch(fail);
  });
  $<HTMLSelectElement>('backend').addEventListener('change', (e) => {
    void setBackend((e.target as HTMLSelectElement).value as BackendChoice)
      .then(run)
      .catch(fail);
  });
  $('webcam').addEventListener('click', () => void toggleWebcam());
  $('show-truth').addEventListener('change', redraw);
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const file = e.dataTransfer?.files[0];
    if (file) void useImageFile(file).catch(fail);
  });
  let dragging: { x: number; y: number } | null = null;
  view.addEventListener('pointerdown', (e) => {
    dragging = { x: e.clientX, y: e.clientY };
    view.setPointerCapture(e.pointerId);
  });
  view.addEventListener('pointermove', (e) => {
    if (dragging === null || last === null || pose === null) return;
    yaw += (e.clientX - dragging.x) * 0.01;
    pitch = Math.max(-1.5, Math.min(1.5, pitch + (e.clientY - dragging.y) * 0.01));
    dragging = { x: e.clientX, y: e.clientY };
    draw3D(view.getContext('2d')!, lift3D(last), pose.jointGroup, yaw, pitch);
  });
  view.addEventListener('pointerup', () => (dragging = null));
}

async function start(): Promise<void> {
  wireUi();
  const choice = (params.get('backend') ?? 'auto') as BackendChoice;
  $<HTMLSelectElement>('backend').value = choice;
  await setBackend(choice);
  const url = params.get('model');
  await loadModel(url ?? './model/model.json', url ?? 'bundled demo model (untrained)');
  const seed = Number(params.get('seed') ?? 7);
  $<HTMLInputElement>('seed').value = String(seed);
  useSynthetic(seed);
  await run();
}

start().catch(fail);
