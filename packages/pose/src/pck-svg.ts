/**
 * PCK curves as standalone SVG documents: axes with ticks, grid, labels and a legend with each
 * curve's AUC — the plot of the hand-pose papers, without a plotting library.
 */
import {
  PhalanxConfigError,
  PhalanxShapeError,
  checkFinite,
  checkInteger,
  checkOptions,
  checkPositive,
} from '@phalanx/errors';
import { checkFiniteEntries } from './arrays';
import { auc as areaUnderCurve } from './metrics';

/** One curve of a PCK plot. */
export interface PckCurveSeries {
  /** Legend label. */
  label: string;
  /** PCK values in [0, 1], one per threshold. */
  pck: readonly number[];
  /** Thresholds of this curve; default the plot's `thresholds`. */
  thresholds?: readonly number[];
  /** AUC shown in the legend; default computed with `auc(thresholds, pck)`. */
  auc?: number;
}

/** Several curves over shared (or their own) thresholds. */
export interface PckCurves {
  /** Thresholds shared by the curves that give none of their own. */
  thresholds: readonly number[];
  /** The curves, drawn in order. */
  curves: readonly PckCurveSeries[];
}

/** Options of {@link pckCurveToSvg}. */
export interface PckSvgOptions {
  /** Width of the SVG in pixels. Default 560. */
  width?: number;
  /** Height of the SVG in pixels. Default 400. */
  height?: number;
  /** Title above the plot. Default none. */
  title?: string;
  /** Label of the x axis. Default `'Error threshold'` (or `'Error threshold (mm)'` with `thresholdScale: 1000`). */
  xLabel?: string;
  /** Label of the y axis. Default `'PCK'`. */
  yLabel?: string;
  /** Factor applied to thresholds for display, e.g. 1000 to show metres as millimetres. Default 1. */
  thresholdScale?: number;
  /** Legend label of a single curve given as measures. Default `'PCK'`. */
  label?: string;
  /** Lower end of the y axis. Default 0. */
  yMin?: number;
  /** Upper end of the y axis. Default 1. */
  yMax?: number;
  /** Stroke colours, cycled. Default a colour-blind-friendly palette. */
  colors?: readonly string[];
  /** Decimals of the AUC in the legend. Default 3. */
  decimals?: number;
  /** Draw a dot at every point. Default `true`. */
  markers?: boolean;
}

const OPTION_KEYS = {
  width: true,
  height: true,
  title: true,
  xLabel: true,
  yLabel: true,
  thresholdScale: true,
  label: true,
  yMin: true,
  yMax: true,
  colors: true,
  decimals: true,
  markers: true,
} satisfies Record<keyof PckSvgOptions, true>;

const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#F0E442', '#000000'];

/**
 * Escapes text for XML content and attribute values: `&`, `<`, `>`, `"`, `'` become `&amp;`, `&lt;`,
 * `&gt;`, `&quot;`, `&apos;`. Throws `PhalanxConfigError` for `text` that is not a string.
 *
 * @example
 * escapeXml('a < b & "c"'); // 'a &lt; b &amp; &quot;c&quot;'
 */
export function escapeXml(text: string): string {
  if (typeof text !== 'string') throw new PhalanxConfigError('escapeXml', 'text', 'a string', text);
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** The most ticks {@link niceTicks} is asked for: an axis has a handful; many more would fill memory. */
const MAX_TICKS = 1000;

/**
 * About `target` round tick values covering [lo, hi] (steps of 1, 2 or 5 × 10^k); `[lo]` when `hi ≤ lo`.
 * Throws `PhalanxConfigError` for `lo` or `hi` that are not finite and a `target` that is not an integer
 * in [1, 1000] (a huge one built an array until the process died).
 */
export function niceTicks(lo: number, hi: number, target = 6): number[] {
  checkFinite('niceTicks', 'lo', lo);
  checkFinite('niceTicks', 'hi', hi);
  checkInteger('niceTicks', 'target', target, 1);
  if (target > MAX_TICKS)
    throw new PhalanxConfigError('niceTicks', 'target', `an integer in [1, ${MAX_TICKS}]`, target);
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / target;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * pow).find((s) => span / s <= target) ?? 10 * pow;
  const first = Math.ceil(lo / step - 1e-9);
  const ticks: number[] = [];
  for (let k = first; k * step <= hi + step * 1e-9; k++) ticks.push(Number((k * step).toPrecision(12)));
  return ticks;
}

