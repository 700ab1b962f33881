/**
 * The dirty set: every path whose state on the target may differ from the source, keyed by path in a trie of
 * path components. It is the engine's first-class structure: the steady-state batches and the cutover's final
 * delta both drain it, in O(dirty entries), never by scanning the tree.
 *
 *   mark*     O(depth) per event, no list is ever scanned; a path marked twice is one entry (coalescing)
 *   move      re-keys the dirty entries under `from` to `to` in O(depth) (the subtree node is re-parented)
 *   collapse  a directory holding more than COLLAPSE_CHILDREN dirty children becomes one recursive entry,
 *             so memory is bounded by distinct paths and a burst in one directory is one `rsync -r dir/`
 *   drain     hands out every entry, grouped by how it must be synced, and empties the set
 *
 * Entry kinds (flags, several may combine on one node):
 *   META   the entry itself (existence, type, attributes; a deleted path is a META entry whose source is gone)
 *   DATA   content was written: rsync's quick check may be fooled by a same-size rewrite in the same mtime tick,
 *          so the batch decides whether to force a content comparison (see src/engine/batch-plan.ts)
 *   DEEP   everything under the directory, recursively (new directory, overflow, unwatched, collapsed)
 *   GONE   deleted or moved away (its parent's mtime is fixed by a follow-up entry once the deletion landed)
 * A DEEP ancestor absorbs every later mark below it.
 *
 * Timestamps: each entry keeps the time it was first marked; `oldest` is the first-marked time of the oldest
 * entry (the lag clock), kept as a running minimum and reset by drain.
 */
import { components, join, type RelPath } from '../util/bpath.ts';

export const META = 1;
export const DATA = 2;
export const DEEP = 4;
/** the path was deleted or moved away: rsync's deletion changes the parent's mtime after rsync set it */
export const GONE = 8;

/** A directory with more dirty children than this is synced as one recursive entry. */
export const COLLAPSE_CHILDREN = 512;

interface Node {
  children: Map<string, Node> | null;
  flags: number;
  /** ms since epoch when first marked; 0 when the node only carries children */
  since: number;
}

export interface DirtyEntry {
  path: RelPath;
  flags: number;
  since: number;
}

export interface Drained {
  entries: DirtyEntry[];
  /** first-marked time of the oldest entry, null when empty */
  oldest: number | null;
}

function newNode(): Node {
  return { children: null, flags: 0, since: 0 };
}

export class DirtySet {
  #root: Node = newNode();
  #size = 0;
  #oldest: number | null = null;

  /** number of entries (distinct dirty paths) */
  get size(): number {
    return this.#size;
  }

  /** first-marked time of the oldest entry, or null */
  get oldest(): number | null {
    return this.#oldest;
  }

  mark(path: RelPath, flags: number, since: number): void {
    let node = this.#root;
    for (const name of components(path)) {
      if (node.flags & DEEP) return; // covered by a recursive ancestor
      node.children ??= new Map();
      let child = node.children.get(name);
      if (!child) {
        child = newNode();
        node.children.set(name, child);
        if (node.children.size > COLLAPSE_CHILDREN && node !== this.#root) {
          this.#setFlags(node, DEEP | META, since);
          this.#dropChildren(node);
          return;
        }
      }
      node = child;
    }
    if (node.flags & DEEP) return;
    this.#setFlags(node, flags, since);
    if (flags & DEEP) this.#dropChildren(node);
  }

  /**
   * A rename inside the tree: the dirty entries under `from` now live under `to`; `from` becomes a META entry
   * (gone from the source) and `to` a META entry (appeared). Returns nothing; O(depth).
   */
  move(from: RelPath, to: RelPath, since: number): void {
    const detached = this.#detach(from);
    this.mark(from, META | GONE, since);
    if (detached) {
      const target = this.#nodeFor(to);
      if (target) {
        // `to` may already hold entries (a replaced file): merge by keeping the moved node's subtree.
        this.#size -= this.#countEntries(target);
        target.children = detached.children;
        target.flags = detached.flags;
        target.since = detached.since;
        this.#size += this.#countEntries(target);
        if (detached.since) this.#noteSince(detached.since);
      }
    }
    this.mark(to, META, since);
  }

  /** Every entry, then empty. O(number of nodes). */
  drain(): Drained {
    const entries: DirtyEntry[] = [];
    const stack: Array<[Node, RelPath]> = [[this.#root, '']];
    while (stack.length > 0) {
      const [node, path] = stack.pop()!;
      if (node.flags) entries.push({ path, flags: node.flags, since: node.since });
      if (node.children && !(node.flags & DEEP)) {
        for (const [name, child] of node.children) stack.push([child, join(path, name)]);
      }
    }
    const oldest = this.#oldest;
    this.#root = newNode();
    this.#size = 0;
    this.#oldest = null;
    return { entries, oldest };
  }

  /** Put entries back (a failed batch), keeping their original first-marked times. */
  restore(entries: readonly DirtyEntry[]): void {
    for (const e of entries) this.mark(e.path, e.flags, e.since);
  }

  /** Paths (with flags) without draining: for status, dry runs and persistence. */
  peek(limit = Infinity): DirtyEntry[] {
    const out: DirtyEntry[] = [];
    const stack: Array<[Node, RelPath]> = [[this.#root, '']];
    while (stack.length > 0 && out.length < limit) {
      const [node, path] = stack.pop()!;
      if (node.flags) out.push({ path, flags: node.flags, since: node.since });
      if (node.children && !(node.flags & DEEP)) {
        for (const [name, child] of node.children) stack.push([child, join(path, name)]);
      }
    }
    return out;
  }

  #setFlags(node: Node, flags: number, since: number): void {
    if (!node.flags) {
      this.#size++;
      node.since = since;
    } else if (since < node.since) {
      node.since = since;
    }
    node.flags |= flags;
    this.#noteSince(node.since);
  }

  #noteSince(since: number): void {
    if (this.#oldest === null || since < this.#oldest) this.#oldest = since;
  }

  #dropChildren(node: Node): void {
    if (!node.children) return;
    for (const child of node.children.values()) {
      this.#size -= this.#countEntries(child);
      if (child.since && child.since < node.since) node.since = child.since;
    }
    node.children = null;
  }

  #countEntries(node: Node): number {
    let n = 0;
    const stack = [node];
    while (stack.length > 0) {
      const cur = stack.pop()!;
      if (cur.flags) n++;
      if (cur.children) for (const c of cur.children.values()) stack.push(c);
    }
    return n;
  }

  /** Removes the node at `path` (with its subtree) and returns it; fixes the entry count. */
  #detach(path: RelPath): Node | null {
    const names = components(path);
    const last = names.pop();
    if (last === undefined) return null;
    let node = this.#root;
    for (const name of names) {
      if (node.flags & DEEP) return null;
      const child = node.children?.get(name);
      if (!child) return null;
      node = child;
    }
    const found = node.children?.get(last);
    if (!found) return null;
    node.children!.delete(last);
    this.#size -= this.#countEntries(found);
    return found;
  }

  /** The node for `path`, created if needed; null when a DEEP ancestor already covers it. */
  #nodeFor(path: RelPath): Node | null {
    let node = this.#root;
    for (const name of components(path)) {
      if (node.flags & DEEP) return null;
      node.children ??= new Map();
      let child = node.children.get(name);
      if (!child) {
        child = newNode();
        node.children.set(name, child);
      }
      node = child;
    }
    return node;
  }
}
