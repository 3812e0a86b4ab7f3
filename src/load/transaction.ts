/**
 * The load's transaction: a client checked out of the sink's pool, watched while it loads
 * (lock waits, stalls), `lock_timeout` set, and BEGIN … COMMIT around the work through the
 * one transaction implementation (sink/transaction.ts: withTransaction / withSavepoint,
 * which the writers, the stage and the ledger use too). What a failure means for a retry
 * is decided here: a lock wait that timed out (55P03) says whose lock it was, and whatever
 * a load reports after its connection died is the lost connection — both transient.
 */
import type { Env } from '../connections/settings.js';
import { sqlstateOf, TransientError } from '../errors.js';
import { notice } from '../notices.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import { backendPid, connectionLossOf, poolFor, withClient } from '../sink/index.js';
import { ensureLedger, ledgerSchemaName } from '../sink/ledger.js';
import { describeBlockers, lockHolders, watchLoad } from '../sink/loadWatch.js';
import { displayTable, quoteTable } from '../sink/sql.js';
import { withTransaction } from '../sink/transaction.js';
import { stallTimeoutMs, type BlobRef } from '../source/blobs.js';
import type { CopyBlobOptions, LoadContext } from './context.js';
import { LoadFailure } from './result.js';

/**
 * Runs `work` in one transaction on a checked-out client. `commit(value)` false rolls back
 * instead of committing. Errors come out as LoadFailure; one that no load located belongs
 * to `refs[0]` (the checkout, BEGIN, COMMIT are the group's, not a blob's).
 */
export async function withLoadTransaction<T>(
  spec: PipelineSpec,
  refs: readonly BlobRef[],
  options: CopyBlobOptions & { env: Env },
  work: (context: LoadContext) => Promise<T>,
  commit?: (value: T) => boolean,
): Promise<T> {
  const { env } = options;
  const failureOf = (err: unknown) => LoadFailure.of(err, refs[0]!);
  try {
    const pool = poolFor(spec.sink.connection, env);
    const ledgerSchema = ledgerSchemaName(spec.sink.ledgerSchema, env);
    await ensureLedger(pool, ledgerSchema);
    return await withClient(pool, async (client) => {
      const table = displayTable(spec.sink.table);
      const watch = watchLoad(pool, client, backendPid(client), { everyMs: watchInterval(spec.sink.lockTimeoutInMs, env), table, notice, stallTimeoutMs: stallTimeoutMs(env) });
      try {
        return await withTransaction(client, () => work({ client, spec, options, env, ledgerSchema }), {
          setup: [`SET LOCAL lock_timeout = ${spec.sink.lockTimeoutInMs}`],
          commit,
        });
      } catch (err) {
        const failure = failureOf(err);
        if (sqlstateOf(failure.error) === '55P03') {
          // lock_timeout: say whose lock it was (the session may still hold it).
          const holders = await lockHolders(pool, quoteTable(spec.sink.table), backendPid(client)).catch(() => []);
          const who = holders.length ? `held by ${describeBlockers(holders)}` : 'the holder has let go since';
          throw new LoadFailure(
            new TransientError(`waited ${spec.sink.lockTimeoutInMs} ms (sink.lockTimeoutInMs) for a lock on ${table}, ${who} (55P03)`, { cause: failure.error }),
            failure.at,
            failure.bytesRead,
          );
        }
        // Whatever the load reported after its connection died (a COPY stream's error, "not
        // queryable"), the cause is the lost connection, and another attempt may succeed.
        const loss = connectionLossOf(client);
        if (!loss) throw failure;
        throw new LoadFailure(new TransientError(`the connection to PostgreSQL was lost: ${loss.message}`, { cause: loss }), failure.at, failure.bytesRead);
      } finally {
        await watch.stop();
      }
    });
  } catch (err) {
    throw failureOf(err);
  }
}

/** How often a load's connection is looked at: a lock wait well before lock_timeout, a stall a few times per stall timeout. */
function watchInterval(lockTimeoutInMs: number, env: Env): number {
  const bound = Math.min(lockTimeoutInMs > 0 ? lockTimeoutInMs / 3 : Infinity, stallTimeoutMs(env) / 4);
  return Math.min(2_000, Math.max(250, Math.round(bound)));
}
