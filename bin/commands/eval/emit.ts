/**
 * How the VQA/NLVR2/GQA eval commands hand back results: a human-readable table on stdout, or with `--json` exactly
 * one JSON object on stdout; `--out FILE` also writes the JSON atomically. Warnings go to stderr.
 */
import { writeFileAtomic } from '../../../common/atomic.js';

export interface EmitOptions {
  json?: boolean;
  out?: string;
}

export async function emitMetrics(name: string, metrics: object, table: string, warnings: string[], opts: EmitOptions): Promise<void> {
  for (const w of warnings) process.stderr.write(`vlkit eval ${name}: warning: ${w}\n`);
  const json = JSON.stringify(metrics, null, 2) + '\n';
  if (opts.out) await writeFileAtomic(opts.out, json);
  process.stdout.write(opts.json ? json : table);
}

/** Rows of `label  value` with the labels padded to one column. */
export function formatRows(rows: [string, string][], indent = ''): string {
  const width = Math.max(0, ...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${indent}${k.padEnd(width)}  ${v}\n`).join('');
}

/** A percentage as the official scripts print it (two decimals), or a dash for an unavailable metric. */
export function pct(x: number | null): string {
  return x === null ? '-' : x.toFixed(2);
}
