/**
 * Build-time replacements for the CLI bundle only (src/deploy/bundleCli.ts; the deploy package
 * keeps every module as published). Each one removes start-up work a `blob2pg` process does
 * for nothing (bench/README.md, "Start-up"):
 *
 * - durable-functions' HTTP client. `blob2pg run` drives the deployed orchestrator and
 *   activities through durable-functions' own replay, but starts and reads orchestrations
 *   through the local runtime (src/local/durable.ts, installed with setStarterFactory), never
 *   through df.getClient. durableClient/getClient.js loads DurableClient (axios with
 *   form-data, mime-db, follow-redirects and http2; @opentelemetry/api) and validator: about
 *   half of the durable-functions chunk, evaluated at every start. The stub keeps the module's
 *   exports: isDurableClientInput (used while registering client functions) as the original,
 *   and getClient throwing an error that says why, should a CLI path ever reach it.
 * - Two checks that load Node's bundled undici (with http2, worker_threads, perf_hooks: ~35 ms
 *   of CPU and ~10 MB RSS) just to answer "no": pg/lib/stream.js asks at load whether it runs
 *   in a Cloudflare Worker, and on Node 20 (no `navigator`) answers by constructing a
 *   `Response`; @typespec/ts-http-runtime's formData policy tests every request body with
 *   `instanceof FormData`. The CLI runs on Node, and a FormData body is still recognised by
 *   its tag (undici's FormData has Symbol.toStringTag "FormData"), without touching the global.
 * - zod's locales: `import { z } from 'zod'` re-exports `z.locales`, every language's error
 *   messages (358 KB of the 734 KB zod chunk), which esbuild cannot drop from a namespace
 *   export. blob2pg prints zod's English messages only (the default, which zod's schemas import
 *   from locales/en.js themselves); `z.locales` keeps `en`.
 *
 * The build fails when a replacement no longer applies (an upgrade moved or changed the code):
 * a stub that silently stopped applying would only show as a slower start.
 */
import { readFile } from 'node:fs/promises';
import type { Plugin } from 'esbuild';

/** In the stub's error message, so a test can find the stub in a bundle. */
export const DURABLE_CLIENT_STUB_MARK = 'blob2pg-cli-stub:durable-client';

const DURABLE_CLIENT_STUB = `"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
function getClient() {
  throw new Error("${DURABLE_CLIENT_STUB_MARK}: durable-functions' HTTP client is not in the blob2pg CLI build; the CLI starts orchestrations through its local runtime (setStarterFactory). Reaching this is a bug.");
}
exports.getClient = getClient;
function isDurableClientInput(input) {
  return input.type === "durableClient" || input.type === "orchestrationClient";
}
exports.isDurableClientInput = isDurableClientInput;
`;

interface Replacement {
  /** Package-relative name, for messages. */
  module: string;
  filter: RegExp;
  /** The whole module's new text … */
  contents?: string;
  /** … or one exact piece of it (it must occur exactly once) and what replaces it. */
  edit?: [from: string, to: string];
}

const REPLACEMENTS: Replacement[] = [
  { module: 'durable-functions/lib/src/durableClient/getClient.js', filter: /[\\/]node_modules[\\/]durable-functions[\\/]lib[\\/]src[\\/]durableClient[\\/]getClient\.js$/, contents: DURABLE_CLIENT_STUB },
  { module: 'pg/lib/stream.js', filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/, edit: ['if (isCloudflareRuntime()) {', 'if (false) {'] },
  { module: 'zod/v4/locales/index.js', filter: /[\\/]node_modules[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/, contents: 'export { default as en } from "./en.js";\n' },
  {
    module: '@typespec/ts-http-runtime/dist/{esm,commonjs}/formData.js',
    filter: /[\\/]node_modules[\\/]@typespec[\\/]ts-http-runtime[\\/]dist[\\/](esm|commonjs)[\\/]formData\.js$/,
    edit: ['typeof FormData !== "undefined" && body instanceof FormData', 'Object.prototype.toString.call(body) === "[object FormData]"'],
  },
];

export function cliStubsPlugin(): Plugin {
  return {
    name: 'blob2pg-cli-stubs',
    setup(build) {
      const applied = new Set<string>();
      for (const replacement of REPLACEMENTS) {
        build.onLoad({ filter: replacement.filter }, async (args) => {
          let contents = replacement.contents;
          if (replacement.edit) {
            const [from, to] = replacement.edit;
            const source = await readFile(args.path, 'utf8');
            if (source.split(from).length !== 2) return { errors: [{ text: `${args.path} no longer has exactly one "${from}": check src/deploy/cliStubs.ts against the installed package` }] };
            contents = source.replace(from, to);
          }
          applied.add(replacement.module);
          return { contents, loader: 'js' };
        });
      }
      build.onEnd((result) => {
        if (result.errors.length) return;
        for (const { module } of REPLACEMENTS) {
          if (!applied.has(module)) result.errors.push({ id: '', pluginName: 'blob2pg-cli-stubs', text: `${module} was not in the bundle: the CLI's replacement no longer applies (check src/deploy/cliStubs.ts against the installed package)`, location: null, notes: [], detail: undefined });
        }
      });
    },
  };
}
