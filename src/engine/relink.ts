/**
 * The relink pass: the safety net behind the batches' hard-link handling (src/engine/batch.ts, hardlinks.ts).
 * rsync -H links only names in one run, so every batch carries a link group whole; should a group still land
 * split (a link as a copy: two inodes on the target where the source has one, and a later write through one
 * name would miss the other), this pass finds and repairs it.
 *
 * When the mirror is idle (nothing pending, in flight or searched for), or every RELINK_MAX_INTERVAL_MS while it
 * never is, the groups that batches carried since the last pass (HardLinkIndex.takeTouched) are checked: a group
 * with more links than known names goes to the tree search (`find -inum`, src/engine/link-search.ts); a group
 * with a name still pending is left to the batch that carries it (that batch touches it again); a group whose
 * names are not one inode on the target is synced again as a whole, so rsync -H links it. Cost: an lstat
 * per name of the touched groups on each side, at most RELINK_CHUNK groups per pass; never a walk of the tree.
 * A group still split after RELINK_MAX_ATTEMPTS passes in a row is left alone with a warning (the target
 * refuses the link); the next batch that carries it tries again.
 */
import { lstatSync } from 'node:fs';
import { absBytes, display, type RelPath } from '../util/bpath.ts';
import type { MirrorView } from './mirror-view.ts';

/** A mirror that is never idle still checks the groups it touched this often. */
export const RELINK_MAX_INTERVAL_MS = 30_000;
/**
 * Groups checked per pass, the others wait for the next one: an lstat per name on each side, ~16 us a group on
 * tmpfs (measured, 4,096 pairs), a round trip per name on NFS, all while the event loop waits.
 */
export const RELINK_CHUNK = 512;
/** Passes in a row that may find one group split before it is left alone. */
export const RELINK_MAX_ATTEMPTS = 3;

export interface RelinkCheck {
  /** every name of the split groups, to sync together again */
  relink: RelPath[];
  /** one name per split group (for the warning) */
  split: RelPath[];
  /** one name per group still split after RELINK_MAX_ATTEMPTS passes */
  gaveUp: RelPath[];
}

export class RelinkPass {
  #view: MirrorView;
  #attempts = new Map<string, number>();
  #lastRun = Date.now();
  /** the next pass, when the last one left groups and the mirror stayed idle */
  #timer: NodeJS.Timeout | null = null;

  constructor(view: MirrorView) {
    this.#view = view;
  }

  /** After every batch: a pass when one is due; what it finds is queued and scheduled. */
  afterBatch(): void {
    const { queue: q } = this.#view;
    const idle = !q.busy && q.pendingCount === 0 && !q.links.pending;
    if (!this.#view.active() || q.hardlinks.touched === 0 || (!idle && Date.now() - this.#lastRun < RELINK_MAX_INTERVAL_MS)) return;
    this.report(this.check(RELINK_CHUNK));
    q.links.resolve(() => this.#view.schedule(true));
    if (q.hardlinks.touched > 0 && idle && !this.#timer) {
      this.#timer = setTimeout(() => ((this.#timer = null), this.afterBatch()), 0);
      this.#timer.unref();
    }
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Checks up to `limit` touched groups against the target (no events, nothing queued). */
  check(limit: number): RelinkCheck {
    this.#lastRun = Date.now();
    const out: RelinkCheck = { relink: [], split: [], gaveUp: [] };
    const { queue: q, options, info } = this.#view;
    for (const group of q.hardlinks.takeTouched(limit)) {
      // a name a batch carries anyway: that batch touches the group again
      if (group.names.some((p) => q.isPending(p))) continue;
      const names = group.names.filter((p) => !options.isExcluded(p, false));
      if (names.length < 2 || oneInode(info.target, names)) {
        this.#attempts.delete(group.key);
        continue;
      }
      const attempts = (this.#attempts.get(group.key) ?? 0) + 1;
      if (attempts > RELINK_MAX_ATTEMPTS) {
        this.#attempts.delete(group.key);
        out.gaveUp.push(names[0]!);
        continue;
      }
      this.#attempts.set(group.key, attempts);
      out.relink.push(...names);
      out.split.push(names[0]!);
    }
    return out;
  }

  /** Queues the split groups and says so: the batches should never leave one, so each is worth a warning. */
  report(r: RelinkCheck): void {
    const { bus, queue } = this.#view;
    const some = (names: RelPath[]): string => names.slice(0, 3).map(display).join(', ') + (names.length > 3 ? ', ...' : '');
    if (r.relink.length > 0) {
      queue.relink(r.relink, Date.now());
      this.#view.schedule(true);
      bus.emit({ type: 'warning', code: 'W_RELINK', message: `${r.split.length} hard-link group(s) not one inode on the target (a link had landed as a copy, or a name was missing), synced again: ${some(r.split)}` });
    }
    if (r.gaveUp.length > 0) {
      bus.emit({ type: 'warning', code: 'W_RELINK_FAILED', message: `${r.gaveUp.length} hard-link group(s) still not linked on the target after ${RELINK_MAX_ATTEMPTS} attempts (does the target allow the link?): ${some(r.gaveUp)}` });
    }
  }
}

/** Every name exists on the target and all are one inode. */
function oneInode(target: string, names: readonly RelPath[]): boolean {
  let key: string | null = null;
  for (const p of names) {
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(absBytes(target, p));
    } catch {
      return false;
    }
    const k = `${st.dev}:${st.ino}`;
    if (key !== null && k !== key) return false;
    key = k;
  }
  return true;
}
