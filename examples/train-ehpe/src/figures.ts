/**
 * Pictures of a run: the bar chart of the paper's Fig. 1 (the error of each joint class — TIP, DIP,
 * PIP, MCP, wrist — relative to TIP, for each model, next to the paper's ratios) and the learning
 * curves (held-out error against samples seen, next to the baselines).
 */
import { escapeXml, niceTicks, type JointClass } from '@phalanx/pose';
import { FIG1_CLASSES, PAPER_FIG1_RATIOS, type ModelReport } from './pipeline';

const COLORS = ['#0072B2', '#D55E00', '#009E73', '#BBBBBB'];

/** One series of the chart: a label and the model's report (or the paper's fixed ratios). */
export interface ChartSeries {
  /** Legend label. */
  label: string;
  /** Error of each class relative to TIP (%). */
  ratio: Record<JointClass, number>;
  /** Absolute error of each class (mm), printed under the percentage when given. */
  mm?: Record<JointClass, number>;
}

/** The series of the chart from the evaluated models (those present), plus the paper's Fig. 1. */
export function fig1Series(models: [string, ModelReport | null][]): ChartSeries[] {
  return [
    ...models
      .filter((m): m is [string, ModelReport] => m[1] !== null)
      .map(([label, r]) => ({ label, ratio: r.classRatio, mm: r.classMm })),
    { label: 'paper Fig. 1 (other methods, approx.)', ratio: PAPER_FIG1_RATIOS },
  ];
}

/**
 * An SVG grouped bar chart: one group per joint class (TIP → wrist), one bar per series, the bar
 * height the error relative to TIP (%), labelled with the percentage and (when known) the error in mm.
 */
