/**
 * Turns raw inotify events into WatchChanges, in kernel order, keeping the directory picture in step.
 *
 * Moves: IN_MOVED_FROM is paired with the IN_MOVED_TO of the same cookie anywhere later in the queue
 * (usually the next record). An unpaired FROM read less than MOVE_PAIR_HOLD_MS ago holds the queue from that
 * record on (order is kept) until the next read or the hold timer; then it becomes a `delete` (moved out of
 * the tree). An unpaired TO is something moved in: `change` for a file, a new watched subtree for a dir.
 *
 * History vs present: events describe the past, add_watch and listings see the present. Every directory
 * placement is verified by add_watch (same inode = same wd), so a stale record is corrected, never trusted.
 */
import { join, type RelPath } from '../util/bpath.ts';
import type { ChangeBatch } from './change-batch.ts';
import type { DirNode } from './dir-tree.ts';
import { Walk, type DirWatches } from './dir-watches.ts';
import { IN_ISDIR, IN_MOVED_FROM, IN_MOVED_TO, actionOf, type RawEvent } from './inotify-events.ts';

/** How long an unpaired IN_MOVED_FROM waits for its IN_MOVED_TO (queued by the same rename, microseconds later). */
export const MOVE_PAIR_HOLD_MS = 10;

export interface ApplyHooks {
  isExcluded: (rel: RelPath, isDir: boolean) => boolean;
  /** true: excludes match whole paths, so a moved directory's subtree is re-checked against them */
  excludesMatchPaths: boolean;
  onOverflow: () => void;
  onRootGone: (why: string) => void;
}

export class EventApplier {
  #queue: RawEvent[] = [];
  #w: DirWatches;
  #h: ApplyHooks;

  constructor(watches: DirWatches, hooks: ApplyHooks) {
    this.#w = watches;
    this.#h = hooks;
  }

  push(events: RawEvent[]): void {
    for (const e of events) this.#queue.push(e);
  }

  get held(): boolean {
    return this.#queue.length > 0;
  }

  /**
   * Applies the queue into `batch`. `force`: unpaired FROMs become deletes now (settle, close). Returns true
   * when part of the queue is still held for a move pairing.
   */
  run(batch: ChangeBatch, now: number, force: boolean): boolean {
    const q = this.#queue;
    const toByCookie = new Map<number, number>();
    for (let i = 0; i < q.length; i++) {
      const e = q[i]!;
      if (e.mask & IN_MOVED_TO && !toByCookie.has(e.cookie)) toByCookie.set(e.cookie, i);
    }
    const consumed = new Set<number>();
    let i = 0;
    for (; i < q.length; i++) {
      if (consumed.has(i)) continue;
      const e = q[i]!;
      if (e.mask & IN_MOVED_FROM) {
        const j = toByCookie.get(e.cookie);
        if (j !== undefined && j > i) {
          consumed.add(j);
          this.#moved(e, q[j]!, batch);
        } else if (!force && now - e.readAt < MOVE_PAIR_HOLD_MS) {
          break;
        } else {
          this.#apply(e, batch);
        }
      } else {
        this.#apply(e, batch);
      }
      if (this.#w.needsRescan) this.#rescan(batch, 'rescan');
    }
    this.#queue = i >= q.length ? [] : q.slice(i).filter((_, k) => !consumed.has(i + k));
    return this.#queue.length > 0;
  }

  #rescan(batch: ChangeBatch, reason: 'overflow' | 'rescan'): void {
    batch.subtree('', reason);
    this.#w.rescanAll(batch);
  }

  #apply(e: RawEvent, batch: ChangeBatch): void {
    const action = actionOf(e.mask);
    if (action === 'overflow') {
      this.#h.onOverflow();
      this.#rescan(batch, 'overflow');
      return;
    }
    const tree = this.#w.tree;
    const node = tree.byWd(e.wd);
    if (node === undefined) return; // a watch we removed, or one the kernel already dropped
    const isDir = (e.mask & IN_ISDIR) !== 0;
    switch (action) {
      case 'watch-gone':
        return this.#watchGone(node, batch);
      case 'self-deleted':
        if (node === tree.root) return this.#h.onRootGone('the source directory was deleted');
        node.deleted = true;
        tree.detach(node);
        return;
      case 'self-moved':
        if (node === tree.root) this.#h.onRootGone('the source directory was moved');
        return;
      case 'moved-from':
        return this.#movedOut(node, e.name, isDir, batch);
      case 'moved-to':
        return this.#movedIn(node, e.name, isDir, batch);
      case 'new-dir':
        return this.#newDir(node, e.name, batch);
      case 'delete':
        return this.#deleted(node, e.name, isDir, batch);
      case 'change': {
        const path = e.name === '' ? tree.pathOf(node) : join(tree.pathOf(node), e.name);
        const dir = e.name === '' || isDir;
        if (!this.#h.isExcluded(path, dir)) batch.change(path, dir);
        return;
      }
      case 'ignore':
        return;
    }
  }

