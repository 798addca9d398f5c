/**
 * The end-of-run summary, computed over the whole report (lines from an earlier, resumed run included): counts per
 * class and duplicate files by content hash. Empty files are left out of duplicates (they all share one hash and
 * are already reported as `empty`).
 *
 * Memory: one entry per distinct hash (~200 bytes with its first path), the only per-file state a run keeps
 * besides the set of reported paths that makes resume and repeated inputs skip work.
 */
import { ERROR_CLASSES, type ErrorClass } from './classify.js';
import type { ReportLine } from './report.js';

export interface DuplicateGroup {
  sha256: string;
  paths: string[];
}

export interface ValidateSummary {
  report: string;
  total: number;
  ok: number;
  bad: number;
  classes: Record<'ok' | ErrorClass, number>;
  duplicates: DuplicateGroup[];
  /** Lines carried over from an earlier run (`--resume`). */
  resumed: number;
  /** `--fix` copies that could not be written (each was logged). */
  fix_failed: number;
}

export class SummaryBuilder {
  private readonly classes = Object.fromEntries(['ok', ...ERROR_CLASSES].map((c) => [c, 0])) as Record<'ok' | ErrorClass, number>;
  private total = 0;
  // hash → first path, or every path once a second one turns up.
  private readonly byHash = new Map<string, string | string[]>();
  resumed = 0;
  fixFailed = 0;

  add(line: ReportLine): void {
    this.total++;
    this.classes[line.ok ? 'ok' : line.error!]++;
    if (line.bytes === 0) return;
    const seen = this.byHash.get(line.sha256);
    if (seen === undefined) this.byHash.set(line.sha256, line.path);
    else if (typeof seen === 'string') this.byHash.set(line.sha256, [seen, line.path]);
    else seen.push(line.path);
  }

  build(report: string): ValidateSummary {
    const duplicates: DuplicateGroup[] = [];
    for (const [sha256, paths] of this.byHash) if (Array.isArray(paths)) duplicates.push({ sha256, paths });
    duplicates.sort((a, b) => (a.paths[0]! < b.paths[0]! ? -1 : 1));
    return {
      report,
      total: this.total,
      ok: this.classes.ok,
      bad: this.total - this.classes.ok,
      classes: { ...this.classes },
      duplicates,
      resumed: this.resumed,
      fix_failed: this.fixFailed,
    };
  }
}

/** Human-readable summary for stdout. */
export function formatSummary(s: ValidateSummary, maxGroups = 20): string {
  const rows: Array<[string, string]> = [['class', 'files'], ...Object.entries(s.classes).map(([k, v]): [string, string] => [k, String(v)]), ['total', String(s.total)]];
  const w = Math.max(...rows.map((r) => r[0].length));
  const out = [`validate: ${s.ok} good, ${s.bad} bad of ${s.total} files${s.resumed ? ` (${s.resumed} from the earlier run)` : ''} — report ${s.report}`, ''];
  for (const [k, v] of rows) out.push(`  ${k.padEnd(w)}  ${v.padStart(7)}`);
  if (s.fix_failed) out.push('', `--fix copies that failed: ${s.fix_failed} (see the log)`);
  const dupFiles = s.duplicates.reduce((n, g) => n + g.paths.length, 0);
  out.push('', `duplicates by content: ${s.duplicates.length} group(s), ${dupFiles} files`);
  for (const g of s.duplicates.slice(0, maxGroups)) {
    out.push(`  ${g.sha256.slice(0, 12)}  ${g.paths.join('  ')}`);
  }
  if (s.duplicates.length > maxGroups) out.push(`  ... ${s.duplicates.length - maxGroups} more group(s): use --json for all`);
  return out.join('\n') + '\n';
}
