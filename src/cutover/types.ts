/**
 * The cutover's vocabulary: options, the step names (in order), the journal record and the report.
 * Types only.
 */
export interface CutoverOptions {
  /** refuse (after waiting up to preflightTimeoutMs) while the lag is above this */
  maxLagMs: number;
  /** hard bound on the freeze: crossing it before the commit point rolls back and thaws */
  maxFreezeMs: number;
  preflightTimeoutMs: number;
  dryRun: boolean;
  /** compare the final-delta paths by content before the thaw */
  verify: boolean;
  /** fault injection for tests: fail the named step (LIVESYNC_TEST_FAIL_STEP) */
  failStep?: StepName | undefined;
  /** test hook: sleep this long inside the freeze (LIVESYNC_TEST_PAUSE_IN_FREEZE_MS) */
  pauseInFreezeMs?: number | undefined;
}

export const STEP_NAMES = ['preflight', 'prepare', 'freeze', 'final-delta', 'mount-share', 'repoint', 'thaw', 'report'] as const;
export type StepName = (typeof STEP_NAMES)[number];

/** The step after whose success the share is visible at the source path: no rollback past it. */
export const COMMIT_STEP: StepName = 'mount-share';

export interface JournalRecord {
  at: string;
  step: StepName | 'cutover';
  phase: 'begin' | 'done' | 'failed' | 'undo' | 'undone' | 'undo-failed' | 'committed' | 'finished';
  detail?: Record<string, unknown>;
}

export interface ProcessReport {
  pid: number;
  comm: string;
  verdict: string;
  actions: string[];
  stays: string[];
}

export interface CutoverReport {
  outcome: 'completed' | 'completed-with-problems' | 'rolled-back' | 'precondition-failed' | 'dry-run' | 'rollback-incomplete';
  message: string;
  name: string;
  source: string;
  target: string;
  /** longest time any process was frozen, ms (first stop to thaw) */
  freezeMs: number | null;
  finalDelta: { paths: number; files: number; bytes: number; barrierMs: number; syncMs: number; verified: boolean | null } | null;
  mounts: string[];
  processes: ProcessReport[];
  warnings: string[];
  problems: string[];
  steps: Array<{ step: StepName; ms: number; ok: boolean }>;
  fstab: string | null;
  journal: string;
  oldTree: string | null;
  /** dry run: what would be synced */
  dirtyPaths?: number;
  estimatedFreezeMs?: number;
}
