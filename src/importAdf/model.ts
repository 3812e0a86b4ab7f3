/**
 * Shared vocabulary of the ADF importer: the factory resources it reads, the findings it
 * reports, and the helpers that recognise ADF expressions. Pure: no I/O.
 */

/** One ADF resource as the Git integration stores it: `{ name, properties }`. */
export interface AdfResource {
  name: string;
  /** The resource's `properties` object (`type`, `typeProperties`, …). */
  properties: Record<string, unknown>;
  /** Where it was read from, for the report: a file, or `ARMTemplateForFactory.json#resources[3]`. */
  origin: string;
}

export interface AdfFactory {
  pipelines: Map<string, AdfResource>;
  datasets: Map<string, AdfResource>;
  linkedServices: Map<string, AdfResource>;
  triggers: Map<string, AdfResource>;
  /** Only these pipelines are imported (a single pipeline file); undefined = all. */
  only?: string[];
}

/**
 * - `unsupported`: the ADF property has no blob2pg equivalent; its behaviour is lost
 *   (fails `--strict`).
 * - `changed`: translated, but blob2pg behaves differently; read before deploying.
 * - `ignored`: has no effect in blob2pg (ADF runtime tuning, UI metadata).
 */
export type FindingLevel = 'unsupported' | 'changed' | 'ignored';

export interface Finding {
  level: FindingLevel;
  /** JSON path inside the ADF resource, e.g. `properties.activities[0].typeProperties.sink.writeBatchTimeout`. */
  path: string;
  /** The resource the path is in: `pipeline/Load`, `dataset/OrdersCsv`, `trigger/Nightly`. */
  resource: string;
  message: string;
}

/** An app setting the user must set for a generated connection. Never holds a secret. */
export interface RequiredSetting {
  name: string;
  /** A value taken from ADF when it is not secret (a service URI, host, database, user). */
  value?: string;
  /** What to put there when there is no value to copy. */
  description: string;
  /** The ADF linked service it stands for. */
  linkedService: string;
}

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * An ADF expression: a string starting with `@` (`@@` escapes a literal `@`) or
 * `{ "value": "@…", "type": "Expression" }`. String interpolation `…@{…}…` counts too.
 */
export function isExpression(value: unknown): boolean {
  if (isObject(value) && value.type === 'Expression') return true;
  if (typeof value !== 'string') return false;
  return (value.startsWith('@') && !value.startsWith('@@')) || value.includes('@{');
}

/** ARM template expression: `[parameters('x')]` (`[[` escapes a literal `[`). */
export function isArmExpression(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('[') && !value.startsWith('[[') && value.endsWith(']');
}

/** `a.b[0].c` */
export function joinPath(base: string, ...keys: (string | number)[]): string {
  // `'typeProperties.sink'` is shorthand for two keys.
  keys = keys.flatMap((k) => (typeof k === 'string' && /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)+$/.test(k) ? k.split('.') : [k]));
  return keys.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? (acc ? `${acc}.${key}` : key) : `${acc}[${JSON.stringify(key)}]`), base);
}

/** Collects findings for one resource at a time; `at(path)` keeps call sites short. */
export class Findings {
  readonly list: Finding[] = [];

  add(level: FindingLevel, resource: string, path: string, message: string): void {
    // A dataset or linked service used by several copies is reported once.
    if (this.list.some((f) => f.level === level && f.resource === resource && f.path === path && f.message === message)) return;
    this.list.push({ level, resource, path, message });
  }

  /** A scope bound to one resource and a base path. */
  scope(resource: string, base: string): FindingScope {
    return new FindingScope(this, resource, base);
  }
}

export class FindingScope {
  constructor(
    readonly findings: Findings,
    readonly resource: string,
    readonly base: string,
  ) {}

  child(...keys: (string | number)[]): FindingScope {
    return new FindingScope(this.findings, this.resource, joinPath(this.base, ...keys));
  }

  path(...keys: (string | number)[]): string {
    return joinPath(this.base, ...keys);
  }

  unsupported(key: string | number | (string | number)[], message: string): void {
    this.findings.add('unsupported', this.resource, this.path(...[key].flat()), message);
  }

  changed(key: string | number | (string | number)[], message: string): void {
    this.findings.add('changed', this.resource, this.path(...[key].flat()), message);
  }

  ignored(key: string | number | (string | number)[], message: string): void {
    this.findings.add('ignored', this.resource, this.path(...[key].flat()), message);
  }
}

/** Thrown inside a translation when a property the pipeline cannot do without does not translate. */
export class Untranslatable extends Error {
  constructor(
    readonly resource: string,
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** `Load Orders (daily)` → `LOAD_ORDERS_DAILY`: an app-setting name derived from an ADF name. */
export function settingName(adfName: string): string {
  const snake = adfName
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toUpperCase();
  return /^[A-Z]/.test(snake) ? snake : `ADF_${snake}`;
}

/** A blob2pg pipeline name (`[A-Za-z0-9][A-Za-z0-9_.-]{0,119}`) from ADF names. */
export function pipelineName(...parts: string[]): string {
  const name = parts
    .map((p) => p.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, ''))
    .filter(Boolean)
    .join('.')
    .replace(/^[^A-Za-z0-9]+/, '');
  return (name || 'pipeline').slice(0, 120);
}
