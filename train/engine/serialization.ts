/**
 * The serialization directory of a training run (the layout VirTex uses, plus TensorBoard files):
 *
 *   config.yaml                     resolved configuration (defaults ← file ← overrides), rewritten on each start
 *   log.jsonl                       one JSON object per logged step / validation: {step, epoch, loss, lr, …}
 *   events.out.tfevents.<s>.<host>  TensorBoard scalars (train/*, valid/*)
 *   checkpoint_<step>/              see checkpoint.ts
 *   LAST, BEST                      pointer files holding a checkpoint directory name, replaced atomically
 *
 * Crash safety: checkpoints and pointers are atomic; log.jsonl and event files are append-only and, on resume,
 * cut back to the resumed step (a partial last line from a kill is dropped too), so no step appears twice.
 */
import { appendFileSync, promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { TMP_MARK, writeFileAtomic } from '../../common/atomic.js';
import { writeResolvedConfig, type ConfigTree } from '../../common/config.js';
import { UsageError } from '../../common/errors.js';
import { checkpointName } from './checkpoint.js';
import { EventWriter, truncateEvents } from './tensorboard.js';

export type Pointer = 'LAST' | 'BEST';

export interface LogRecord {
  step: number;
  epoch: number;
  [key: string]: unknown;
}

export class SerializationDir {
  readonly logFile: string;

  constructor(readonly dir: string) {
    this.logFile = path.join(dir, 'log.jsonl');
  }

  /**
   * Prepare the directory. A fresh run refuses a directory that already holds one (pass resume instead); a resume
   * clears what a killed run left half-written (temp files and directories).
   */
  async open(opts: { resume: boolean; config?: ConfigTree }): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    if (!opts.resume && (await this.readPointer('LAST')) !== null) {
      throw new UsageError(`${this.dir} already holds a training run (LAST exists): pass --resume to continue it, or choose another --serialization-dir`);
    }
    for (const name of await fsp.readdir(this.dir)) {
      if (TMP_MARK.test(name) || /\.old-[0-9a-f]{8}$/.test(name)) await fsp.rm(path.join(this.dir, name), { recursive: true, force: true });
    }
    if (opts.config) await writeResolvedConfig(path.join(this.dir, 'config.yaml'), opts.config);
  }

  checkpointDir(step: number): string {
    return path.join(this.dir, checkpointName(step));
  }

  /**
   * The checkpoint directory `vlkit predict --checkpoint` names: the one BEST or LAST points to, or `which` itself as a
   * directory. `bestFallsBackToLast`: a run without validation data has no BEST; use LAST then.
   */
  async checkpointFor(which: string, bestFallsBackToLast: boolean): Promise<string> {
    if (which !== 'BEST' && which !== 'LAST') return which;
    let step = await this.readPointer(which);
    if (step === null && which === 'BEST' && bestFallsBackToLast) step = await this.readPointer('LAST');
    if (step === null) {
      const hint = which === 'BEST' && !bestFallsBackToLast ? ' (was validation data given?); try --checkpoint LAST' : '';
      throw new UsageError(`${this.dir} has no ${which} checkpoint${hint}`);
    }
    return this.checkpointDir(step);
  }

  /** The step a pointer names, or null when it does not exist. */
  async readPointer(name: Pointer): Promise<number | null> {
    let text: string;
    try {
      text = await fsp.readFile(path.join(this.dir, name), 'utf8');
    } catch {
      return null;
    }
    const m = /^checkpoint_(\d+)\s*$/.exec(text);
    if (!m) throw new UsageError(`${path.join(this.dir, name)}: expected 'checkpoint_<step>', found ${JSON.stringify(text.slice(0, 80))}`);
    return Number(m[1]);
  }

  async writePointer(name: Pointer, step: number): Promise<void> {
    await writeFileAtomic(path.join(this.dir, name), `${checkpointName(step)}\n`);
  }

  /** Append one record to log.jsonl (one write call per line, so a kill leaves at most one partial last line). */
  appendLog(rec: LogRecord): void {
    appendFileSync(this.logFile, JSON.stringify(rec) + '\n');
  }

  readLog(): LogRecord[] {
    let text: string;
    try {
      text = readFileSync(this.logFile, 'utf8');
    } catch {
      return [];
    }
    const out: LogRecord[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as LogRecord);
      } catch {
        break; // a partial line can only be the last one, written when the run was killed
      }
    }
    return out;
  }

  /** Keep only log lines and TensorBoard events up to `step` (inclusive). */
  async truncateTo(step: number): Promise<void> {
    const kept = this.readLog().filter((r) => r.step <= step);
    await writeFileAtomic(this.logFile, kept.map((r) => JSON.stringify(r) + '\n').join(''));
    await truncateEvents(this.dir, step);
  }

  eventWriter(): EventWriter {
    return new EventWriter(this.dir);
  }

  /** Delete old checkpoints beyond the newest `keep`, never the ones LAST or BEST name. keep ≤ 0 keeps all. */
  async prune(keep: number): Promise<void> {
    if (keep <= 0) return;
    const protect = new Set([await this.readPointer('LAST'), await this.readPointer('BEST')]);
    const steps = (await fsp.readdir(this.dir))
      .map((n) => /^checkpoint_(\d+)$/.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => b - a);
    for (const s of steps.slice(keep)) {
      if (!protect.has(s)) await fsp.rm(this.checkpointDir(s), { recursive: true, force: true });
    }
  }
}
