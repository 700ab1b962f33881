/**
 * The control protocol, version 1 (docs/control-protocol.md): newline-delimited JSON over the job's unix
 * socket. Each line a client sends is one request `{v, id, method, params}`; the server answers each with one
 * response `{v, id, ok: true, result}` or `{v, id, ok: false, error: {reason, message}}`, in any order (match
 * by id). A long method may first send progress frames `{v, id, progress}` (reserved for the cutover).
 *
 * Adding a method: a row in MethodTable (its params and result types), a row in PARAMS (its validation) and a
 * handler in src/control/server.ts. Methods are only ever added to a version; changing one bumps `v`.
 * Pure: types, validation and framing; no I/O. Must not import src/sys or node: I/O modules (the client and
 * server do the I/O), so the cutover and tests can reuse it anywhere.
 */
import type { FlushResult } from '../engine/job.ts';
import type { StatusSnapshot } from '../status/snapshot.ts';
import type { CutoverReport } from '../cutover/types.ts';

export const PROTOCOL_VERSION = 1;
export const SUPPORTED_VERSIONS: readonly number[] = [PROTOCOL_VERSION];
/** a longer line is refused and the connection closed (requests are tiny; this bounds memory) */
export const MAX_LINE_CHARS = 1 << 20;
/** the longest flush a client may ask for (a day) */
export const MAX_FLUSH_TIMEOUT_MS = 86_400_000;

export type RequestId = string | number;

export interface HelloResult {
  /** the version this server speaks on this connection */
  protocol: number;
  supported: readonly number[];
  server: 'livesync';
  version: string | null;
  job: { name: string; pid: number; startedAt: number; stateDir: string };
  methods: Method[];
}

export interface MethodTable {
  /** who is there: protocol versions, methods, the job's pid (the client checks it before `stop`) */
  hello: { params: { client?: string }; result: HelloResult };
  /** the status snapshot (docs/status.md); historyS adds the per-second lag history */
  status: { params: { historyS?: number }; result: StatusSnapshot };
  /** `status` as the exact text `livesync status --json` prints (for clients that only copy bytes: bin/livesync's C client) */
  'status-text': { params: Record<string, never>; result: string };
  /** the barrier: resolves once every change made before the call is on the target */
  flush: { params: { timeoutMs: number }; result: FlushResult };
  /** finishes the in-flight batch, persists what is pending; answers once the job has stopped */
  stop: { params: Record<string, never>; result: { stopped: true } };
  /** the cutover (docs/cutover.md); runs in the daemon, answers with the report (dry run: the plan) */
  cutover: { params: CutoverParams; result: CutoverReport };
}

export interface CutoverParams {
  maxLagMs: number;
  maxFreezeMs: number;
  preflightTimeoutMs: number;
  dryRun: boolean;
  verify: boolean;
}

export type Method = keyof MethodTable;
export type Params<M extends Method> = MethodTable[M]['params'];
export type Result<M extends Method> = MethodTable[M]['result'];

export type ControlRequest = { [M in Method]: { v: number; id: RequestId; method: M; params: Params<M> } }[Method];

/** Why a request got no result. Kebab, stable; clients branch on these. */
export type ErrorReason =
  | 'bad-json'
  | 'bad-request'
  | 'unsupported-version'
  | 'unknown-method'
  | 'bad-params'
  | 'request-too-large'
  | 'shutting-down'
  | 'internal';

export interface ProtocolError {
  reason: ErrorReason;
  message: string;
}

export type ControlResponse =
  | { v: number; id: RequestId; ok: true; result: unknown }
  | { v: number; id: RequestId | null; ok: false; error: ProtocolError };

export type ProgressFrame = { v: number; id: RequestId; progress: unknown };
export type ServerFrame = ControlResponse | ProgressFrame;

type Raw = Record<string, unknown>;
type Validator<M extends Method> = (raw: Raw) => Params<M> | string;

