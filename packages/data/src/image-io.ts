/**
 * PNG and JPEG decoding and PNG encoding in Node with maintained pure-JS libraries (`pngjs`, `jpeg-js`).
 * The libraries are loaded on first use, so importing `@phalanx/data` in a browser does not pull them in.
 */
import { PhalanxDataFileError } from './errors';
import type { RgbImage } from './types';

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
    opts: { useTArray: true; formatAsRGBA: boolean },
  ): { width: number; height: number; data: Uint8Array };
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

/**
 * Decodes PNG or JPEG bytes (detected from the signature) to 8-bit RGB, HWC. `name` is used in error messages.
 */
export async function decodeImage(bytes: Uint8Array, name = 'image'): Promise<RgbImage> {
  const isPng = bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8;
  try {
    if (isPng) {
      const { PNG } = await loadPng();
      const png = PNG.sync.read(asBuffer(bytes));
      return { data: rgbaToRgb(png.data, png.width, png.height), width: png.width, height: png.height };
    }
    if (isJpeg) {
      const jpeg = await loadJpeg();
      const img = jpeg.decode(asBuffer(bytes), { useTArray: true, formatAsRGBA: false });
      return { data: new Uint8Array(img.data), width: img.width, height: img.height };
    }
  } catch (e) {
    throw new PhalanxDataFileError(name, 'image data', `cannot be decoded: ${(e as Error).message}`);
  }
  throw new PhalanxDataFileError(name, 'image data', 'is neither PNG nor JPEG (unknown signature)');
}

/** Encodes an RGB image (uint8 0–255 or float32 0–1, HWC) as PNG bytes. */
export async function encodePng(image: RgbImage): Promise<Uint8Array> {
  const { PNG } = await loadPng();
  const { width, height, data } = image;
  const rgba = new Uint8Array(width * height * 4);
  const f = data instanceof Float32Array ? 255 : 1;
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) {
      const v = data[3 * i + c] * f;
      rgba[4 * i + c] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
    }
    rgba[4 * i + 3] = 255;
  }
  return new Uint8Array(PNG.sync.write({ width, height, data: asBuffer(rgba) }));
}
