import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPipeline } from '../../src/local/run.js';
import { loggedFile, pruneRuns, recordFiles, recordHeartbeat, recordRunOutput, recordRunStart, runLogTarget } from '../../src/runLog/store.js';
import { listRuns } from '../../src/ui/queries.js';
import { failedRun } from '../../src/run/output.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness('runlog');
});
afterAll(async () => h?.close());

const ledger = () => `"${h.env.BLOB2PG_LEDGER_SCHEMA}"`;

describe('run log', () => {
  it('keeps a failed blob with its line, column and SQLSTATE while the table and ledger stay unchanged', async () => {
    const table = await h.table('orders_fail', 'id int NOT NULL, amount numeric');
    await h.upload('fail/good.csv', 'id,amount\n1,2.5\n2,3\n');
    await h.upload('fail/bad.csv', 'id,amount\n1,2.5\nx2,3\n');
    const spec = h.spec({ name: 'runlog-fail', source: { prefix: 'fail/bad' }, sink: { table } });
    const output = await runPipeline(spec, { env: h.env });
    expect(output.status).toBe('Failed');

    const files = await h.query(`SELECT * FROM ${ledger()}.run_files WHERE run_id = $1`, [output.runId]);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({ blob: 'fail/bad.csv', status: 'Failed', line: '3', column_name: 'id', sqlstate: '22P02', attempts: 1 });
    expect(files[0]!.error_message).toContain('fail/bad.csv');
    expect(files[0]!.blob_modified_at).toBeInstanceOf(Date);
    const [run] = await h.query(`SELECT * FROM ${ledger()}.runs WHERE run_id = $1`, [output.runId]);
    expect(run).toMatchObject({ pipeline: 'runlog-fail', trigger: 'CLI', status: 'Failed', files_failed: 1, files_loaded: 0 });
    expect(run!.finished_at).toBeInstanceOf(Date);

    expect(await h.query(`SELECT * FROM "${h.schema}".orders_fail`)).toEqual([]);
    expect(await h.query(`SELECT * FROM ${ledger()}.ingestions WHERE pipeline = 'runlog-fail'`)).toEqual([]);
  });

  it('records loaded and skipped files with their counters, and the run totals', async () => {
    const table = await h.table('orders_ok', 'id int NOT NULL, amount numeric');
    await h.upload('ok/a.csv', 'id,amount\n1,2.5\n2,3\n');
    await h.upload('ok/b.csv', 'id,amount\n3,1\n');
    const spec = h.spec({ name: 'runlog-ok', source: { prefix: 'ok/' }, sink: { table } });
    const first = await runPipeline(spec, { env: h.env });
    const again = await runPipeline(spec, { env: h.env });
    const runs = await h.query(`SELECT run_id, status, files_loaded, files_skipped, rows_copied, bytes FROM ${ledger()}.runs WHERE pipeline = 'runlog-ok' ORDER BY started_at`);
    expect(runs).toEqual([
      { run_id: first.runId, status: 'Succeeded', files_loaded: 2, files_skipped: 0, rows_copied: '3', bytes: String(first.dataRead) },
      { run_id: again.runId, status: 'Succeeded', files_loaded: 0, files_skipped: 2, rows_copied: '0', bytes: '0' },
    ]);
    const files = await h.query(`SELECT blob, status, rows_copied FROM ${ledger()}.run_files WHERE run_id = $1 ORDER BY blob`, [first.runId]);
    expect(files).toEqual([
      { blob: 'ok/a.csv', status: 'Succeeded', rows_copied: '2' },
      { blob: 'ok/b.csv', status: 'Succeeded', rows_copied: '1' },
    ]);
  });

  it('a run log that cannot be written is a warning; the load still commits', async () => {
    const table = await h.table('orders_warn', 'id int NOT NULL, amount numeric');
    await h.upload('warn/a.csv', 'id,amount\n1,2.5\n');
    const spec = h.spec({ name: 'runlog-warn', source: { prefix: 'warn/' }, sink: { table } });
    // A run log the writer no longer understands (a column renamed by hand).
    await h.query(`ALTER TABLE ${ledger()}.run_files RENAME COLUMN sqlstate TO sql_state`);
    const lines: string[] = [];
    try {
      const output = await runPipeline(spec, { env: h.env, log: (line) => lines.push(line) });
      expect(output.status).toBe('Succeeded');
      expect(await h.query(`SELECT id FROM "${h.schema}".orders_warn`)).toEqual([{ id: 1 }]);
      expect(lines.some((l) => /warning {2}run log: could not record/.test(l))).toBe(true);
    } finally {
      await h.query(`ALTER TABLE ${ledger()}.run_files RENAME COLUMN sql_state TO sqlstate`);
    }
  });

  it('prunes runs older than the retention, with their files', async () => {
    const place = runLogTarget(h.spec({ name: 'runlog-prune', sink: { table: `${h.schema}.none` } }), h.env);
    await recordRunStart(place, { runId: 'old-run', pipeline: 'runlog-prune', trigger: 'Schedule' }, h.env);
    await h.query(`INSERT INTO ${ledger()}.run_files (run_id, blob, etag, status) VALUES ('old-run', 'x.csv', 'e', 'Succeeded')`);
    await h.query(`UPDATE ${ledger()}.runs SET started_at = now() - interval '40 days' WHERE run_id = 'old-run'`);
    await recordRunStart(place, { runId: 'recent-run', pipeline: 'runlog-prune', trigger: 'HTTP' }, { ...h.env, BLOB2PG_RUN_LOG_RETENTION_DAYS: '30' });
    const left = await h.query(`SELECT run_id, trigger FROM ${ledger()}.runs WHERE pipeline = 'runlog-prune'`);
    expect(left).toEqual([{ run_id: 'recent-run', trigger: 'HTTP' }]);
    expect(await h.query(`SELECT * FROM ${ledger()}.run_files WHERE run_id = 'old-run'`)).toEqual([]);
    // A shorter retention prunes more.
    await h.query(`UPDATE ${ledger()}.runs SET started_at = now() - interval '2 days' WHERE run_id = 'recent-run'`);
    expect(await pruneRuns(place, 1)).toBe(1);
  });

  it('files still loading: each copy beats its own, they add up, an outcome ends its file (an archive by its entries), the run end the rest', async () => {
    const place = runLogTarget(h.spec({ name: 'runlog-live', sink: { table: `${h.schema}.none` } }), h.env);
    const run = { runId: 'live-run', pipeline: 'runlog-live' };
    await recordRunStart(place, { ...run, trigger: 'HTTP' }, h.env);
    // Two copies of one run at once (Azure), each with its own files.
    await recordHeartbeat(place, run.runId, undefined, [{ blob: 'a.csv', etag: 'e', bytesRead: 100, size: 1000 }]);
    await recordHeartbeat(place, run.runId, undefined, [{ blob: 'b.zip', etag: 'e', bytesRead: 50, size: 500 }, { blob: 'c.csv', etag: 'e', bytesRead: 5, size: 10 }]);
    await recordHeartbeat(place, run.runId, undefined, [{ blob: 'a.csv', etag: 'e', bytesRead: 700, size: 1000 }]);
    const view = { ...place, abandonedAfterSeconds: 300 };
    const loading = async () => (await listRuns(view, { pipeline: 'runlog-live' })).runs[0]!.loading;
    expect(await loading()).toEqual({ files: 3, bytesRead: 755, size: 1510 });
    // a.csv's outcome ends its row; b.zip's entries end the archive's.
    const done = (blob: string) => loggedFile({ blob, etag: 'e', status: 'Succeeded', rowsRead: 1, rowsCopied: 1, rowsSkipped: 0, dataRead: 1, durationMs: 1 });
    await recordFiles(place, run, [done('a.csv')]);
    expect(await loading()).toEqual({ files: 2, bytesRead: 55, size: 510 });
    await recordFiles(place, run, [done('b.zip/x.csv'), done('b.zip/y.csv')]);
    expect(await h.query(`SELECT blob FROM ${ledger()}.run_progress WHERE run_id = 'live-run'`)).toEqual([{ blob: 'c.csv' }]);
    // The run's end ends what is left; a late beat writes no progress to a finished run.
    await recordRunOutput(place, failedRun('runlog-live', run.runId, 'stopped'));
    expect(await loading()).toEqual({ files: 0, bytesRead: 0, size: 0 });
    await recordHeartbeat(place, run.runId, undefined, [{ blob: 'c.csv', etag: 'e', bytesRead: 9, size: 10 }]);
    expect(await h.query(`SELECT * FROM ${ledger()}.run_progress WHERE run_id = 'live-run'`)).toEqual([]);
  });
});
