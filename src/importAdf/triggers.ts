/**
 * ADF triggers that start a pipeline → blob2pg `triggers`.
 *  - BlobEventsTrigger (Microsoft.Storage.BlobCreated) → `{ type: "BlobCreated" }`: the app's
 *    Event Grid function loads each new blob that matches the pipeline's prefix/wildcard.
 *  - ScheduleTrigger → `{ type: "Schedule", schedule }` as a six-field NCRONTAB.
 *  - TumblingWindowTrigger → a Schedule at the window's frequency. blob2pg has no windows:
 *    its ledger loads each blob version once, so a run reads every blob not yet loaded; the
 *    window's start time becomes `modifiedAfter` when the copy filtered on the window.
 */
import { isExpression, isObject, type AdfFactory, type AdfResource, type FindingScope, type Findings, type Json } from './model.js';

export interface TriggerResult {
  triggers: Json[];
  /** The earliest tumbling-window start, for a copy that filtered on the window. */
  windowStart?: string;
  /** Blob event triggers' `blobPathBeginsWith`, to check against the source. */
  blobPaths: { trigger: string; container?: string; prefix?: string; endsWith?: string }[];
}

function references(trigger: AdfResource, pipeline: string): Json[] {
  const p = trigger.properties;
  const refs: unknown[] = Array.isArray(p.pipelines) ? p.pipelines : isObject(p.pipeline) ? [p.pipeline] : [];
  return refs.filter((r): r is Json => isObject(r) && isObject(r.pipelineReference) && r.pipelineReference.referenceName === pipeline);
}

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

const list = (values: unknown, fallback: number): string | undefined => {
  if (values === undefined) return String(fallback);
  if (!Array.isArray(values) || !values.length || !values.every((v) => Number.isInteger(v) && v >= 0)) return undefined;
  return [...new Set(values as number[])].sort((a, b) => a - b).join(',');
};
const every = (n: number) => (n > 1 ? `*/${n}` : '*');

/** ADF recurrence → NCRONTAB (second minute hour day month weekday); undefined + a finding when it cannot. */
export function recurrenceToCron(frequency: unknown, interval: unknown, startTime: unknown, schedule: unknown, scope: FindingScope): string | undefined {
  const n = typeof interval === 'number' && interval >= 1 ? Math.floor(interval) : 1;
  // The wall-clock time ADF starts from (its own time zone): read it from the text, not as an instant.
  const clock = typeof startTime === 'string' ? /T(\d{2}):(\d{2})/.exec(startTime) : null;
  const startHour = clock ? Number(clock[1]) : 0;
  const startMinute = clock ? Number(clock[2]) : 0;
  const s: Json = isObject(schedule) ? schedule : {};
  const minutes = list(s.minutes, startMinute);
  const hours = list(s.hours, startHour);
  if (!minutes || !hours) {
    scope.unsupported('schedule', 'minutes/hours must be lists of numbers');
    return undefined;
  }
  const uneven = (unit: string, period: number) => {
    if (period % n) scope.changed('interval', `every ${n} ${unit}s: NCRONTAB steps restart each ${unit === 'minute' ? 'hour' : unit === 'hour' ? 'day' : 'month'}, so the gap at the boundary is shorter`);
  };
  switch (frequency) {
    case 'Minute':
      uneven('minute', 60);
      return `0 ${every(n)} * * * *`;
    case 'Hour':
      uneven('hour', 24);
      return `0 ${minutes} ${every(n)} * * *`;
    case 'Day':
      if (n > 1) uneven('day', 30);
      return `0 ${minutes} ${hours} ${every(n)} * *`;
    case 'Week': {
      if (n > 1) scope.changed('interval', `every ${n} weeks: NCRONTAB has no week step; the schedule runs every week (the ledger skips nothing it has loaded, so extra runs load only new blobs)`);
      const days = Array.isArray(s.weekDays) ? s.weekDays.map((d) => WEEKDAYS.indexOf(String(d).toLowerCase())) : [typeof startTime === 'string' && !Number.isNaN(Date.parse(startTime)) ? new Date(startTime).getUTCDay() : 0];
      if (days.some((d) => d < 0)) {
        scope.unsupported(['schedule', 'weekDays'], 'unknown week day');
        return undefined;
      }
      return `0 ${minutes} ${hours} * * ${[...new Set(days)].sort().join(',')}`;
    }
    case 'Month': {
      if (s.monthlyOccurrences !== undefined) {
        scope.unsupported(['schedule', 'monthlyOccurrences'], '"the first Monday of the month" has no NCRONTAB form');
        return undefined;
      }
      const days = Array.isArray(s.monthDays) ? s.monthDays : [typeof startTime === 'string' && !Number.isNaN(Date.parse(startTime)) ? new Date(startTime).getUTCDate() : 1];
      if (!days.every((d) => Number.isInteger(d) && d >= 1 && d <= 31)) {
        scope.unsupported(['schedule', 'monthDays'], 'negative month days (counting from the end) have no NCRONTAB form');
        return undefined;
      }
      return `0 ${minutes} ${hours} ${[...new Set(days as number[])].sort((a, b) => a - b).join(',')} ${every(n)} *`;
    }
    default:
      scope.unsupported('frequency', `frequency ${JSON.stringify(frequency)}`);
      return undefined;
  }
}

