/**
 * The state dir layout and job names. One job = three files in the state dir:
 *
 *   <state-dir>/<name>.lock   held for the daemon's life (src/daemon/lock.ts)
 *   <state-dir>/<name>.sock   the control socket, mode 0600 (src/control/server.ts)
 *   <state-dir>/<name>.json   the job record {name, source, target, pid, startedAt, version} (src/daemon/registry.ts)
 *
 * The state dir is root-owned, mode 0700: together with the socket's 0600 mode this is what keeps the control
 * socket root-only (Node cannot read SO_PEERCRED, so the server cannot check the peer itself).
 * Validation and defaults live here; this module has no side effects except ensureStateDir.
 */
import { Buffer } from 'node:buffer';
import { isAbsolute, join, resolve } from 'node:path';
import { ExitCode } from '../errors/exit-codes.ts';
import { ToolError, usageError } from '../errors/errors.ts';
import { currentUid, makeDir, statPath } from '../sys/state-files.ts';
import { crypto } from '../util/builtins.ts';

/** /run is a root-owned tmpfs: the state disappears with a reboot, as the daemon does. */
export const DEFAULT_STATE_DIR = '/run/livesync';
export const STATE_DIR_ENV = 'LIVESYNC_STATE_DIR';
export const NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const NAME_MAX = 64;
/** sun_path is 108 bytes including the terminating NUL. */
const SOCKET_PATH_MAX_BYTES = 107;
const STATE_DIR_MODE = 0o700;

export interface JobPaths {
  readonly name: string;
  readonly stateDir: string;
  readonly socket: string;
  readonly lock: string;
  readonly record: string;
}

/** Rejects a job name that is not 1-64 of [A-Za-z0-9._-]. */
export function validateJobName(name: string): string {
  if (!NAME_PATTERN.test(name) || name === '.' || name === '..') {
    throw usageError(
      'E_BAD_JOB_NAME',
      `invalid job name ${JSON.stringify(name)}: use 1-64 letters, digits, '.', '_' or '-'`,
      'pick a name such as srv-app (the default is derived from the source path)',
    );
  }
  return name;
}

/** The default job name for a source path: /srv/app -> srv-app, / -> root. Always valid. */
export function defaultJobName(source: string): string {
  const trimmed = resolve(source).replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return 'root';
  const name = trimmed.replaceAll('/', '-').replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[.-]+/, '_');
  if (name.length <= NAME_MAX) return name;
  // Too long: keep the tail (the most specific part) and make it unique with a hash of the full path.
  const hash = crypto().createHash('sha256').update(source).digest('hex').slice(0, 8);
  return `${name.slice(name.length - (NAME_MAX - 9))}-${hash}`.replace(/^[.-]+/, '_');
}

/** The state dir: --state-dir, else $LIVESYNC_STATE_DIR, else /run/livesync. Must be absolute. */
export function normalizeStateDir(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  const fromEnv = env[STATE_DIR_ENV];
  const [value, origin] = flag !== undefined ? [flag, '--state-dir'] : fromEnv !== undefined ? [fromEnv, STATE_DIR_ENV] : [DEFAULT_STATE_DIR, 'default'];
  if (value === '' || !isAbsolute(value)) {
    throw usageError(
      'E_BAD_STATE_DIR',
      `invalid state dir ${JSON.stringify(value)} (from ${origin}): it must be an absolute path`,
      `pass an absolute path, e.g. --state-dir ${DEFAULT_STATE_DIR}`,
    );
  }
  return resolve(value);
}

/** The files of job `name` in `stateDir`. Validates the name and the socket path length. */
export function jobPaths(stateDir: string, name: string): JobPaths {
  validateJobName(name);
  const socket = join(stateDir, `${name}.sock`);
  const bytes = Buffer.byteLength(socket);
  if (bytes > SOCKET_PATH_MAX_BYTES) {
    throw new ToolError('E_SOCKET_PATH_TOO_LONG', `control socket path ${socket} is ${bytes} bytes; unix sockets allow ${SOCKET_PATH_MAX_BYTES}`, {
      hint: 'use a shorter --state-dir or job name',
      exitCode: ExitCode.config,
    });
  }
  return { name, stateDir, socket, lock: join(stateDir, `${name}.lock`), record: join(stateDir, `${name}.json`) };
}

/**
 * Creates the state dir (mode 0700) if needed and refuses one another user owns or others can write to: the
 * dir's permissions are what keeps the control socket root-only.
 */
export async function ensureStateDir(stateDir: string): Promise<void> {
  const made = await makeDir(stateDir, STATE_DIR_MODE);
  if (!made.ok) {
    throw new ToolError('E_STATE_DIR', `cannot create state dir ${stateDir}: ${made.message}`, {
      hint: 'run as root, or choose a writable --state-dir',
      exitCode: ExitCode.config,
    });
  }
  const info = await statPath(stateDir);
  if (!info.ok || info.value.kind !== 'dir') {
    throw new ToolError('E_STATE_DIR', `state dir ${stateDir} is not a directory`, { hint: 'remove it or choose another --state-dir', exitCode: ExitCode.config });
  }
  const uid = currentUid();
  if (info.value.uid !== uid || (info.value.mode & 0o022) !== 0) {
    throw new ToolError(
      'E_STATE_DIR_UNSAFE',
      `state dir ${stateDir} is not private (owner uid ${info.value.uid}, mode ${info.value.mode.toString(8).padStart(4, '0')})`,
      { hint: `chown ${uid} ${stateDir} && chmod 700 ${stateDir}, or choose another --state-dir`, exitCode: ExitCode.config },
    );
  }
}