function fmt(x: number): string {
  return Number(x.toFixed(2)).toString();
}

function isMeasures(x: unknown): x is { thresholds: number[]; pckCurve: number[]; auc?: number } {
  return typeof x === 'object' && x !== null && 'pckCurve' in x && 'thresholds' in x;
}

/** A curve ready to draw: display thresholds, PCK values, AUC and colour. */
interface DrawnSeries {
  label: string;
  t: number[];
  pck: readonly number[];
  auc: number;
  color: string;
}

/** The plot area inside the SVG and the maps from data to pixels. */
interface PlotFrame {
  width: number;
  height: number;
  margin: { left: number; right: number; top: number; bottom: number };
  /** Plot area width and height in pixels. */
  pw: number;
  ph: number;
  xLo: number;
  xHi: number;
  yMin: number;
  yMax: number;
  /** Data → pixel maps of the two axes. */
  X: (v: number) => number;
  Y: (v: number) => number;
}

/** The input as `{thresholds, curves}`; measures become one curve labelled `options.label`. */
function readCurves(name: string, input: PckSvgInput, options: PckSvgOptions): PckCurves {
  const curves: PckCurves = isMeasures(input)
    ? {
        thresholds: input.thresholds,
        curves: [{ label: options.label ?? 'PCK', pck: input.pckCurve, auc: input.auc }],
      }
    : (input as PckCurves);
  if (!curves || !Array.isArray(curves.curves) || curves.curves.length === 0) {
    throw new PhalanxConfigError(name, 'input', 'measures or {thresholds, curves: [≥ 1 curve]}', curves);
  }
  return curves;
}

/** Checks each curve against its thresholds and fills in display thresholds, AUC and colour. */
function drawnSeries(name: string, curves: PckCurves, scaleX: number, colors: readonly string[]): DrawnSeries[] {
  return curves.curves.map((c, i) => {
    if (c === null || typeof c !== 'object' || typeof c.label !== 'string') {
      throw new PhalanxConfigError(name, `curves[${i}]`, 'a curve {label: string, pck, thresholds?, auc?}', c);
    }
    const t = c.thresholds ?? curves.thresholds;
    if (!Array.isArray(t) || t.length < 2 || !Array.isArray(c.pck) || c.pck.length !== t.length) {
      throw new PhalanxShapeError(
        name,
        `curves[${i}].pck`,
        `as many values as thresholds (${t?.length}, ≥ 2)`,
        c.pck?.length,
      );
    }
    // A NaN here would be drawn as "NaN" coordinates and "AUC=NaN".
    checkFiniteEntries(name, c.thresholds ? `curves[${i}].thresholds` : 'thresholds', t);
    checkFiniteEntries(name, `curves[${i}].pck`, c.pck);
    const a = c.auc === undefined ? areaUnderCurve(t, c.pck) : checkFinite(name, `curves[${i}].auc`, c.auc);
    return { label: c.label, t: t.map((x) => x * scaleX), pck: c.pck, auc: a, color: colors[i % colors.length] };
  });
}

/** The plot area for the given size, title and data ranges. */
function plotFrame(
  size: { width: number; height: number },
  titled: boolean,
  [xLo, xHi]: [number, number],
  [yMin, yMax]: [number, number],
): PlotFrame {
  const { width, height } = size;
  const margin = { left: 64, right: 20, top: titled ? 40 : 20, bottom: 52 };
  const pw = width - margin.left - margin.right;
  const ph = height - margin.top - margin.bottom;
  const X = (v: number): number => margin.left + ((v - xLo) / (xHi - xLo)) * pw;
  const Y = (v: number): number => margin.top + (1 - (v - yMin) / (yMax - yMin)) * ph;
  return { width, height, margin, pw, ph, xLo, xHi, yMin, yMax, X, Y };
}

/** The XML declaration, the `<svg>` element, a white background and the optional title. */
function svgHeader({ width, height }: PlotFrame, title: string | undefined): string[] {
  const out = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  if (title) {
    out.push(`<text x="${fmt(width / 2)}" y="24" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`);
  }
  return out;
}

