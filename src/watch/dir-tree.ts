/**
 * The watcher's picture of the directory tree: one node per directory (watched or not), each holding only its
 * parent and its own name, never its full path. A moved directory is re-parented in O(1) and every
 * descendant's path follows, derived on demand by walking up. Pure data: no I/O (dir-watches.ts does that).
 *
 * A node whose parent's map no longer points at it is an orphan: a directory whose old place was taken over
 * by a newer directory before the kernel's events about the rename were read. Later events (or the overflow
 * rescan) settle where it really is.
 */
import { InternalError } from '../errors/errors.ts';
import type { RelPath } from '../util/bpath.ts';

export interface DirNode {
  /** inotify watch descriptor; -1 when the directory has no watch (it is on the unwatched list) */
  wd: number;
  parent: DirNode | null;
  name: string;
  children: Map<string, DirNode> | null;
  /** errno of the failed add_watch or listing while the node is on the unwatched list */
  errno: string | null;
  /** the kernel said the directory itself was deleted (IN_DELETE_SELF) */
  deleted: boolean;
  /** removed from the tree; stale references (a walk stack) must skip it */
  dropped: boolean;
}

/** Deeper than any real tree (PATH_MAX 4096 allows at most 2048 components): a parent cycle, i.e. a bug. */
const MAX_DEPTH = 4096;

export class DirTree {
  readonly root: DirNode;
  #byWd = new Map<number, DirNode>();
  #unwatched = new Set<DirNode>();

  constructor(rootWd: number) {
    this.root = { wd: rootWd, parent: null, name: '', children: null, errno: null, deleted: false, dropped: false };
    this.#byWd.set(rootWd, this.root);
  }

  get watchedCount(): number {
    return this.#byWd.size;
  }

  byWd(wd: number): DirNode | undefined {
    return this.#byWd.get(wd);
  }

  child(parent: DirNode, name: string): DirNode | undefined {
    return parent.children?.get(name);
  }

  pathOf(node: DirNode): RelPath {
    if (node.parent === null) return '';
    const names: string[] = [];
    let depth = 0;
    for (let n: DirNode | null = node; n !== null && n.parent !== null; n = n.parent) {
      names.push(n.name);
      if (++depth > MAX_DEPTH) throw new InternalError('directory tree has a parent cycle');
    }
    return names.reverse().join('/');
  }

  /** True when `node` is `ancestor` or lies under it. */
  isWithin(node: DirNode, ancestor: DirNode): boolean {
    let depth = 0;
    for (let n: DirNode | null = node; n !== null; n = n.parent) {
      if (n === ancestor) return true;
      if (++depth > MAX_DEPTH) throw new InternalError('directory tree has a parent cycle');
    }
    return false;
  }

  /** A new node at parent/name (whatever was recorded there becomes an orphan). */
  add(parent: DirNode, name: string, wd: number): DirNode {
    const node: DirNode = { wd: -1, parent, name, children: null, errno: null, deleted: false, dropped: false };
    this.#link(node, parent, name);
    if (wd >= 0) this.setWatch(node, wd);
    return node;
  }

  /**
   * Moves `node` to parent/name. Returns false (and changes nothing) when that would put a directory inside
   * itself, which only a stale picture can ask for.
   */
  place(node: DirNode, parent: DirNode, name: string): boolean {
    if (node.parent === parent && node.name === name && parent.children?.get(name) === node) return true;
    if (this.isWithin(parent, node)) return false;
    this.detach(node);
    this.#link(node, parent, name);
    return true;
  }

  #link(node: DirNode, parent: DirNode, name: string): void {
    const children = parent.children ?? (parent.children = new Map());
    children.set(name, node);
    node.parent = parent;
    node.name = name;
  }

  /** True when `node`'s parent still records it under its name (false for orphans and dropped nodes). */
  isLinked(node: DirNode): boolean {
    return node.parent === null ? !node.dropped : node.parent.children?.get(node.name) === node;
  }

  /** Unlinks `node` from its parent's map (if it is still the one recorded there). */
  detach(node: DirNode): void {
    const siblings = node.parent?.children;
    if (siblings?.get(node.name) === node) siblings.delete(node.name);
  }

  setWatch(node: DirNode, wd: number): void {
    node.wd = wd;
    node.errno = null;
    node.deleted = false;
    this.#unwatched.delete(node);
    this.#byWd.set(wd, node);
  }

  /** Forgets the node's watch (the kernel dropped it or we removed it). */
  forgetWatch(node: DirNode): void {
    if (node.wd >= 0 && this.#byWd.get(node.wd) === node) this.#byWd.delete(node.wd);
    node.wd = -1;
  }

  markUnwatched(node: DirNode, errno: string): void {
    node.errno = errno;
    this.#unwatched.add(node);
  }

  clearUnwatched(node: DirNode): void {
    node.errno = null;
    this.#unwatched.delete(node);
  }

  get unwatchedCount(): number {
    return this.#unwatched.size;
  }

  unwatched(): DirNode[] {
    return [...this.#unwatched];
  }

  /** Removes `node` and its whole subtree from the picture; returns the watch descriptors that were live. */
  drop(node: DirNode): number[] {
    const wds: number[] = [];
    this.detach(node);
    for (const n of this.subtree(node)) {
      if (n.wd >= 0 && this.#byWd.get(n.wd) === n) {
        wds.push(n.wd);
        this.#byWd.delete(n.wd);
      }
      this.#unwatched.delete(n);
      n.wd = -1;
      n.dropped = true;
    }
    return wds;
  }

  /** `node` and every node under it (iterative: no recursion depth limit). */
  subtree(node: DirNode): DirNode[] {
    const out: DirNode[] = [];
    const stack = [node];
    for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
      out.push(n);
      if (n.children) for (const c of n.children.values()) if (c.parent === n) stack.push(c);
    }
    return out;
  }

  /** Every node that holds a watch or sits on the unwatched list (orphans included). */
  allNodes(): DirNode[] {
    return [...new Set([...this.#byWd.values(), ...this.#unwatched])];
  }
}
