/**
 * A small in-process Durable Functions runtime: the local stand-in for the Durable
 * extension, so `blob2pg run`, `blob2pg watch` and the tests run the real orchestrator
 * through durable-functions' own replay.
 *
 * Per episode it does what the extension does: build the history (OrchestratorStarted,
 * ExecutionStarted, TaskScheduled / TaskCompleted / TaskFailed, TimerCreated / TimerFired,
 * SubOrchestrationInstanceCreated / Completed / Failed, OrchestratorCompleted), call the
 * registered orchestration callback with the binding payload the extension sends
 * (history, input, instanceId …), read back the state (actions, custom status, output),
 * run the new work in-process (activities through their registered callbacks, timers,
 * sub-orchestrations), append the results and replay until the orchestration is done.
 *
 * Event IDs: the durable-functions executor numbers tasks as it replays (including the
 * timers and attempts of callActivityWithRetry), so the runtime takes each open task's ID
 * from the executor after the episode, the one place that numbering is defined.
 *
 * It relies on three internals of durable-functions, which package.json pins to one exact
 * version and test/app/durableInternals.test.ts checks: the executor's `openTasks` (on
 * `context.df.taskOrchestratorExecutor`), the shape of its tasks (`actionObj`, `parent`,
 * `isWaitingOnTimer`, `attemptNumber`, `retryOptions`), and the `$OutOfProcData$:` marker
 * before the state in an OrchestrationFailureError's message.
 *
 * Also as the extension does: continueAsNew starts a new generation (a fresh history with
 * the new input, same instance ID); an activity error comes back as TaskFailed with
 * FailureDetails (durable-functions 3.5); timers work (the timer durations the extension
 * sends are passed), and a scaled timer (tests) moves the runtime's clock to its fire time,
 * so an orchestration that waits hours on durable timers runs in milliseconds and still
 * sees the hours pass.
 */
import { randomUUID } from 'node:crypto';
import azureFunctions, { type HttpRequest } from '@azure/functions';
import type { FunctionCallback, RegisteredFunction } from './host.js';
import { retryDelayMs } from '../app/plan.js';
import type { DurableStarter, InstanceStatus, ManagementUrls, RuntimeStatus } from '../app/starter.js';

// @azure/functions is a CommonJS bundle whose classes Node's ESM loader cannot name-import.
const { InvocationContext } = azureFunctions;

/** Numeric event types, as the Durable Task Framework serialises them. */
export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventRaised: 15,
} as const;

/** durable-functions' ActionType. */
export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WhenAny: 11,
  WhenAll: 12,
} as const;

export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  [field: string]: unknown;
}

/** Builders for the history events a test or the runtime appends. */
export const history = {
  event(type: number, fields: Record<string, unknown> = {}, timestamp: Date = new Date()): HistoryEvent {
    return { EventType: type, EventId: -1, IsPlayed: false, Timestamp: timestamp.toISOString(), ...fields };
  },
  orchestratorStarted: (at?: Date) => history.event(EventType.OrchestratorStarted, {}, at),
  orchestratorCompleted: (at?: Date) => history.event(EventType.OrchestratorCompleted, {}, at),
  executionStarted: (name: string, input: unknown, at?: Date, parentInstanceId?: string) =>
    history.event(EventType.ExecutionStarted, { Name: name, Input: JSON.stringify(input), ...(parentInstanceId && { ParentInstance: { OrchestrationInstance: { InstanceId: parentInstanceId } } }) }, at),
  taskScheduled: (id: number, name: string, input?: unknown, at?: Date) =>
    history.event(EventType.TaskScheduled, { EventId: id, Name: name, Input: JSON.stringify(input ?? null) }, at),
  taskCompleted: (id: number, result: unknown, at?: Date) => history.event(EventType.TaskCompleted, { TaskScheduledId: id, Result: JSON.stringify(result ?? null) }, at),
  taskFailed: (id: number, reason: string, details = '', at?: Date, failureDetails?: FailureDetailsPayload) =>
    history.event(EventType.TaskFailed, { TaskScheduledId: id, Reason: reason, Details: details, ...(failureDetails && { FailureDetails: failureDetails }) }, at),
  timerCreated: (id: number, fireAt: Date, at?: Date) => history.event(EventType.TimerCreated, { EventId: id, FireAt: fireAt.toISOString() }, at),
  timerFired: (id: number, fireAt: Date, at?: Date) => history.event(EventType.TimerFired, { TimerId: id, FireAt: fireAt.toISOString() }, at),
  subOrchestrationCreated: (id: number, name: string, instanceId: string, input?: unknown, at?: Date) =>
    history.event(EventType.SubOrchestrationInstanceCreated, { EventId: id, Name: name, InstanceId: instanceId, Input: JSON.stringify(input ?? null) }, at),
  subOrchestrationCompleted: (id: number, result: unknown, at?: Date) =>
    history.event(EventType.SubOrchestrationInstanceCompleted, { TaskScheduledId: id, Result: JSON.stringify(result ?? null) }, at),
  subOrchestrationFailed: (id: number, reason: string, details = '', at?: Date) =>
    history.event(EventType.SubOrchestrationInstanceFailed, { TaskScheduledId: id, Reason: reason, Details: details }, at),
};

