/**
 * `blob2pg ui`: the run-history page on 127.0.0.1 only (never another interface: the page
 * can start runs). A POST needs the process's random CSRF token, which only pages this
 * server rendered carry, and must come from the same origin; a Host other than the
 * loopback address it listens on is refused (DNS rebinding).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { AddressInfo } from 'node:net';
import { handleUi, type UiDeps } from './app.js';

export interface UiServer {
  url: string;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

export async function startUiServer(deps: Omit<UiDeps, 'csrfToken' | 'links'>, options: { port?: number } = {}): Promise<UiServer> {
  const csrfToken = randomBytes(24).toString('base64url');
  let allowedHost = '';
  const server = http.createServer((req, res) => {
    const send = (status: number, headers: Record<string, string>, body: string) => {
      res.writeHead(status, headers);
      res.end(body);
    };
    if (req.headers.host !== allowedHost) return send(421, { 'content-type': 'text/plain' }, 'wrong host\n');
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const url = new URL(req.url ?? '/', `http://${allowedHost}`);
      const form = req.method === 'POST' ? new URLSearchParams(Buffer.concat(chunks).toString('utf8')) : undefined;
      handleUi(
        {
          method: req.method ?? 'GET',
          path: url.pathname,
          query: url.searchParams,
          form,
          headers: { origin: req.headers.origin ?? null, host: req.headers.host ?? null, secFetchSite: (req.headers['sec-fetch-site'] as string | undefined) ?? null },
        },
        { ...deps, csrfToken, links: { base: '' } },
      ).then(
        (response) => {
          if (!response.stream) return send(response.status, response.headers, response.body);
          res.writeHead(response.status, response.headers);
          // A storage stream lost mid-download cuts the response short (the browser sees a failed download).
          pipeline(response.stream, res).catch(() => res.destroy());
        },
        (err: Error) => send(500, { 'content-type': 'text/plain' }, `${err.message}\n`),
      );
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  allowedHost = `127.0.0.1:${port}`;
  return {
    url: `http://${allowedHost}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
