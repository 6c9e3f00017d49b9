import { PhalanxConfigError, PhalanxFileError } from '@phalanx/errors';
import { describe, expect, it } from 'vitest';
import { checkChoice, checkInt, PhalanxDataConfigError, PhalanxDataFileError } from './errors';

describe('data errors', () => {
  it('are the shared error classes under their own names, with compact received values', () => {
    const e = new PhalanxDataConfigError('augment', 'scale', 'a range [min, max]', [0, 1]);
    expect(e).toBeInstanceOf(PhalanxConfigError);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('PhalanxDataConfigError');
    expect(e.message).toBe('augment: scale must be a range [min, max], but received [0,1].');
    expect(new PhalanxDataConfigError('toBatch', 'samples', 'short', new Array(20).fill(0)).message).toBe(
      'toBatch: samples must be short, but received an array of length 20.',
    );
    const f = new PhalanxDataFileError('a/K.json', 'K entry 3', 'must have the last row 0 0 1');
    expect(f).toBeInstanceOf(PhalanxFileError);
    expect(f.name).toBe('PhalanxDataFileError');
    expect(f.message).toBe('a/K.json: K entry 3 must have the last row 0 0 1');
  });

  it('checkInt and checkChoice throw PhalanxDataConfigError', () => {
    expect(checkInt('batches', 'batchSize', 2, 1)).toBe(2);
    expect(checkChoice('openRhd', 'units', 'm', ['mm', 'm'])).toBe('m');
    expect(() => checkInt('batches', 'batchSize', 0, 1)).toThrow(PhalanxDataConfigError);
    expect(() => checkChoice('openRhd', 'units', 'cm', ['mm', 'm'])).toThrow(
      new PhalanxDataConfigError('openRhd', 'units', "one of 'mm', 'm'", 'cm'),
    );
  });
});