export function classRatioSvg(series: ChartSeries[], title: string, subtitle = ''): string {
  const W = 860;
  const H = 460;
  const left = 60;
  const right = 20;
  const top = 70;
  const bottom = 110;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const maxRatio = Math.max(120, ...series.flatMap((s) => FIG1_CLASSES.map((c) => s.ratio[c]).filter(Number.isFinite)));
  const yMax = Math.ceil(maxRatio / 20) * 20;
  const y = (v: number) => top + plotH * (1 - v / yMax);
  const groupW = plotW / FIG1_CLASSES.length;
  const barW = (groupW * 0.8) / series.length;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="20" y="28" font-size="18" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  if (subtitle) out.push(`<text x="20" y="50" font-size="12" fill="#444">${escapeXml(subtitle)}</text>`);
  for (let v = 0; v <= yMax; v += 20) {
    out.push(
      `<line x1="${left}" y1="${y(v).toFixed(1)}" x2="${W - right}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/>`,
      `<text x="${left - 8}" y="${(y(v) + 4).toFixed(1)}" font-size="11" text-anchor="end" fill="#555">${v}%</text>`,
    );
  }
  out.push(
    `<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" font-size="12" text-anchor="middle" fill="#333">error relative to TIP</text>`,
  );
  FIG1_CLASSES.forEach((c, g) => {
    const gx = left + g * groupW + groupW * 0.1;
    series.forEach((s, k) => {
      const v = s.ratio[c];
      if (!Number.isFinite(v)) return;
      const x = gx + k * barW;
      out.push(
        `<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(y(0) - y(v)).toFixed(1)}" fill="${COLORS[k % COLORS.length]}"/>`,
        `<text x="${(x + barW / 2).toFixed(1)}" y="${(y(v) - 4).toFixed(1)}" font-size="10" text-anchor="middle">${v.toFixed(0)}</text>`,
      );
      if (s.mm) {
        out.push(
          `<text x="${(x + barW / 2).toFixed(1)}" y="${(y(0) + 30).toFixed(1)}" font-size="9" text-anchor="middle" fill="#555">${s.mm[c].toFixed(1)}</text>`,
        );
      }
    });
    out.push(
      `<text x="${(left + (g + 0.5) * groupW).toFixed(1)}" y="${(y(0) + 16).toFixed(1)}" font-size="13" text-anchor="middle" font-weight="bold">${c}</text>`,
    );
  });
  out.push(
    `<text x="${left}" y="${(y(0) + 44).toFixed(1)}" font-size="10" fill="#555">small numbers under the bars: mean 3D error of the class (mm)</text>`,
  );
  series.forEach((s, k) => {
    const lx = left + (k % 2) * 400;
    const ly = H - 40 + Math.floor(k / 2) * 18;
    out.push(
      `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${COLORS[k % COLORS.length]}"/>`,
      `<text x="${lx + 18}" y="${ly}" font-size="12">${escapeXml(s.label)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** One panel of {@link learningCurvesSvg}: curves `[samples seen, error]` and horizontal baselines. */
export interface CurvePanel {
  /** Panel title. */
  title: string;
  /** The y axis label. */
  yLabel: string;
  /** Curves: a label and points in increasing samples. */
  curves: { label: string; points: [number, number][] }[];
  /** Baselines drawn as dashed lines. */
  baselines: { label: string; value: number }[];
}

const CURVE_COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7'];
const BASELINE_COLORS = ['#444', '#999'];

/** One panel at (`x0`, 0) of `w` × `h` px. */
function curvePanel(p: CurvePanel, x0: number, w: number, h: number): string[] {
  const m = { left: 56, right: 16, top: 40, bottom: 130 };
  const pw = w - m.left - m.right;
  const ph = h - m.top - m.bottom;
  const finite = (v: number) => Number.isFinite(v);
  const xs = p.curves.flatMap((c) => c.points.map((q) => q[0]));
  const ys = [...p.curves.flatMap((c) => c.points.map((q) => q[1])), ...p.baselines.map((b) => b.value)].filter(finite);
  const xHi = Math.max(1, ...xs);
  const yLo = ys.length ? Math.max(0, Math.floor(Math.min(...ys) - 0.5)) : 0;
  const yHi = ys.length ? Math.ceil(Math.max(...ys) + 0.5) : 1;
  const X = (v: number) => x0 + m.left + (v / xHi) * pw;
  const Y = (v: number) => m.top + (1 - (v - yLo) / Math.max(1e-9, yHi - yLo)) * ph;
  const f = (v: number) => v.toFixed(1);
  const out = [`<text x="${x0 + m.left}" y="24" font-size="14" font-weight="bold">${escapeXml(p.title)}</text>`];
  for (const v of niceTicks(0, xHi, 5).filter((t) => t <= xHi)) {
    out.push(`<line x1="${f(X(v))}" y1="${m.top}" x2="${f(X(v))}" y2="${m.top + ph}" stroke="#e5e5e5"/>`);
    const label = v >= 1000 ? `${v / 1000}k` : `${v}`;
    out.push(`<text x="${f(X(v))}" y="${m.top + ph + 16}" text-anchor="middle">${label}</text>`);
  }
  for (const v of niceTicks(yLo, yHi, 6).filter((t) => t >= yLo && t <= yHi)) {
    out.push(`<line x1="${x0 + m.left}" y1="${f(Y(v))}" x2="${x0 + m.left + pw}" y2="${f(Y(v))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x0 + m.left - 6}" y="${f(Y(v) + 4)}" text-anchor="end">${v}</text>`);
  }
  out.push(`<rect x="${x0 + m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(
    `<text x="${x0 + m.left + pw / 2}" y="${m.top + ph + 34}" text-anchor="middle">training samples seen</text>`,
  );
  const cy = m.top + ph / 2;
  out.push(
    `<text x="${x0 + 14}" y="${cy}" text-anchor="middle" transform="rotate(-90 ${x0 + 14} ${cy})">${escapeXml(p.yLabel)}</text>`,
  );
  let legend = m.top + ph + 56;
  const key = (color: string, dash: string, label: string) => {
    const lx = x0 + m.left;
    out.push(
      `<line x1="${lx}" y1="${legend}" x2="${lx + 26}" y2="${legend}" stroke="${color}" stroke-width="2"${dash}/>`,
    );
    out.push(`<text x="${lx + 32}" y="${legend + 4}">${escapeXml(label)}</text>`);
    legend += 17;
  };
  p.baselines
    .filter((b) => finite(b.value))
    .forEach((b, i) => {
      const color = BASELINE_COLORS[i % BASELINE_COLORS.length];
      const dash = ' stroke-dasharray="6 4"';
      out.push(
        `<line x1="${x0 + m.left}" y1="${f(Y(b.value))}" x2="${x0 + m.left + pw}" y2="${f(Y(b.value))}" stroke="${color}" stroke-width="1.5"${dash}/>`,
      );
      key(color, dash, `${b.label} (${b.value.toFixed(2)})`);
    });
  p.curves.forEach((c, i) => {
    const color = CURVE_COLORS[i % CURVE_COLORS.length];
    const pts = c.points.filter((q) => finite(q[1])).map(([x, y]) => `${f(X(x))},${f(Y(y))}`);
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    const last = c.points.at(-1);
    key(color, '', last ? `${c.label} (${last[1].toFixed(2)})` : c.label);
  });
  return out;
}

/**
 * An SVG of learning-curve panels side by side (420 × 430 px each): held-out error against training
 * samples seen, with the baselines as dashed lines and the last value of each curve in its legend.
 *
 * @example
 * const svg = learningCurvesSvg([
 *   { title: 'stage 1', yLabel: 'px', curves: [{ label: 'TW', points: [[0, 9], [800, 7]] }], baselines: [{ label: 'mean pose', value: 8 }] },
 * ]);
 */
export function learningCurvesSvg(panels: CurvePanel[], subtitle = ''): string {
  const w = 420;
  const h = 430;
  const W = w * Math.max(1, panels.length);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h + 20}" viewBox="0 0 ${W} ${h + 20}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${h + 20}" fill="white"/>`,
    ...panels.flatMap((p, i) => curvePanel(p, i * w, w, h)),
  ];
  if (subtitle) out.push(`<text x="10" y="${h + 12}" font-size="11" fill="#444">${escapeXml(subtitle)}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
