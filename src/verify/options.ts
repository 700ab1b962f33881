/**
 * Validates and normalizes verifyTrees' options in one place, applying defaults, and reads the two roots.
 * Bad input is a ToolError naming the problem and the fix; nothing is read beyond the roots before that.
 */
import { realpathSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { ExitCode } from '../errors/exit-codes.ts';
import { ToolError, errnoCode, usageError } from '../errors/errors.ts';
import type { RelPath } from '../util/bpath.ts';
import { binaryRoot, readEntry } from './entry-io.ts';
import { validateExclude } from './filter.ts';
import { RECHECK_DELAY_MS } from './policy.ts';
import { randomSeed } from './sample.ts';
import type { EntryInfo, VerifyOptions, VerifyProgress } from './types.ts';
import { loadScanAddon } from './scan-native.ts';

export const MAX_JOBS = 64;

export interface Side {
  /** as given */
  given: string;
  /** the resolved root, as a binary string */
  root: string;
  info: EntryInfo;
}

export interface NormalizedOptions {
  source: Side;
  target: Side;
  content: 'none' | 'all' | 'sample' | 'paths';
  samplePercent: number;
  sampleSeed: number;
  exclude: string[];
  jobs: number;
  xattrs: boolean;
  mtimePrecisionNs: number | 'auto';
  paths: RelPath[] | undefined;
  isInFlight: ((rel: RelPath) => boolean) | undefined;
  recheckDelayMs: number | false;
  ignoreRootMtime: boolean;
  oneFileSystem: boolean;
  onProgress: ((progress: VerifyProgress) => void) | undefined;
  signal: AbortSignal | undefined;
}

function readRoot(role: 'source' | 'target', given: string, xattrs: boolean): Side {
  const fix = 'pass two existing directories: --source DIR --target DIR';
  let real: string;
  try {
    real = realpathSync(given);
  } catch (err) {
    throw usageError('E_VERIFY_ROOT', `${role} ${given} cannot be read (${errnoCode(err) ?? 'error'})`, fix);
  }
  const root = binaryRoot(real);
  const read = readEntry(root, xattrs);
  if (read.state !== 'present' || read.info.kind !== 'dir') throw usageError('E_VERIFY_ROOT', `${role} ${given} is not a directory`, fix);
  return { given, root, info: read.info };
}

function validatePath(rel: RelPath): boolean {
  return rel !== '' && !rel.startsWith('/') && !rel.includes('\0') && rel.split('/').every((c) => c !== '' && c !== '.' && c !== '..');
}

export function normalizeVerifyOptions(options: VerifyOptions): NormalizedOptions {
  const jobs = options.jobs ?? availableParallelism();
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > MAX_JOBS) {
    throw usageError('E_VERIFY_JOBS', `--jobs must be an integer from 1 to ${MAX_JOBS}, got ${jobs}`, 'e.g. --jobs 4');
  }
  const samplePercent = options.samplePercent ?? 0;
  if (!(samplePercent >= 0 && samplePercent <= 100)) {
    throw usageError('E_VERIFY_SAMPLE', `--sample must be a percentage from 0 to 100, got ${samplePercent}`, 'e.g. --sample 5');
  }
  for (const pattern of options.exclude ?? []) validateExclude(pattern);
  const precision = options.mtimePrecisionNs ?? 'auto';
  if (precision !== 'auto' && !(Number.isInteger(precision) && precision >= 1 && precision <= 2_000_000_000)) {
    throw usageError('E_VERIFY_PRECISION', `mtime precision must be 1 ns to 2 s, got ${precision}`, 'use --mtime-precision auto|ns|us|ms|s|2s');
  }
  const paths = options.paths === undefined ? undefined : [...new Set(options.paths)];
  const bad = paths?.find((rel) => !validatePath(rel));
  if (bad !== undefined) throw usageError('E_VERIFY_PATHS', `path ${JSON.stringify(bad)} is not relative to the roots`, 'give paths like a/b.txt, without /, . or ..');
  const xattrs = options.xattrs ?? true;
  const load = loadScanAddon();
  if (!load.ok) {
    throw new ToolError('E_NATIVE_NOT_BUILT', `the verify addon ${load.path} is not built`, {
      hint: 'build the native parts: npm run build:native',
      exitCode: ExitCode.config,
    });
  }
  const source = readRoot('source', options.source, xattrs);
  const target = readRoot('target', options.target, xattrs);
  if (source.root === target.root) throw usageError('E_VERIFY_ROOT', `source and target are the same directory (${options.source})`, 'pass the copy as --target');
  const delay = options.recheckDelayMs ?? RECHECK_DELAY_MS;
  return {
    source,
    target,
    content: paths ? 'paths' : options.checksum ? 'all' : samplePercent > 0 ? 'sample' : 'none',
    samplePercent,
    sampleSeed: options.sampleSeed ?? randomSeed(),
    exclude: [...(options.exclude ?? [])],
    jobs,
    xattrs,
    mtimePrecisionNs: precision,
    paths,
    isInFlight: options.isInFlight,
    recheckDelayMs: delay === false ? false : Math.max(0, delay),
    ignoreRootMtime: options.ignoreRootMtime ?? false,
    oneFileSystem: options.oneFileSystem ?? false,
    onProgress: options.onProgress,
    signal: options.signal,
  };
}
