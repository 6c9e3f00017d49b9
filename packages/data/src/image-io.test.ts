import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { PhalanxConfigError, PhalanxFileError, PhalanxShapeError } from '@phalanx/errors';
import { DEFAULT_MAX_PIXELS, decodeImage, encodeJpeg, encodePng, readImageHeader } from './image-io';

/** A PNG chunk: length, type, data, CRC-32 of type + data (computed here, per the PNG specification). */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const body = new Uint8Array([...Buffer.from(type, 'latin1'), ...data]);
  let crc = 0xffffffff;
  for (const b of body) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(body, 4);
  view.setUint32(8 + data.length, (crc ^ 0xffffffff) >>> 0);
  return out;
}

/** A PNG whose header declares `width × height` RGB pixels, with `rows` rows of real (zero) data. */
function declaredPng(width: number, height: number, rows: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const idat = deflateSync(new Uint8Array((3 * width + 1) * rows));
  return new Uint8Array([
    ...[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
    ...chunk('IHDR', ihdr),
    ...chunk('IDAT', idat),
    ...chunk('IEND', new Uint8Array(0)),
  ]);
}

function smallJpeg(width: number, height: number): Uint8Array {
  const rgba = Buffer.alloc(width * height * 4, 200);
  return new Uint8Array(jpeg.encode({ data: rgba, width, height }, 90).data);
}

describe('decodeImage: pixel budget', () => {
  it('reads PNG and JPEG dimensions from the header', async () => {
    const png = await encodePng({ data: new Uint8Array(40 * 30 * 3), width: 40, height: 30 });
    expect(readImageHeader(png)).toEqual({ format: 'png', width: 40, height: 30 });
    expect(readImageHeader(smallJpeg(64, 48))).toEqual({ format: 'jpeg', width: 64, height: 48 });
    expect(() => readImageHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xd9, 0, 0]), 'x.jpg')).toThrow(
      'x.jpg: JPEG header has no frame header (SOF) before its data (malformed JPEG)',
    );
  });

  it('refuses a small PNG that declares 12000 × 12000 pixels before decoding it', async () => {
    // 410 KB-class input: a real header and the first rows of data; decoding it whole took 1.9 GB.
    const png = declaredPng(12000, 12000, 64);
    expect(png.length).toBeLessThan(100_000);
    const before = process.memoryUsage().arrayBuffers;
    await expect(decodeImage(png, 'big.png')).rejects.toThrow(PhalanxFileError);
    await expect(decodeImage(png, 'big.png')).rejects.toThrow(
      `big.png: image size is 12000×12000 = 144000000 pixels, over the budget of ${DEFAULT_MAX_PIXELS} (decodeImage's maxPixels)`,
    );
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(50e6);
  });

  it('refuses a JPEG over the budget by name, and decodes within it', async () => {
    const bytes = smallJpeg(64, 48);
    await expect(decodeImage(bytes, 'a.jpg', { maxPixels: 64 * 48 - 1 })).rejects.toThrow(
      "a.jpg: image size is 64×48 = 3072 pixels, over the budget of 3071 (decodeImage's maxPixels)",
    );
    const img = await decodeImage(bytes, 'a.jpg', { maxPixels: 64 * 48 });
    expect([img.width, img.height, img.data.length]).toEqual([64, 48, 64 * 48 * 3]);
    // The same frame header declaring 12000 × 12000.
    const big = bytes.slice();
    const at = readSofOffset(big);
    new DataView(big.buffer).setUint16(at + 5, 12000);
    new DataView(big.buffer).setUint16(at + 7, 12000);
    await expect(decodeImage(big, 'big.jpg')).rejects.toThrow(/big\.jpg: image size is 12000×12000 = 144000000 pixels/);
  });

  it('refuses a header that declares no pixels (zero width or height) by name', async () => {
    const jpegBytes = smallJpeg(16, 8);
    const at = readSofOffset(jpegBytes);
    const cases: [Uint8Array, string][] = [
      [declaredPng(0, 10, 10), 'p.png: PNG header declares 0×10 pixels (width and height must be ≥ 1)'],
      [declaredPng(10, 0, 0), 'p.png: PNG header declares 10×0 pixels (width and height must be ≥ 1)'],
    ];
    for (const offset of [5, 7]) {
      const bytes = jpegBytes.slice();
      new DataView(bytes.buffer).setUint16(at + offset, 0);
      const [w, h] = offset === 5 ? [16, 0] : [0, 8];
      cases.push([bytes, `p.png: JPEG header declares ${w}×${h} pixels (width and height must be ≥ 1)`]);
    }
    for (const [bytes, message] of cases) {
      expect(() => readImageHeader(bytes, 'p.png')).toThrow(PhalanxFileError);
      expect(() => readImageHeader(bytes, 'p.png')).toThrow(message);
      await expect(decodeImage(bytes, 'p.png')).rejects.toThrow(message);
    }
  });

  it('decodes a PNG within the budget', async () => {
    const img = await decodeImage(declaredPng(20, 10, 10), 'ok.png', { maxPixels: 200 });
    expect([img.width, img.height]).toEqual([20, 10]);
    await expect(decodeImage(declaredPng(20, 10, 10), 'ok.png', { maxPixels: 199 })).rejects.toThrow(/over the budget/);
  });
});

