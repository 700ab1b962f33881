/**
 * Validation of `start --metrics HOST:PORT`. Accepted: `PORT`, `:PORT` (both on 127.0.0.1), `HOST:PORT` with an
 * IPv4 address or a host name, `[IPv6]:PORT`. Port 0 picks a free port. Loopback is the default; anything
 * else must be spelled out, and the result says whether it is exposed beyond this machine.
 * Pure (node:net's isIP is a parser, no I/O).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { usageError } from '../errors/errors.ts';

export const DEFAULT_METRICS_HOST = '127.0.0.1';

export interface MetricsAddress {
  host: string;
  port: number;
  /** false when the endpoint is reachable from other machines (start warns about it) */
  loopback: boolean;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function bad(raw: string, why: string): never {
  throw usageError('E_BAD_METRICS_ADDRESS', `invalid --metrics ${JSON.stringify(raw)}: ${why}`, 'use --metrics 127.0.0.1:9464 (or :9464, or [::1]:9464)');
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIPv4(host) && host.startsWith('127.'));
}

/** Splits HOST:PORT, [V6]:PORT, :PORT or PORT into its host ('' = default) and port text. */
function split(raw: string, s: string): { host: string; portText: string; bracketed: boolean } {
  if (/^\d+$/.test(s)) return { host: '', portText: s, bracketed: false };
  const v6 = /^\[([^\]]*)\]:(\d*)$/.exec(s);
  if (v6 !== null) return { host: v6[1] ?? '', portText: v6[2] ?? '', bracketed: true };
  const colon = s.lastIndexOf(':');
  if (colon < 0) bad(raw, 'expected HOST:PORT');
  const host = s.slice(0, colon);
  if (host.includes(':')) bad(raw, 'put an IPv6 address in brackets: [::1]:PORT');
  return { host, portText: s.slice(colon + 1), bracketed: false };
}

/** Parses and checks a --metrics value. Throws ToolError E_BAD_METRICS_ADDRESS (exit 2). */
export function validateMetricsAddress(raw: string): MetricsAddress {
  const { host: given, portText, bracketed } = split(raw, raw.trim());
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port > 65535) bad(raw, 'the port must be a number from 0 to 65535');
  if (bracketed && !isIPv6(given)) bad(raw, `${given} is not an IPv6 address`);
  if (!bracketed && given !== '' && !isIPv4(given) && (!HOSTNAME.test(given) || /^[\d.]+$/.test(given))) {
    bad(raw, `${given} is neither an IPv4 address nor a host name`);
  }
  const host = given === '' ? DEFAULT_METRICS_HOST : given;
  return { host, port, loopback: isLoopback(host) };
}