/** FailureDetails as the extension puts them in a TaskFailed event (durable-functions 3.5 reads them). */
export interface FailureDetailsPayload {
  ErrorType: string;
  ErrorMessage: string;
  StackTrace?: string;
  IsNonRetriable?: boolean;
  Properties?: Record<string, unknown>;
}

/**
 * What the extension makes of an activity exception: durable-functions' activity wrapper
 * puts the FailureDetails JSON into the message when an ExceptionPropertiesProvider is
 * registered; otherwise the type and message of the error.
 */
export function failureDetailsOf(err: unknown): FailureDetailsPayload {
  const error = err instanceof Error ? err : new Error(String(err));
  try {
    const parsed = JSON.parse(error.message) as { errorType?: string; errorMessage?: string; stackTrace?: string; isNonRetriable?: boolean; properties?: Record<string, unknown> };
    if (typeof parsed.errorType === 'string') {
      return { ErrorType: parsed.errorType, ErrorMessage: parsed.errorMessage ?? '', StackTrace: parsed.stackTrace, IsNonRetriable: parsed.isNonRetriable, Properties: parsed.properties };
    }
  } catch {
    // A plain message.
  }
  return { ErrorType: error.name, ErrorMessage: error.message, StackTrace: error.stack };
}

/** The OrchestratorState durable-functions returns (or carries in OrchestrationFailureError). */
export interface OrchestratorState {
  isDone: boolean;
  actions: unknown[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
}

/** Work the episode left open, with the event ID the executor gave it. */
export type OpenWork =
  | { kind: 'activity'; id: number; name: string; input: unknown; attempt: number; retry?: RetryPolicy }
  | { kind: 'subOrchestration'; id: number; name: string; input: unknown; instanceId?: string }
  | { kind: 'timer'; id: number; fireAt?: Date; delayMs?: number };

interface RetryPolicy {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
}

export interface EpisodeResult {
  state: OrchestratorState;
  /** Orchestration failed (the orchestrator threw). */
  failed: boolean;
  open: OpenWork[];
  /** The orchestrator called continueAsNew: a new generation starts with this input. */
  continueAsNew?: { input: unknown };
}

type ActionObject = { actionType: number; compoundActions?: unknown[]; input?: unknown; [field: string]: unknown };

/** The actions of an episode, compound actions (Task.all / any) expanded. */
export function flattenActions(actions: unknown[][]): ActionObject[] {
  const out: ActionObject[] = [];
  const walk = (a: unknown) => {
    const action = a as ActionObject;
    if (action.compoundActions) action.compoundActions.forEach(walk);
    else out.push(action);
  };
  actions.flat().forEach(walk);
  return out;
}

interface ExecutorTask {
  id: number | false;
  action?: unknown;
  actionObj?: { actionType?: number; functionName?: string; input?: unknown; instanceId?: string; fireAt?: Date; retryOptions?: RetryPolicy } | string;
  parent?: ExecutorTask & { isWaitingOnTimer?: boolean; attemptNumber?: number; retryOptions?: RetryPolicy };
}

function classify(id: number, task: ExecutorTask): OpenWork | undefined {
  const action = task.actionObj;
  if (action === 'noOp' || action === undefined) {
    // A callActivityWithRetry attempt or its back-off timer (RetryableTask in durable-functions).
    const parent = task.parent;
    const parentAction = parent?.actionObj;
    if (!parent || typeof parentAction !== 'object' || !parent.retryOptions) return undefined;
    if (parent.isWaitingOnTimer) {
      const exhausted = (parent.attemptNumber ?? 1) > parent.retryOptions.maxNumberOfAttempts;
      return { kind: 'timer', id, delayMs: exhausted ? 0 : retryDelayMs(parent.retryOptions, parent.attemptNumber ?? 2) };
    }
    if (parentAction.actionType === ActionType.CallSubOrchestratorWithRetry) {
      return { kind: 'subOrchestration', id, name: parentAction.functionName!, input: parentAction.input, instanceId: parentAction.instanceId };
    }
    return { kind: 'activity', id, name: parentAction.functionName!, input: parentAction.input, attempt: parent.attemptNumber ?? 1, retry: parent.retryOptions };
  }
  if (typeof action !== 'object') return undefined;
  switch (action.actionType) {
    case ActionType.CallActivity:
    case ActionType.CallActivityWithRetry:
      return { kind: 'activity', id, name: action.functionName!, input: action.input, attempt: 1, retry: action.retryOptions };
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry:
      return { kind: 'subOrchestration', id, name: action.functionName!, input: action.input, instanceId: action.instanceId };
    case ActionType.CreateTimer:
      return { kind: 'timer', id, fireAt: new Date(action.fireAt!) };
    default:
      return undefined;
  }
}

/**
 * One episode: calls the orchestration callback with `events` as the history (sent as
 * JSON, as the extension sends it) and returns its state and the work left open.
 */
export async function runEpisode(
  callback: FunctionCallback,
  options: { instanceId: string; name: string; input: unknown; history: HistoryEvent[]; parentInstanceId?: string; log?: (level: string, message: string) => void },
): Promise<EpisodeResult> {
  const context = new InvocationContext({
    functionName: options.name,
    invocationId: randomUUID(),
    logHandler: (level, ...args) => options.log?.(level, args.map(String).join(' ')),
  }) as InstanceType<typeof InvocationContext> & { df?: { taskOrchestratorExecutor?: { openTasks?: Record<string, ExecutorTask> } } };
  const trigger = {
    // Shallow copies: durable-functions turns each Timestamp string into a Date in place.
    // (The events are flat, so this equals the JSON the extension sends, without
    // re-serialising a history that grows with every episode.)
    history: options.history.map((e) => ({ ...e })),
    input: options.input === undefined ? undefined : JSON.parse(JSON.stringify(options.input)),
    instanceId: options.instanceId,
    parentInstanceId: options.parentInstanceId,
    isReplaying: options.history.filter((e) => e.EventType === EventType.OrchestratorStarted).length > 1,
    upperSchemaVersion: 2,
    upperSchemaVersionNew: 3,
    // Schema 3 needs these for createTimer: a timer longer than the first is split into
    // intervals of the second (the Azure Storage backend's defaults, TimeSpan strings).
    maximumShortTimerDuration: '6.00:00:00',
    longRunningTimerIntervalDuration: '3.00:00:00',
  };
  let state: OrchestratorState;
  let failed = false;
  try {
    state = (await callback(trigger, context)) as OrchestratorState;
  } catch (err) {
    // OrchestrationFailureError carries the state after the message's JSON marker.
    const message = (err as Error).message;
    const marker = message.indexOf('$OutOfProcData$:');
    state = marker >= 0 ? (JSON.parse(message.slice(marker + '$OutOfProcData$:'.length)) as OrchestratorState) : { isDone: false, actions: [], error: message };
    state.error ??= message;
    failed = true;
  }
  const open: OpenWork[] = [];
  const openTasks = context.df?.taskOrchestratorExecutor?.openTasks;
  const continued = state.isDone ? flattenActions(state.actions).find((a) => a.actionType === ActionType.ContinueAsNew) : undefined;
  if (continued) return { state, failed, open, continueAsNew: { input: continued.input } };
  if (!failed && !state.isDone) {
    if (!openTasks) throw new Error('durable-functions did not expose its open tasks: this runtime supports durable-functions 3.x');
    for (const [key, task] of Object.entries(openTasks)) {
      const work = classify(Number(key), task);
      if (work) open.push(work);
    }
  }
  return { state, failed, open };
}

export interface LocalDurableOptions {
  /** Registered functions (see host.ts): orchestrations and activities by name. */
  functions: Map<string, RegisteredFunction>;
  /** Activities running at once across all instances (host.json maxConcurrentActivityFunctions). */
  maxConcurrentActivities?: number;
  /** Multiplies timer and retry delays (tests: 0). */
  timerScale?: number;
  log?: (level: string, message: string) => void;
  /** Base URL for the management URLs (no request, e.g. the CLI). */
  baseUrl?: string;
  /** How long completions may wait for the others in flight before the orchestrator replays (default 25 ms). */
  batchWindowMs?: number;
  /** Called as each activity returns (the CLI prints each file as it finishes); `attempt` 1 is the first try. */
  onActivityResult?: (name: string, result: unknown, attempt: number) => void;
}

interface Instance {
  id: string;
  /** continueAsNew generations so far (0: the first). */
  generation: number;
  /** The largest history (JSON bytes) any generation reached. */
  maxHistoryBytes: number;
  name: string;
  input: unknown;
  parentInstanceId?: string;
  status: RuntimeStatus;
  customStatus?: unknown;
  output?: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  history: HistoryEvent[];
  done: Promise<InstanceStatus>;
}

/** A counting semaphore for activities. */
class Slots {
  private waiting: Array<() => void> = [];
  private used = 0;
  constructor(private readonly size: number) {}
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.used >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.used++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.used--;
    }
  }
}

