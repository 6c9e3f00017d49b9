/**
 * A learning curve as a standalone SVG: one or more series of (step, value) with optional horizontal
 * reference lines (baselines). Small on purpose — axes, ticks, legend; no plotting library.
 */
import { escapeXml, niceTicks } from '@phalanx/pose';

/** One line of the plot. */
export interface CurveSeries {
  /** Legend label. */
  label: string;
  /** Points `[step, value]`, increasing in step. */
  points: readonly (readonly [number, number])[];
}

/** A horizontal reference line (e.g. a baseline error). */
export interface ReferenceLine {
  /** Legend label. */
  label: string;
  /** Its value. */
  value: number;
}

/** What to draw. */
export interface CurvePlot {
  /** Title above the plot. */
  title: string;
  /** Label of the x axis. */
  xLabel: string;
  /** Label of the y axis. */
  yLabel: string;
  /** The curves. */
  series: readonly CurveSeries[];
  /** Dashed horizontal lines. */
  references?: readonly ReferenceLine[];
}

/** Ticks extended by their own step until the last one reaches `hi` (niceTicks stops at or below it). */
function covering(ticks: number[], hi: number): number[] {
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : Math.abs(hi) || 1;
  const out = [...ticks];
  while (out[out.length - 1] < hi) out.push(Number((out[out.length - 1] + step).toPrecision(12)));
  return out;
}

const COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9'];

/**
 * Renders a {@link CurvePlot} as an SVG document (a string), 640 × 400 pixels.
 *
 * @example
 * ```ts
 * curveToSvg({ title: 'LG', xLabel: 'step', yLabel: 'EPE (px)', series: [{ label: 'held-out', points: [[0, 13], [60, 11]] }] });
 * ```
 */
export function curveToSvg(plot: CurvePlot): string {
  const width = 640;
  const height = 400;
  const m = { left: 64, right: 20, top: 40, bottom: 52 };
  const refs = plot.references ?? [];
  const xs = plot.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = [...plot.series.flatMap((s) => s.points.map((p) => p[1])), ...refs.map((r) => r.value)];
  const xTicks = covering(niceTicks(Math.min(0, ...xs), Math.max(...xs, 1)), Math.max(...xs, 1));
  const yTicks = covering(niceTicks(0, Math.max(...ys, 1e-9) * 1.05), Math.max(...ys, 1e-9) * 1.05);
  const [x0, x1] = [xTicks[0], xTicks[xTicks.length - 1]];
  const [y0, y1] = [yTicks[0], yTicks[yTicks.length - 1]];
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0 || 1)) * (width - m.left - m.right);
  const py = (y: number) => height - m.bottom - ((y - y0) / (y1 - y0 || 1)) * (height - m.top - m.bottom);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="14">${escapeXml(plot.title)}</text>`,
  ];
  for (const t of xTicks) {
    out.push(`<line x1="${px(t)}" y1="${m.top}" x2="${px(t)}" y2="${height - m.bottom}" stroke="#eee"/>`);
    out.push(`<text x="${px(t)}" y="${height - m.bottom + 16}" text-anchor="middle">${t}</text>`);
  }
  for (const t of yTicks) {
    out.push(`<line x1="${m.left}" y1="${py(t)}" x2="${width - m.right}" y2="${py(t)}" stroke="#eee"/>`);
    out.push(`<text x="${m.left - 6}" y="${py(t) + 4}" text-anchor="end">${t}</text>`);
  }
  out.push(
    `<rect x="${m.left}" y="${m.top}" width="${width - m.left - m.right}" height="${height - m.top - m.bottom}" fill="none" stroke="#444"/>`,
  );
  out.push(`<text x="${width / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(plot.xLabel)}</text>`);
  out.push(
    `<text transform="translate(16 ${height / 2}) rotate(-90)" text-anchor="middle">${escapeXml(plot.yLabel)}</text>`,
  );
  const legend: [string, string, boolean][] = [];
  plot.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const d = s.points.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const [x, y] of s.points)
      out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2.5" fill="${color}"/>`);
    legend.push([s.label, color, false]);
  });
  refs.forEach((r, i) => {
    const color = COLORS[(plot.series.length + i) % COLORS.length];
    out.push(
      `<line x1="${m.left}" y1="${py(r.value)}" x2="${width - m.right}" y2="${py(r.value)}" stroke="${color}" stroke-dasharray="6 4"/>`,
    );
    legend.push([`${r.label} (${r.value.toFixed(2)})`, color, true]);
  });
  // Legend in the lower left corner, where a falling curve leaves room.
  legend.forEach(([label, color, dashed], i) => {
    const y = height - m.bottom - 10 - 16 * (legend.length - 1 - i);
    const dash = dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<rect x="${m.left + 6}" y="${y - 12}" width="210" height="16" fill="white" fill-opacity="0.85"/>`);
    out.push(
      `<line x1="${m.left + 10}" y1="${y - 4}" x2="${m.left + 30}" y2="${y - 4}" stroke="${color}" stroke-width="2"${dash}/>`,
    );
    out.push(`<text x="${m.left + 36}" y="${y}">${escapeXml(label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
