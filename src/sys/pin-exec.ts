/**
 * Glue only: native/pin-exec.c, which runs rsync in a private copy of the daemon's mount namespace where the
 * target is the filesystem recorded at start (device and inode of its root), or does not run it (exit 121).
 * Inside that copy no unmount made outside can change what the target path is, so an rsync can only ever write
 * into the share that was checked, never into the bare mountpoint underneath (src/sync/rsync-args.ts
 * rsyncCommand wraps every rsync of a job with it; the exit codes are rows of src/sync/rsync-exit.ts).
 */
import { existsSync } from 'node:fs';
import { spawnRun } from './spawn.ts';
import { fileURLToPath } from 'node:url';

export const PIN_EXEC_PATH = fileURLToPath(new URL('../../native/build/pin-exec', import.meta.url));

/** pin-exec can run: it is built, and this process may make mount namespaces (root). */
export function pinExecAvailable(): boolean {
  return process.getuid?.() === 0 && existsSync(PIN_EXEC_PATH);
}

/** The argv running `file args` through pin-exec with `target` pinned to `id`. */
export function pinExecArgv(id: { dev: number; ino: number }, target: string, file: string, args: readonly string[]): { file: string; args: string[] } {
  return { file: PIN_EXEC_PATH, args: [String(id.dev), String(id.ino), target, file, ...args] };
}

/** Runs `true` through pin-exec: its exit code (0: pinning works here; 120: no mount namespace) and message. */
export async function probePinExec(id: { dev: number; ino: number }, target: string): Promise<{ exitCode: number | null; message: string }> {
  const cmd = pinExecArgv(id, target, 'true', []);
  const r = await spawnRun(cmd.file, cmd.args);
  return { exitCode: r.exitCode, message: (r.spawnError ?? r.stderr).trim() };
}
