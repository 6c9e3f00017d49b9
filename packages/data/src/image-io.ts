/**
 * PNG and JPEG decoding and PNG encoding in Node with maintained pure-JS libraries (`pngjs`, `jpeg-js`).
 * The libraries are loaded on first use, so importing `@phalanx/data` in a browser does not pull them in.
 */
import { checkOptions, describeCompact, PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';
import { checkRgbImage, type RgbImage } from './types';

interface PngModule {
  PNG: {
    sync: {
      read(buffer: Uint8Array): { width: number; height: number; data: Uint8Array };
      write(png: { width: number; height: number; data: Uint8Array }): Uint8Array;
    };
  };
}
interface JpegModule {
  decode(
    data: Uint8Array,
    opts: { useTArray: true; formatAsRGBA: boolean; maxResolutionInMP?: number },
  ): { width: number; height: number; data: Uint8Array };
  encode(image: { data: Uint8Array; width: number; height: number }, quality: number): { data: Uint8Array };
}

let pngModule: PngModule | undefined;
let jpegModule: JpegModule | undefined;

async function loadPng(): Promise<PngModule> {
  if (!pngModule) {
    const m = (await import('pngjs')) as unknown as PngModule & { default?: PngModule };
    pngModule = m.PNG ? m : (m.default as PngModule);
  }
  return pngModule;
}
async function loadJpeg(): Promise<JpegModule> {
  if (!jpegModule) {
    const m = (await import('jpeg-js')) as unknown as JpegModule & { default?: JpegModule };
    jpegModule = typeof m.decode === 'function' ? m : (m.default as JpegModule);
  }
  return jpegModule;
}

/** pngjs reads with Node's Buffer methods: view the same memory as a Buffer when one is available. */
function asBuffer(bytes: Uint8Array): Uint8Array {
  const B = (globalThis as { Buffer?: { from(b: ArrayBufferLike, o: number, n: number): Uint8Array } }).Buffer;
  return B ? B.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
}

function rgbaToRgb(rgba: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let i = 0, o = 0; i < width * height; i++, o += 3) {
    out[o] = rgba[4 * i];
    out[o + 1] = rgba[4 * i + 1];
    out[o + 2] = rgba[4 * i + 2];
  }
  return out;
}

/** The default pixel budget of {@link decodeImage}: 4096 × 4096 pixels (about 117 MB while decoding). */
export const DEFAULT_MAX_PIXELS = 4096 * 4096;

/** Options of {@link decodeImage}. */
export interface DecodeImageOptions {
  /**
   * Largest `width × height` decoded; a larger image is refused from its header, before any pixel memory
   * is allocated. Default {@link DEFAULT_MAX_PIXELS} (4096 × 4096).
   */
  maxPixels?: number;
}

/** The keys of {@link DecodeImageOptions}: any other key is a named error. */
const DECODE_IMAGE_KEYS = { maxPixels: true } satisfies Record<keyof DecodeImageOptions, true>;

/** Size and format of an image, read from its header. */
export interface ImageHeader {
  /** `'png'` or `'jpeg'`. */
  format: 'png' | 'jpeg';
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** JPEG markers SOF0–SOF15 that start a frame header (C4 DHT, C8 JPG and CC DAC are not frames). */
const isFrameMarker = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

function pngHeader(bytes: Uint8Array, view: DataView, name: string): ImageHeader {
  // The IHDR chunk must come first: length (13), 'IHDR', width, height (big-endian).
  if (bytes.length < 24 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') {
    throw new PhalanxFileError(name, 'PNG header', 'has no IHDR chunk first (truncated or malformed PNG)');
  }
  return { format: 'png', width: view.getUint32(16), height: view.getUint32(20) };
}

function jpegHeader(bytes: Uint8Array, view: DataView, name: string): ImageHeader {
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff) break;
    const marker = bytes[pos + 1];
    if (marker === 0xff) {
      pos += 1; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2; // markers without a length
      continue;
    }
    if (isFrameMarker(marker) && pos + 9 <= bytes.length) {
      return { format: 'jpeg', height: view.getUint16(pos + 5), width: view.getUint16(pos + 7) };
    }
    if (marker === 0xda || marker === 0xd9) break; // scan data or end before any frame header
    pos += 2 + view.getUint16(pos + 2);
  }
  throw new PhalanxFileError(name, 'JPEG header', 'has no frame header (SOF) before its data (malformed JPEG)');
}