/** Grid lines, the plot frame with tick marks, and the tick labels. */
function svgGridAndTicks(frame: PlotFrame, xTicks: number[], yTicks: number[]): string[] {
  const { margin, pw, ph, xLo, xHi, yMin, yMax, X, Y } = frame;
  const out: string[] = [];
  out.push(`<g class="grid" stroke="#e3e3e3" stroke-width="1">`);
  for (const v of xTicks)
    out.push(`<line x1="${fmt(X(v))}" y1="${fmt(Y(yMin))}" x2="${fmt(X(v))}" y2="${fmt(Y(yMax))}"/>`);
  for (const v of yTicks)
    out.push(`<line x1="${fmt(X(xLo))}" y1="${fmt(Y(v))}" x2="${fmt(X(xHi))}" y2="${fmt(Y(v))}"/>`);
  out.push(`</g>`);
  out.push(`<g class="axes" stroke="#333333" stroke-width="1" fill="none">`);
  out.push(`<rect x="${fmt(margin.left)}" y="${fmt(margin.top)}" width="${fmt(pw)}" height="${fmt(ph)}"/>`);
  for (const v of xTicks)
    out.push(`<line x1="${fmt(X(v))}" y1="${fmt(Y(yMin))}" x2="${fmt(X(v))}" y2="${fmt(Y(yMin) + 5)}"/>`);
  for (const v of yTicks)
    out.push(`<line x1="${fmt(X(xLo) - 5)}" y1="${fmt(Y(v))}" x2="${fmt(X(xLo))}" y2="${fmt(Y(v))}"/>`);
  out.push(`</g>`);
  out.push(`<g class="tick-labels" fill="#333333">`);
  for (const v of xTicks) {
    out.push(`<text x="${fmt(X(v))}" y="${fmt(Y(yMin) + 19)}" text-anchor="middle">${escapeXml(String(v))}</text>`);
  }
  for (const v of yTicks) {
    out.push(`<text x="${fmt(X(xLo) - 8)}" y="${fmt(Y(v) + 4)}" text-anchor="end">${escapeXml(String(v))}</text>`);
  }
  out.push(`</g>`);
  return out;
}

/** The x label under the plot and the rotated y label left of it. */
function svgAxisLabels({ margin, pw, ph, height }: PlotFrame, xLabel: string, yLabel: string): string[] {
  return [
    `<text x="${fmt(margin.left + pw / 2)}" y="${fmt(height - 12)}" text-anchor="middle">${escapeXml(xLabel)}</text>`,
    `<text x="16" y="${fmt(margin.top + ph / 2)}" text-anchor="middle" transform="rotate(-90 16 ${fmt(margin.top + ph / 2)})">${escapeXml(yLabel)}</text>`,
  ];
}

/** One polyline per curve, with a dot at every point when `markers`. */
function svgCurves({ X, Y }: PlotFrame, series: DrawnSeries[], markers: boolean): string[] {
  const out: string[] = [];
  for (const s of series) {
    const pts = s.t.map((t, i) => `${fmt(X(t))},${fmt(Y(s.pck[i]))}`).join(' ');
    out.push(`<g class="curve">`);
    out.push(`<polyline fill="none" stroke="${escapeXml(s.color)}" stroke-width="2" points="${pts}"/>`);
    if (markers) {
      for (let i = 0; i < s.t.length; i++) {
        out.push(`<circle cx="${fmt(X(s.t[i]))}" cy="${fmt(Y(s.pck[i]))}" r="2.5" fill="${escapeXml(s.color)}"/>`);
      }
    }
    out.push(`</g>`);
  }
  return out;
}

/** The legend box in the lower right (where PCK curves leave room): a line and "label (AUC=…)" per curve. */
function svgLegend({ margin, pw, ph }: PlotFrame, series: DrawnSeries[], decimals: number): string[] {
  const lineH = 18;
  const legendW = Math.min(pw - 10, 24 + 7 * Math.max(...series.map((s) => s.label.length + 12 + decimals)));
  const legendH = 8 + lineH * series.length;
  const lx = margin.left + pw - legendW - 8;
  const ly = margin.top + ph - legendH - 8;
  const out: string[] = [];
  out.push(`<g class="legend">`);
  out.push(
    `<rect x="${fmt(lx)}" y="${fmt(ly)}" width="${fmt(legendW)}" height="${fmt(legendH)}" fill="#ffffff" fill-opacity="0.9" stroke="#999999"/>`,
  );
  series.forEach((s, i) => {
    const y = ly + 4 + lineH * i + lineH / 2;
    out.push(
      `<line x1="${fmt(lx + 6)}" y1="${fmt(y)}" x2="${fmt(lx + 22)}" y2="${fmt(y)}" stroke="${escapeXml(s.color)}" stroke-width="2"/>`,
    );
    out.push(
      `<text x="${fmt(lx + 28)}" y="${fmt(y + 4)}">${escapeXml(`${s.label} (AUC=${s.auc.toFixed(decimals)})`)}</text>`,
    );
  });
  out.push(`</g>`);
  return out;
}

