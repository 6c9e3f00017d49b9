import fc from 'fast-check';
import { describe as suite, expect, it } from 'vitest';
import {
  checkBoolean,
  checkFinite,
  checkFloat32,
  checkInteger,
  checkKnownKeys,
  checkNonNegative,
  checkIntegerIn,
  checkOptions,
  checkOptionsObject,
  checkOneOf,
  checkPositive,
  checkPositiveFloat32,
  describe,
  FLOAT32_MAX,
  FLOAT32_MIN_NORMAL,
  describeCompact,
  PhalanxArgumentError,
  PhalanxConfigError,
  PhalanxFileError,
  PhalanxNonFiniteError,
  PhalanxShapeError,
} from './index';

/** Runs `f`, which must throw, and returns what it threw. */
function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

suite('describe', () => {
  it('renders strings quoted, shapes with spaces, objects as JSON', () => {
    expect(describe('max')).toBe("'max'");
    expect(describe([null, 21, 3])).toBe('[null, 21, 3]');
    expect(describe([[1, 2], [3]])).toBe('[[1, 2], [3]]');
    expect(describe([])).toBe('[]');
    expect(describe(undefined)).toBe('undefined');
    expect(describe(null)).toBe('null');
    expect(describe(1.5)).toBe('1.5');
    expect(describe(NaN)).toBe('NaN');
    expect(describe({ a: 1 })).toBe('{"a":1}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(describe(cyclic)).toBe('[object Object]');
  });

  it('describeCompact renders short arrays as JSON, long ones by length, long objects cut', () => {
    expect(describeCompact([0, 1])).toBe('[0,1]');
    expect(describeCompact(new Array(9).fill(0))).toBe('an array of length 9');
    expect(describeCompact('x')).toBe("'x'");
    expect(describeCompact(undefined)).toBe('undefined');
    const long = describeCompact({ key: 'v'.repeat(200) });
    expect(long).toHaveLength(80);
    expect(long.endsWith('...')).toBe(true);
    expect(describeCompact(3)).toBe('3');
  });
});

suite('PhalanxConfigError and PhalanxShapeError', () => {
  const cases = [
    {
      error: new PhalanxConfigError('ConcreteJointSelector', 'numGroups', 'an integer ≥ 2', 1),
      name: 'PhalanxConfigError',
      other: PhalanxShapeError,
      fields: ['ConcreteJointSelector', 'numGroups', 'an integer ≥ 2', 1],
      message: 'ConcreteJointSelector: numGroups must be an integer ≥ 2, but received 1.',
    },
    {
      error: new PhalanxShapeError('DynamicEdgeGAT', 'input', 'of rank 3 [B, J, F]', [null, 21]),
      name: 'PhalanxShapeError',
      other: PhalanxConfigError,
      fields: ['DynamicEdgeGAT', 'input', 'of rank 3 [B, J, F]', [null, 21]],
      message: 'DynamicEdgeGAT: input must be of rank 3 [B, J, F], but received [null, 21].',
    },
  ];
  for (const { error: e, name, other, fields, message } of cases) {
    it(`${name} names component, argument, expected and received`, () => {
      expect(e).toBeInstanceOf(Error);
      expect(e).toBeInstanceOf(PhalanxArgumentError);
      expect(e).not.toBeInstanceOf(other);
      expect(e.name).toBe(name);
      expect(e.message).toBe(message);
      expect(String(e)).toBe(`${name}: ${message}`);
      expect([e.component, e.argument, e.expected, e.received]).toEqual(fields);
    });
  }

  it('lets a subclass render the received value its own way', () => {
    class CompactError extends PhalanxConfigError {
      static override readonly renderReceived = describeCompact;
      override readonly name = 'CompactError';
    }
    const e = new CompactError('augment', 'scale', 'a range', [0, 1]);
    expect(e).toBeInstanceOf(PhalanxConfigError);
    expect(e.name).toBe('CompactError');
    expect(e.message).toBe('augment: scale must be a range, but received [0,1].');
    expect(e.received).toEqual([0, 1]);
    expect(new PhalanxConfigError('augment', 'scale', 'a range', [0, 1]).message).toBe(
      'augment: scale must be a range, but received [0, 1].',
    );
  });

  it('lets one error render the received value its own way (data options may be large)', () => {
    const e = new PhalanxConfigError('toBatch', 'samples', 'short', new Array(20).fill(0), describeCompact);
    expect(e).toBeInstanceOf(PhalanxConfigError);
    expect(e.name).toBe('PhalanxConfigError');
    expect(e.message).toBe('toBatch: samples must be short, but received an array of length 20.');
    expect(e.received).toHaveLength(20);
    const shape = new PhalanxShapeError('f', 'x', 'a [B, 3] tensor', [2, 4], describeCompact);
    expect(shape.message).toBe('f: x must be a [B, 3] tensor, but received [2,4].');
  });
});

suite('PhalanxFileError', () => {
  it('names the file, the field and the problem', () => {
    const e = new PhalanxFileError('rhd/anno_training.pickle', "frame 2 'K'", 'is missing');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('PhalanxFileError');
    expect(e.message).toBe("rhd/anno_training.pickle: frame 2 'K' is missing");
    expect([e.file, e.field, e.problem]).toEqual(['rhd/anno_training.pickle', "frame 2 'K'", 'is missing']);
  });
});

suite('PhalanxNonFiniteError', () => {
  it('names the component, the step and the non-finite values first', () => {
    const e = new PhalanxNonFiniteError('Trainer', 12, { gradNorm: 3.5, loss: Number.NaN });
    expect(e).toBeInstanceOf(Error);
    expect(e).not.toBeInstanceOf(PhalanxConfigError);
    expect(e.name).toBe('PhalanxNonFiniteError');
    expect(e.message).toBe('Trainer: step 12 has a non-finite loss (NaN); gradNorm 3.5. The step was not applied.');
    expect([e.component, e.step, e.values]).toEqual(['Trainer', 12, { gradNorm: 3.5, loss: Number.NaN }]);
    const both = new PhalanxNonFiniteError('Trainer', 3, { loss: Infinity, gradNorm: -Infinity });
    expect(both.message).toBe(
      'Trainer: step 3 has a non-finite loss (Infinity) and gradNorm (-Infinity). The step was not applied.',
    );
  });
});

suite('check helpers', () => {
  it('return accepted values unchanged', () => {
    expect(checkInteger('C', 'n', 2, 2)).toBe(2);
    expect(checkPositive('C', 'x', 0.5)).toBe(0.5);
    expect(checkFinite('C', 'x', -3)).toBe(-3);
    expect(checkNonNegative('C', 'x', 0)).toBe(0);
    expect(checkOneOf('C', 'mode', 'b', ['a', 'b'] as const)).toBe('b');
    expect(checkBoolean('C', 'flag', false)).toBe(false);
  });

  it('throw PhalanxConfigError with the expected text', () => {
    const cases: [() => unknown, string][] = [
      [() => checkInteger('C', 'n', 1, 2), 'C: n must be an integer ≥ 2, but received 1.'],
      [() => checkInteger('C', 'n', 2.5, 0), 'C: n must be an integer ≥ 0, but received 2.5.'],
      [() => checkInteger('C', 'n', '3', 0), "C: n must be an integer ≥ 0, but received '3'."],
      [() => checkPositive('C', 'x', 0), 'C: x must be a finite number > 0, but received 0.'],
      [() => checkPositive('C', 'x', Infinity), 'C: x must be a finite number > 0, but received Infinity.'],
      [() => checkFinite('C', 'x', NaN), 'C: x must be a finite number, but received NaN.'],
      [() => checkFinite('C', 'x', undefined), 'C: x must be a finite number, but received undefined.'],
      [() => checkNonNegative('C', 'x', -1), 'C: x must be a finite number ≥ 0, but received -1.'],
      [() => checkNonNegative('C', 'x', NaN), 'C: x must be a finite number, but received NaN.'],
      [() => checkOneOf('C', 'mode', 'c', ['a', 'b']), "C: mode must be one of 'a', 'b', but received 'c'."],
      [() => checkOneOf('C', 'mode', 1, ['a']), "C: mode must be one of 'a', but received 1."],
      [() => checkBoolean('C', 'flag', 'yes'), "C: flag must be a boolean, but received 'yes'."],
    ];
    for (const [f, message] of cases) {
      const e = thrown(f);
      expect(e, message).toBeInstanceOf(PhalanxConfigError);
      expect((e as Error).message).toBe(message);
    }
  });

  it('throw the given error class instead', () => {
    class DataError extends PhalanxConfigError {
      override readonly name = 'DataError';
    }
    const errors = [
      thrown(() => checkInteger('C', 'n', -1, 0, DataError)),
      thrown(() => checkPositive('C', 'x', -1, DataError)),
      thrown(() => checkFinite('C', 'x', 'a', DataError)),
      thrown(() => checkOneOf('C', 'm', 'z', ['a'], DataError)),
      thrown(() => checkBoolean('C', 'b', 0, DataError)),
      thrown(() => checkFloat32('C', 'x', 1e39, DataError)),
      thrown(() => checkPositiveFloat32('C', 'x', 1e-50, DataError)),
    ];
    for (const e of errors) {
      expect(e).toBeInstanceOf(DataError);
      expect((e as Error).name).toBe('DataError');
    }
  });
});

suite('checkKnownKeys', () => {
  const KNOWN = { url: true, handler: true } as const;

  it('names the first key that is not an option, with its value and the options', () => {
    const e = thrown(() => checkKnownKeys('load', 'options', { url: 'a', URL: 5 }, KNOWN));
    expect(e).toBeInstanceOf(PhalanxConfigError);
    expect((e as Error).message).toBe('load: options.URL must be an option (one of url, handler), but received 5.');
    const resnet = thrown(() => checkKnownKeys('C', 'backbone', { depht: 18 }, { depth: true }, 'a ResNet option'));
    expect((resnet as Error).message).toBe(
      'C: backbone.depht must be a ResNet option (one of depth), but received 18.',
    );
  });

  it('accepts any subset of the options, undefined values included, and ignores inherited keys', () => {
    expect(() => checkKnownKeys('C', 'o', {}, KNOWN)).not.toThrow();
    expect(() => checkKnownKeys('C', 'o', { url: undefined, handler: null }, KNOWN)).not.toThrow();
    expect(() => checkKnownKeys('C', 'o', Object.create({ inherited: 1 }) as object, KNOWN)).not.toThrow();
    // Keys of Object.prototype are not options.
    const e = thrown(() => checkKnownKeys('C', 'o', JSON.parse('{"__proto__": 1}') as object, KNOWN));
    expect((e as Error).message).toMatch(/^C: o.__proto__ must be an option/);
    expect(() => checkKnownKeys('C', 'o', { toString: 1 }, KNOWN)).toThrow(/o.toString must be an option/);
  });

  it('throws exactly when a key is outside the options (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.anything()), (options) => {
        const outside = Object.keys(options).filter((k) => k !== 'url' && k !== 'handler');
        const error = outside.length > 0 ? thrown(() => checkKnownKeys('C', 'o', options, KNOWN)) : undefined;
        if (outside.length === 0) expect(() => checkKnownKeys('C', 'o', options, KNOWN)).not.toThrow();
        else expect((error as Error).message.startsWith(`C: o.${outside[0]} must be an option`)).toBe(true);
      }),
    );
  });

  it('throws the given error class instead', () => {
    class DataError extends PhalanxConfigError {
      override readonly name = 'DataError';
    }
    expect(thrown(() => checkKnownKeys('C', 'o', { x: 1 }, KNOWN, 'an option', DataError))).toBeInstanceOf(DataError);
  });
});