export function translateTriggers(factory: AdfFactory, pipeline: string, findings: Findings): TriggerResult {
  const result: TriggerResult = { triggers: [], blobPaths: [] };
  for (const trigger of [...factory.triggers.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const refs = references(trigger, pipeline);
    if (!refs.length) continue;
    const scope = findings.scope(`trigger/${trigger.name}`, 'properties');
    const p = trigger.properties;
    const tp: Json = isObject(p.typeProperties) ? p.typeProperties : {};
    if (p.runtimeState === 'Stopped') {
      scope.changed('runtimeState', 'the trigger was stopped in ADF: not added to the blob2pg pipeline');
      continue;
    }
    refs.forEach((ref) => {
      if (!isObject(ref.parameters)) return;
      for (const [name, value] of Object.entries(ref.parameters)) {
        if (/window(Start|End)Time/.test(JSON.stringify(value))) continue; // handled with the modified window
        scope.unsupported(['pipelines', 'parameters', name], `the trigger passes ${JSON.stringify(value)} to pipeline parameter "${name}": blob2pg pipelines take no parameters${/triggerBody\(\)/.test(JSON.stringify(value)) ? ' (the blob that fired: blob2pg\'s BlobCreated trigger loads each new blob matching the pipeline\'s prefix/wildcard)' : ''}`);
      }
    });
    switch (p.type) {
      case 'BlobEventsTrigger': {
        const events = Array.isArray(tp.events) ? tp.events : [];
        if (!events.includes('Microsoft.Storage.BlobCreated')) {
          scope.unsupported(['typeProperties', 'events'], `events ${JSON.stringify(events)}: blob2pg reacts to BlobCreated only`);
          break;
        }
        if (events.length > 1) scope.unsupported(['typeProperties', 'events'], 'BlobDeleted: blob2pg never reacts to deletions');
        result.triggers.push({ type: 'BlobCreated' });
        // `/container/blobs/folder/` (ADF's path form) → container + name prefix.
        const begins = typeof tp.blobPathBeginsWith === 'string' ? /^\/?([^/]+)\/blobs\/?(.*)$/.exec(tp.blobPathBeginsWith) : null;
        result.blobPaths.push({
          trigger: trigger.name,
          ...(begins ? { container: begins[1], prefix: begins[2] } : {}),
          ...(typeof tp.blobPathEndsWith === 'string' ? { endsWith: tp.blobPathEndsWith } : {}),
        });
        if (tp.ignoreEmptyBlobs !== undefined) scope.ignored(['typeProperties', 'ignoreEmptyBlobs'], 'an empty blob loads zero rows in blob2pg');
        if (tp.scope !== undefined) scope.ignored(['typeProperties', 'scope'], 'the Event Grid subscription on the storage account is created by the deployment (infra/), see docs/pipelines.md "Triggers"');
        break;
      }
      case 'ScheduleTrigger': {
        const rec: Json = isObject(tp.recurrence) ? tp.recurrence : {};
        const recScope = scope.child('typeProperties', 'recurrence');
        if (isExpression(rec.frequency) || isExpression(rec.interval)) {
          recScope.unsupported([], 'an expression in the recurrence');
          break;
        }
        const cron = recurrenceToCron(rec.frequency, rec.interval, rec.startTime, rec.schedule, recScope);
        if (cron) result.triggers.push({ type: 'Schedule', schedule: cron });
        if (typeof rec.timeZone === 'string' && !/^(UTC|Coordinated Universal Time)$/i.test(rec.timeZone)) {
          recScope.changed('timeZone', `${rec.timeZone}: the Functions timer runs in UTC unless the app setting WEBSITE_TIME_ZONE is set (to "${rec.timeZone}" on Windows plans, or the IANA name on Linux)`);
        }
        if (rec.endTime !== undefined) recScope.unsupported('endTime', 'the Functions timer has no end time: remove the trigger when it should stop');
        break;
      }
      case 'TumblingWindowTrigger': {
        const cron = recurrenceToCron(tp.frequency, tp.interval, tp.startTime, undefined, scope.child('typeProperties'));
        if (cron) result.triggers.push({ type: 'Schedule', schedule: cron });
        if (typeof tp.startTime === 'string' && !Number.isNaN(Date.parse(tp.startTime))) {
          const start = new Date(tp.startTime).toISOString();
          if (!result.windowStart || start < result.windowStart) result.windowStart = start;
        }
        if (tp.delay !== undefined && tp.delay !== '00:00:00') scope.unsupported(['typeProperties', 'delay'], 'the timer fires on time; shift the schedule instead');
        if (Array.isArray(tp.dependsOn) && tp.dependsOn.length) scope.unsupported(['typeProperties', 'dependsOn'], 'trigger dependencies have no blob2pg equivalent');
        if (tp.endTime !== undefined) scope.unsupported(['typeProperties', 'endTime'], 'the Functions timer has no end time');
        if (tp.maxConcurrency !== undefined) scope.ignored(['typeProperties', 'maxConcurrency'], 'one run at a time per pipeline; blobs in a run load maxParallelCopies at once');
        if (tp.retryPolicy !== undefined) scope.ignored(['typeProperties', 'retryPolicy'], 'blob2pg retries transient failures per blob');
        break;
      }
      default:
        scope.unsupported('type', `a ${String(p.type)}: blob2pg starts pipelines on blob creation or on a schedule`);
    }
  }
  return result;
}
