/**
 * The PostgreSQL round trips of a one-row `run` against a ledger and run log that already
 * exist, as a fresh process pays them (pools closed first, so nothing is remembered as
 * ensured). Counted on the client: every Client#query call of the run (pool.query included).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { runPipeline } from '../../src/local/run.js';
import { ensureRunLog } from '../../src/runLog/store.js';
import { closePools } from '../../src/sink/index.js';
import { ensureLedger } from '../../src/sink/ledger.js';
import { quoteIdent } from '../../src/sink/sql.js';
import { createHarness, uniqueName, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('trips');
});
afterAll(async () => h?.close());

/** Runs `work` and returns the text of every statement any pg client sent meanwhile. */
async function statementsOf(work: () => Promise<unknown>): Promise<string[]> {
  const sent: string[] = [];
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0] as string | { text?: string };
    sent.push(typeof first === 'string' ? first : String(first?.text ?? '(cursor or submittable)'));
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    await work();
  } finally {
    pg.Client.prototype.query = original;
  }
  return sent.map((s) => s.replace(/\s+/g, ' ').trim());
}

describe('round trips of a one-row run', () => {
  it('a one-row run against a current ledger and run log sends at most 25 statements (no DDL: the ledger and run log carry their marks)', async () => {
    const table = await h.table('one_row', 'id int, name text');
    const spec = h.spec({ name: 'trips', source: { prefix: 'one/' }, sink: { table } });
    await h.upload('one/a.csv', 'id,name\n1,a\n');
    expect((await runPipeline(spec, { env: h.env })).status).toBe('Succeeded'); // creates the ledger and run log
    await closePools(); // a new process: nothing ensured yet
    await h.upload('one/a.csv', 'id,name\n2,b\n');
    let status = '';
    const sent = await statementsOf(async () => {
      status = (await runPipeline(spec, { env: h.env })).status;
    });
    expect(status).toBe('Succeeded');
    expect(await h.query(`SELECT id FROM "${h.schema}".one_row ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }]);
    expect(sent.filter((s) => /^(CREATE|ALTER|COMMENT)\b/.test(s))).toEqual([]);
    expect(sent.length).toBeLessThanOrEqual(25);
  });

  it('a ledger and run log made by an earlier version (no mark, a column missing) are upgraded, then marked', async () => {
    const table = await h.table('upgrade', 'id int, name text');
    const spec = h.spec({ name: 'trips-upgrade', source: { prefix: 'up/' }, sink: { table } });
    await h.upload('up/a.csv', 'id,name\n1,a\n');
    expect((await runPipeline(spec, { env: h.env })).status).toBe('Succeeded');
    const ledger = `"${h.env.BLOB2PG_LEDGER_SCHEMA}"`;
    const marks = () => h.query(`SELECT c.relname, obj_description(c.oid, 'pg_class') AS mark FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relname IN ('runs', 'ingestions') ORDER BY 1`, [ledger]);
    const current = await marks();
    expect(current.map((r) => r.mark)).toEqual([expect.stringMatching(/^blob2pg ledger [0-9a-f]{8}$/), expect.stringMatching(/^blob2pg run log [0-9a-f]{8}$/)]);
    // As the previous release left them: no marks, and the run log without a later column.
    await h.query(`COMMENT ON TABLE ${ledger}.runs IS NULL; COMMENT ON TABLE ${ledger}.ingestions IS 'blob2pg ledger 00000000'; ALTER TABLE ${ledger}.run_files DROP COLUMN skip_log`);
    await closePools();
    await h.upload('up/a.csv', 'id,name\n2,b\n');
    const sent = await statementsOf(async () => expect((await runPipeline(spec, { env: h.env })).status).toBe('Succeeded'));
    expect(sent).toContain(`ALTER TABLE ${ledger}.run_files ADD COLUMN IF NOT EXISTS skip_log text`);
    expect(await h.query(`SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'run_files' AND column_name = 'skip_log'`, [h.env.BLOB2PG_LEDGER_SCHEMA])).toHaveLength(1);
    expect(await marks()).toEqual(current);
    expect(await h.query(`SELECT id FROM "${h.schema}".upgrade ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('concurrent first uses of a fresh schema (three processes) all succeed and leave both marks', async () => {
    const schema = uniqueName('ledger_race_');
    const pools = [1, 2, 3].map(() => new pg.Pool({ connectionString: h.env.TARGET_POSTGRES, max: 1 }));
    try {
      await Promise.all(pools.map(async (pool) => Promise.all([ensureLedger(pool, schema), ensureRunLog({ pool, schema })])));
      const marks = await h.query(`SELECT obj_description(c.oid, 'pg_class') AS mark FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relname IN ('runs', 'ingestions') ORDER BY c.relname`, [quoteIdent(schema)]);
      expect(marks.map((r) => r.mark)).toEqual([expect.stringMatching(/^blob2pg ledger /), expect.stringMatching(/^blob2pg run log /)]);
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
      await h.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    }
  });
});
