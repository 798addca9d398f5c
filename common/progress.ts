/**
 * Progress and log lines, always on stderr so stdout carries only results.
 *
 * `bar`: a live bar (rate, ETA) for people at a terminal. `json`: one JSON object per line every few seconds, for
 * schedulers and log collectors. `auto` picks `bar` on a TTY and `json` otherwise. `none` is silent.
 */
import cliProgress from 'cli-progress';

export type LogFormat = 'bar' | 'json' | 'none';
export const LOG_FORMATS = ['auto', 'bar', 'json', 'none'] as const;

export function resolveLogFormat(flag: string | undefined, stream: NodeJS.WriteStream = process.stderr): LogFormat {
  if (flag === undefined || flag === 'auto') return stream.isTTY ? 'bar' : 'json';
  if (flag === 'bar' || flag === 'json' || flag === 'none') return flag;
  throw new Error(`--log-format must be one of ${LOG_FORMATS.join(', ')} (got '${flag}')`);
}

/** Human or JSON log lines on stderr, matching the progress format. */
export class Logger {
  constructor(
    readonly format: LogFormat,
    private readonly out: NodeJS.WritableStream = process.stderr,
  ) {}

  info(msg: string, fields: Record<string, unknown> = {}): void {
    this.write('info', msg, fields);
  }

  warn(msg: string, fields: Record<string, unknown> = {}): void {
    this.write('warn', msg, fields);
  }

  private write(level: string, msg: string, fields: Record<string, unknown>): void {
    if (this.format === 'json') this.out.write(JSON.stringify({ event: 'log', level, msg, ...fields }) + '\n');
    else if (this.format === 'bar') this.out.write(`${level === 'warn' ? 'warning: ' : ''}${msg}\n`);
  }
}

export interface ProgressOptions {
  format: LogFormat;
  /** What is counted, e.g. "images", "rows". */
  unit: string;
  /** Task name in JSON lines, e.g. "validate". */
  task: string;
  /** Total if known up front (directory walks often are not). */
  total?: number;
  /** Interval between JSON lines. */
  intervalMs?: number;
  out?: NodeJS.WriteStream;
}

export class Progress {
  private done = 0;
  private total: number | undefined;
  private readonly started = Date.now();
  private lastJson = 0;
  private bar: cliProgress.SingleBar | undefined;
  private readonly intervalMs: number;
  private readonly out: NodeJS.WriteStream;

  constructor(private readonly opts: ProgressOptions) {
    this.total = opts.total;
    this.intervalMs = opts.intervalMs ?? 5000;
    this.out = opts.out ?? process.stderr;
    if (opts.format === 'bar') {
      this.bar = new cliProgress.SingleBar(
        {
          stream: this.out,
          format: `${opts.task} [{bar}] {value}/{total} ${opts.unit} | {rate} ${opts.unit}/s | ETA {eta_formatted}`,
          hideCursor: true,
          etaBuffer: 200,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(this.total ?? 0, 0, { rate: '0.0' });
    }
  }

  /** The total became known (or grew, for streamed inputs). */
  setTotal(total: number): void {
    this.total = total;
    this.bar?.setTotal(total);
  }

  /** Count finished items. */
  tick(n = 1): void {
    this.done += n;
    const rate = this.rate();
    this.bar?.update(this.done, { rate: rate.toFixed(1) });
    if (this.opts.format === 'json') {
      const now = Date.now();
      if (now - this.lastJson >= this.intervalMs) {
        this.lastJson = now;
        this.emitJson();
      }
    }
  }

  /** Finish: stop the bar, emit a final JSON line. */
  stop(): void {
    this.bar?.stop();
    if (this.opts.format === 'json') this.emitJson(true);
  }

  get count(): number {
    return this.done;
  }

  private rate(): number {
    const s = (Date.now() - this.started) / 1000;
    return s > 0 ? this.done / s : 0;
  }

  private emitJson(final = false): void {
    const rate = this.rate();
    const eta = this.total !== undefined && rate > 0 ? Math.max(0, (this.total - this.done) / rate) : null;
    const line = {
      event: final ? 'done' : 'progress',
      task: this.opts.task,
      unit: this.opts.unit,
      done: this.done,
      total: this.total ?? null,
      rate: Number(rate.toFixed(2)),
      eta_s: eta === null ? null : Number(eta.toFixed(1)),
      elapsed_s: Number(((Date.now() - this.started) / 1000).toFixed(1)),
    };
    this.out.write(JSON.stringify(line) + '\n');
  }
}
