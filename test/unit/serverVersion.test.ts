import { describe, expect, it } from 'vitest';
import { OLDEST_SUPPORTED_MAJOR, serverVersionProblem } from '../../src/sink/serverVersion.js';

describe('serverVersionProblem', () => {
  it('accepts every major from 13 to 18 and later', () => {
    expect(OLDEST_SUPPORTED_MAJOR).toBe(13);
    for (const v of [130023, 140023, 150018, 160014, 170010, 180004, 190000]) expect(serverVersionProblem(v)).toBeUndefined();
  });

  it('refuses an older server naming its major and the oldest supported one', () => {
    expect(serverVersionProblem(120022)).toBe(
      'PostgreSQL 12 is not supported: blob2pg needs PostgreSQL 13 or later (tested on 13 to 18, the majors Azure Database for PostgreSQL runs)',
    );
    expect(serverVersionProblem(110022)).toMatch(/^PostgreSQL 11 is not supported/);
  });
});
