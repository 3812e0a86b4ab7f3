/**
 * Readable stack traces for the bundled CLI, paid for only when a stack is formatted.
 *
 * `process.setSourceMapsEnabled(true)` (or `--enable-source-maps`) makes Node read and index
 * the source map of every module as it loads: for the CLI's chunks (~7 MB of maps) that was
 * ~90 ms of CPU and ~10 MB RSS in every one-row `run` (bench/README.md, "Start-up"), though
 * almost no run formats a stack. Instead, Error.prepareStackTrace maps the frames that lie in
 * the bundle's own folder when a stack is first read, loading that chunk's `.map` then (and
 * keeping it). Frames elsewhere (node: internals, externals) print as V8 prints them.
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const maps = new Map<string, { map: SourceMap; dir: string } | null>();

function sourceMapOf(file: string): { map: SourceMap; dir: string } | null {
  let entry = maps.get(file);
  if (entry === undefined) {
    try {
      entry = { map: new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8'))), dir: path.dirname(file) };
    } catch {
      entry = null; // no map (or unreadable): the frame stays as it is
    }
    maps.set(file, entry);
  }
  return entry;
}

/** `file:line:column` of a bundle frame as the original source's, or undefined when the map has no entry. */
function originalLocation(file: string, line: number, column: number): string | undefined {
  const source = sourceMapOf(file);
  if (!source) return undefined;
  const found = source.map.findEntry(line - 1, column - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
  if (found.originalSource === undefined || found.originalLine === undefined || found.originalColumn === undefined) return undefined;
  const original = found.originalSource.startsWith('file:') ? fileURLToPath(found.originalSource) : path.resolve(source.dir, found.originalSource);
  return `${original}:${found.originalLine + 1}:${found.originalColumn + 1}`;
}

/** Installs the mapping for modules in `bundleDir` (the folder of the CLI's chunks). */
export function mapStackTracesLazily(bundleDir: string): void {
  const prefix = bundleDir.endsWith(path.sep) ? bundleDir : bundleDir + path.sep;
  const location = /((?:file:\/\/)?\/[^\s()]+?\.c?js):(\d+):(\d+)/;
  Error.prepareStackTrace = (error: Error, frames: NodeJS.CallSite[]) => {
    let header: string;
    try {
      header = Error.prototype.toString.call(error);
    } catch {
      header = '<error>';
    }
    const lines = frames.map((frame) => {
      const text = String(frame);
      return `\n    at ${text.replace(location, (whole, url: string, line: string, column: string) => {
        const file = url.startsWith('file:') ? fileURLToPath(url) : url;
        return (file.startsWith(prefix) && originalLocation(file, Number(line), Number(column))) || whole;
      })}`;
    });
    return header + lines.join('');
  };
}
