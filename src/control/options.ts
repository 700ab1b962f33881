/**
 * Validation of the flags shared by the commands that talk to a running job (status, flush, stop; later
 * cutover): which job, where its state dir is, timeouts and counts. Bad input is a ToolError (exit 2) naming
 * the flag; nothing is contacted before the flags are valid.
 */
import { normalizeStateDir, validateJobName } from '../daemon/paths.ts';
import { usageError } from '../errors/errors.ts';
import type { JobTarget } from './job-actions.ts';

/** The job a command addresses, from its [name] argument, --state-dir and the environment. */
export function validateJobTarget(name: string | undefined, stateDirFlag: string | undefined, env: Readonly<Record<string, string | undefined>>): JobTarget {
  return { name: name === undefined ? undefined : validateJobName(name), stateDir: normalizeStateDir(stateDirFlag, env) };
}

/** A positive whole number of milliseconds, at most `max`. */
export function validateMs(flag: string, raw: string, max: number): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value <= 0 || value > max) {
    throw usageError('E_BAD_FLAG', `invalid ${flag} ${JSON.stringify(raw)}: expected milliseconds, 1 to ${max}`, `e.g. ${flag} 30000`);
  }
  return value;
}

/** A positive whole number (e.g. --count). */
export function validateCount(flag: string, raw: string): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value <= 0) {
    throw usageError('E_BAD_FLAG', `invalid ${flag} ${JSON.stringify(raw)}: expected a positive whole number`, `e.g. ${flag} 10`);
  }
  return value;
}
