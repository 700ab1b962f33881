/**
 * The test oracle: rsync in dry-run checksum mode lists every difference between two trees — content
 * (checksum), type, mode, owner, group, mtime to the nanosecond, symlink targets, hard links, xattrs — plus
 * extra and missing entries. livesync's own cookie files are ignored. Empty list = identical.
 */
import { execFileSync } from 'node:child_process';

export function differences(source: string, target: string): string[] {
  const out = execFileSync(
    'rsync',
    ['-aHAXn', '--checksum', '--delete', '--numeric-ids', '--modify-window=-1', '--itemize-changes', '--exclude=/.livesync-*', `${source}/`, `${target}/`],
    { encoding: 'latin1', maxBuffer: 256 * 1024 * 1024 },
  );
  return out.split('\n').filter((l) => l.trim() !== '');
}
