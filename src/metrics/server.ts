/**
 * The metrics endpoint of `start --metrics HOST:PORT`: Prometheus text at GET /metrics, nothing else.
 * Off by default; loopback unless another address is given (src/metrics/address.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ExitCode } from '../errors/exit-codes.ts';
import { errorText, ToolError } from '../errors/errors.ts';
import type { EventBus } from '../events/event.ts';
import type { StatusTracker } from '../status/tracker.ts';
import { listenHttp } from '../sys/http-listen.ts';
import type { MetricsAddress } from './address.ts';
import { matchEvents } from './matchers.ts';
import { createMetrics, type Metrics } from './registry.ts';

export const METRICS_PATH = '/metrics';

export interface MetricsServer extends AsyncDisposable {
  /** the bound address (the real port when 0 was asked) */
  readonly host: string;
  readonly port: number;
  /** http://host:port/metrics */
  readonly url: string;
  readonly metrics: Metrics;
  close(): Promise<void>;
}

function respond(metrics: Metrics, request: IncomingMessage, response: ServerResponse): void {
  const path = (request.url ?? '/').split('?')[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  if (path !== METRICS_PATH) {
    response.writeHead(404, { 'content-type': 'text/plain' }).end(`livesync: metrics are at ${METRICS_PATH}\n`);
    return;
  }
  metrics.registry.metrics().then(
    (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(request.method === 'HEAD' ? undefined : text),
    (err: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`livesync: ${errorText(err)}\n`),
  );
}

/**
 * Subscribes the metrics to `bus` and serves them at http://host:port/metrics until disposed. Create the
 * tracker first. Throws ToolError E_METRICS_LISTEN (exit 3) when the address cannot be bound.
 */
export async function startMetricsServer(bus: EventBus, tracker: StatusTracker, address: Pick<MetricsAddress, 'host' | 'port'>): Promise<MetricsServer> {
  const metrics = createMetrics(tracker);
  const unsubscribe = matchEvents(bus, metrics, tracker);
  const listened = await listenHttp(address.host, address.port, (request, response) => respond(metrics, request, response));
  if (!listened.ok) {
    unsubscribe();
    throw new ToolError('E_METRICS_LISTEN', `cannot serve metrics on ${address.host}:${address.port}: ${listened.message}`, {
      hint: 'choose another --metrics address or port (or leave --metrics off)',
      exitCode: ExitCode.config,
    });
  }
  const { host, port, close: closeHttp } = listened.value;
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      unsubscribe();
      await closeHttp();
    })());
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${urlHost}:${port}${METRICS_PATH}`;
  // the log names the bound address (the port the kernel chose for --metrics HOST:0); the job record has it too
  bus.emit({ type: 'info', message: `serving metrics at ${url}`, data: { metrics: url } });
  return { host, port, url, metrics, close, [Symbol.asyncDispose]: close };
}
