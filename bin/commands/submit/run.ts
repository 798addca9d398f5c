/**
 * The part every `vlkit submit <task>` shares: report problems on stderr (counts and first examples), write
 * nothing and exit 1 when there are any, unless --force; print the written paths on stdout.
 */
import { EXIT_OK, EXIT_PROBLEMS } from '../../../common/errors.js';
import { writeSubmission, type Submission } from '../../../eval/submit/index.js';

export async function runSubmission(task: string, sub: Submission, force: boolean): Promise<number> {
  if (!sub.problems.ok) {
    process.stderr.write(`vlkit submit ${task}: problems found:\n${sub.problems.format().replace(/^/gm, '  ')}\n`);
  }
  const outcome = await writeSubmission(sub, force);
  if (!outcome.written) {
    process.stderr.write(`vlkit submit ${task}: nothing written (fix the predictions, or --force to write the ${sub.count} valid records anyway)\n`);
    return EXIT_PROBLEMS;
  }
  if (!sub.problems.ok) process.stderr.write(`vlkit submit ${task}: --force: written with the problems above (${sub.count} records)\n`);
  for (const p of outcome.paths) process.stdout.write(`${p}\n`);
  return EXIT_OK;
}
