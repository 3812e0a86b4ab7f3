/**
 * The run orchestrator replayed by durable-functions itself, against synthetic histories:
 * what it schedules (actions), in which order, how many at once, and what it returns.
 * No activity runs here: the histories say how each one ended.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { history, runEpisode, type EpisodeResult, type HistoryEvent, type OpenWork } from '../../src/local/durable.js';
import { loadDurableFunctions, registeredFunction } from '../../src/local/host.js';
import type { BatchInput, CopyBlobInput, ListBlobsPage, RunInput, RunProgress, RunTotals } from '../../src/app/plan.js';
import { parsePipelineSpec } from '../../src/pipeline/spec.js';
import type { FileResult, RunOutput } from '../../src/run/output.js';
import type { BlobRef } from '../../src/source/blobs.js';

beforeAll(async () => {
  await loadDurableFunctions();
});

const T0 = new Date('2026-11-20T10:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

function refs(n: number): BlobRef[] {
  return Array.from({ length: n }, (_, i) => ({ name: `in/${String(i).padStart(4, '0')}.csv`, etag: `"0x${i}"`, size: 10, lastModified: T0.toISOString() }));
}

function spec(maxParallelCopies: number, triggers: unknown[] = []) {
  return parsePipelineSpec({ name: 'orders', source: { container: 'incoming' }, sink: { table: 'public.orders' }, maxParallelCopies, triggers });
}

/** A copy activity that threw a TransientError, as the extension records it (FailureDetails, durable-functions 3.5). */
function transientFailure(id: number, message: string, at?: Date): HistoryEvent {
  return history.taskFailed(id, message, '', at, { ErrorType: 'TransientError', ErrorMessage: message, Properties: { blob2pg: { error: { message }, transient: true } } });
}

function ok(ref: BlobRef, rows = 10): FileResult {
  return { blob: ref.name, etag: ref.etag, status: 'Succeeded', rowsRead: rows, rowsCopied: rows, rowsSkipped: 0, dataRead: 100, durationMs: 5 };
}

/** A hand-driven orchestration: the history grows as the test says how each task ended. */
class Replay {
  readonly events: HistoryEvent[];
  last!: EpisodeResult;
  clock = 0;
  constructor(
    readonly name: string,
    readonly input: unknown,
    readonly instanceId = 'run-1',
  ) {
    this.events = [history.orchestratorStarted(T0), history.executionStarted(name, input, T0)];
  }
  async episode(): Promise<EpisodeResult> {
    this.last = await runEpisode(registeredFunction(this.name).callback, { instanceId: this.instanceId, name: this.name, input: this.input, history: this.events });
    return this.last;
  }
  /** Records the new work as scheduled (as the extension would) and closes the episode. */
  commit(newWork: OpenWork[]): void {
    for (const w of newWork) {
      if (w.kind === 'activity') this.events.push(history.taskScheduled(w.id, w.name, w.input, at(this.clock)));
      if (w.kind === 'timer') this.events.push(history.timerCreated(w.id, w.fireAt ?? at(this.clock + (w.delayMs ?? 0)), at(this.clock)));
      if (w.kind === 'subOrchestration') this.events.push(history.subOrchestrationCreated(w.id, w.name, w.instanceId!, w.input, at(this.clock)));
    }
    this.events.push(history.orchestratorCompleted(at(this.clock)));
  }
  /** A new episode with these events; returns the work it left open that is new. */
  async next(...events: HistoryEvent[]): Promise<OpenWork[]> {
    return this.nextAt(this.clock + 1000, ...events);
  }
  /** The next episode at `ms` after T0 (a timer that fired then moves the orchestration's clock there). */
  async nextAt(ms: number, ...events: HistoryEvent[]): Promise<OpenWork[]> {
    this.clock = ms;
    this.events.push(history.orchestratorStarted(at(this.clock)), ...events);
    const before = new Set(this.last?.open.map((w) => w.id));
    const result = await this.episode();
    const fresh = result.open.filter((w) => !before.has(w.id));
    if (!result.state.isDone && !result.failed) this.commit(fresh);
    return fresh;
  }
  async start(): Promise<OpenWork[]> {
    const result = await this.episode();
    this.commit(result.open);
    return result.open;
  }
}