/** Byte offset of the JPEG's first SOF marker (found by scanning, as a test-side check). */
function readSofOffset(b: Uint8Array): number {
  for (let i = 2; i + 1 < b.length; i++) if (b[i] === 0xff && b[i + 1] >= 0xc0 && b[i + 1] <= 0xc2) return i;
  throw new Error('no SOF');
}

describe('decodeImage / readImageHeader: arguments of the wrong type', () => {
  it('refuse bytes that are not a Uint8Array and options that are not an object, by name', async () => {
    const cases: [unknown, string][] = [
      [null, 'bytes must be a Uint8Array (or Buffer) of PNG or JPEG data, but received null.'],
      ['x.png', "bytes must be a Uint8Array (or Buffer) of PNG or JPEG data, but received 'x.png'."],
      [new ArrayBuffer(8), "bytes must be a Uint8Array (or Buffer) of PNG or JPEG data, but received 'ArrayBuffer'."],
    ];
    for (const [bytes, message] of cases) {
      expect(() => readImageHeader(bytes as Uint8Array)).toThrow(PhalanxConfigError);
      expect(() => readImageHeader(bytes as Uint8Array)).toThrow(`readImageHeader: ${message}`);
      await expect(decodeImage(bytes as Uint8Array)).rejects.toThrow(PhalanxConfigError);
      await expect(decodeImage(bytes as Uint8Array)).rejects.toThrow(`decodeImage: ${message}`);
    }
    await expect(decodeImage(new Uint8Array(8), 'a.png', null as never)).rejects.toThrow(
      'decodeImage: options must be an object {maxPixels?}, but received null.',
    );
    await expect(decodeImage(new Uint8Array(8), 'a.png', [] as never)).rejects.toThrow(
      'decodeImage: options must be an object {maxPixels?}, but received [].',
    );
    // A misspelt budget is not the default budget.
    await expect(decodeImage(smallJpeg(4, 4), 'a.jpg', { maxPixel: 1 } as never)).rejects.toThrow(
      'decodeImage: options.maxPixel must be an option (one of maxPixels), but received 1.',
    );
  });
});

describe('encodePng / encodeJpeg: the image must hold its pixels', () => {
  it('refuses data that is not width × height × 3 values and an empty image, by name', async () => {
    for (const [encode, name] of [
      [encodePng, 'encodePng'],
      [(image: Parameters<typeof encodePng>[0]) => encodeJpeg(image), 'encodeJpeg'],
    ] as const) {
      await expect(encode({ data: new Uint8Array(3), width: 5, height: 5 })).rejects.toThrow(
        `${name}: image.data must be 5 × 5 × 3 = 75 values (Uint8Array or Float32Array), but received 3.`,
      );
      await expect(encode({ data: new Uint8Array(0), width: 0, height: 0 })).rejects.toThrow(PhalanxShapeError);
      await expect(encode({ data: new Uint8Array(6), width: 2.5, height: 1 })).rejects.toThrow(
        `${name}: image must be an RGB image {data, width ≥ 1, height ≥ 1}, but received [2.5, 1].`,
      );
    }
  });
});

