/**
 * The durable-functions internals src/local/durable.ts relies on. package.json pins the
 * exact version; an upgrade that changes any of these fails here, by name, before the
 * local runtime (CLI, tests, bench) misbehaves in some less obvious way.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as df from 'durable-functions';
import { beforeAll, describe, expect, it } from 'vitest';
import { EventType, history, runEpisode } from '../../src/local/durable.js';
import { installLocalHost, registeredFunction } from '../../src/local/host.js';

const require = createRequire(import.meta.url);
const T0 = new Date('2026-11-20T10:00:00Z');

beforeAll(() => {
  installLocalHost();
  const retry = new df.RetryOptions(1000, 2);
  df.app.orchestration('internalsProbe', function* (context) {
    const mode = context.df.getInput() as string;
    if (mode === 'fail') throw new Error('probe failed');
    if (mode === 'continue') {
      context.df.continueAsNew('next');
      return undefined;
    }
    if (mode === 'timer') {
      yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 3 * 3_600_000));
      return 'woke';
    }
    yield context.df.Task.all([context.df.callActivity('probeActivity', 1), context.df.callActivityWithRetry('probeActivity', retry, 2)]);
    return 'done';
  });
});

function start(input: string, events = [history.orchestratorStarted(T0), history.executionStarted('internalsProbe', input, T0)]) {
  return runEpisode(registeredFunction('internalsProbe').callback, { instanceId: 'probe', name: 'internalsProbe', input, history: events });
}

describe('durable-functions internals used by the local runtime', () => {
  it('the installed version is the one package.json pins exactly', () => {
    const pinned = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> }).dependencies['durable-functions'];
    const installed = (JSON.parse(readFileSync(require.resolve('durable-functions/package.json'), 'utf8')) as { version: string }).version;
    expect(pinned, 'pin durable-functions to an exact version: src/local/durable.ts reads its internals').toMatch(/^\d+\.\d+\.\d+$/);
    expect(installed).toBe(pinned);
  });

  it('context.df.taskOrchestratorExecutor.openTasks holds the scheduled tasks by event ID, with actionObj / parent / retryOptions', async () => {
    const episode = await start('work');
    // runEpisode reads openTasks; without it it throws "did not expose its open tasks".
    expect(episode.open).toEqual([
      { kind: 'activity', id: 0, name: 'probeActivity', input: 1, attempt: 1, retry: undefined },
      { kind: 'activity', id: 1, name: 'probeActivity', input: 2, attempt: 1, retry: expect.objectContaining({ firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 2 }) },
    ]);
    // A failed retryable attempt: the executor waits on a timer (isWaitingOnTimer, attemptNumber on the parent task).
    const events = [
      history.orchestratorStarted(T0),
      history.executionStarted('internalsProbe', 'work', T0),
      history.taskScheduled(0, 'probeActivity', 1, T0),
      history.taskScheduled(1, 'probeActivity', 2, T0),
      history.orchestratorCompleted(T0),
      history.orchestratorStarted(T0),
      history.taskFailed(1, 'boom', ''),
    ];
    const retrying = await start('work', events);
    expect(retrying.open).toEqual([expect.objectContaining({ kind: 'activity', id: 0 }), { kind: 'timer', id: 2, delayMs: 1000 }]);
  });

  it('an orchestrator error carries its state after the $OutOfProcData$ marker', async () => {
    const episode = await start('fail');
    expect(episode.failed).toBe(true);
    expect(episode.state.error).toContain('probe failed');
    // Parsed from the JSON after the marker (without it the runtime would only have the message: actions []).
    expect(episode.state.actions).toEqual([[]]);
  });

  it('continueAsNew ends the episode with a ContinueAsNew action carrying the new input', async () => {
    const episode = await start('continue');
    expect(episode.state.isDone).toBe(true);
    expect(episode.continueAsNew).toEqual({ input: JSON.stringify('next') });
  });

  it('durable timers work in the replay (schema 3 needs the timer durations the extension sends)', async () => {
    const first = await start('timer');
    const fireAt = new Date(T0.getTime() + 3 * 3_600_000);
    expect(first.open).toEqual([{ kind: 'timer', id: 0, fireAt }]);
    const events = [
      history.orchestratorStarted(T0),
      history.executionStarted('internalsProbe', 'timer', T0),
      history.timerCreated(0, fireAt, T0),
      history.orchestratorCompleted(T0),
      history.orchestratorStarted(fireAt),
      history.timerFired(0, fireAt, fireAt),
    ];
    const woke = await start('timer', events);
    expect(woke.state).toMatchObject({ isDone: true, output: 'woke' });
  });

  it('a TaskFailed event with FailureDetails reaches the orchestrator as a TaskFailedError', async () => {
    let caught: unknown;
    df.app.orchestration('internalsFailure', function* (context) {
      try {
        yield context.df.callActivity('probeActivity', 1);
      } catch (err) {
        caught = err;
      }
      return 'ok';
    });
    const events = [
      history.orchestratorStarted(T0),
      history.executionStarted('internalsFailure', null, T0),
      history.taskScheduled(0, 'probeActivity', 1, T0),
      history.orchestratorCompleted(T0),
      history.orchestratorStarted(T0),
      history.taskFailed(0, 'wrapped', '', T0, { ErrorType: 'TransientError', ErrorMessage: 'inner', Properties: { blob2pg: { transient: true } } }),
    ];
    await runEpisode(registeredFunction('internalsFailure').callback, { instanceId: 'f', name: 'internalsFailure', input: null, history: events });
    expect(caught).toBeInstanceOf(df.TaskFailedError);
    expect((caught as df.TaskFailedError).failureDetails).toMatchObject({ errorType: 'TransientError', errorMessage: 'inner', properties: { blob2pg: { transient: true } } });
    expect(EventType.TaskFailed).toBe(6);
  });
});
