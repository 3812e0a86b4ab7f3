import { describe, expect, it } from 'vitest';
import { mapLoadError, TransientError } from '../../src/errors.js';
import { redactingLogger } from '../../src/app/triggers.js';

describe('secrets never reach logs or retried errors', () => {
  it('redacts every log line of the trigger handlers', () => {
    const lines: unknown[][] = [];
    const sink = { debug: (...a: unknown[]) => lines.push(a), log: (...a: unknown[]) => lines.push(a), warn: (...a: unknown[]) => lines.push(a), error: (...a: unknown[]) => lines.push(a) };
    const log = redactingLogger(sink);
    log.log('reading https://acct.blob.core.windows.net/c/b.csv?sv=2024-01-01&sig=Zm9vYmFyc2VjcmV0');
    log.error(new Error('connect to postgres://loader:Hunter2Secret@db:5432/x failed'));
    log.warn('DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0a2V5MTIz;EndpointSuffix=core.windows.net');
    const text = JSON.stringify(lines.map((args) => args.map((a) => (a instanceof Error ? a.message : a))));
    expect(text).not.toMatch(/Zm9vYmFyc2VjcmV0|Hunter2Secret|c2VjcmV0a2V5MTIz/);
    expect(lines).toHaveLength(3);
  });

  it('redacts the message of a transient error thrown back to Durable Functions', () => {
    const err = Object.assign(new Error('socket hang up talking to postgres://u:TopSecret1@h/db'), { code: 'ECONNRESET' });
    const mapped = mapLoadError(err, { pipeline: 'p', blob: 'b.csv' });
    expect(mapped).toBeInstanceOf(TransientError);
    expect(mapped.message).toContain('pipeline p b.csv');
    expect(mapped.message).not.toContain('TopSecret1');
  });
});