suite('checkOptions', () => {
  const KNOWN = { url: true, handler: true } as const;
  const EXPECTED = 'an options object {url, handler}';

  it('refuses null, arrays and primitives with the expected text', () => {
    for (const [value, shown] of [
      [null, 'null'],
      [[], '[]'],
      [3, '3'],
      ['url', "'url'"],
      [undefined, 'undefined'],
    ] as const) {
      const e = thrown(() => checkOptions('load', 'options', value, KNOWN, EXPECTED));
      expect(e).toBeInstanceOf(PhalanxConfigError);
      expect((e as Error).message).toBe(`load: options must be ${EXPECTED}, but received ${shown}.`);
    }
  });

  it('names a misspelt key as checkKnownKeys does', () => {
    const e = thrown(() => checkOptions('load', 'options', { url: 'a', URL: 5 }, KNOWN, EXPECTED));
    expect(e).toBeInstanceOf(PhalanxConfigError);
    expect((e as Error).message).toBe('load: options.URL must be an option (one of url, handler), but received 5.');
  });

  it('returns a good options object unchanged, with its type', () => {
    const options: { url?: string } = { url: 'model.json' };
    const checked: { url?: string } = checkOptions('load', 'options', options, KNOWN, EXPECTED);
    expect(checked).toBe(options);
    expect(checkOptions('load', 'options', {}, KNOWN, EXPECTED)).toEqual({});
  });

  it('throws the given error class instead', () => {
    class DataError extends PhalanxConfigError {
      override readonly name = 'DataError';
    }
    expect(thrown(() => checkOptions('C', 'o', [], KNOWN, EXPECTED, DataError))).toBeInstanceOf(DataError);
    expect(thrown(() => checkOptions('C', 'o', { x: 1 }, KNOWN, EXPECTED, DataError))).toBeInstanceOf(DataError);
  });
});