/** The flat list of actions the orchestrator sent back (compound actions expanded). */
function flatActions(actions: unknown[][]): Array<{ actionType: number; functionName: string; input: unknown; instanceId?: string }> {
  const out: Array<{ actionType: number; functionName: string; input: unknown }> = [];
  const walk = (a: unknown) => {
    const action = a as { compoundActions?: unknown[]; actionType: number; functionName: string; input: unknown };
    if (action.compoundActions) action.compoundActions.forEach(walk);
    else out.push(action);
  };
  actions.flat().forEach(walk);
  return out;
}

/** The one blob a copy activity was given (runs of a few blobs per parallel copy are not grouped). */
const blobOf = (w: OpenWork) => {
  const { refs } = (w as { input: CopyBlobInput }).input;
  expect(refs).toHaveLength(1);
  return refs[0]!.name;
};

describe('run orchestrator replay', () => {
  it('fans out in listing order, at most maxParallelCopies at once, and reports progress per wave', async () => {
    const blobs = refs(7);
    const r = new Replay('blob2pgRun', { spec: spec(3), blobs } satisfies RunInput);
    const first = await r.start();
    expect(first.map((w) => [w.kind, w.id, blobOf(w)])).toEqual([
      ['activity', 0, 'in/0000.csv'],
      ['activity', 1, 'in/0001.csv'],
      ['activity', 2, 'in/0002.csv'],
    ]);
    const actions = flatActions(r.last.state.actions);
    expect(actions.map((a) => [a.actionType, a.functionName])).toEqual([[0, 'copyBlob'], [0, 'copyBlob'], [0, 'copyBlob']]);
    expect((actions[0]!.input as CopyBlobInput).runId).toBe('run-1');
    // A spec sent with the run travels in each activity input; a deployed one by name only (below).
    expect((actions[0]!.input as CopyBlobInput).spec?.name).toBe('orders');
    expect(r.last.state.customStatus).toEqual({ filesTotal: 7, filesDone: 0, filesFailed: 0, rowsCopied: 0 } satisfies RunProgress);

    // Two of three done: nothing new may start (bounded). The replay sends back every
    // action so far (the extension matches them to the history), still only those three.
    expect(await r.next(history.taskCompleted(1, [ok(blobs[1]!)]), history.taskCompleted(0, [ok(blobs[0]!)]))).toEqual([]);
    expect(flatActions(r.last.state.actions).map((a) => (a.input as CopyBlobInput).refs[0]!.name)).toEqual(['in/0000.csv', 'in/0001.csv', 'in/0002.csv']);
    const second = await r.next(history.taskCompleted(2, [ok(blobs[2]!)]));
    expect(second.map((w) => [w.id, blobOf(w)])).toEqual([[3, 'in/0003.csv'], [4, 'in/0004.csv'], [5, 'in/0005.csv']]);
    expect(r.last.state.customStatus).toEqual({ filesTotal: 7, filesDone: 3, filesFailed: 0, rowsCopied: 30 });

    const third = await r.next(...[3, 4, 5].map((id) => history.taskCompleted(id, [ok(blobs[id]!)])));
    expect(third.map((w) => [w.id, blobOf(w)])).toEqual([[6, 'in/0006.csv']]);
    await r.next(history.taskCompleted(6, [ok(blobs[6]!)]));
    expect(r.last.state.isDone).toBe(true);
    const output = r.last.state.output as RunOutput;
    expect(output).toMatchObject({ pipeline: 'orders', runId: 'run-1', status: 'Succeeded', filesRead: 7, rowsCopied: 70, copyDurationMs: 4000 });
    // Counters only: the run output lists failed files, never every file.
    expect(output.files).toEqual([]);
  });

  it('many small blobs share copy activities (groups in listing order); a group failing for good fails its blobs only', async () => {
    const blobs = refs(100);
    const r = new Replay('blob2pgRun', { spec: spec(2), blobs } satisfies RunInput);
    const groupOf = (w: OpenWork) => (w as { input: CopyBlobInput }).input.refs.map((b) => b.name);
    // 100 small blobs, 2 at once: two activities per parallel copy → groups of 25.
    const first = await r.start();
    expect(first.map(groupOf)).toEqual([blobs.slice(0, 25).map((b) => b.name), blobs.slice(25, 50).map((b) => b.name)]);
    let open = await r.next(history.taskCompleted(0, blobs.slice(0, 25).map((b) => ok(b))), history.taskCompleted(1, blobs.slice(25, 50).map((b) => ok(b))));
    expect(r.last.state.customStatus).toEqual({ filesTotal: 100, filesDone: 50, filesFailed: 0, rowsCopied: 500 });
    const seen = [...first, ...open].flatMap(groupOf);
    while (!r.last.state.isDone) {
      const events = open.map((w) => history.taskCompleted(w.id, (w as { input: CopyBlobInput }).input.refs.map((b) => ok(b))));
      open = await r.next(...events);
      seen.push(...open.flatMap(groupOf));
    }
    expect(seen).toEqual(blobs.map((b) => b.name));
    expect(r.last.state.output).toMatchObject({ status: 'Succeeded', filesRead: 100, rowsCopied: 1000, files: [] });

    // A group whose activity fails for good (a sweep: five attempts): each of its blobs is reported Failed.
    const g = new Replay('blob2pgRun', { spec: spec(2) } satisfies RunInput, 'run-2');
    await g.start();
    await g.next(history.taskCompleted(0, { blobs, listed: 100, loaded: 0 } satisfies ListBlobsPage));
    let timer = await g.next(transientFailure(1, 'Connection terminated unexpectedly'), history.taskCompleted(2, blobs.slice(25, 50).map((b) => ok(b))));
    for (let attempt = 2; attempt <= 5; attempt++) {
      const retry = await g.next(history.timerFired(timer[0]!.id, at(0)));
      expect(groupOf(retry[0]!)).toHaveLength(25);
      timer = await g.next(transientFailure(retry[0]!.id, 'Connection terminated unexpectedly'));
    }
    expect(timer[0]!.kind).toBe('activity'); // attempts used up: the next wave starts
    expect(g.last.state.customStatus).toEqual({ filesTotal: 100, filesDone: 50, filesFailed: 25, rowsCopied: 250 });
  });

  it('a data error fails one file and the run goes on: PartiallySucceeded', async () => {
    const blobs = refs(3);
    const r = new Replay('blob2pgRun', { spec: spec(8), blobs } satisfies RunInput);
    await r.start();
    const bad: FileResult = { ...ok(blobs[1]!, 0), status: 'Failed', error: { message: 'line 3, column amount: invalid input syntax (22P02)', line: 3, sqlstate: '22P02' } };
    await r.next(history.taskCompleted(0, [ok(blobs[0]!)]), history.taskCompleted(1, [bad]), history.taskCompleted(2, [ok(blobs[2]!)]));
    const output = r.last.state.output as RunOutput;
    expect(output).toMatchObject({ status: 'PartiallySucceeded', filesRead: 2, filesFailed: 1, rowsCopied: 20 });
    expect(output.files).toEqual([bad]);
    expect(r.last.state.customStatus).toEqual({ filesTotal: 3, filesDone: 3, filesFailed: 1, rowsCopied: 20 });
  });

  it('retries a transient failure on a durable timer, then succeeds; the output says after how many attempts', async () => {
    const blobs = refs(2);
    const r = new Replay('blob2pgRun', { spec: spec(8) } satisfies RunInput);
    await r.start();
    const [first] = await r.next(history.taskCompleted(0, { blobs, listed: 2, loaded: 0 } satisfies ListBlobsPage));
    const afterFailure = await r.next(transientFailure(first!.id, 'connect ECONNREFUSED 127.0.0.1:5432'), history.taskCompleted(first!.id + 1, [ok(blobs[1]!)]));
    // The orchestration sleeps on a durable timer 5 s after the failure (the orchestrator's time).
    expect(afterFailure).toEqual([{ kind: 'timer', id: 3, fireAt: at(2000 + 5000) }]);
    expect(r.last.state.customStatus).toMatchObject({ waitingForRetry: { files: 1, attempt: 2, at: at(7000).toISOString() } });
    const retry = await r.nextAt(7000, history.timerFired(3, at(7000)));
    expect(retry).toMatchObject([{ kind: 'activity', id: 4, name: 'copyBlob', attempt: 1 }]);
    expect(blobOf(retry[0]!)).toBe('in/0000.csv');
    await r.next(history.taskCompleted(4, [ok(blobs[0]!)]));
    // The run output lists failed files and those that needed more than one attempt.
    expect(r.last.state.output).toMatchObject({ status: 'Succeeded', filesRead: 2, filesFailed: 0, files: [{ blob: 'in/0000.csv', status: 'Succeeded', attempts: 2 }] });
  });

  it('a sweep backs off exponentially and, after five attempts, fails only that file, with its attempts', async () => {
    const blobs = refs(2);
    const sweep = new Replay('blob2pgRun', { spec: spec(8) } satisfies RunInput, 'sweep-1');
    await sweep.start();
    let open = await sweep.next(history.taskCompleted(0, { blobs, listed: 2, loaded: 0 } satisfies ListBlobsPage));
    open = await sweep.next(transientFailure(open[0]!.id, 'Connection terminated unexpectedly'), history.taskCompleted(open[1]!.id, [ok(blobs[1]!)]));
    const delays: number[] = [];
    for (let attempt = 2; attempt <= 5; attempt++) {
      const timer = open[0] as Extract<OpenWork, { kind: 'timer' }>;
      delays.push(timer.fireAt!.getTime() - at(sweep.clock).getTime());
      open = await sweep.nextAt(timer.fireAt!.getTime() - T0.getTime(), history.timerFired(timer.id, timer.fireAt!));
      expect(open[0]).toMatchObject({ kind: 'activity' });
      open = await sweep.next(transientFailure(open[0]!.id, 'Connection terminated unexpectedly'));
    }
    expect(delays).toEqual([5000, 10000, 20000, 40000]);
    expect(sweep.last.state.isDone).toBe(true);
    const output = sweep.last.state.output as RunOutput;
    expect(output).toMatchObject({ status: 'PartiallySucceeded', filesFailed: 1, filesRead: 1 });
    expect(output.files).toEqual([expect.objectContaining({ blob: 'in/0000.csv', status: 'Failed', attempts: 5, error: { message: 'Connection terminated unexpectedly' } })]);
  });

  it('a blob-created run outlasts an outage longer than a retry budget: durable timers until the trigger deadline, then loads', async () => {
    const [blob] = refs(1);
    const input = { spec: spec(8, [{ type: 'BlobCreated', retryForHours: 6 }]), deployed: true, blobs: [blob!] } satisfies RunInput;
    const r = new Replay('blob2pgRun', input, 'orders-event');
    let [copy] = await r.start();
    // Deployed: activities get the pipeline's name, not its spec.
    expect((copy as { input: CopyBlobInput }).input).toEqual({ pipeline: 'orders', refs: [blob], runId: 'orders-event' });
    // Down for three hours: far past the ~75 s of five attempts a sweep gets.
    let attempts = 1;
    let timer = await r.next(transientFailure(copy!.id, 'the database system is shutting down (57P03)'));
    const gaps: number[] = [];
    while (r.clock < 3 * 3_600_000) {
      const t = timer[0] as Extract<OpenWork, { kind: 'timer' }>;
      expect(t.kind).toBe('timer');
      gaps.push(t.fireAt!.getTime() - at(r.clock).getTime());
      [copy] = await r.nextAt(t.fireAt!.getTime() - T0.getTime(), history.timerFired(t.id, t.fireAt!));
      attempts++;
      timer = await r.next(transientFailure(copy!.id, 'the database system is shutting down (57P03)'));
    }
    expect(gaps.slice(0, 5)).toEqual([5000, 10000, 20000, 40000, 80000]);
    expect(Math.max(...gaps)).toBe(300_000); // capped at 5 minutes
    const t = timer[0] as Extract<OpenWork, { kind: 'timer' }>;
    [copy] = await r.nextAt(t.fireAt!.getTime() - T0.getTime(), history.timerFired(t.id, t.fireAt!));
    attempts++;
    await r.next(history.taskCompleted(copy!.id, [ok(blob!)]));
    expect(attempts).toBeGreaterThan(35);
    expect(r.last.state.output).toMatchObject({ status: 'Succeeded', filesRead: 1, filesFailed: 0, files: [{ blob: blob!.name, status: 'Succeeded', attempts }] });

    // Past the deadline it gives up: the file is Failed with its attempts and last error.
    const late = new Replay('blob2pgRun', input, 'orders-event-2');
    [copy] = await late.start();
    timer = await late.next(transientFailure(copy!.id, 'connect ECONNREFUSED 10.0.0.4:5432'));
    let tries = 1;
    while (timer[0]?.kind === 'timer') {
      const fire = (timer[0] as Extract<OpenWork, { kind: 'timer' }>).fireAt!;
      [copy] = await late.nextAt(fire.getTime() - T0.getTime(), history.timerFired(timer[0]!.id, fire));
      tries++;
      timer = await late.next(transientFailure(copy!.id, 'connect ECONNREFUSED 10.0.0.4:5432'));
    }
    expect(late.clock).toBeLessThanOrEqual(6 * 3_600_000 + 1000);
    expect(late.clock).toBeGreaterThan(6 * 3_600_000 - 301_000);
    expect(late.last.state.output).toMatchObject({ status: 'Failed', filesFailed: 1, files: [{ blob: blob!.name, status: 'Failed', attempts: tries, error: { message: 'connect ECONNREFUSED 10.0.0.4:5432' } }] });
  });

  it('a failure that is not transient (ConfigError) is not retried; its message, line, column and SQLSTATE come from FailureDetails, not the host wrapping', async () => {
    const blobs = refs(2);
    const r = new Replay('blob2pgRun', { spec: spec(8), blobs } satisfies RunInput);
    await r.start();
    const wrapped = 'Exception while executing function: Functions.copyBlob -> Result: Failure\nException: ConfigError: TARGET_POSTGRES is not set\nStack: ConfigError: …\n    at resolve (/home/site/wwwroot/dist/src/x.js:1:1)';
    const located = { message: 'pipeline orders in/0001.csv line 4, column amount: invalid input syntax for type numeric: "x" (22P02)', line: 4, column: 'amount', sqlstate: '22P02' };
    await r.next(
      history.taskFailed(0, wrapped, 'stack', undefined, { ErrorType: 'ConfigError', ErrorMessage: 'TARGET_POSTGRES is not set', Properties: { blob2pg: { error: { message: 'TARGET_POSTGRES is not set' }, transient: false } } }),
      history.taskFailed(1, wrapped, 'stack', undefined, { ErrorType: 'TransientError', ErrorMessage: wrapped, Properties: { blob2pg: { error: located, transient: false } } }),
    );
    const output = r.last.state.output as RunOutput;
    expect(output).toMatchObject({ status: 'Failed', filesFailed: 2 });
    expect(output.files.map((f) => [f.blob, f.error, f.attempts])).toEqual([
      ['in/0000.csv', { message: 'TARGET_POSTGRES is not set' }, 1],
      ['in/0001.csv', located, 1],
    ]);
    // An extension that sends no FailureDetails: the host's wrapping is taken off the reason.
    const old = new Replay('blob2pgRun', { spec: spec(8), blobs: refs(1) } satisfies RunInput, 'run-old');
    await old.start();
    await old.next(history.taskFailed(0, wrapped, 'stack'));
    expect((old.last.state.output as RunOutput).files[0]!.error).toEqual({ message: 'TARGET_POSTGRES is not set' });
  });

  it('lists the blobs in an activity when the input names none', async () => {
    const blobs = refs(2);
    const r = new Replay('blob2pgRun', { spec: spec(8) } satisfies RunInput);
    const first = await r.start();
    expect(first).toMatchObject([{ kind: 'activity', id: 0, name: 'listBlobs' }]);
    const copies = await r.next(history.taskCompleted(0, { blobs, listed: 2, loaded: 0 } satisfies ListBlobsPage));
    expect(copies.map(blobOf)).toEqual(blobs.map((b) => b.name));
  });

  it('a listing error fails the orchestration with the message', async () => {
    const r = new Replay('blob2pgRun', { spec: spec(8) } satisfies RunInput);
    await r.start();
    await r.next(history.taskCompleted(0, { error: 'listing blobs for pipeline orders: The specified container does not exist.' }));
    expect(r.last.failed).toBe(true);
    expect(r.last.state.error).toContain('The specified container does not exist.');
  });

  it('splits pages of more than 500 blobs into sub-orchestrations, one at a time, with IDs unique to the run', async () => {
    const blobs = refs(1001);
    const input = { spec: spec(8), deployed: true } satisfies RunInput;
    const r = new Replay('blob2pgRun', input, 'orders-scheduled');
    await r.start();
    const first = await r.next(history.taskCompleted(0, { blobs, listed: 1001, loaded: 0 } satisfies ListBlobsPage));
    expect(first).toMatchObject([{ kind: 'subOrchestration', id: 1, name: 'blob2pgCopyBatch' }]);
    const batchId = (first[0] as { instanceId: string }).instanceId;
    expect(batchId).toMatch(/^orders-scheduled:[0-9a-f]{20}:batch-0$/);
    const batchInput = (first[0] as { input: BatchInput }).input;
    expect(batchInput).toMatchObject({ pipeline: 'orders', runId: 'orders-scheduled', maxParallelCopies: 8 });
    expect(batchInput.spec).toBeUndefined();
    expect(batchInput.blobs.map((b) => b.name)).toEqual(blobs.slice(0, 500).map((b) => b.name));
    const counted = (files: FileResult[]): RunTotals => ({ startedAt: 0, pages: 0, filesSucceeded: files.length, filesSkipped: 0, rowsRead: 10 * files.length, rowsCopied: 10 * files.length, rowsSkipped: 0, dataRead: 100 * files.length, files: [] });
    const second = await r.next(history.subOrchestrationCompleted(1, counted(blobs.slice(0, 500).map((b) => ok(b)))));
    expect(second).toMatchObject([{ kind: 'subOrchestration', id: 2, instanceId: batchId.replace('batch-0', 'batch-1') }]);
    expect(r.last.state.customStatus).toEqual({ filesTotal: 1001, filesDone: 500, filesFailed: 0, rowsCopied: 5000 });
    const third = await r.next(history.subOrchestrationCompleted(2, counted(blobs.slice(500, 1000).map((b) => ok(b)))));
    expect((third[0] as { input: BatchInput }).input.blobs.map((b) => b.name)).toEqual([blobs[1000]!.name]);
    // A batch that fails as a whole marks its blobs Failed; the run still returns its output.
    await r.next(history.subOrchestrationFailed(3, 'worker recycled'));
    const output = r.last.state.output as RunOutput;
    expect(output).toMatchObject({ status: 'PartiallySucceeded', filesRead: 1000, filesFailed: 1, rowsCopied: 10000 });
    expect(output.files).toHaveLength(1);
    expect(output.files[0]!.error!.message).toContain('batch 2 failed: worker recycled');

    // A run started again under the same instance ID (a redelivered blob event) gets other batch IDs; a replay of one run keeps its own.
    const next = new Replay('blob2pgRun', input, 'orders-scheduled');
    next.events.splice(0, 2, history.orchestratorStarted(at(900_000)), history.executionStarted('blob2pgRun', input, at(900_000)));
    await next.start();
    const [batch] = await next.next(history.taskCompleted(0, { blobs, listed: 1001, loaded: 0 } satisfies ListBlobsPage));
    expect((batch as { instanceId: string }).instanceId).not.toBe(batchId);
    const again = await runEpisode(registeredFunction('blob2pgRun').callback, { instanceId: 'orders-scheduled', name: 'blob2pgRun', input, history: r.events.slice(0, 6) });
    expect(again.open[0]).toMatchObject({ instanceId: batchId });
  });

  it('the batch sub-orchestration fans out its blobs in waves and returns counters and failed files only', async () => {
    const blobs = refs(3);
    const r = new Replay('blob2pgCopyBatch', { pipeline: 'orders', runId: 'big', blobs, maxParallelCopies: 2, retry: { firstRetryIntervalInMilliseconds: 5000, backoffCoefficient: 2, maxRetryIntervalInMilliseconds: 60000, maxAttempts: 5 } } satisfies BatchInput, 'big:k:batch-0');
    expect((await r.start()).map(blobOf)).toEqual(['in/0000.csv', 'in/0001.csv']);
    const next = await r.next(history.taskCompleted(0, [ok(blobs[0]!)]), history.taskCompleted(1, [ok(blobs[1]!)]));
    expect(next.map(blobOf)).toEqual(['in/0002.csv']);
    expect((next[0] as { input: CopyBlobInput }).input).toMatchObject({ pipeline: 'orders', runId: 'big' });
    const bad: FileResult = { ...ok(blobs[2]!, 0), status: 'Failed', error: { message: 'bad' } };
    await r.next(history.taskCompleted(2, [bad]));
    expect(r.last.state.output).toEqual({ startedAt: 0, pages: 0, filesSucceeded: 2, filesSkipped: 0, rowsRead: 20, rowsCopied: 20, rowsSkipped: 0, dataRead: 300, files: [bad] } satisfies RunTotals);
  });

  it('a sweep goes on page by page with continueAsNew: each generation lists one page, the last returns the totals of all', async () => {
    const blobs = refs(4);
    const r = new Replay('blob2pgRun', { spec: spec(8) } satisfies RunInput, 'sweep');
    await r.start();
    // Page 1: 5,000 listed, 4,998 in the ledger already; 2 new ones are copied.
    const copies = await r.next(history.taskCompleted(0, { blobs: blobs.slice(0, 2), listed: 5000, loaded: 4998, continuationToken: 'page-2' } satisfies ListBlobsPage));
    expect(copies.map(blobOf)).toEqual(['in/0000.csv', 'in/0001.csv']);
    await r.next(history.taskCompleted(1, [ok(blobs[0]!)]), history.taskCompleted(2, [ok(blobs[1]!)]));
    expect(r.last.state.isDone).toBe(true);
    expect(r.last.continueAsNew).toBeDefined();
    const carried = r.last.continueAsNew!.input as RunInput;
    expect(carried.continuationToken).toBe('page-2');
    expect(carried.totals).toMatchObject({ pages: 1, filesSucceeded: 2, filesSkipped: 4998, rowsCopied: 20, startedAt: T0.getTime() });
    // Generation 2: a fresh history; its listing goes on from the token.
    const g2 = new Replay('blob2pgRun', carried, 'sweep');
    const [list] = await g2.start();
    expect((list as { input: { continuationToken?: string } }).input.continuationToken).toBe('page-2');
    await g2.next(history.taskCompleted(0, { blobs: blobs.slice(2), listed: 1200, loaded: 1198 } satisfies ListBlobsPage));
    await g2.next(history.taskCompleted(1, [ok(blobs[2]!)]), history.taskCompleted(2, [ok(blobs[3]!)]));
    expect(g2.last.continueAsNew).toBeUndefined();
    expect(g2.last.state.output).toMatchObject({ status: 'Succeeded', filesRead: 4, filesSkipped: 6196, rowsCopied: 40, files: [] });
  });

  it('replaying the same history twice gives the same actions, status and output', async () => {
    const blobs = refs(5);
    const r = new Replay('blob2pgRun', { spec: spec(2), blobs } satisfies RunInput);
    await r.start();
    await r.next(history.taskCompleted(0, [ok(blobs[0]!)]), history.taskCompleted(1, [ok(blobs[1]!)]));
    await r.next(transientFailure(2, 'read ECONNRESET'));
    const snapshot = [...r.events];
    const a = await runEpisode(registeredFunction('blob2pgRun').callback, { instanceId: 'run-1', name: 'blob2pgRun', input: r.input, history: snapshot });
    const b = await runEpisode(registeredFunction('blob2pgRun').callback, { instanceId: 'run-1', name: 'blob2pgRun', input: r.input, history: snapshot });
    expect(JSON.stringify(b.state)).toBe(JSON.stringify(a.state));
    expect(b.open).toEqual(a.open);
    // Copy 2 failed while copy 3 still runs: the retry timer waits for the wave to settle.
    expect(a.open).toMatchObject([{ kind: 'activity', id: 3 }]);
  });
});
