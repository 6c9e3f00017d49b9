import * as tf from '@tensorflow/tfjs-core';
import { renderSyntheticHand } from '@phalanx/data';
import { chooseBackend, wasmThreads, type BackendChoice } from './backend';
import { draw3D, drawSkeleton, groupColor } from './draw';
import type { HandPoseModelName, TestRotations } from '@phalanx/pretrained';
import {
  loadCheckpointInto,
  loadModelFrom,
  loadShippedModel,
  modelInputOf,
  predict,
  SHIPPED_MODELS,
  type PoseModel,
  type Prediction,
} from './pose-model';

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
  /** Which network runs: `'learnable-groups'` or `'ehpe'`. */
  kind: HandPoseModelName;
  inputSize: number;
  /** The model input `[S·S·3]` of the last run (the letterboxed picture, RGB in [0, 1], row-major HWC). */
  input: number[];
  /** Side of the square picture the estimator ran on, in pixels. */
  pictureSize: number;
  /** `[J][2]` the estimated keypoints in the picture's pixels. */
  keypoints: number[][];
  /** `[J][3]` the estimated keypoints in metres, wrist at the origin. */
  keypoints3D: number[][];
  /** The estimator's score. */
  score: number;
  /** Test-time rotations of the last run (`estimateHands(picture, {rotations})`). */
  rotations: TestRotations;
  /** `[J][2]` ground truth of a synthetic picture in its pixels, else null. */
  truth: number[][] | null;
  /** `[J]` 1 where the synthetic hand's joint is visible, else 0 (null for other pictures). */
  truthVisible: number[] | null;
  /** `[J][2]` the keypoints on the overlay canvas (where the dots are drawn). */
  display: number[][];
  groups: number[][];
  groupNames: string[];
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
let modelName = '';
let backend = '';
let backendsFailed: string[] = [];
let threads: number | null = null;
/** The current picture, square, at its own resolution. */
let square: HTMLCanvasElement | null = null;
let sourceName = '';
/** Ground truth of a synthetic picture, in the square's pixels. */
let truth: number[][] | null = null;
let truthVisible: number[] | null = null;
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
      `<span><b>${pose!.groupNames[g]}</b> <span class="joints">${joints.length ? joints.join(', ') : '—'}</span></span>`;
    list.appendChild(li);
  });
}

const keypointsOf = (p: Prediction): number[][] => p.hand.keypoints.map((k) => [k.x, k.y]);
const keypoints3DOf = (p: Prediction): number[][] => p.hand.keypoints3D.map((k) => [k.x, k.y, k.z]);