suite('checkIntegerIn', () => {
  it('returns an integer within the bounds, the bounds included', () => {
    expect(checkIntegerIn('C', 'n', 2, 2, 21)).toBe(2);
    expect(checkIntegerIn('C', 'n', 21, 2, 21)).toBe(21);
  });

  it('refuses integers outside the bounds, non-integers and non-numbers', () => {
    for (const [value, shown] of [
      [1, '1'],
      [22, '22'],
      [1e9, '1000000000'],
      [2.5, '2.5'],
      [NaN, 'NaN'],
      [Infinity, 'Infinity'],
      ['3', "'3'"],
      [null, 'null'],
    ] as const) {
      const e = thrown(() => checkIntegerIn('C', 'n', value, 2, 21));
      expect(e).toBeInstanceOf(PhalanxConfigError);
      expect((e as Error).message).toBe(`C: n must be an integer in [2, 21], but received ${shown}.`);
    }
  });
});

suite('checkOptionsObject', () => {
  const EXPECTED = 'an options object {seed?}';

  it('refuses null, undefined, arrays and primitives with the expected text', () => {
    for (const [value, shown] of [
      [null, 'null'],
      [undefined, 'undefined'],
      [[], '[]'],
      [[{ seed: 1 }], '[{"seed":1}]'],
      [new Array(100).fill(0), 'an array of length 100'],
      [0, '0'],
      ['seed', "'seed'"],
      [true, 'true'],
    ] as const) {
      const e = thrown(() => checkOptionsObject('sample', 'options', value, EXPECTED));
      expect(e).toBeInstanceOf(PhalanxConfigError);
      expect((e as Error).message).toBe(`sample: options must be ${EXPECTED}, but received ${shown}.`);
    }
  });

  it('returns any object unchanged, whatever its keys', () => {
    const options = { seed: 1, anything: 'else' };
    expect(checkOptionsObject('sample', 'options', options, EXPECTED)).toBe(options);
    const bare: object = Object.create(null) as object;
    expect(checkOptionsObject('sample', 'options', bare, EXPECTED)).toBe(bare);
  });

  it('throws the given error class instead', () => {
    class DataError extends PhalanxConfigError {
      override readonly name = 'DataError';
    }
    expect(thrown(() => checkOptionsObject('C', 'o', null, EXPECTED, DataError))).toBeInstanceOf(DataError);
  });
});