/**
 * PNG `bytes` up to the end of their IEND chunk. `pngjs` refuses anything after it ("unrecognised content at
 * end of stream"), which files often carry (appended metadata, a download's padding) and which JPEG decoding
 * ignores. The chunk list is walked from the signature by each chunk's declared length, at least 12 bytes a
 * step, so the walk ends within the data whatever it holds; a list that runs past the end of the data or has no
 * IEND is returned whole, and `pngjs` names what is wrong with it.
 */
function pngUpToIend(bytes: Uint8Array, view: DataView): Uint8Array {
  for (let pos = 8; pos + 12 <= bytes.length;) {
    const end = pos + 12 + view.getUint32(pos);
    if (end > bytes.length) break;
    if (bytes[pos + 4] === 0x49 && bytes[pos + 5] === 0x45 && bytes[pos + 6] === 0x4e && bytes[pos + 7] === 0x44) {
      return bytes.subarray(0, end); // 'IEND'
    }
    pos = end;
  }
  return bytes;
}

/** A named error for `bytes` that are not a `Uint8Array` (a `Buffer` is one). */
function checkBytes(component: string, bytes: unknown): void {
  if (!(bytes instanceof Uint8Array)) {
    const received = bytes === null || typeof bytes !== 'object' ? bytes : (bytes.constructor?.name ?? 'an object');
    throw new PhalanxConfigError(component, 'bytes', 'a Uint8Array (or Buffer) of PNG or JPEG data', received);
  }
}

/**
 * Reads the format, width and height of PNG or JPEG bytes from their header, without decoding pixels.
 *
 * @throws PhalanxFileError naming `name` for other signatures, a header without dimensions or one that
 * declares a zero width or height; PhalanxConfigError for `bytes` that are not a `Uint8Array`.
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { readImageHeader } from '@phalanx/data';
 * const { width, height } = readImageHeader(readFileSync('00000000.jpg')); // 224, 224 for FreiHAND
 * ```
 */
export function readImageHeader(bytes: Uint8Array, name = 'image'): ImageHeader {
  checkBytes('readImageHeader', bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header: ImageHeader;
  if (bytes.length > 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) header = pngHeader(bytes, view, name);
  else if (bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8) header = jpegHeader(bytes, view, name);
  else throw new PhalanxFileError(name, 'image data', 'is neither PNG nor JPEG (unknown signature)');
  if (header.width === 0 || header.height === 0) {
    const format = header.format === 'png' ? 'PNG' : 'JPEG';
    const size = `${header.width}×${header.height}`;
    throw new PhalanxFileError(name, `${format} header`, `declares ${size} pixels (width and height must be ≥ 1)`);
  }
  return header;
}

/**
 * Decodes PNG or JPEG bytes (detected from the signature) to 8-bit RGB, HWC. `name` is used in error messages.
 *
 * The header's `width × height` is checked against `options.maxPixels` before anything is allocated, so a
 * small file that declares a huge image (a 410 KB PNG of 12000 × 12000) is refused at once. Memory then
 * stays within about 7 bytes per pixel (for an interlaced PNG, `pngjs` inflates without a cap: at most
 * deflate's 1032 : 1 ratio times the file size). Bytes after a PNG's IEND chunk are ignored, as bytes after a
 * JPEG's end are.
 *
 * @throws PhalanxFileError for an unknown signature, an image over the budget, or undecodable data;
 * PhalanxConfigError for `bytes` that are not a `Uint8Array` and `options` that are not an object.
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { decodeImage } from '@phalanx/data';
 * const img = await decodeImage(readFileSync('00000000.jpg'), '00000000.jpg', { maxPixels: 1024 * 1024 });
 * img.width * img.height * 3 === img.data.length; // true
 * ```
 */
export async function decodeImage(
  bytes: Uint8Array,
  name = 'image',
  options: DecodeImageOptions = {},
): Promise<RgbImage> {
  checkBytes('decodeImage', bytes);
  checkOptions('decodeImage', 'options', options, DECODE_IMAGE_KEYS, 'an object {maxPixels?}');
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (typeof maxPixels !== 'number' || !(maxPixels >= 1)) {
    throw new PhalanxConfigError('decodeImage', 'maxPixels', 'a number ≥ 1', maxPixels, describeCompact);
  }
  const header = readImageHeader(bytes, name);
  const pixels = header.width * header.height;
  if (pixels > maxPixels) {
    throw new PhalanxFileError(
      name,
      'image size',
      `is ${header.width}×${header.height} = ${pixels} pixels, over the budget of ${maxPixels} (decodeImage's maxPixels)`,
    );
  }
  try {
    if (header.format === 'png') {
      const { PNG } = await loadPng();
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const png = PNG.sync.read(asBuffer(pngUpToIend(bytes, view)));
      return { data: rgbaToRgb(png.data, png.width, png.height), width: png.width, height: png.height };
    }
    const jpeg = await loadJpeg();
    const img = jpeg.decode(asBuffer(bytes), {
      useTArray: true,
      formatAsRGBA: false,
      maxResolutionInMP: maxPixels / 1e6,
    });
    return { data: new Uint8Array(img.data), width: img.width, height: img.height };
  } catch (e) {
    throw new PhalanxFileError(name, 'image data', `cannot be decoded: ${(e as Error).message}`);
  }
}

/**
 * RGB (uint8 0–255 or float32 0–1, HWC) → opaque RGBA bytes, values outside the range clamped; a NaN or
 * ±Infinity float is a `PhalanxConfigError` of `component` naming its index (it has no pixel value: NaN
 * was written as 0).
 */
function toRgba(component: string, image: RgbImage): Uint8Array {
  const { width, height, data } = image;
  const rgba = new Uint8Array(width * height * 4);
  const f = data instanceof Float32Array ? 255 : 1;
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) {
      const v = data[3 * i + c] * f;
      if (!Number.isFinite(v)) {
        throw new PhalanxConfigError(component, `image.data[${3 * i + c}]`, 'a finite pixel value', data[3 * i + c]);
      }
      rgba[4 * i + c] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
    }
    rgba[4 * i + 3] = 255;
  }
  return rgba;
}