function isObject(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function onlyKeys(raw: Raw, allowed: readonly string[]): string | null {
  const unknown = Object.keys(raw).filter((k) => !allowed.includes(k));
  return unknown.length === 0 ? null : `unknown params: ${unknown.join(', ')}`;
}

/** Params validation per method (unknown keys are errors, so a typo is never silently ignored). */
const PARAMS: { [M in Method]: Validator<M> } = {
  hello: (raw) => {
    const client = raw['client'];
    if (client !== undefined && typeof client !== 'string') return 'client must be a string';
    return onlyKeys(raw, ['client']) ?? (client === undefined ? {} : { client });
  },
  status: (raw) => {
    const historyS = raw['historyS'];
    if (historyS !== undefined && (typeof historyS !== 'number' || !Number.isInteger(historyS) || historyS < 0)) return 'historyS must be a non-negative integer';
    return onlyKeys(raw, ['historyS']) ?? (historyS === undefined ? {} : { historyS });
  },
  'status-text': (raw) => onlyKeys(raw, []) ?? {},
  flush: (raw) => {
    const timeoutMs = raw['timeoutMs'];
    if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_FLUSH_TIMEOUT_MS) {
      return `timeoutMs must be an integer between 1 and ${MAX_FLUSH_TIMEOUT_MS}`;
    }
    return onlyKeys(raw, ['timeoutMs']) ?? { timeoutMs };
  },
  stop: (raw) => onlyKeys(raw, []) ?? {},
  cutover: (raw) => {
    const keys = ['maxLagMs', 'maxFreezeMs', 'preflightTimeoutMs', 'dryRun', 'verify'] as const;
    for (const k of ['maxLagMs', 'maxFreezeMs', 'preflightTimeoutMs'] as const) {
      const v = raw[k];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_FLUSH_TIMEOUT_MS) return `${k} must be an integer between 0 and ${MAX_FLUSH_TIMEOUT_MS}`;
    }
    for (const k of ['dryRun', 'verify'] as const) if (typeof raw[k] !== 'boolean') return `${k} must be a boolean`;
    return (
      onlyKeys(raw, keys) ?? {
        maxLagMs: raw['maxLagMs'] as number,
        maxFreezeMs: raw['maxFreezeMs'] as number,
        preflightTimeoutMs: raw['preflightTimeoutMs'] as number,
        dryRun: raw['dryRun'] as boolean,
        verify: raw['verify'] as boolean,
      }
    );
  },
};

export const METHODS = Object.keys(PARAMS) as Method[];

export type ParsedRequest = { ok: true; request: ControlRequest } | { ok: false; id: RequestId | null; error: ProtocolError };

function isRequestId(value: unknown): value is RequestId {
  return (typeof value === 'string' && value.length <= 128) || (typeof value === 'number' && Number.isFinite(value));
}

/** Validates one request line. Never throws. */
export function parseRequest(line: string): ParsedRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, id: null, error: { reason: 'bad-json', message: 'the request is not valid JSON' } };
  }
  if (!isObject(value)) return { ok: false, id: null, error: { reason: 'bad-request', message: 'a request must be a JSON object' } };
  const id = isRequestId(value['id']) ? value['id'] : null;
  const fail = (reason: ErrorReason, message: string): ParsedRequest => ({ ok: false, id, error: { reason, message } });
  if (id === null) return fail('bad-request', 'id must be a string or a number');
  if (typeof value['v'] !== 'number' || !SUPPORTED_VERSIONS.includes(value['v'])) {
    return fail('unsupported-version', `protocol version ${JSON.stringify(value['v'])} is not supported (supported: ${SUPPORTED_VERSIONS.join(', ')})`);
  }
  const method = value['method'];
  if (typeof method !== 'string' || !Object.hasOwn(PARAMS, method)) return fail('unknown-method', `unknown method ${JSON.stringify(method)} (known: ${METHODS.join(', ')})`);
  const rawParams = value['params'] ?? {};
  if (!isObject(rawParams)) return fail('bad-params', 'params must be an object');
  const params = (PARAMS[method as Method] as Validator<Method>)(rawParams);
  if (typeof params === 'string') return fail('bad-params', `${method}: ${params}`);
  return { ok: true, request: { v: value['v'], id, method, params } as ControlRequest };
}

/** Validates one server line (client side). Returns null when it is not a v1 frame. */
export function parseFrame(line: string): ServerFrame | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isObject(value) || typeof value['v'] !== 'number') return null;
  const id = value['id'];
  if ('progress' in value) return isRequestId(id) ? (value as ProgressFrame) : null;
  if (value['ok'] === true) return isRequestId(id) && 'result' in value ? (value as ControlResponse) : null;
  if (value['ok'] === false) {
    const error = value['error'];
    return (id === null || isRequestId(id)) && isObject(error) && typeof error['reason'] === 'string' && typeof error['message'] === 'string' ? (value as ControlResponse) : null;
  }
  return null;
}

export function encodeFrame(frame: ServerFrame | ControlRequest): string {
  return `${JSON.stringify(frame)}\n`;
}

/** Splits a character stream into lines; refuses a line longer than MAX_LINE_CHARS. */
export class LineSplitter {
  #buffer = '';

  /** The complete lines in `chunk` (plus what was buffered), or 'too-long'. Empty lines are skipped. */
  push(chunk: string): string[] | 'too-long' {
    this.#buffer += chunk;
    const parts = this.#buffer.split('\n');
    this.#buffer = parts.pop() ?? '';
    if (this.#buffer.length > MAX_LINE_CHARS || parts.some((p) => p.length > MAX_LINE_CHARS)) return 'too-long';
    return parts.map((p) => (p.endsWith('\r') ? p.slice(0, -1) : p)).filter((p) => p.trim() !== '');
  }
}
