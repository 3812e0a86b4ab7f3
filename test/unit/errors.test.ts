import { describe, expect, it } from 'vitest';
import { DataError, isTransient, mapLoadError, parseCopyContext, TransientError } from '../../src/errors.js';

function pgError(code: string, message: string, where?: string): Error {
  return Object.assign(new Error(message), { code, where });
}

describe('COPY context parsing', () => {
  it('reads line and column, even when the table name holds commas', () => {
    expect(parseCopyContext('COPY orders, line 3, column amount: "12,5"')).toEqual({ line: 3, column: 'amount' });
    expect(parseCopyContext('COPY "a, b", line 7: "1,2,3"')).toEqual({ line: 7, column: undefined });
    expect(parseCopyContext('SQL statement "…"')).toBeUndefined();
  });
});

describe('error mapping', () => {
  it('locates a COPY data error in the file, adding the prologue lines', () => {
    const mapped = mapLoadError(pgError('22P02', 'invalid input syntax for type integer: "x"', 'COPY t, line 10, column id: "x"'), {
      pipeline: 'p',
      blob: 'a.csv',
      lineOffset: 1,
    });
    expect(mapped).toBeInstanceOf(DataError);
    expect(mapped.message).toBe('pipeline p a.csv line 11, column id: invalid input syntax for type integer: "x" (22P02)');
  });

  it('decides transient vs data errors in one place', () => {
    expect(isTransient(pgError('08006', 'connection failure'))).toBe(true);
    expect(isTransient(pgError('40P01', 'deadlock detected'))).toBe(true);
    expect(isTransient(pgError('53300', 'too many connections'))).toBe(true);
    expect(isTransient(pgError('57P01', 'terminating connection due to administrator command'))).toBe(true);
    expect(isTransient(pgError('22P02', 'invalid input syntax'))).toBe(false);
    expect(isTransient(pgError('23505', 'duplicate key'))).toBe(false);
    expect(isTransient(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isTransient(Object.assign(new Error('busy'), { statusCode: 503 }))).toBe(true);
    expect(isTransient(Object.assign(new Error('slow down'), { statusCode: 429 }))).toBe(true);
    expect(isTransient(Object.assign(new Error('forbidden'), { statusCode: 403 }))).toBe(false);
    expect(mapLoadError(pgError('40001', 'could not serialize'), { pipeline: 'p', blob: 'b' })).toBeInstanceOf(TransientError);
  });
});