export class LocalDurableRuntime implements DurableStarter {
  private readonly instances = new Map<string, Instance>();
  private readonly slots: Slots;
  /** Activity calls in the order they started (tests assert on it). */
  readonly activityLog: Array<{ instanceId: string; name: string; id: number; attempt: number }> = [];
  /** Most activities in flight at once. */
  peakActivities = 0;
  private inFlight = 0;
  /** How far the runtime's clock is ahead of the wall clock (scaled timers move it). */
  private skewMs = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly options: LocalDurableOptions) {
    this.slots = new Slots(options.maxConcurrentActivities ?? 16);
  }

  async startNew(orchestrator: string, options: { instanceId?: string; input?: unknown } = {}): Promise<string> {
    return this.start(orchestrator, options.instanceId ?? randomUUID().replace(/-/g, ''), options.input);
  }

  private start(name: string, id: string, input: unknown, parentInstanceId?: string): string {
    const existing = this.instances.get(id);
    if (existing && ['Pending', 'Running'].includes(existing.status)) {
      throw new Error(`an instance with ID ${id} is already ${existing.status.toLowerCase()}`);
    }
    const fn = this.options.functions.get(name);
    if (!fn || fn.triggerType !== 'orchestrationTrigger') throw new Error(`no orchestration named ${name} is registered`);
    const now = new Date().toISOString();
    const instance: Instance = { id, name, input, parentInstanceId, status: 'Pending', createdTime: now, lastUpdatedTime: now, history: [], generation: 0, maxHistoryBytes: 0, done: undefined as never };
    this.instances.set(id, instance);
    instance.done = this.drive(instance, fn.callback);
    return id;
  }

  async getStatus(instanceId: string): Promise<InstanceStatus | undefined> {
    const instance = this.instances.get(instanceId);
    return instance && this.view(instance);
  }

  /** Resolves when the instance has finished (Completed or Failed). */
  async waitForCompletion(instanceId: string): Promise<InstanceStatus> {
    const instance = this.instances.get(instanceId);
    if (!instance) throw new Error(`no instance ${instanceId}`);
    return instance.done;
  }

  /** Resolves when every instance started so far (and any they start) has finished. */
  async idle(): Promise<void> {
    for (;;) {
      const running = [...this.instances.values()].filter((i) => i.status === 'Pending' || i.status === 'Running');
      if (!running.length) return;
      await Promise.all(running.map((i) => i.done));
    }
  }

  historyOf(instanceId: string): HistoryEvent[] {
    return this.instances.get(instanceId)?.history ?? [];
  }

  /**
   * What an instance's history weighs, as the extension would store it: the largest
   * generation (JSON bytes; continueAsNew starts a new one) and how many generations ran.
   */
  historySize(instanceId: string): { maxBytes: number; generations: number } | undefined {
    const instance = this.instances.get(instanceId);
    if (!instance) return undefined;
    return { maxBytes: Math.max(instance.maxHistoryBytes, JSON.stringify(instance.history).length), generations: instance.generation + 1 };
  }

  /** Every instance's ID (sub-orchestrations included). */
  instanceIds(): string[] {
    return [...this.instances.keys()];
  }

  /** The runtime's clock: the wall clock, moved ahead by timers that fired early (timerScale < 1). */
  now(): Date {
    return new Date(Date.now() + this.skewMs);
  }

  /**
   * Stops starting work: pending timers are dropped, queued activities never start, and
   * this resolves once the activities in flight have returned. Orchestrations left waiting
   * are abandoned (what they had not loaded is not in the ledger, so a later sweep finds it).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    while (this.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  managementUrls(request: HttpRequest | undefined, instanceId: string): ManagementUrls {
    const origin = request ? new URL(request.url).origin : (this.options.baseUrl ?? 'http://localhost:7071');
    const base = `${origin}/runtime/webhooks/durabletask/instances/${encodeURIComponent(instanceId)}`;
    const query = '?taskHub=local&connection=Storage';
    return {
      id: instanceId,
      statusQueryGetUri: base + query,
      sendEventPostUri: `${base}/raiseEvent/{eventName}${query}`,
      terminatePostUri: `${base}/terminate${query}&reason={text}`,
      rewindPostUri: `${base}/rewind${query}&reason={text}`,
      purgeHistoryDeleteUri: base + query,
      restartPostUri: `${base}/restart${query}`,
      suspendPostUri: `${base}/suspend${query}&reason={text}`,
      resumePostUri: `${base}/resume${query}&reason={text}`,
    };
  }

  private view(instance: Instance): InstanceStatus {
    return {
      instanceId: instance.id,
      name: instance.name,
      runtimeStatus: instance.status,
      customStatus: instance.customStatus,
      output: instance.output,
      createdTime: instance.createdTime,
      lastUpdatedTime: instance.lastUpdatedTime,
    };
  }

  private async drive(instance: Instance, callback: FunctionCallback): Promise<InstanceStatus> {
    await Promise.resolve();
    let events = instance.history;
    events.push(history.orchestratorStarted(this.now()), history.executionStarted(instance.name, instance.input, this.now(), instance.parentInstanceId));
    instance.status = 'Running';
    const ready: HistoryEvent[] = [];
    let wake: (() => void) | undefined;
    const deliver = (event: HistoryEvent) => {
      ready.push(event);
      wake?.();
    };
    const started = new Set<number>();
    let pending = 0;
    for (;;) {
      const episode = await runEpisode(callback, {
        instanceId: instance.id,
        name: instance.name,
        input: instance.input,
        history: events,
        parentInstanceId: instance.parentInstanceId,
        log: this.options.log,
      });
      instance.lastUpdatedTime = new Date().toISOString();
      if (episode.state.customStatus !== undefined) instance.customStatus = episode.state.customStatus;
      if (episode.failed) {
        events.push(history.orchestratorCompleted(), history.event(EventType.ExecutionFailed, { Reason: episode.state.error }));
        instance.status = 'Failed';
        instance.output = episode.state.error;
        break;
      }
      if (episode.continueAsNew) {
        // A new generation: fresh history, new input, same instance (nothing is in flight:
        // continueAsNew is the episode's last action).
        instance.maxHistoryBytes = Math.max(instance.maxHistoryBytes, JSON.stringify(events).length);
        instance.generation++;
        instance.input = episode.continueAsNew.input;
        instance.history = events = [history.orchestratorStarted(this.now()), history.executionStarted(instance.name, instance.input, this.now(), instance.parentInstanceId)];
        started.clear();
        continue;
      }
      if (episode.state.isDone) {
        events.push(history.orchestratorCompleted(), history.event(EventType.ExecutionCompleted, { Result: JSON.stringify(episode.state.output ?? null) }));
        instance.status = 'Completed';
        instance.output = episode.state.output;
        break;
      }
      for (const work of episode.open) {
        if (started.has(work.id)) continue;
        started.add(work.id);
        pending++;
        this.dispatch(instance, work, events).then(deliver, (err: unknown) => deliver(history.taskFailed(work.id, String(err))));
      }
      events.push(history.orchestratorCompleted());
      if (pending === 0) {
        events.push(history.event(EventType.ExecutionFailed, { Reason: 'the orchestrator is waiting on nothing this runtime can deliver' }));
        instance.status = 'Failed';
        instance.output = 'the orchestrator is waiting on nothing this runtime can deliver';
        break;
      }
      if (!ready.length) await new Promise<void>((resolve) => (wake = resolve));
      // Batch as the extension does: replay once everything in flight has finished, or
      // after a short window (a wave of copies wakes the orchestrator once, not per copy).
      const deadline = Date.now() + (this.options.batchWindowMs ?? 25);
      while (ready.length < pending && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, Math.max(1, deadline - Date.now()));
        });
      }
      wake = undefined;
      // Everything that completed meanwhile goes into one episode, as the extension batches.
      const batch = ready.splice(0);
      pending -= batch.length;
      events.push(history.orchestratorStarted(this.now()), ...batch);
    }
    instance.lastUpdatedTime = new Date().toISOString();
    return this.view(instance);
  }

  /** Starts one piece of work; resolves with the history event that completes it. */
  private dispatch(instance: Instance, work: OpenWork, events: HistoryEvent[]): Promise<HistoryEvent> {
    const scale = this.options.timerScale ?? 1;
    switch (work.kind) {
      case 'activity': {
        // With its input, as the extension stores it (historySize reports what a run weighs).
        events.push(history.taskScheduled(work.id, work.name, work.input, this.now()));
        return this.runActivity(instance, work);
      }
      case 'timer': {
        const now = this.now().getTime();
        const delay = work.delayMs ?? Math.max(0, (work.fireAt?.getTime() ?? now) - now);
        const fireAt = new Date(now + delay);
        events.push(history.timerCreated(work.id, fireAt, this.now()));
        if (this.stopped) return new Promise(() => undefined);
        return new Promise((resolve) => {
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            // A scaled timer fired early: the clock jumps to its fire time, as if it had waited.
            this.skewMs = Math.max(this.skewMs, fireAt.getTime() - Date.now());
            resolve(history.timerFired(work.id, fireAt, this.now()));
          }, delay * scale);
          this.timers.add(timer);
        });
      }
      case 'subOrchestration': {
        const childId = work.instanceId ?? `${instance.id}:${work.id}`;
        events.push(history.subOrchestrationCreated(work.id, work.name, childId, work.input));
        const fn = this.options.functions.get(work.name);
        if (!fn) return Promise.resolve(history.subOrchestrationFailed(work.id, `no orchestration named ${work.name} is registered`));
        this.start(work.name, childId, work.input, instance.id);
        return this.waitForCompletion(childId).then((status) =>
          status.runtimeStatus === 'Completed' ? history.subOrchestrationCompleted(work.id, status.output) : history.subOrchestrationFailed(work.id, String(status.output)),
        );
      }
    }
  }

  private async runActivity(instance: Instance, work: Extract<OpenWork, { kind: 'activity' }>): Promise<HistoryEvent> {
    const fn = this.options.functions.get(work.name);
    if (!fn || fn.triggerType !== 'activityTrigger') return history.taskFailed(work.id, `no activity named ${work.name} is registered`);
    return this.slots.run(async () => {
      if (this.stopped) return new Promise<HistoryEvent>(() => undefined);
      this.activityLog.push({ instanceId: instance.id, name: work.name, id: work.id, attempt: work.attempt });
      this.inFlight++;
      this.peakActivities = Math.max(this.peakActivities, this.inFlight);
      try {
        const context = new InvocationContext({
          functionName: work.name,
          invocationId: randomUUID(),
          logHandler: (level, ...args) => this.options.log?.(level, args.map(String).join(' ')),
        });
        // The extension hands the activity its input after a JSON round trip.
        const input = work.input === undefined ? undefined : JSON.parse(JSON.stringify(work.input));
        const result = await fn.callback(input, context);
        this.options.onActivityResult?.(work.name, result, work.attempt);
        return history.taskCompleted(work.id, result);
      } catch (err) {
        const details = failureDetailsOf(err);
        return history.taskFailed(work.id, details.ErrorMessage, details.StackTrace ?? '', this.now(), details);
      } finally {
        this.inFlight--;
      }
    });
  }
}
