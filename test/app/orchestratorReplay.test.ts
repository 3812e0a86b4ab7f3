/**
 * The run orchestrator replayed by durable-functions itself, against synthetic histories:
 * what it schedules (actions), in which order, how many at once, and what it returns.
 * No activity runs here: the histories say how each one ended.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { history, runEpisode, type EpisodeResult, type HistoryEvent, type OpenWork } from '../../src/app/localDurable.js';
import { loadDurableFunctions, registeredFunction } from '../../src/app/localHost.js';
import type { CopyBlobInput, RunInput, RunProgress } from '../../src/app/plan.js';
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

function spec(maxParallelCopies: number) {
  return parsePipelineSpec({ name: 'orders', source: { container: 'incoming' }, sink: { table: 'public.orders' }, maxParallelCopies });
}

function ok(ref: BlobRef, rows = 10): FileResult {
  return { blob: ref.name, etag: ref.etag, status: 'Succeeded', rowsRead: rows, rowsCopied: rows, rowsSkipped: 0, dataRead: 100, durationMs: 5 };
}

/** A hand-driven orchestration: the history grows as the test says how each task ended. */
class Replay {
  readonly events: HistoryEvent[];
  last!: EpisodeResult;
  private clock = 0;
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
      if (w.kind === 'timer') this.events.push(history.timerCreated(w.id, at(this.clock + (w.delayMs ?? 0)), at(this.clock)));
      if (w.kind === 'subOrchestration') this.events.push(history.subOrchestrationCreated(w.id, w.name, w.instanceId!, w.input, at(this.clock)));
    }
    this.events.push(history.orchestratorCompleted(at(this.clock)));
  }
  /** A new episode with these events; returns the work it left open that is new. */
  async next(...events: HistoryEvent[]): Promise<OpenWork[]> {
    this.clock += 1000;
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
    expect(actions.map((a) => [a.actionType, a.functionName])).toEqual([[1, 'copyBlob'], [1, 'copyBlob'], [1, 'copyBlob']]);
    expect((actions[0]!.input as CopyBlobInput).runId).toBe('run-1');
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
    expect(output.files.map((f) => f.blob)).toEqual(blobs.map((b) => b.name));
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
    expect((r.last.state.output as RunOutput).files.map((f) => f.blob)).toEqual(blobs.map((b) => b.name));

    // A group whose activity fails for good: each of its blobs is reported Failed.
    const g = new Replay('blob2pgRun', { spec: spec(2), blobs } satisfies RunInput, 'run-2');
    await g.start();
    let timer = await g.next(history.taskFailed(0, 'Connection terminated unexpectedly'), history.taskCompleted(1, blobs.slice(25, 50).map((b) => ok(b))));
    for (let attempt = 2; attempt <= 5; attempt++) {
      const retry = await g.next(history.timerFired(timer[0]!.id, at(0)));
      expect(groupOf(retry[0]!)).toHaveLength(25);
      timer = await g.next(history.taskFailed(retry[0]!.id, 'Connection terminated unexpectedly'));
    }
    await g.next(history.timerFired(timer[0]!.id, at(0)));
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
    expect(output.files[1]).toEqual(bad);
    expect(r.last.state.customStatus).toEqual({ filesTotal: 3, filesDone: 3, filesFailed: 1, rowsCopied: 20 });
  });

  it('retries a transient failure after a back-off timer, then succeeds', async () => {
    const blobs = refs(2);
    const r = new Replay('blob2pgRun', { spec: spec(8), blobs } satisfies RunInput);
    await r.start();
    const afterFailure = await r.next(history.taskFailed(0, 'connect ECONNREFUSED 127.0.0.1:5432'), history.taskCompleted(1, [ok(blobs[1]!)]));
    expect(afterFailure).toEqual([{ kind: 'timer', id: 2, delayMs: 5000 }]);
    expect(r.last.state.isDone).toBe(false);
    const retry = await r.next(history.timerFired(2, at(6000)));
    expect(retry).toMatchObject([{ kind: 'activity', id: 3, name: 'copyBlob', attempt: 2 }]);
    expect(blobOf(retry[0]!)).toBe('in/0000.csv');
    // The retry is the extension's job: the orchestrator sends no extra action for it.
    expect(flatActions(r.last.state.actions).map((a) => [a.actionType, (a.input as CopyBlobInput).refs[0]!.name])).toEqual([[1, 'in/0000.csv'], [1, 'in/0001.csv']]);
    await r.next(history.taskCompleted(3, [ok(blobs[0]!)]));
    expect(r.last.state.output).toMatchObject({ status: 'Succeeded', filesRead: 2, filesFailed: 0 });
  });

  it('backs off exponentially and, when retries run out, fails only that file', async () => {
    const blobs = refs(2);
    const r = new Replay('blob2pgRun', { spec: spec(8), blobs } satisfies RunInput);
    await r.start();
    let open = await r.next(history.taskFailed(0, 'Connection terminated unexpectedly'), history.taskCompleted(1, [ok(blobs[1]!)]));
    const delays: number[] = [];
    for (let attempt = 2; attempt <= 5; attempt++) {
      const timer = open[0] as Extract<OpenWork, { kind: 'timer' }>;
      delays.push(timer.delayMs!);
      open = await r.next(history.timerFired(timer.id, at(0)));
      expect(open[0]).toMatchObject({ kind: 'activity', attempt });
      open = await r.next(history.taskFailed(open[0]!.id, 'Connection terminated unexpectedly'));
    }
    expect(delays).toEqual([5000, 10000, 20000, 40000]);
    // After the fifth failure: one last timer, then the task fails for good.
    expect(open).toMatchObject([{ kind: 'timer', delayMs: 0 }]);
    await r.next(history.timerFired(open[0]!.id, at(0)));
    const output = r.last.state.output as RunOutput;
    expect(output).toMatchObject({ status: 'PartiallySucceeded', filesFailed: 1, filesRead: 1 });
    expect(output.files[0]).toMatchObject({ blob: 'in/0000.csv', status: 'Failed', error: { message: 'Connection terminated unexpectedly' } });
  });

  it('lists the blobs in an activity when the input names none', async () => {
    const blobs = refs(2);
    const r = new Replay('blob2pgRun', { spec: spec(8) } satisfies RunInput);
    const first = await r.start();
    expect(first).toMatchObject([{ kind: 'activity', id: 0, name: 'listBlobs' }]);
    const copies = await r.next(history.taskCompleted(0, { blobs }));
    expect(copies.map(blobOf)).toEqual(blobs.map((b) => b.name));
  });

  it('a listing error fails the orchestration with the message', async () => {
    const r = new Replay('blob2pgRun', { spec: spec(8) } satisfies RunInput);
    await r.start();
    await r.next(history.taskCompleted(0, { error: 'listing blobs for pipeline orders: The specified container does not exist.' }));
    expect(r.last.failed).toBe(true);
    expect(r.last.state.error).toContain('The specified container does not exist.');
  });

  it('splits runs of more than 500 blobs into sub-orchestrations, one at a time', async () => {
    const blobs = refs(1001);
    const r = new Replay('blob2pgRun', { spec: spec(8), blobs } satisfies RunInput, 'big');
    const first = await r.start();
    expect(first).toMatchObject([{ kind: 'subOrchestration', id: 0, name: 'blob2pgCopyBatch', instanceId: 'big:batch-0' }]);
    const batchInput = (first[0] as { input: { blobs: BlobRef[]; runId: string } }).input;
    expect(batchInput.runId).toBe('big');
    expect(batchInput.blobs.map((b) => b.name)).toEqual(blobs.slice(0, 500).map((b) => b.name));
    const second = await r.next(history.subOrchestrationCompleted(0, blobs.slice(0, 500).map((b) => ok(b))));
    expect(second).toMatchObject([{ kind: 'subOrchestration', id: 1, instanceId: 'big:batch-1' }]);
    expect(r.last.state.customStatus).toEqual({ filesTotal: 1001, filesDone: 500, filesFailed: 0, rowsCopied: 5000 });
    const third = await r.next(history.subOrchestrationCompleted(1, blobs.slice(500, 1000).map((b) => ok(b))));
    expect((third[0] as { input: { blobs: BlobRef[] } }).input.blobs.map((b) => b.name)).toEqual([blobs[1000]!.name]);
    // A batch that fails as a whole marks its blobs Failed; the run still returns its output.
    await r.next(history.subOrchestrationFailed(2, 'worker recycled'));
    const output = r.last.state.output as RunOutput;
    expect(output).toMatchObject({ status: 'PartiallySucceeded', filesRead: 1000, filesFailed: 1, rowsCopied: 10000 });
    expect(output.files).toHaveLength(1001);
    expect(output.files[1000]!.error!.message).toContain('batch 2 failed: worker recycled');
  });

  it('the batch sub-orchestration fans out its blobs in waves and returns the file results', async () => {
    const blobs = refs(3);
    const r = new Replay('blob2pgCopyBatch', { spec: spec(2), runId: 'big', blobs }, 'big:batch-0');
    expect((await r.start()).map(blobOf)).toEqual(['in/0000.csv', 'in/0001.csv']);
    const next = await r.next(history.taskCompleted(0, [ok(blobs[0]!)]), history.taskCompleted(1, [ok(blobs[1]!)]));
    expect(next.map(blobOf)).toEqual(['in/0002.csv']);
    expect((next[0] as { input: CopyBlobInput }).input.runId).toBe('big');
    await r.next(history.taskCompleted(2, [ok(blobs[2]!)]));
    expect((r.last.state.output as FileResult[]).map((f) => f.blob)).toEqual(blobs.map((b) => b.name));
  });

  it('replaying the same history twice gives the same actions, status and output', async () => {
    const blobs = refs(5);
    const r = new Replay('blob2pgRun', { spec: spec(2), blobs } satisfies RunInput);
    await r.start();
    await r.next(history.taskCompleted(0, [ok(blobs[0]!)]), history.taskCompleted(1, [ok(blobs[1]!)]));
    await r.next(history.taskFailed(2, 'read ECONNRESET'));
    const snapshot = [...r.events];
    const a = await runEpisode(registeredFunction('blob2pgRun').callback, { instanceId: 'run-1', name: 'blob2pgRun', input: r.input, history: snapshot });
    const b = await runEpisode(registeredFunction('blob2pgRun').callback, { instanceId: 'run-1', name: 'blob2pgRun', input: r.input, history: snapshot });
    expect(JSON.stringify(b.state)).toBe(JSON.stringify(a.state));
    expect(b.open).toEqual(a.open);
    expect(a.open.map((w) => w.kind)).toEqual(['activity', 'timer']);
  });
});