/** What {@link pckCurveToSvg} draws: several curves, or the measures of `KeypointEvaluator.measures`. */
type PckSvgInput = PckCurves | { thresholds: readonly number[]; pckCurve: readonly number[]; auc?: number };

/**
 * Renders PCK curves as an SVG document (a string): x = error threshold, y = PCK, a grid, ticks,
 * axis labels and a legend "label (AUC=…)" per curve. Accepts the result of
 * `KeypointEvaluator.measures` (one curve, its `auc` in the legend) or `{thresholds, curves}`.
 *
 * **Shapes**: each curve has as many PCK values as thresholds (≥ 2), all finite.
 *
 * Throws `PhalanxShapeError` for a curve whose length differs from its thresholds', and `PhalanxConfigError`
 * for `options` that are not an object of {@link PckSvgOptions} keys, an input that is neither measures
 * nor `{thresholds, curves}`, a curve that is not `{label, pck, …}`, a threshold, PCK value or AUC that is not
 * finite, and out-of-range sizes.
 * @example
 * import { writeFileSync } from 'node:fs';
 * import * as tf from '@tensorflow/tfjs-core';
 * import { KeypointEvaluator, pckCurveToSvg } from '@phalanx/pose';
 * const evaluator = new KeypointEvaluator({ numJoints: 21 });
 * const gt = tf.randomNormal([8, 21, 3], 0, 0.05);
 * evaluator.feed(gt, tf.add(gt, tf.randomNormal([8, 21, 3], 0, 0.01)));
 * const svg = pckCurveToSvg(evaluator.measures({ min: 0, max: 0.05, steps: 20 }), { thresholdScale: 1000 });
 * writeFileSync('pck.svg', svg);
 */
export function pckCurveToSvg(
  input: PckCurves | { thresholds: readonly number[]; pckCurve: readonly number[]; auc?: number },
  options: PckSvgOptions = {},
): string {
  const name = 'pckCurveToSvg';
  checkOptions(name, 'options', options, OPTION_KEYS, 'an options object {width?, height?, title?, …}');
  const curves = readCurves(name, input, options);
  const width = checkPositive(name, 'width', options.width ?? 560);
  const height = checkPositive(name, 'height', options.height ?? 400);
  const scaleX = checkPositive(name, 'thresholdScale', options.thresholdScale ?? 1);
  const decimals = checkInteger(name, 'decimals', options.decimals ?? 3, 0);
  const yMin = options.yMin ?? 0;
  const yMax = options.yMax ?? 1;
  if (!(yMax > yMin)) throw new PhalanxConfigError(name, 'yMax', `greater than yMin (${yMin})`, yMax);
  const colors = options.colors && options.colors.length > 0 ? options.colors : PALETTE;
  const series = drawnSeries(name, curves, scaleX, colors);
  const xLo = Math.min(...series.map((s) => s.t[0]));
  const xHi = Math.max(...series.map((s) => s.t[s.t.length - 1]));
  if (!(xHi > xLo)) throw new PhalanxConfigError(name, 'thresholds', 'an increasing range', [xLo, xHi]);

  const frame = plotFrame({ width, height }, Boolean(options.title), [xLo, xHi], [yMin, yMax]);
  const xTicks = niceTicks(xLo, xHi).filter((v) => v >= xLo - 1e-12 && v <= xHi + 1e-12);
  const yTicks = niceTicks(yMin, yMax, 5).filter((v) => v >= yMin - 1e-12 && v <= yMax + 1e-12);
  const xLabel = options.xLabel ?? (scaleX === 1000 ? 'Error threshold (mm)' : 'Error threshold');
  const out = [
    ...svgHeader(frame, options.title),
    ...svgGridAndTicks(frame, xTicks, yTicks),
    ...svgAxisLabels(frame, xLabel, options.yLabel ?? 'PCK'),
    ...svgCurves(frame, series, options.markers ?? true),
    ...svgLegend(frame, series, decimals),
    `</svg>`,
  ];
  return out.join('\n') + '\n';
}