describe('decodeImage: bytes after the end of a PNG', () => {
  /** A 6 × 4 PNG of distinct pixels. */
  async function smallPng(): Promise<{ bytes: Uint8Array; data: Uint8Array }> {
    const data = Uint8Array.from({ length: 6 * 4 * 3 }, (_, i) => (i * 37) % 256);
    return { bytes: await encodePng({ data, width: 6, height: 4 }), data };
  }
  const join = (...parts: ArrayLike<number>[]) => new Uint8Array(parts.flatMap((p) => Array.from(p)));

  it('decodes a PNG followed by other bytes, as a JPEG followed by other bytes decodes', async () => {
    const { bytes, data } = await smallPng();
    const trailers = [
      new Uint8Array([0]),
      new TextEncoder().encode('appended by some tool'),
      new Uint8Array(5000).fill(0xff),
      chunk('IEND', new Uint8Array(0)), // a second IEND
      bytes, // a whole second PNG
    ];
    for (const trailer of trailers) {
      const img = await decodeImage(join(bytes, trailer), 'trailing.png');
      expect([img.width, img.height]).toEqual([6, 4]);
      expect(img.data).toEqual(data);
    }
    const jpg = await decodeImage(join(smallJpeg(8, 8), trailers[1]), 'trailing.jpg');
    expect([jpg.width, jpg.height]).toEqual([8, 8]);
  });

  it('a damaged chunk list is a PhalanxFileError naming the file, never a hang or another error', async () => {
    const { bytes } = await smallPng();
    const iend = bytes.length - 12;
    const huge = bytes.slice();
    new DataView(huge.buffer).setUint32(33, 0xffffffff); // the chunk after IHDR claims 4 GB
    const cases = [
      huge,
      bytes.slice(0, iend), // no IEND
      bytes.slice(0, iend + 6), // IEND cut short
      join(bytes.slice(0, iend), new Uint8Array(7), bytes.slice(iend)), // bytes between chunks
      join(
        bytes.slice(0, 33),
        ...Array.from({ length: 20000 }, () => chunk('zzZz', new Uint8Array(0))),
        bytes.slice(33),
      ),
    ];
    for (const [i, damaged] of cases.entries()) {
      const error = await decodeImage(damaged, 'damaged.png').then(
        () => undefined,
        (e: unknown) => e,
      );
      // A chunk the decoder may skip (the 20 000 unknown ancillary ones) can leave a readable picture.
      if (i === 4 && error === undefined) continue;
      expect(error, `case ${i}`).toBeInstanceOf(PhalanxFileError);
      expect((error as Error).message, `case ${i}`).toMatch(/^damaged\.png: /);
    }
  });

  it('any cut or changed byte of a PNG with bytes after it decodes or is a PhalanxFileError (property)', async () => {
    const { bytes } = await smallPng();
    const padded = join(bytes, new TextEncoder().encode('trailing'));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 8, max: padded.length }),
        fc.array(fc.tuple(fc.nat(padded.length - 1), fc.nat(255)), { maxLength: 4 }),
        async (cut, changes) => {
          const damaged = padded.slice(0, cut);
          for (const [at, value] of changes) if (at < cut) damaged[at] = value;
          await decodeImage(damaged, 'fuzz.png').catch((e: unknown) => {
            expect(e).toBeInstanceOf(PhalanxFileError);
          });
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });
});

describe('encodePng / encodeJpeg: pixel values', () => {
  it('refuse NaN and ±Infinity floats by name and index instead of writing 0 or 255', async () => {
    for (const [encode, name] of [
      [encodePng, 'encodePng'],
      [(image: Parameters<typeof encodePng>[0]) => encodeJpeg(image), 'encodeJpeg'],
    ] as const) {
      for (const [value, shown] of [
        [NaN, 'NaN'],
        [Infinity, 'Infinity'],
        [-Infinity, '-Infinity'],
      ] as const) {
        const data = new Float32Array(2 * 2 * 3).fill(0.5);
        data[7] = value;
        await expect(encode({ data, width: 2, height: 2 })).rejects.toThrow(PhalanxConfigError);
        await expect(encode({ data, width: 2, height: 2 })).rejects.toThrow(
          `${name}: image.data[7] must be a finite pixel value, but received ${shown}.`,
        );
      }
      // Out-of-range finite values are clamped, as before.
      const bytes = await encode({ data: Float32Array.from([-1, 2, 0.5]), width: 1, height: 1 });
      expect(bytes.length).toBeGreaterThan(0);
    }
  });
});
