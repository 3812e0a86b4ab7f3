/**
 * The Functions app's entry point (package.json "main"): loads the pipelines folder and
 * registers every function. Invalid pipeline files are logged here and listed by
 * GET /api/pipelines; the others load.
 */
import { appPipelines } from '../src/app/pipelines.js';
import './orchestrator.js';
import './activities.js';
import './blobEvents.js';
import './timers.js';
import './http.js';
import './ui.js';

const loaded = appPipelines();
for (const { file, issues } of loaded.errors) {
  console.error(`blob2pg: ${file}: invalid pipeline spec:\n${issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`).join('\n')}`);
}
console.log(`blob2pg: ${loaded.pipelines.size} pipeline(s) loaded from ${loaded.folder}: ${[...loaded.pipelines.keys()].join(', ') || '(none)'}`);
