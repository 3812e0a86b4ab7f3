import { describe, expect, it } from 'vitest';
import { DataError, isDataException, isTransient, mapLoadError, parseCopyContext, TransientError } from '../../src/errors.js';

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

describe('one classification: config, transient or data', () => {
  const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });
  it('sorts SQLSTATEs, socket codes and HTTP statuses', async () => {
    const { classify, ConfigError, SpecError } = await import('../../src/errors.js');
    expect(classify(pgError('55P03', 'canceling statement due to lock timeout'))).toBe('transient');
    expect(classify(pgError('57P01', 'terminating connection due to administrator command'))).toBe('transient');
    expect(classify(pgError('28P01', 'password authentication failed'))).toBe('config');
    expect(classify(pgError('42P01', 'relation "x" does not exist'))).toBe('config');
    expect(classify(pgError('42501', 'permission denied'))).toBe('config');
    expect(classify(pgError('22P04', 'missing data for column'))).toBe('data');
    expect(classify(withCode('ENOTFOUND'))).toBe('config');
    expect(classify(withCode('EAI_AGAIN'))).toBe('transient');
    expect(classify(withCode('ECONNRESET'))).toBe('transient');
    expect(classify(new Error('Connection terminated unexpectedly'))).toBe('transient');
    expect(classify(Object.assign(new Error('forbidden'), { statusCode: 403 }))).toBe('config');
    expect(classify(Object.assign(new Error('busy'), { statusCode: 503 }))).toBe('transient');
    expect(classify(new ConfigError('TARGET_POSTGRES is not configured'))).toBe('config');
    expect(classify(new SpecError([{ path: 'sink', message: 'required' }]))).toBe('config');
    expect(classify(Object.assign(new Error('no role'), { name: 'EntraTokenError' }))).toBe('config');
    expect(classify(new Error('something odd'))).toBe('data');
  });

  it('reads the SQLSTATE and the verdict through a chain of causes', async () => {
    const { classify, sqlstateOf } = await import('../../src/errors.js');
    const wrapped = new Error('load failed', { cause: new Error('copy failed', { cause: pgError('40P01', 'deadlock detected') }) });
    expect(sqlstateOf(wrapped)).toBe('40P01');
    expect(classify(wrapped)).toBe('transient');
    expect(sqlstateOf(new Error('plain'))).toBeUndefined();
  });

  it('a ConfigError is mapped to a ConfigError (never retried), located and with its SQLSTATE', async () => {
    const { ConfigError } = await import('../../src/errors.js');
    const mapped = mapLoadError(pgError('42P01', 'relation "s.t" does not exist'), { pipeline: 'p', blob: 'a.csv' });
    expect(mapped).toBeInstanceOf(ConfigError);
    expect(mapped.message).toBe('pipeline p a.csv: relation "s.t" does not exist (42P01)');
  });
});

describe('values quoted in messages', () => {
  it('escapes control bytes and cuts each quoted value to 200 characters', async () => {
    const { quoteValue, sanitizeMessage } = await import('../../src/errors.js');
    expect(quoteValue('a\u0001b\nc')).toBe('"a\\x01b\\nc"');
    expect(quoteValue('x'.repeat(250))).toBe(`"${'x'.repeat(200)}… (50 more characters)"`);
    const binary = `invalid byte sequence: "${'\u0000\u0007'.repeat(600)}"`;
    const clean = sanitizeMessage(binary);
    expect(clean).not.toMatch(/[\u0000-\u0008]/);
    expect(clean.length).toBeLessThan(1_200);
    expect(clean).toContain('(1000 more characters)');
    const located = mapLoadError(pgError('22P02', `invalid input syntax for type integer: "${'9'.repeat(5_000)}"`, 'COPY t, line 2, column id'), { pipeline: 'p', blob: 'b.csv' });
    expect(located.message.length).toBeLessThan(400);
    expect(located.message).toContain('… (4800 more characters)');
  });
});

describe('isDataException', () => {
  const pgError = (code: string) => Object.assign(new Error(`server said ${code}`), { code });
  it('is true for classes 22, 23 and P0 (a trigger RAISE), false for setup, transient and non-PostgreSQL codes', () => {
    for (const code of ['22P02', '22003', '23502', '23505', '23514', 'P0001', 'P0004']) expect(isDataException(pgError(code)), code).toBe(true);
    for (const code of ['42P01', '42501', '28P01', '40P01', '57014', '08006', '21000']) expect(isDataException(pgError(code)), code).toBe(false);
    expect(isDataException(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(false);
    expect(isDataException('22P02')).toBe(false);
  });
  it('looks at the error itself: a DataError that wraps one was located already', () => {
    const located = new DataError('bad value', { line: 3 }, { cause: pgError('22P02') });
    expect(isDataException(located)).toBe(false);
  });
});
