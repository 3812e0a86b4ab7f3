/**
 * Build-time stubs for the CLI bundle only (src/deploy/bundleCli.ts; the deploy package keeps
 * the real modules). `blob2pg run` drives the deployed orchestrator and activities through
 * durable-functions' own replay, but it starts and reads orchestrations through the local
 * runtime (src/local/durable.ts, installed with setStarterFactory), never through
 * durable-functions' HTTP client. That client is what makes durable-functions heavy at load:
 * durableClient/getClient.js loads DurableClient (axios with form-data, mime-db,
 * follow-redirects and http2, @opentelemetry/api) and validator — about half of the
 * durable-functions chunk, evaluated at every start (bench/README.md, "Start-up").
 *
 * The stub keeps getClient.js's exports: isDurableClientInput (used while registering
 * client functions) as the original, and getClient throwing an error that says why, should a
 * CLI path ever reach it.
 */
import type { Plugin } from 'esbuild';

/** In the stub's error message, so a test can find the stub in a bundle. */
export const DURABLE_CLIENT_STUB_MARK = 'blob2pg-cli-stub:durable-client';

const GET_CLIENT = /[\\/]node_modules[\\/]durable-functions[\\/]lib[\\/]src[\\/]durableClient[\\/]getClient\.js$/;

const STUB = `"use strict";
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

/** Replaces durable-functions' getClient module; the build fails if the module was not met (a durable-functions upgrade moved it). */
export function cliStubsPlugin(): Plugin {
  return {
    name: 'blob2pg-cli-stubs',
    setup(build) {
      let stubbed = false;
      build.onLoad({ filter: GET_CLIENT }, () => {
        stubbed = true;
        return { contents: STUB, loader: 'js' };
      });
      build.onEnd((result) => {
        if (!stubbed && !result.errors.length) {
          result.errors.push({ id: '', pluginName: 'blob2pg-cli-stubs', text: 'durable-functions/lib/src/durableClient/getClient.js was not in the bundle: the CLI stub no longer applies (check src/deploy/cliStubs.ts against the installed durable-functions)', location: null, notes: [], detail: undefined });
        }
      });
    },
  };
}
