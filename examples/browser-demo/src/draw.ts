import { SKELETON_EDGES } from '@phalanx/skeleton';

/** One colour per learned group (more groups than colours cycle). */
export const GROUP_COLORS = ['#ff6b6b', '#4dabf7', '#51cf66', '#fcc419', '#cc5de8', '#ff922b', '#20c997', '#f06595'];
export const groupColor = (g: number): string => GROUP_COLORS[g % GROUP_COLORS.length];

/** Radius of a joint dot on the overlay, in canvas pixels. */
export const JOINT_RADIUS = 6;

/**
 * Draws the skeleton on the overlay: bones as white lines, then each joint as a dot in the colour of
 * the group the selector takes it from (opaque centre, dark rim). `points` are canvas pixels.
 */
export function drawSkeleton(
  ctx: CanvasRenderingContext2D,
  points: number[][],
  jointGroup: number[],
  options: { truth?: number[][] } = {},
): void {
  ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  if (options.truth !== undefined) {
    ctx.save();
    ctx.setLineDash([4, 4]);
    ctx.strokeStyle = 'rgba(255, 255, 255, 0.55)';
    ctx.lineWidth = 1.5;
    for (const [a, b] of SKELETON_EDGES) {
      ctx.beginPath();
      ctx.moveTo(options.truth[a][0], options.truth[a][1]);
      ctx.lineTo(options.truth[b][0], options.truth[b][1]);
      ctx.stroke();
    }
    ctx.restore();
  }
  ctx.lineCap = 'round';
  for (const [a, b] of SKELETON_EDGES) {
    ctx.strokeStyle = 'rgba(15, 20, 25, 0.65)';
    ctx.lineWidth = 5;
    ctx.beginPath();
    ctx.moveTo(points[a][0], points[a][1]);
    ctx.lineTo(points[b][0], points[b][1]);
    ctx.stroke();
    ctx.strokeStyle = 'rgba(255, 255, 255, 0.9)';
    ctx.lineWidth = 2.5;
    ctx.stroke();
  }
  points.forEach(([x, y], j) => {
    ctx.beginPath();
    ctx.arc(x, y, JOINT_RADIUS, 0, 2 * Math.PI);
    ctx.fillStyle = groupColor(jointGroup[j]);
    ctx.fill();
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = 'rgba(10, 10, 10, 0.85)';
    ctx.stroke();
  });
}

/**
 * A small orthographic 3D view: joints `[J][3]` (x right, y down, z away from the camera; any
 * common unit), centred on their mean, rotated by yaw (about y) and pitch (about x), drawn far to near.
 */
export function draw3D(
  ctx: CanvasRenderingContext2D,
  xyz: number[][],
  jointGroup: number[],
  yaw: number,
  pitch: number,
): void {
  const { width, height } = ctx.canvas;
  ctx.clearRect(0, 0, width, height);
  const mean = [0, 1, 2].map((k) => xyz.reduce((s, p) => s + p[k], 0) / xyz.length);
  const centred = xyz.map((p) => p.map((v, k) => v - mean[k]));
  const extent = Math.max(1e-6, ...centred.map((p) => Math.hypot(p[0], p[1], p[2])));
  const scale = (0.42 * Math.min(width, height)) / extent;
  const [cy, sy, cp, sp] = [Math.cos(yaw), Math.sin(yaw), Math.cos(pitch), Math.sin(pitch)];
  const projected = centred.map(([x, y, z]) => {
    const x1 = cy * x + sy * z;
    const z1 = -sy * x + cy * z;
    const y2 = cp * y - sp * z1;
    const z2 = sp * y + cp * z1;
    return [width / 2 + scale * x1, height / 2 + scale * y2, z2];
  });
  // Floor grid hint: the three axes at the centre.
  const axes: [number[], string][] = [
    [[1, 0, 0], '#ff6b6b55'],
    [[0, 1, 0], '#51cf6655'],
    [[0, 0, 1], '#4dabf755'],
  ];
  for (const [[x, y, z], colour] of axes) {
    const x1 = cy * x + sy * z;
    const z1 = -sy * x + cy * z;
    const y2 = cp * y - sp * z1;
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(width / 2, height / 2);
    ctx.lineTo(width / 2 + 0.25 * width * x1, height / 2 + 0.25 * height * y2);
    ctx.stroke();
  }
  ctx.lineCap = 'round';
  const bones = [...SKELETON_EDGES].sort((e, f) => projected[f[1]][2] - projected[e[1]][2]);
  for (const [a, b] of bones) {
    ctx.strokeStyle = 'rgba(230, 237, 243, 0.8)';
    ctx.lineWidth = 2.5;
    ctx.beginPath();
    ctx.moveTo(projected[a][0], projected[a][1]);
    ctx.lineTo(projected[b][0], projected[b][1]);
    ctx.stroke();
  }
  const order = projected.map((_, j) => j).sort((i, j) => projected[j][2] - projected[i][2]);
  for (const j of order) {
    ctx.beginPath();
    ctx.arc(projected[j][0], projected[j][1], 5, 0, 2 * Math.PI);
    ctx.fillStyle = groupColor(jointGroup[j]);
    ctx.fill();
    ctx.strokeStyle = '#0b0f13';
    ctx.lineWidth = 1.2;
    ctx.stroke();
  }
}
