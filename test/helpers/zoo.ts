/**
 * A small writer zoo for cutover tests: real processes writing gap-free counters into a tree in the ways that
 * break naive cutovers (see test/proc for the full zoo): relative paths from a subdirectory cwd, a held
 * O_APPEND fd, a held positioned fd (no append), and a reader (tail -F). `check` reads the counters back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Zoo extends AsyncDisposable {
  procs: ChildProcess[];
  alive: () => boolean[];
  stop: () => Promise<void>;
}

const PY_POSITIONED = `
import os, sys, time
f = open(sys.argv[1], 'r+b' if os.path.exists(sys.argv[1]) else 'w+b')
i = 0
while True:
    i += 1
    f.seek((i - 1) * 8)
    f.write(b'%07d\\n' % i)
    f.flush()
    time.sleep(0.01)
`;

export function startZoo(root: string): Zoo {
  const sub = join(root, 'app', 'sub');
  mkdirSync(sub, { recursive: true });
  const procs = [
    spawn('bash', ['-c', 'i=0; while :; do i=$((i+1)); echo $i >> rel.log; sleep 0.01; done'], { cwd: sub, stdio: 'ignore' }),
    spawn('bash', ['-c', 'exec 3>>held.log; i=0; while :; do i=$((i+1)); echo $i >&3; sleep 0.01; done'], { cwd: sub, stdio: 'ignore' }),
    spawn('python3', ['-c', PY_POSITIONED, 'positioned.dat'], { cwd: sub, stdio: 'ignore' }),
    spawn('tail', ['-F', '-n', '0', 'rel.log'], { cwd: sub, stdio: 'ignore' }),
  ];
  const stop = async (): Promise<void> => {
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once('exit', () => resolve());
            p.kill('SIGKILL');
          }),
      ),
    );
  };
  return {
    procs,
    alive: () => procs.map((p) => p.exitCode === null && p.signalCode === null),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Counters found in the zoo's files under `root`, and their gaps. */
export function counters(root: string): Record<string, { count: number; last: number; gaps: Array<[number, number]> }> {
  const sub = join(root, 'app', 'sub');
  const out: Record<string, { count: number; last: number; gaps: Array<[number, number]> }> = {};
  for (const name of ['rel.log', 'held.log', 'positioned.dat']) {
    let nums: number[];
    try {
      nums = readFileSync(join(sub, name), 'latin1').split('\n').filter((l) => l.trim() !== '' && !l.includes('\0')).map(Number);
    } catch {
      nums = [];
    }
    const gaps: Array<[number, number]> = [];
    for (let i = 1; i < nums.length; i++) if (nums[i] !== nums[i - 1]! + 1) gaps.push([nums[i - 1]!, nums[i]!]);
    if (nums.length > 0 && nums[0] !== 1) gaps.push([0, nums[0]!]);
    out[name] = { count: nums.length, last: nums[nums.length - 1] ?? 0, gaps };
  }
  return out;
}
