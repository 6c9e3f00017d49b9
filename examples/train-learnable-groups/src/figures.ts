/**
 * Pictures of a run: the learned joint groups on a hand skeleton diagram (SVG) and predictions drawn on
 * held-out images (PNG).
 */
import { contactSheet, drawSkeleton, type RgbImage } from '@phalanx/data';
import { FINGER_CHAINS, JOINT_NAMES, SKELETON_EDGES } from '@phalanx/pose';
import { escapeXml } from '@phalanx/pose';

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
 * A contact sheet: the first row shows the ground truth, the second the predictions, drawn on the
 * held-out images (enlarged to about 192 px so that the skeletons are readable).
 *
 * @param images `[N]` images, `gtUv` and `predUv` `[N][21][2]` in image pixels.
 */
export function predictionSheet(images: RgbImage[], gtUv: number[][][], predUv: number[][][]): RgbImage {
  const factor = Math.max(1, Math.round(192 / images[0].width));
  const up = (uv: number[][]) => uv.flatMap(([u, v]) => [(u + 0.5) * factor - 0.5, (v + 0.5) * factor - 0.5]);
  const big = images.map((im) => enlarge(im, factor));
  const gt = big.map((im, i) => drawSkeleton(im, up(gtUv[i])));
  const pred = big.map((im, i) => drawSkeleton(im, up(predUv[i])));
  return contactSheet([...gt, ...pred], images.length);
}
