/**
 * `livesync verify` behind the CLI edge: resolves the two trees (a pair, or a job's), runs verifyTrees with
 * progress on stderr when it is a terminal, prints the report (text or one JSON object) and signals
 * "differences found" as QuietExit(8). Output goes through the writers the command passes in.
 */
import { ExitCode } from '../errors/exit-codes.ts';
import { QuietExit } from '../errors/errors.ts';
import type { VerifyRequest } from './cli-options.ts';
import { resolveJobTrees, type JobTrees } from './job.ts';
import { progressLine, renderText } from './render.ts';
import { verifyTrees } from './verify.ts';

export interface VerifyIo {
  write: (text: string) => void;
  /** a terminal line to redraw in place; undefined when stderr is not a terminal */
  progress: ((line: string) => void) | undefined;
}

export async function runVerify(request: VerifyRequest, io: VerifyIo): Promise<void> {
  const { trees: asked } = request;
  const job: JobTrees | undefined = asked.kind === 'job' ? await resolveJobTrees(asked.name, asked.stateDir) : undefined;
  const { source, target } = asked.kind === 'pair' ? asked : job!;
  const started = performance.now();
  const show = io.progress;
  const report = await verifyTrees({
    source,
    target,
    checksum: request.checksum,
    samplePercent: request.samplePercent,
    sampleSeed: request.sampleSeed,
    exclude: [...(job?.exclude ?? []), ...request.exclude],
    jobs: request.jobs,
    xattrs: request.xattrs,
    mtimePrecisionNs: request.mtimePrecisionNs,
    recheckDelayMs: request.recheckDelayMs,
    // a running job's heartbeat cookie comes and goes in the root, moving its mtime
    ignoreRootMtime: job !== undefined,
    // the mirror copies with rsync -x: filesystems mounted inside the source are not part of the job
    oneFileSystem: request.oneFileSystem || job !== undefined,
    onProgress: show ? (p) => show(progressLine(p, performance.now() - started)) : undefined,
  });
  show?.('');
  if (request.json) {
    io.write(`${JSON.stringify(job ? { ...report, job: { name: job.name, mode: job.mode } } : report)}\n`);
  } else {
    io.write(`${job ? `job ${job.name} (${job.mode})\n` : ''}${renderText(report)}`);
  }
  if (!report.identical) throw new QuietExit(ExitCode.differences);
}
