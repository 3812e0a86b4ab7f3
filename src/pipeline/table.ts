/**
 * What a target table looks like: the description sink/tableInfo.ts reads from the catalog,
 * and what mapping, the formats and the sink plan against. Types only, so every layer above
 * the pipeline spec can name a column without importing the sink.
 */
import type { TableName } from './spec.js';

export interface TableColumn {
  name: string;
  /** `format_type()` text, e.g. `numeric(12,2)`, usable in a cast. */
  type: string;
  /**
   * The type without its modifier (`character varying`, `bpchar`, `numeric`; `format_type(oid, -1)`).
   * Casts use it: an explicit cast to `varchar(3)` or `bit(3)` silently truncates, while
   * assigning the unmodified value to the column checks the modifier the way the column's
   * input function (and so COPY) does.
   */
  baseType: string;
  notNull: boolean;
  hasDefault: boolean;
  /** Generated or GENERATED ALWAYS identity: never written. */
  writable: boolean;
  /** The Citus distribution column: `notNull` is set, since Citus refuses a NULL there (22004). */
  distribution?: true;
}

/**
 * How Citus holds the table (pg_dist_partition), when it does:
 *  - `distributed`: hash-distributed by `distributionColumn`;
 *  - `reference`: one shard replicated to every node;
 *  - `local`: a Citus managed local table or a single-shard table (schema-based sharding),
 *    no distribution column.
 */
export interface CitusTable {
  kind: 'distributed' | 'reference' | 'local';
  distributionColumn: string | null;
}

export interface TableInfo {
  table: TableName;
  columns: TableColumn[];
  /** Primary-key columns in key order; empty when the table has none. */
  primaryKey: string[];
  /**
   * Column sets of unique indexes an `ON CONFLICT (cols)` can use as arbiter: plain
   * columns, no predicate, not deferrable (https://www.postgresql.org/docs/current/sql-insert.html#SQL-ON-CONFLICT).
   */
  uniqueKeys: string[][];
  /** Set when the table is a Citus table; undefined on plain PostgreSQL and for Citus' plain local tables. */
  citus?: CitusTable;
}
