/**
 * `blob2pg validate`: everything that can be checked before a load, reported at once —
 * both connections, the table, and the mapping against the table's real columns and the
 * first matching blob's header.
 */
import { sourceFiles } from '../format/index.js';
import { checkMapping } from '../pipeline/mapping.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import { containerFor, listBlobs, type BlobRef } from '../source/blobs.js';
import { blobSource } from '../source/blobSource.js';
import { poolFor, withClient } from '../sink/index.js';
import { parallelCopyProblem } from '../sink/parallelCopy.js';
import { displayTable } from '../sink/sql.js';
import { serverVersionNum, serverVersionProblem } from '../sink/serverVersion.js';
import type { TableInfo } from '../pipeline/table.js';
import { describeTable } from '../sink/tableInfo.js';
import { checkUpsertTarget } from '../sink/upsert.js';
import type { Env } from '../connections/settings.js';

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function validatePipeline(spec: PipelineSpec, env: Env = process.env): Promise<string[]> {
  const problems: string[] = [];
  let firstBlob: BlobRef | undefined;
  try {
    const container = containerFor(spec, env);
    if (!(await container.exists())) problems.push(`source: container "${spec.source.container}" does not exist`);
    else {
      for await (const blob of listBlobs(spec, { env })) {
        firstBlob = blob;
        break;
      }
      if (!firstBlob) problems.push(`source: no blob matches prefix "${spec.source.prefix}"${spec.source.wildcard ? ` and wildcard "${spec.source.wildcard}"` : ''} (a warning: the pipeline loads nothing yet)`);
    }
  } catch (err) {
    problems.push(`source.connection ${spec.source.connection}: ${message(err)}`);
  }

  let table: TableInfo | undefined;
  try {
    const parallel = await withClient(poolFor(spec.sink.connection, env), async (client) => {
      const versionProblem = serverVersionProblem(await serverVersionNum(client));
      if (versionProblem) problems.push(`sink.connection ${spec.sink.connection}: ${versionProblem}`);
      table = await describeTable(client, spec.sink.table);
      return parallelCopyProblem(client, spec);
    });
    if (parallel) problems.push(parallel);
  } catch (err) {
    problems.push(`sink: ${displayTable(spec.sink.table)}: ${message(err)}`);
  }

  // Upsert: the keys (named, or the primary key) must exist, contain a Citus table's
  // distribution column, and be fed by the mapping.
  let upsertKeys: string[] | undefined;
  if (table && spec.sink.writeMethod === 'Upsert') {
    try {
      upsertKeys = checkUpsertTarget(spec.sink.upsertSettings?.keys, table).keys;
    } catch (err) {
      problems.push(`sink.upsertSettings.keys: ${message(err)}`);
    }
  }

  if (table && firstBlob) {
    try {
      // The first file of the blob (an archive's first entry) stands for the rest.
      const source = blobSource(spec, firstBlob, { env });
      try {
        for await (const file of sourceFiles(source, spec.source.format)) {
          const decoded = await file.decode({ tableColumns: table.columns, mapping: spec.mapping });
          decoded.body.destroy();
          const { problems: mappingProblems } = checkMapping(decoded.mapping ?? spec.mapping, decoded.header, decoded.fieldCount, table.columns, { keys: upsertKeys });
          const name = file.entry === undefined ? firstBlob.name : `${firstBlob.name}/${file.entry}`;
          for (const p of mappingProblems) problems.push(`${p.path} (checked against ${name}): ${p.message}`);
          break;
        }
      } finally {
        source.destroy();
      }
    } catch (err) {
      problems.push(`source: ${firstBlob.name}: ${message(err)}`);
    }
  }
  return problems;
}
