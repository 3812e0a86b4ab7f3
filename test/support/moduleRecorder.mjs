/**
 * `node --import ./moduleRecorder.mjs …`: records every module the process loads into the
 * file named by MODULE_LOG, one per line — ES modules as resolved URLs (a resolve hook,
 * which runs on the loader thread), CommonJS modules as paths (require.cache at exit), and
 * Node's own built-in modules as `builtin:<id>` (process.moduleLoadList at exit: internal
 * ones too, which no hook sees — e.g. the undici a `new Response()` loads).
 * Plain JavaScript: the child runs the compiled CLI without vitest's TypeScript transform.
 */
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const log = process.env.MODULE_LOG;
if (log) {
  const hook = `
    import { appendFileSync } from 'node:fs';
    export async function resolve(specifier, context, next) {
      const resolved = await next(specifier, context);
      appendFileSync(${JSON.stringify(log)}, resolved.url + '\\n');
      return resolved;
    }`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
  const cache = createRequire(import.meta.url).cache;
  process.on('exit', () => {
    const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => `builtin:${m.slice('NativeModule '.length)}`);
    appendFileSync(log, [...Object.keys(cache), ...builtins].join('\n') + '\n');
  });
}
