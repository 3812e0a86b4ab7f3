/** Upsert's key rules (src/sink/upsert.ts): ADF's key-column rules and Citus's distribution column. */
import { describe, expect, it } from 'vitest';
import type { TableInfo } from '../../src/pipeline/table.js';
import { citusKeyProblem, resolveUpsertKeys } from '../../src/sink/upsert.js';

const col = (name: string, writable = true) => ({ name, type: 'text', baseType: 'text', notNull: false, hasDefault: false, writable });
const info = (over: Partial<TableInfo>): TableInfo => ({ table: { schema: 'public', name: 't' }, columns: [col('id'), col('email'), col('g', false)], primaryKey: [], uniqueKeys: [], ...over });

describe('resolveUpsertKeys (ADF key-column rules)', () => {
  it('omitted keys → the primary key, with its index as arbiter', () => {
    expect(resolveUpsertKeys(undefined, info({ primaryKey: ['id'], uniqueKeys: [['id']] }))).toEqual({ keys: ['id'], arbiter: true });
  });
  it('unique columns with a matching index (any order) → ON CONFLICT; without one → MERGE', () => {
    const t = info({ primaryKey: ['id'], uniqueKeys: [['id'], ['email', 'id']] });
    expect(resolveUpsertKeys(['id', 'email'], t).arbiter).toBe(true);
    expect(resolveUpsertKeys(['email'], t)).toEqual({ keys: ['email'], arbiter: false });
  });
  it('no keys and no primary key, unknown or generated key columns: errors that say so', () => {
    expect(() => resolveUpsertKeys(undefined, info({}))).toThrow(/no upsertSettings\.keys and the table has no primary key/);
    expect(() => resolveUpsertKeys(['nope'], info({}))).toThrow(/"nope" is not a column/);
    expect(() => resolveUpsertKeys(['g'], info({}))).toThrow(/generated/);
  });
});

describe('citusKeyProblem (catalog answer as input; no Citus server here)', () => {
  it('no Citus or a local/reference table: fine', () => {
    expect(citusKeyProblem('public.t', ['id'], null)).toBeUndefined();
  });
  it('distributed table: keys must include the distribution column, and the message names it', () => {
    expect(citusKeyProblem('public.t', ['tenant_id', 'id'], 'tenant_id')).toBeUndefined();
    expect(citusKeyProblem('public.t', ['id'], 'tenant_id')).toMatch(/add "tenant_id" to sink\.upsertSettings\.keys/);
  });
});