suite('float32 checks', () => {
  it('the bounds are float32 values: the largest finite and the smallest normal', () => {
    expect(Math.fround(FLOAT32_MAX)).toBe(FLOAT32_MAX);
    expect(new Float32Array([FLOAT32_MAX * (1 + 2 ** -24)])[0]).toBe(Infinity);
    expect(FLOAT32_MIN_NORMAL).toBe(2 ** -126);
    expect(Math.fround(FLOAT32_MIN_NORMAL)).toBe(FLOAT32_MIN_NORMAL);
  });

  it('accept what a float32 tensor stores finitely (and > 0 and normal, for the positive check)', () => {
    for (const v of [0, -0, 1, -2.5, 1e-50, FLOAT32_MAX, -FLOAT32_MAX, 3.4028235e38]) {
      expect(checkFloat32('C', 'x', v)).toBe(v);
    }
    for (const v of [FLOAT32_MIN_NORMAL, 1e-30, 0.1, 5, 1e38, FLOAT32_MAX]) {
      expect(checkPositiveFloat32('C', 'x', v)).toBe(v);
    }
  });

  it('reject overflow and underflow with named errors; non-numbers keep the plain messages', () => {
    const cases: [() => unknown, string][] = [
      [
        () => checkFloat32('C', 'x', 1e39),
        'C: x must be a number representable in float32 (|x| ≤ 3.4028235e38), but received 1e+39.',
      ],
      [
        () => checkFloat32('C', 'x', -3.5e38),
        'C: x must be a number representable in float32 (|x| ≤ 3.4028235e38), but received -3.5e+38.',
      ],
      [() => checkFloat32('C', 'x', NaN), 'C: x must be a finite number, but received NaN.'],
      [() => checkFloat32('C', 'x', '1'), "C: x must be a finite number, but received '1'."],
      [() => checkPositiveFloat32('C', 'x', 0), 'C: x must be a finite number > 0, but received 0.'],
      [() => checkPositiveFloat32('C', 'x', -1), 'C: x must be a finite number > 0, but received -1.'],
      [() => checkPositiveFloat32('C', 'x', Infinity), 'C: x must be a finite number > 0, but received Infinity.'],
      [
        () => checkPositiveFloat32('C', 'x', 1e-50),
        'C: x must be a positive normal float32 (1.1754944e-38 ≤ x ≤ 3.4028235e38), but received 1e-50.',
      ],
      [
        () => checkPositiveFloat32('C', 'x', 1e-39),
        'C: x must be a positive normal float32 (1.1754944e-38 ≤ x ≤ 3.4028235e38), but received 1e-39.',
      ],
      [
        () => checkPositiveFloat32('C', 'x', 1e39),
        'C: x must be a positive normal float32 (1.1754944e-38 ≤ x ≤ 3.4028235e38), but received 1e+39.',
      ],
    ];
    for (const [f, message] of cases) {
      const e = thrown(f);
      expect(e, message).toBeInstanceOf(PhalanxConfigError);
      expect((e as Error).message).toBe(message);
    }
  });
});
