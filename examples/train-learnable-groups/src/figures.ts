/**
 * Pictures of a run: the learned joint groups on a hand skeleton diagram (SVG) and predictions drawn on
 * held-out images (PNG).
 */
import { contactSheet, drawSkeleton, type RgbImage } from '@phalanx/data';
import { FINGER_CHAINS, JOINT_NAMES, SKELETON_EDGES } from '@phalanx/skeleton';
import { escapeXml, niceTicks } from '@phalanx/pose';

const GROUP_COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9'];

/**
 * 2D positions of the 21 joints of an open right hand seen from the palm, for diagrams: the wrist at
 * the bottom, each finger a chain of bones fanning out (x right, y down).
 */
export function handDiagramLayout(): [number, number][] {
  const pos: [number, number][] = Array.from({ length: 21 }, () => [0, 0]);
  const wrist: [number, number] = [250, 430];
  pos[0] = wrist;
  // Per finger: direction of the palm ray to its base (degrees from up, negative = left), length of
  // that ray, the finger's direction and its three bone lengths.
  const fingers = [
    { ray: -52, base: 70, dir: -48, bones: [62, 48, 40] }, // thumb
    { ray: -18, base: 150, dir: -12, bones: [58, 36, 30] }, // index
    { ray: -3, base: 158, dir: -2, bones: [64, 40, 32] }, // middle
    { ray: 12, base: 150, dir: 10, bones: [58, 37, 30] }, // ring
    { ray: 27, base: 132, dir: 24, bones: [46, 30, 26] }, // pinky
  ];
  const rad = (deg: number) => (deg * Math.PI) / 180;
  fingers.forEach((f, k) => {
    const chain = FINGER_CHAINS[k];
    let [x, y] = [wrist[0] + f.base * Math.sin(rad(f.ray)), wrist[1] - f.base * Math.cos(rad(f.ray))];
    pos[chain[0]] = [x, y];
    f.bones.forEach((len, b) => {
      x += len * Math.sin(rad(f.dir));
      y -= len * Math.cos(rad(f.dir));
      pos[chain[b + 1]] = [x, y];
    });
  });
  return pos;
}

/**
 * An SVG hand skeleton with every joint coloured by its learned group (the hard assignment of the
 * selector), a legend listing each group's joints, and an optional subtitle.
 */
