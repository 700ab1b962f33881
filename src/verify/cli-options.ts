/**
 * Validation of `livesync verify`'s flags into a VerifyRequest, pure (no file is read): which trees (a job
 * name, or --source and --target), what to compare, how to print. Bad input is a ToolError (exit 2) naming
 * the flag and the fix. The option values themselves (globs, precision ranges) are checked again by
 * verifyTrees' normalizeVerifyOptions, the one place a library caller also goes through.
 */
import { normalizeStateDir, validateJobName } from '../daemon/paths.ts';
import { usageError } from '../errors/errors.ts';
import { MAX_JOBS } from './options.ts';
import { RECHECK_DELAY_MS } from './policy.ts';
import { parsePrecision } from './precision.ts';

export interface VerifyRequest {
  trees: { kind: 'pair'; source: string; target: string } | { kind: 'job'; name: string | undefined; stateDir: string };
  checksum: boolean;
  samplePercent: number | undefined;
  sampleSeed: number | undefined;
  json: boolean;
  exclude: string[];
  jobs: number | undefined;
  xattrs: boolean;
  mtimePrecisionNs: number | 'auto';
  recheckDelayMs: number | false;
  oneFileSystem: boolean;
}

export interface RawVerifyFlags {
  source?: string;
  target?: string;
  stateDir?: string;
  checksum?: boolean;
  sample?: string;
  seed?: string;
  json?: boolean;
  exclude?: string[];
  jobs?: string;
  xattrs?: boolean;
  mtimePrecision?: string;
  recheck?: boolean;
  recheckDelay?: string;
  oneFileSystem?: boolean;
}

function wholeNumber(flag: string, raw: string, min: number, max: number, example: string): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw usageError('E_BAD_FLAG', `invalid ${flag} ${JSON.stringify(raw)}: expected a whole number from ${min} to ${max}`, `e.g. ${flag} ${example}`);
  }
  return value;
}

export function validateVerifyFlags(name: string | undefined, raw: RawVerifyFlags, env: Readonly<Record<string, string | undefined>>): VerifyRequest {
  const pair = raw.source !== undefined || raw.target !== undefined;
  if (pair && (raw.source === undefined || raw.target === undefined)) {
    throw usageError('E_BAD_FLAG', `--${raw.source === undefined ? 'source' : 'target'} is missing`, 'give both: livesync verify --source DIR --target DIR');
  }
  if (pair && name !== undefined) {
    throw usageError('E_BAD_FLAG', `a job name (${name}) and --source/--target were both given`, 'verify a job by name, or two trees with --source and --target');
  }
  let samplePercent: number | undefined;
  if (raw.sample !== undefined) {
    const text = raw.sample.trim().replace(/%$/, '');
    samplePercent = Number(text);
    if (!/^\d+(\.\d+)?$/.test(text) || !(samplePercent > 0 && samplePercent <= 100)) {
      throw usageError('E_BAD_FLAG', `invalid --sample ${JSON.stringify(raw.sample)}: expected a percentage above 0, at most 100`, 'e.g. --sample 5');
    }
  }
  const precision = parsePrecision(raw.mtimePrecision ?? 'auto');
  if (precision === undefined) {
    throw usageError('E_BAD_FLAG', `invalid --mtime-precision ${JSON.stringify(raw.mtimePrecision)}`, 'use auto, ns, us, ms, s, 2s or a number of nanoseconds');
  }
  const recheckDelayMs = raw.recheck === false ? false : raw.recheckDelay === undefined ? undefined : wholeNumber('--recheck-delay', raw.recheckDelay, 0, 600_000, '1000');
  return {
    trees: pair
      ? { kind: 'pair', source: raw.source!, target: raw.target! }
      : { kind: 'job', name: name === undefined ? undefined : validateJobName(name), stateDir: normalizeStateDir(raw.stateDir, env) },
    checksum: raw.checksum === true,
    samplePercent,
    sampleSeed: raw.seed === undefined ? undefined : wholeNumber('--seed', raw.seed, 0, 0x7fffffff, '42'),
    json: raw.json === true,
    exclude: raw.exclude ?? [],
    jobs: raw.jobs === undefined ? undefined : wholeNumber('--jobs', raw.jobs, 1, MAX_JOBS, '4'),
    xattrs: raw.xattrs !== false,
    mtimePrecisionNs: precision,
    recheckDelayMs: recheckDelayMs ?? RECHECK_DELAY_MS,
    oneFileSystem: raw.oneFileSystem === true,
  };
}