  /** IN_IGNORED: deleted (forget it), or unmounted / otherwise lost while the directory is still there. */
  #watchGone(node: DirNode, batch: ChangeBatch): void {
    const tree = this.#w.tree;
    if (node === tree.root) return this.#h.onRootGone('the watch on the source directory was removed');
    const { parent, name, deleted } = node;
    tree.forgetWatch(node);
    if (deleted || parent === null || !tree.isLinked(node)) {
      this.#w.remove(node);
      return;
    }
    const r = this.#w.attach(parent, name, batch);
    if (r.kind === 'gone') return this.#w.remove(node);
    if (r.node !== node) this.#w.remove(node);
    this.#w.walk(new Walk([r.node]), batch);
    if (r.kind !== 'failed') batch.subtree(tree.pathOf(r.node), 'rescan');
  }

  #deleted(parent: DirNode, name: string, isDir: boolean, batch: ChangeBatch): void {
    const path = join(this.#w.tree.pathOf(parent), name);
    if (this.#h.isExcluded(path, isDir)) return;
    batch.delete(path, isDir);
    // a watched dir is forgotten on its own IN_IGNORED; an unwatched one gets no event of its own
    const child = isDir ? this.#w.tree.child(parent, name) : undefined;
    if (child !== undefined && child.wd < 0) this.#w.remove(child);
  }

  #newDir(parent: DirNode, name: string, batch: ChangeBatch): void {
    const path = join(this.#w.tree.pathOf(parent), name);
    if (this.#h.isExcluded(path, true)) return;
    const r = this.#w.attach(parent, name, batch);
    // renamed or deleted since, or an ancestor was renamed: tried again once the queued events are applied
    if (r.kind === 'gone') return this.#w.noteGone(parent, name, null);
    if (r.kind === 'known' && r.moved && this.#h.excludesMatchPaths) this.#w.reconcileExcludes(r.node, batch);
    else if (r.kind !== 'known') this.#w.walk(new Walk([r.node]), batch);
    if (r.kind !== 'failed') batch.subtree(path, 'new-dir');
  }

  /** Moved in from outside the tree (or from an excluded place). */
  #movedIn(parent: DirNode, name: string, isDir: boolean, batch: ChangeBatch): void {
    if (isDir) return this.#newDir(parent, name, batch);
    const path = join(this.#w.tree.pathOf(parent), name);
    if (!this.#h.isExcluded(path, false)) batch.change(path, false);
  }

  /** Moved out of the tree (or into an excluded place). */
  #movedOut(parent: DirNode, name: string, isDir: boolean, batch: ChangeBatch): void {
    const path = join(this.#w.tree.pathOf(parent), name);
    if (this.#h.isExcluded(path, isDir)) return;
    batch.delete(path, isDir);
    const child = isDir ? this.#w.tree.child(parent, name) : undefined;
    if (child !== undefined) this.#w.remove(child);
  }

  #moved(from: RawEvent, to: RawEvent, batch: ChangeBatch): void {
    const tree = this.#w.tree;
    const fromParent = tree.byWd(from.wd);
    const toParent = tree.byWd(to.wd);
    const isDir = (from.mask & IN_ISDIR) !== 0;
    const fromPath = fromParent && join(tree.pathOf(fromParent), from.name);
    const toPath = toParent && join(tree.pathOf(toParent), to.name);
    const fromIn = fromPath !== undefined && !this.#h.isExcluded(fromPath, isDir);
    const toIn = toPath !== undefined && !this.#h.isExcluded(toPath, isDir);
    if (!toIn) {
      if (fromIn) this.#movedOut(fromParent!, from.name, isDir, batch);
      return;
    }
    if (!fromIn) return this.#movedIn(toParent!, to.name, isDir, batch);
    if (!isDir) return batch.move(fromPath, toPath, false);
    const child = tree.child(fromParent!, from.name);
    const r = this.#w.attach(toParent!, to.name, batch); // proves which directory is at the new name now
    if (r.kind === 'known' && r.node === child) {
      batch.move(fromPath, toPath, true);
      if (this.#h.excludesMatchPaths) {
        this.#w.reconcileExcludes(child, batch);
        batch.subtree(toPath, 'rescan');
      }
      return;
    }
    if (r.kind === 'gone') {
      // renamed again (or deleted) since: follow the history; later events continue from here
      if (child === undefined) this.#w.noteGone(toParent!, to.name, null);
      else if (!tree.place(child, toParent!, to.name)) this.#w.needsRescan = true;
      return batch.move(fromPath, toPath, true);
    }
    // another directory is at the new name than the one recorded at the old name: no rename to reuse
    batch.delete(fromPath, true);
    if (r.kind === 'known') {
      if (r.moved && this.#h.excludesMatchPaths) this.#w.reconcileExcludes(r.node, batch);
      return batch.subtree(toPath, 'rescan');
    }
    this.#w.walk(new Walk([r.node]), batch);
    if (r.kind === 'fresh') batch.subtree(toPath, 'new-dir');
  }
}