export function groupsToSvg(groups: number[][], subtitle = ''): string {
  const pos = handDiagramLayout();
  const groupOf = new Array<number>(21).fill(-1);
  groups.forEach((joints, g) => joints.forEach((j) => (groupOf[j] = g)));
  const W = 760;
  const H = 480;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="20" y="28" font-size="18" font-weight="bold">Learned joint groups (hard assignment of meta_S)</text>`,
  ];
  if (subtitle) out.push(`<text x="20" y="50" font-size="13" fill="#444">${escapeXml(subtitle)}</text>`);
  for (const [a, b] of SKELETON_EDGES) {
    out.push(
      `<line x1="${pos[a][0].toFixed(1)}" y1="${pos[a][1].toFixed(1)}" x2="${pos[b][0].toFixed(1)}" y2="${pos[b][1].toFixed(1)}" stroke="#999" stroke-width="6" stroke-linecap="round"/>`,
    );
  }
  pos.forEach(([x, y], j) => {
    const color = groupOf[j] >= 0 ? GROUP_COLORS[groupOf[j] % GROUP_COLORS.length] : '#000';
    out.push(
      `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="11" fill="${color}" stroke="white" stroke-width="2"/>`,
    );
    out.push(
      `<text x="${x.toFixed(1)}" y="${(y + 4).toFixed(1)}" font-size="10" text-anchor="middle" fill="white">${j}</text>`,
    );
  });
  groups.forEach((joints, g) => {
    const y = 90 + g * 110;
    const color = GROUP_COLORS[g % GROUP_COLORS.length];
    out.push(`<circle cx="470" cy="${y}" r="9" fill="${color}"/>`);
    out.push(
      `<text x="486" y="${y + 5}" font-size="15" font-weight="bold">group ${g} (${joints.length} joints)</text>`,
    );
    const names = joints.map((j) => `${j} ${JOINT_NAMES[j]}`);
    for (let line = 0; line * 3 < names.length; line++) {
      out.push(
        `<text x="486" y="${y + 24 + line * 16}" font-size="11" fill="#333">${escapeXml(names.slice(line * 3, line * 3 + 3).join(', '))}</text>`,
      );
    }
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Nearest-neighbour enlargement of an image by an integer factor. */
export function enlarge(image: RgbImage, factor: number): RgbImage {
  const { width: w, height: h } = image;
  const W = w * factor;
  const H = h * factor;
  const scale = image.data instanceof Float32Array ? 255 : 1;
  const out = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    const sy = Math.floor(y / factor);
    for (let x = 0; x < W; x++) {
      const s = 3 * (sy * w + Math.floor(x / factor));
      const d = 3 * (y * W + x);
      for (let c = 0; c < 3; c++) out[d + c] = Math.round(image.data[s + c] * scale);
    }
  }
  return { data: out, width: W, height: H };
}

/**
 * A contact sheet: the first row shows the ground truth, each further row one model's predictions, drawn on
 * the held-out images (enlarged to about 192 px so that the skeletons are readable).
 *
 * @param images `[N]` images; `gtUv` and each of `predUv` `[N][21][2]` in image pixels.
 */
export function predictionSheet(images: RgbImage[], gtUv: number[][][], ...predUv: number[][][][]): RgbImage {
  const factor = Math.max(1, Math.round(192 / images[0].width));
  const up = (uv: number[][]) => uv.flatMap(([u, v]) => [(u + 0.5) * factor - 0.5, (v + 0.5) * factor - 0.5]);
  const big = images.map((im) => enlarge(im, factor));
  const rows = [gtUv, ...predUv].map((uvs) => big.map((im, i) => drawSkeleton(im, up(uvs[i]))));
  return contactSheet(rows.flat(), images.length);
}

/** One learning curve: `[samples seen, held-out 2D EPE]` points. */
export interface LearningCurve {
  /** Legend label. */
  label: string;
  /** Points in increasing samples. */
  points: [number, number][];
}

const CURVE_COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#999999'];

/**
 * An SVG chart of held-out 2D EPE against samples seen, with the two baselines as dashed horizontal
 * lines (mean pose, hand centre) and an optional target line, 720 × 420 px.
 */
export function learningCurvesSvg(
  curves: LearningCurve[],
  references: { label: string; value: number }[],
  title: string,
): string {
  const W = 720;
  const H = 420;
  const m = { left: 60, right: 230, top: 40, bottom: 50 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const xs = curves.flatMap((c) => c.points.map((p) => p[0]));
  const ys = [...curves.flatMap((c) => c.points.map((p) => p[1])), ...references.map((r) => r.value)];
  const xHi = Math.max(1, ...xs);
  const yLo = Math.max(0, Math.floor(Math.min(...ys) - 0.5));
  const yHi = Math.ceil(Math.max(...ys) + 0.5);
  const X = (v: number) => m.left + (v / xHi) * pw;
  const Y = (v: number) => m.top + (1 - (v - yLo) / (yHi - yLo)) * ph;
  const f = (v: number) => v.toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${m.left}" y="24" font-size="15">${escapeXml(title)}</text>`,
  ];
  for (const v of niceTicks(0, xHi)) {
    if (v > xHi) continue;
    out.push(`<line x1="${f(X(v))}" y1="${m.top}" x2="${f(X(v))}" y2="${m.top + ph}" stroke="#e5e5e5"/>`);
    out.push(
      `<text x="${f(X(v))}" y="${m.top + ph + 18}" text-anchor="middle">${v >= 1000 ? `${v / 1000}k` : v}</text>`,
    );
  }
  for (const v of niceTicks(yLo, yHi, 6)) {
    if (v < yLo || v > yHi) continue;
    out.push(`<line x1="${m.left}" y1="${f(Y(v))}" x2="${m.left + pw}" y2="${f(Y(v))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 8}" y="${f(Y(v) + 4)}" text-anchor="end">${v}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${H - 10}" text-anchor="middle">training samples seen</text>`);
  out.push(
    `<text x="16" y="${m.top + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${m.top + ph / 2})">held-out 2D EPE (px)</text>`,
  );
  let legend = m.top + 10;
  const key = (color: string, dash: string, label: string) => {
    out.push(
      `<line x1="${m.left + pw + 14}" y1="${legend}" x2="${m.left + pw + 40}" y2="${legend}" stroke="${color}" stroke-width="2"${dash}/>`,
    );
    out.push(`<text x="${m.left + pw + 46}" y="${legend + 4}">${escapeXml(label)}</text>`);
    legend += 18;
  };
  references.forEach((r, i) => {
    const color = ['#444', '#888', '#2a9d2a'][i % 3];
    const dash = ' stroke-dasharray="6 4"';
    out.push(
      `<line x1="${m.left}" y1="${f(Y(r.value))}" x2="${m.left + pw}" y2="${f(Y(r.value))}" stroke="${color}" stroke-width="1.5"${dash}/>`,
    );
    key(color, dash, `${r.label} (${r.value.toFixed(2)})`);
  });
  curves.forEach((c, i) => {
    const color = CURVE_COLORS[i % CURVE_COLORS.length];
    const pts = c.points.map(([x, y]) => `${f(X(x))},${f(Y(y))}`).join(' ');
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts}"/>`);
    key(color, '', c.label);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
