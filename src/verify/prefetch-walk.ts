/**
 * Worker side of a tree read ahead (prefetch.ts): one thread lists one tree depth-first, every directory
 * with its entries' records as the addon returns them (scan-native.ts scanDirRaw), and posts them back in
 * chunks. It yields between chunks so a stop request is seen within one chunk, and ends by itself at the
 * end of the tree or once `maxBytes` of records were read. Mechanism only: what to do with the records is
 * the comparison's business (walk-dir.ts).
 */
import { join, type RelPath } from '../util/bpath.ts';
import { readDirRaw, under, type XattrRead } from './entry-io.ts';
import { PathFilter } from './filter.ts';
import { devAt, kindAt } from './scan-native.ts';

export interface PrefetchJob {
  /** the tree's root, as a binary string (entry-io.ts binaryRoot) */
  root: string;
  xattrs: XattrRead;
  exclude: string[];
  /** the root's st_dev: directories of other filesystems are not entered */
  device: number;
  /** stop once this many bytes of records were read (the reader holds them all in memory) */
  maxBytes: number;
}

export interface PrefetchedDir {
  rel: RelPath;
  scan: Uint8Array;
}

/** Directories listed between two looks at the message queue. */
const CHUNK_DIRS = 16;

/** Runs the read-ahead; `post` gets each chunk, the last one with done: true. Returns the stop switch. */
export function startPrefetch(job: PrefetchJob, post: (scans: PrefetchedDir[], done: boolean) => void): { stop: () => void } {
  const filter = new PathFilter(job.exclude);
  const stack: RelPath[] = [''];
  let bytes = 0;
  let stopped = false;
  const chunk = (): void => {
    const out: PrefetchedDir[] = [];
    for (let n = 0; n < CHUNK_DIRS && stack.length > 0 && !stopped && bytes < job.maxBytes; n++) {
      const rel = stack.pop()!;
      const read = readDirRaw(under(job.root, rel), job.xattrs);
      if (!read.ok) continue; // the comparison reads it again, and reports the error
      const { buf, at } = read.dir;
      bytes += buf.length;
      out.push({ rel, scan: buf });
      for (const [name, p] of at) {
        const sub = join(rel, name);
        if (kindAt(buf, p) === 'dir' && devAt(buf, p) === job.device && !filter.excludes(sub, name, true)) stack.push(sub);
      }
    }
    const done = stopped || stack.length === 0 || bytes >= job.maxBytes;
    post(out, done);
    if (!done) setImmediate(chunk);
  };
  setImmediate(chunk);
  return { stop: () => void (stopped = true) };
}
