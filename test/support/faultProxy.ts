/**
 * A TCP proxy between blob2pg and a real service (PostgreSQL, Azurite) that breaks one
 * connection on demand: reset (RST), close (FIN) or stall (stop forwarding, keep the
 * sockets open) once that connection has carried N bytes in a direction. Real sockets
 * and real failures, so the loader meets what a network or a server restart does to it.
 *
 * A fault is armed once and fires once, on the first connection that carries its byte
 * count after arming; the retry that follows goes through unharmed. `throttle` slows
 * every connection (bytes per second each way) so a small blob stays in flight long
 * enough for a fault injected from outside (pg_terminate_backend) to land mid-load.
 */
import net from 'node:net';

/** `up`: client → service (a COPY's data); `down`: service → client (a download). */
export type Direction = 'up' | 'down';

export interface Fault {
  action: 'reset' | 'close' | 'stall';
  direction: Direction;
  /** Fires once a connection has carried more than this many bytes in `direction`. */
  afterBytes: number;
}

export interface FaultProxy {
  port: number;
  /** host:port as a connection string wants it. */
  address: string;
  arm(fault: Fault): void;
  /** Resolves when the armed fault has fired. */
  fired(): Promise<void>;
  /** How many faults fired so far. */
  readonly firedCount: number;
  /** Connections accepted so far. */
  readonly connections: number;
  throttle(bytesPerSecond: number | undefined): void;
  /** Resets every open connection now (as a network failure would); new connections go through. */
  breakAll(): void;
  close(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let armed: Fault | undefined;
  let firedCount = 0;
  let connections = 0;
  let bytesPerSecond: number | undefined;
  let onFired: Array<() => void> = [];
  const sockets = new Set<net.Socket>();
  /** Bytes each open connection carried since the fault was armed. */
  const counters = new Set<Record<Direction, number>>();

  const server = net.createServer((client) => {
    connections++;
    const service = net.connect(target.port, target.host);
    sockets.add(client).add(service);
    const carried: Record<Direction, number> = { up: 0, down: 0 };
    counters.add(carried);
    let stalled = false;
    const teardown = () => {
      client.destroy();
      service.destroy();
    };
    client.on('error', teardown).on('close', () => (sockets.delete(client), service.destroy()));
    service.on('error', teardown).on('close', () => (sockets.delete(service), counters.delete(carried), client.destroy()));

    const pump = (from: net.Socket, to: net.Socket, direction: Direction) => {
      from.on('data', (chunk: Buffer) => {
        if (stalled) return;
        carried[direction] += chunk.length;
        const fault = armed;
        if (fault && fault.direction === direction && carried[direction] > fault.afterBytes) {
          armed = undefined;
          firedCount++;
          // The bytes up to the limit still go through; then the fault.
          const keep = chunk.length - (carried[direction] - fault.afterBytes);
          if (keep > 0) to.write(chunk.subarray(0, keep));
          if (fault.action === 'reset') {
            client.resetAndDestroy();
            service.resetAndDestroy();
          } else if (fault.action === 'close') {
            client.end();
            service.end();
          } else {
            // Stall: nothing more either way, both sockets left open and unread, as a
            // black-holed network does (the peers' send buffers fill and stay full).
            stalled = true;
            client.pause();
            service.pause();
          }
          const waiting = onFired;
          onFired = [];
          for (const resolve of waiting) resolve();
          return;
        }
        // Backpressure, and the throttle's pacing: the source waits for both.
        const waits: Array<Promise<void>> = [];
        if (!to.write(chunk)) waits.push(new Promise((resolve) => to.once('drain', resolve)));
        if (bytesPerSecond) waits.push(new Promise((resolve) => setTimeout(resolve, (chunk.length / bytesPerSecond!) * 1000)));
        if (waits.length) {
          from.pause();
          void Promise.all(waits).then(() => !stalled && from.resume());
        }
      });
    };
    pump(client, service, 'up');
    pump(service, client, 'down');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    arm(fault) {
      armed = fault;
      // Counted from now: a kept-alive connection's earlier bytes do not count.
      for (const carried of counters) carried.up = carried.down = 0;
    },
    fired() {
      return new Promise((resolve) => onFired.push(resolve));
    },
    get firedCount() {
      return firedCount;
    },
    get connections() {
      return connections;
    },
    throttle(rate) {
      bytesPerSecond = rate;
    },
    breakAll() {
      for (const socket of sockets) socket.resetAndDestroy();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The proxy's address in place of the host and port of a `postgres://` URL or a storage connection string. */
export function throughProxy(connection: string, proxy: FaultProxy): string {
  if (/^postgres(ql)?:\/\//.test(connection)) {
    const url = new URL(connection);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    return url.toString();
  }
  return connection.replace(/(BlobEndpoint=https?:\/\/)[^/;]+/i, `$1${proxy.address}`);
}

/** Host and port of a `postgres://` URL or of a storage connection string's BlobEndpoint. */
export function serviceAddress(connection: string): { host: string; port: number } {
  const url = /^postgres(ql)?:\/\//.test(connection) ? new URL(connection) : new URL(/BlobEndpoint=([^;]+)/i.exec(connection)![1]!);
  return { host: url.hostname, port: Number(url.port) };
}
