/**
 * Skip mode's value checks on every server: `pg_input_is_valid` on 16+, the PL/pgSQL
 * helpers of src/sink/inputCheck.ts below 16. On a 16+ server the helpers are forced and
 * must skip exactly the rows, with exactly the reasons, that the native check gives; on
 * any server the log must be the expected one.
 */
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inputCheckOptions } from '../../src/sink/inputCheck.js';
import { createHarness, type Harness } from '../support/harness.js';
import { loadOne } from '../support/tables.js';

let h: Harness;
let version = 0;
beforeAll(async () => {
  h = await createHarness('inp');
  version = Number((await h.query(`SELECT current_setting('server_version_num') AS v`))[0]!.v);
  await h.query(`CREATE DOMAIN "${h.schema}".posint AS int CHECK (VALUE > 0)`);
});
afterAll(async () => h?.close());
afterEach(() => {
  inputCheckOptions.forcePlpgsql = false;
});

const logContainer = `log-${Math.random().toString(36).slice(2, 10)}`;

async function load(table: string, blob: string, body: string, writeMethod: 'CopyCommand' | 'BulkInsert' | 'Upsert', extra: Record<string, unknown> = {}) {
  const sink = { table, writeMethod, ...(writeMethod === 'Upsert' ? { upsertSettings: { keys: ['id'] } } : {}) };
  return (await loadOne(h, blob, body, { name: 'inp', sink, faultTolerance: { skipIncompatibleRows: true, logContainer }, ...extra }, { runId: 'run-1' })).result;
}

async function readLog(blob: string): Promise<string> {
  const logs = BlobServiceClient.fromConnectionString(h.env.SOURCE_STORAGE!).getContainerClient(logContainer);
  return (await logs.getBlobClient(`inp/run-1/${blob}.csv`).downloadToBuffer()).toString('utf8');
}

// One bad value per line, each failing a different way: syntax, a typmod (numeric
// precision, varchar length), a date out of range, a boolean spelling, a domain's CHECK.
const csv = [
  'id,i,n,v,d,b,p',
  '1,1,1.5,abc,2020-02-29,ja,1',
  '2,x,1.5,abc,2020-02-29,ja,1',
  '3,1,1234.5,abc,2020-02-29,nein,1',
  '4,1,1.5,abcd,2020-02-29,ja,1',
  '5,1,1.5,abc,2021-02-29,ja,1',
  '6,1,1.5,abc,2020-02-29,maybe,1',
  '7,1,1.5,abc,2020-02-29,t,-1',
  '8,,,,,,',
].join('\n') + '\n';

const expectedLog = (schema: string) => [
  'line,column,value,reason',
  '3,i,x,"invalid input syntax for type integer: ""x"""',
  '4,n,1234.5,numeric field overflow',
  '5,v,abcd,value too long for type character varying(3)',
  '6,d,2021-02-29,"date/time field value out of range: ""2021-02-29"""',
  '7,b,maybe,"invalid input syntax for type boolean: ""maybe"""',
  `8,p,-1,"value for domain ${schema}.posint violates check constraint ""posint_check"""`,
].join('\n') + '\n';

describe.each(['CopyCommand', 'BulkInsert', 'Upsert'] as const)('value checks in skip mode, %s', (writeMethod) => {
  it('the PL/pgSQL helpers skip the same rows with the same reasons as pg_input_is_valid', async () => {
    const ddl = `id int PRIMARY KEY, i int, n numeric(5,2), v varchar(3), d date, b boolean, p "${h.schema}".posint`;
    const modes = version >= 160000 ? [false, true] : [true];
    const logs: string[] = [];
    for (const forced of modes) {
      inputCheckOptions.forcePlpgsql = forced;
      const name = `t_${writeMethod.toLowerCase()}_${forced ? 'plpgsql' : 'native'}`;
      const t = await h.table(name, ddl);
      const result = await load(t, `${name}.csv`, csv, writeMethod, { typeConversion: { booleanTrue: ['ja'], booleanFalse: ['nein'] } });
      expect(result).toMatchObject({ status: 'Succeeded', rowsRead: 8, rowsCopied: 2, rowsSkipped: 6 });
      expect(await h.query(`SELECT id, b FROM "${h.schema}".${name} ORDER BY id`)).toEqual([{ id: 1, b: true }, { id: 8, b: null }]);
      logs.push(await readLog(`${name}.csv`));
    }
    for (const log of logs) expect(log).toBe(expectedLog(h.schema));
  });
});

describe('value checks of additional columns', () => {
  it('a literal is checked by the helpers as natively: one that fits loads, one that does not fails the blob naming it', async () => {
    const modes = version >= 160000 ? [false, true] : [true];
    for (const forced of modes) {
      inputCheckOptions.forcePlpgsql = forced;
      const name = `extra_${forced ? 'plpgsql' : 'native'}`;
      const t = await h.table(name, 'id int, batch smallint');
      const fits = await load(t, `${name}.csv`, 'id\n1\nx\n', 'CopyCommand', { mapping: [{ source: 'id', sink: 'id' }, { sink: 'batch', value: '7' }] });
      expect(fits).toMatchObject({ status: 'Succeeded', rowsCopied: 1, rowsSkipped: 1 });
      expect(await h.query(`SELECT id, batch FROM "${h.schema}".${name}`)).toEqual([{ id: 1, batch: 7 }]);
      // Every row would be skipped for the same constant: the blob fails instead, naming it.
      const overflows = await load(t, `${name}2.csv`, 'id\n1\n', 'CopyCommand', { mapping: [{ source: 'id', sink: 'id' }, { sink: 'batch', value: '70000' }] });
      expect(overflows).toMatchObject({ status: 'Failed', error: { sqlstate: '22003', message: expect.stringContaining('value "70000" is out of range for type smallint') } });
    }
  });
});
