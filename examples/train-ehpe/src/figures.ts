/**
 * The bar chart of the paper's Fig. 1 for a run: the error of each joint class (TIP, DIP, PIP, MCP,
 * wrist) relative to TIP, for each model, next to the paper's ratios.
 */
import { escapeXml, type JointClass } from '@phalanx/pose';
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
