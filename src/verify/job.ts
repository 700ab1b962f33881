/**
 * Which two trees `livesync verify [name]` compares, from the job's files in the state dir:
 *   while mirroring   source = the job's source, target = the job's target (the record of a running job)
 *   after a cutover   source = <state-dir>/<name>/old (the kept old tree), target = the job's source path,
 *                     where the share is now mounted
 * The job record is src/daemon/registry.ts's `<state-dir>/<name>.json`. After a cutover the daemon may be
 * gone, so the record is then read without requiring a live daemon.
 */
import { join } from 'node:path';
import { jobPaths } from '../daemon/paths.ts';
import { readJobRecord, resolveJob } from '../daemon/registry.ts';
import { ExitCode } from '../errors/exit-codes.ts';
import { ToolError } from '../errors/errors.ts';
import { listDir, readText, statPath } from '../sys/state-files.ts';

export interface JobTrees {
  name: string;
  mode: 'mirroring' | 'after-cutover';
  source: string;
  target: string;
  /** the job's exclude patterns, when its record lists them */
  exclude: string[];
}

const oldTree = (stateDir: string, name: string): string => join(stateDir, name, 'old');

async function isDir(path: string): Promise<boolean> {
  const info = await statPath(path);
  return info.ok && info.value.kind === 'dir';
}

/** Fields verify needs from a record, read tolerantly (a stopped daemon's record, future fields). */
function parseLoose(text: string): { source?: string; exclude: string[] } {
  try {
    const r = JSON.parse(text) as Record<string, unknown>;
    const exclude = Array.isArray(r['exclude']) ? r['exclude'].filter((p): p is string => typeof p === 'string') : [];
    return typeof r['source'] === 'string' ? { source: r['source'], exclude } : { exclude };
  } catch {
    return { exclude: [] };
  }
}

/** With no name: the only running job, else the only job with a kept old tree. */
async function pickName(stateDir: string): Promise<string> {
  try {
    return (await resolveJob(undefined, stateDir)).name;
  } catch (err) {
    if (!(err instanceof ToolError) || err.code !== 'E_NOT_RUNNING') throw err;
    const names = await listDir(stateDir);
    const cut: string[] = [];
    for (const n of names.ok ? names.value.sort() : []) if (await isDir(oldTree(stateDir, n))) cut.push(n);
    const [only] = cut;
    if (only !== undefined && cut.length === 1) return only;
    throw err;
  }
}

export async function resolveJobTrees(name: string | undefined, stateDir: string): Promise<JobTrees> {
  const paths = jobPaths(stateDir, name ?? (await pickName(stateDir)));
  const old = oldTree(stateDir, paths.name);
  if (await isDir(old)) {
    const text = await readText(paths.record);
    const loose = text.ok ? parseLoose(text.value) : { exclude: [] };
    if (loose.source === undefined) {
      throw new ToolError('E_VERIFY_NO_RECORD', `job ${paths.name} was cut over but its record ${paths.record} is gone, so its source path is unknown`, {
        hint: `name the trees: livesync verify --source ${old} --target <the job's source path>`,
        exitCode: ExitCode.precondition,
      });
    }
    return { name: paths.name, mode: 'after-cutover', source: old, target: loose.source, exclude: loose.exclude };
  }
  const record = await readJobRecord(paths);
  const text = await readText(paths.record);
  return { name: paths.name, mode: 'mirroring', source: record.source, target: record.target, exclude: text.ok ? parseLoose(text.value).exclude : [] };
}