function redraw(): void {
  if (square === null) return;
  const ictx = imageCanvas.getContext('2d')!;
  ictx.imageSmoothingQuality = 'high';
  ictx.drawImage(square, 0, 0, DISPLAY, DISPLAY);
  if (pose === null || last === null) return;
  const display = keypointsOf(last).map((p) => toDisplay(p, square!.width));
  const showTruth = ($<HTMLInputElement>('show-truth').checked && truth) || null;
  drawSkeleton(overlay.getContext('2d')!, display, pose.jointGroup, {
    truth: showTruth ? showTruth.map((p) => toDisplay(p, square!.width)) : undefined,
  });
  draw3D(view.getContext('2d')!, keypoints3DOf(last), pose.jointGroup, yaw, pitch);
  timingEl.innerHTML =
    `inference <b>${last.ms.toFixed(1)} ms</b> on ${backend}` +
    (last.rotations > 1 ? ` (${last.rotations} views)` : '') +
    ` · score ${last.hand.score.toFixed(2)} · ${sourceName}` +
    (showTruth ? ' · <span class="muted">dashed: ground truth</span>' : '');
  window.__phalanxDemo = {
    ready: true,
    backend,
    backendsFailed,
    wasmThreads: threads,
    crossOriginIsolated: window.crossOriginIsolated,
    model: modelName,
    kind: pose.kind,
    inputSize: pose.inputSize,
    input: lastInput,
    pictureSize: square.width,
    keypoints: keypointsOf(last),
    keypoints3D: keypoints3DOf(last),
    score: last.hand.score,
    rotations: last.rotations,
    truth,
    truthVisible,
    display,
    groups: pose.groups,
    groupNames: pose.groupNames,
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
    // A first run compiles the backend's kernels; time a second one so the figure is the steady state.
    const rotations = Number($<HTMLSelectElement>('rotations').value) as TestRotations;
    if (runs === 0) await predict(pose, square, rotations);
    last = await predict(pose, square, rotations);
    lastInput = Array.from(await modelInputOf(square, pose.inputSize));
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
  truthVisible = Array.from(sample.visible);
  sourceName = `synthetic hand, seed ${seed}`;
}

async function useImageFile(file: File): Promise<void> {
  stopWebcam();
  const bitmap = await createImageBitmap(file);
  square = squareFrom(bitmap, bitmap.width, bitmap.height);
  truth = truthVisible = null;
  sourceName = file.name;
  await run();
}

/** A shipped model (by name), another saved model of either network (a URL or files), or a PyTorch checkpoint. */
type ModelSource = HandPoseModelName | { from: string | tf.io.IOHandler } | { checkpoint: File };

async function modelOf(source: ModelSource): Promise<PoseModel> {
  if (typeof source === 'string') return loadShippedModel(source);
  if ('from' in source) return loadModelFrom(source.from);
  if (pose === null) throw new Error('a PyTorch checkpoint loads into the network the page runs: load a model first');
  const bytes = new Uint8Array(await source.checkpoint.arrayBuffer());
  return loadCheckpointInto(pose, bytes, source.checkpoint.name);
}

/** Loads a model; when that fails, the page keeps the model it had. */
async function loadModel(source: ModelSource, name: string): Promise<void> {
  setStatus(`loading model <b>${name}</b>…`);
  const loaded = await modelOf(source);
  pose?.estimator.dispose();
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
  truth = truthVisible = null;
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
    void loadModel({ from: tf.io.browserFiles([json, ...weights]) }, json.name)
      .then(run)
      .catch(fail);
  });
  $<HTMLInputElement>('checkpoint-file').addEventListener('change', (e) => {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = ''; // picking the same file again loads it again
    if (file) void loadModel({ checkpoint: file }, file.name).then(run).catch(fail);
  });
  $<HTMLFormElement>('model-url-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const url = $<HTMLInputElement>('model-url').value.trim();
    if (url) void loadModel({ from: url }, url).then(run).catch(fail);
  });
  $<HTMLSelectElement>('backend').addEventListener('change', (e) => {
    void setBackend((e.target as HTMLSelectElement).value as BackendChoice)
      .then(run)
      .catch(fail);
  });
  $<HTMLSelectElement>('model-choice').addEventListener('change', (e) => {
    const kind = (e.target as HTMLSelectElement).value as HandPoseModelName;
    void loadModel(kind, SHIPPED_MODELS[kind].label).then(run).catch(fail);
  });
  $('webcam').addEventListener('click', () => void toggleWebcam());
  $('show-truth').addEventListener('change', redraw);
  $('rotations').addEventListener('change', () => void run());
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
    draw3D(view.getContext('2d')!, keypoints3DOf(last), pose.jointGroup, yaw, pitch);
  });
  view.addEventListener('pointerup', () => (dragging = null));
}

async function start(): Promise<void> {
  wireUi();
  const choice = (params.get('backend') ?? 'auto') as BackendChoice;
  $<HTMLSelectElement>('backend').value = choice;
  await setBackend(choice);
  // ?model=<url of model.json> loads another model; ?shipped=ehpe picks the shipped EHPE (default Learnable Groups).
  const url = params.get('model');
  const kind: HandPoseModelName = params.get('shipped') === 'ehpe' ? 'ehpe' : 'learnable-groups';
  $<HTMLSelectElement>('model-choice').value = kind;
  await (url !== null ? loadModel({ from: url }, url) : loadModel(kind, SHIPPED_MODELS[kind].label));
  const seed = Number(params.get('seed') ?? 7);
  $<HTMLInputElement>('seed').value = String(seed);
  useSynthetic(seed);
  await run();
}

start().catch(fail);
