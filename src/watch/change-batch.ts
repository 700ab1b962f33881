/**
 * The changes produced from one read of the inotify fd, in kernel order, delivered with one onChanges call.
 * Coalesces repeated `change` of the same path (a file written continuously gives one IN_MODIFY per write)
 * as long as nothing structural (delete, move, subtree) happened in between.
 */
import type { RelPath } from '../util/bpath.ts';
import type { WatchChange } from './types.ts';

type SubtreeReason = Extract<WatchChange, { kind: 'subtree' }>['reason'];

export class ChangeBatch {
  #changes: WatchChange[] = [];
  /** paths with a `change` in this batch since the last structural change */
  #changed = new Set<RelPath>();

  get size(): number {
    return this.#changes.length;
  }

  change(path: RelPath, isDir: boolean): void {
    const key = isDir ? `${path}/` : path;
    if (this.#changed.has(key)) return;
    this.#changed.add(key);
    this.#changes.push({ kind: 'change', path, isDir });
  }

  delete(path: RelPath, isDir: boolean): void {
    this.#structural({ kind: 'delete', path, isDir });
  }

  move(from: RelPath, to: RelPath, isDir: boolean): void {
    this.#structural({ kind: 'move', from, to, isDir });
  }

  subtree(path: RelPath, reason: SubtreeReason): void {
    this.#structural({ kind: 'subtree', path, reason });
  }

  #structural(change: WatchChange): void {
    this.#changed.clear();
    this.#changes.push(change);
  }

  /** The changes so far; the batch starts empty again. */
  take(): WatchChange[] {
    const out = this.#changes;
    this.#changes = [];
    this.#changed.clear();
    return out;
  }
}
