/** What the cutover steps share: inputs, and what each step leaves for the next (and for its undo). */
import type { JobInfo } from '../engine/job.ts';
import type { Mirror } from '../engine/mirror.ts';
import type { ProcMover } from '../proc/mover.ts';
import type { Frozen, Plan, RepointResult } from '../proc/types.ts';
import type { CutoverOptions, CutoverReport } from './types.ts';

export interface CutoverContext {
  readonly info: JobInfo;
  readonly mirror: Mirror;
  readonly options: CutoverOptions;
  readonly mountSpec: { spec: string; type: string | undefined; options: string | undefined } | null;
  /** the process mover, opened in preflight (helper started before anything is frozen) */
  mover: () => ProcMover;
  /** content comparison of paths between source (old tree) and target; returns differences */
  verifyPaths: (paths: string[]) => Promise<string[]>;
  plan?: Plan;
  frozen?: Frozen | undefined;
  /** performance.now() after which the freeze must not continue (before the commit point) */
  deadline: number;
  oldTree: string | null;
  oldMounted: boolean;
  delta: CutoverReport['finalDelta'];
  deltaEntries: string[];
  repoint?: RepointResult;
  freezeMs: number | null;
  mounts: string[];
  warnings: string[];
  problems: string[];
  fstab: string | null;
}