/**
 * Encodes an RGB image (uint8 0–255 or float32 0–1, HWC) as PNG bytes. Values outside the range are clamped.
 *
 * @throws PhalanxShapeError for an image whose `data` is not `width × height × 3` values; PhalanxConfigError
 * for a NaN or ±Infinity value (named by its index).
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { encodePng, renderSyntheticHand } from '@phalanx/data';
 * const hand = renderSyntheticHand(1);
 * writeFileSync('hand.png', await encodePng({ data: hand.image, width: hand.width, height: hand.height }));
 * ```
 */
export async function encodePng(image: RgbImage): Promise<Uint8Array> {
  checkRgbImage('encodePng', image);
  const { PNG } = await loadPng();
  const { width, height } = image;
  return new Uint8Array(PNG.sync.write({ width, height, data: asBuffer(toRgba('encodePng', image)) }));
}

/**
 * Encodes an RGB image (uint8 0–255 or float32 0–1, HWC) as baseline JPEG bytes (`jpeg-js`, no chroma
 * subsampling). `quality` 1–100 (default 95); at 100 a decoded pixel differs from the original by a few
 * levels at most. Values outside the range are clamped; NaN or ±Infinity is a `PhalanxConfigError`, as for
 * {@link encodePng}.
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { encodeJpeg, renderSyntheticHand } from '@phalanx/data';
 * const hand = renderSyntheticHand(1, { size: 224 });
 * writeFileSync('00000000.jpg', await encodeJpeg({ data: hand.image, width: hand.width, height: hand.height }, 95));
 * ```
 */
export async function encodeJpeg(image: RgbImage, quality = 95): Promise<Uint8Array> {
  if (typeof quality !== 'number' || !(quality >= 1 && quality <= 100)) {
    throw new PhalanxConfigError('encodeJpeg', 'quality', 'a number in [1, 100]', quality, describeCompact);
  }
  checkRgbImage('encodeJpeg', image);
  const jpeg = await loadJpeg();
  const { width, height } = image;
  return new Uint8Array(jpeg.encode({ data: asBuffer(toRgba('encodeJpeg', image)), width, height }, quality).data);
}
