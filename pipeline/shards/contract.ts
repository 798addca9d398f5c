/**
 * The shard contract shared by local `--shards N`, the broker-less `--shard-index I --num-shards N` mode and
 * `vlkit queue`: one plan, one way to run a shard, one merge.
 *
 * - Plan: run id = sha256(stage, the stage's resolved options, the sorted input manifest). Shard i is the fixed
 *   contiguous slice [floor(i*n/N), floor((i+1)*n/N)) of the manifest — the same formula `vlkit extract --shard`
 *   uses. The plan is written once to `<run dir>/plan.json`; a shard needs nothing else (a queue job carries only
 *   the run dir and the shard index), so every machine must see the run dir on a shared filesystem.
 * - Write: a shard writes its outputs `shard-<i>.*` under temporary names (common/atomic.ts) and commits them, then
 *   its marker `shard-<i>.done.json` (rows, per-file sha256, seconds) the same way. Running a shard twice (a
 *   redelivered job, a worker wrongly declared stalled) rewrites identical bytes. The shard's own stale temp files
 *   are swept first (never the whole directory: other shards are being written there).
 * - Merge: only when every marker exists and every file still has the sha256 its marker records; outputs are
 *   concatenated in shard order into the files a single-process run writes.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { TMP_MARK, writeFileAtomic } from '../../common/atomic.js';
import { InputError, UsageError } from '../../common/errors.js';

export const STAGES = ['validate', 'arrow', 'extract'] as const;
export type Stage = (typeof STAGES)[number];

export interface Plan {
  run: string;
  stage: Stage;
  num_shards: number;
  /** Manifest size (images). */
  items: number;
  /** [start, end) of each shard in the manifest. */
  slices: [number, number][];
  /** The stage's resolved options (absolute paths), what every shard runs with. */
  options: Record<string, unknown>;
  /** The manifest itself, for stages whose shards must not re-list their inputs (validate). */
  manifest?: string[];
}

export interface ShardFile {
  name: string;
  bytes: number;
  sha256: string;
}

export interface DoneMarker {
  run: string;
  shard: number;
  rows: number;
  files: ShardFile[];
  seconds: number;
  /** Inputs the stage skipped (extract: images it could not decode), as a single-process run reports them. */
  failures?: { path: string; error: string }[];
}

/** What a stage brings to the contract. */
export interface StageAdapter {
  /** Write shard `index`'s outputs (committed, under `shardName(index)`-prefixed names in runDir); returns rows and file names. */
  runShard(plan: Plan, index: number, runDir: string): Promise<{ rows: number; files: string[]; failures?: DoneMarker['failures'] }>;
  /** Concatenate the shard outputs (in shard order) into the stage's final outputs. */
  merge(plan: Plan, markers: DoneMarker[], runDir: string): Promise<MergeResult>;
}

export interface MergeResult {
  outputs: string[];
  rows: number;
  /** The stage's exit code for the merged result (validate: 1 when some image is bad). */
  exitCode: number;
  /** The stage's own summary, printed by the CLI. */
  summary: unknown;
}

export const shardName = (i: number): string => `shard-${String(i).padStart(5, '0')}`;
export const planPath = (runDir: string): string => path.join(runDir, 'plan.json');
export const markerPath = (runDir: string, i: number): string => path.join(runDir, `${shardName(i)}.done.json`);

/** Slice bounds of shard i of n items in N shards (identical to features/inputs.ts shardSlice). */
export function sliceOf(n: number, i: number, count: number): [number, number] {
  return [Math.floor((i * n) / count), Math.floor(((i + 1) * n) / count)];
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export async function sha256File(file: string): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of createReadStream(file)) {
    h.update(c as Buffer);
    bytes += (c as Buffer).length;
  }
  return { sha256: h.digest('hex'), bytes };
}

/**
 * Build the plan. `hashedOptions` are the options that change outputs (not worker counts); `manifest` the sorted
 * input keys. The run id is the first 16 hex digits of the hash (64 bits: collisions are not a practical concern).
 */
export function makePlan(stage: Stage, options: Record<string, unknown>, hashedOptions: Record<string, unknown>, manifest: string[], numShards: number): Plan {
  if (!Number.isInteger(numShards) || numShards < 1) throw new UsageError(`number of shards must be a positive integer (got ${numShards})`);
  const h = createHash('sha256');
  h.update(`vlkit-shards-v1\0${stage}\0${JSON.stringify(hashedOptions)}\0${numShards}\0`);
  for (const key of manifest) h.update(key + '\0');
  const slices = Array.from({ length: numShards }, (_, i) => sliceOf(manifest.length, i, numShards));
  return { run: h.digest('hex').slice(0, 16), stage, num_shards: numShards, items: manifest.length, slices, options };
}

/**
 * Write plan.json, or check that the one already there is the same run (every `--shard-index` job of a Kubernetes
 * Indexed Job plans on its own and they must all agree).
 */
export async function savePlan(runDir: string, plan: Plan): Promise<void> {
  await fsp.mkdir(runDir, { recursive: true });
  const file = planPath(runDir);
  if (existsSync(file)) {
    const old = await loadPlan(runDir);
    if (old.run !== plan.run) {
      throw new UsageError(`${runDir} holds run ${old.run} (${old.stage}, ${old.num_shards} shards), not this run ${plan.run}: inputs or options differ; remove it or use another --run-dir`);
    }
    return;
  }
  await writeFileAtomic(file, JSON.stringify(plan, null, 1) + '\n');
}

export async function loadPlan(runDir: string): Promise<Plan> {
  const file = planPath(runDir);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    throw new InputError(file, 'no shard plan here (is this a run directory, on a filesystem this machine shares?)');
  }
  const plan = JSON.parse(text) as Plan;
  if (typeof plan.run !== 'string' || !(STAGES as readonly string[]).includes(plan.stage) || !Array.isArray(plan.slices)) {
    throw new InputError(file, 'not a vlkit shard plan');
  }
  return plan;
}

/**
 * Remove temp files an earlier attempt at this shard left (a killed worker). Only this shard's: other workers
 * are writing theirs in the same directory right now. A falsely stalled worker still running this very shard
 * loses its temp file and fails its (already superseded) attempt; this attempt writes the same bytes.
 */
async function sweepShardTmp(runDir: string, index: number): Promise<void> {
  const prefix = `${shardName(index)}.`;
  for (const name of await fsp.readdir(runDir)) {
    if (name.startsWith(prefix) && TMP_MARK.test(name)) await fsp.rm(path.join(runDir, name), { force: true });
  }
}

/** Run one shard to completion and write its marker. Safe to repeat: the outputs and marker are replaced atomically. */
export async function runShard(adapters: Record<Stage, StageAdapter>, runDir: string, index: number): Promise<DoneMarker> {
  const plan = await loadPlan(runDir);
  if (!Number.isInteger(index) || index < 0 || index >= plan.num_shards) throw new UsageError(`shard index ${index} outside 0..${plan.num_shards - 1}`);
  await sweepShardTmp(runDir, index);
  const t0 = performance.now();
  const { rows, files, failures } = await adapters[plan.stage].runShard(plan, index, runDir);
  const hashed: ShardFile[] = [];
  for (const name of files) hashed.push({ name, ...(await sha256File(path.join(runDir, name))) });
  const marker: DoneMarker = { run: plan.run, shard: index, rows, files: hashed, seconds: Number(((performance.now() - t0) / 1000).toFixed(3)) };
  if (failures && failures.length > 0) marker.failures = failures;
  await writeFileAtomic(markerPath(runDir, index), JSON.stringify(marker) + '\n');
  return marker;
}

/** Every shard's marker, checked against the files; throws listing the missing and inconsistent shard ids. */
export async function checkMarkers(runDir: string, plan: Plan): Promise<DoneMarker[]> {
  const missing: number[] = [];
  const bad: string[] = [];
  const markers: DoneMarker[] = [];
  for (let i = 0; i < plan.num_shards; i++) {
    let m: DoneMarker;
    try {
      m = JSON.parse(await fsp.readFile(markerPath(runDir, i), 'utf8')) as DoneMarker;
    } catch {
      missing.push(i);
      continue;
    }
    if (m.run !== plan.run || m.shard !== i) {
      bad.push(`${i} (marker of run ${m.run} shard ${m.shard})`);
      continue;
    }
    for (const f of m.files) {
      const p = path.join(runDir, f.name);
      const actual = existsSync(p) ? await sha256File(p) : undefined;
      if (!actual) bad.push(`${i} (${f.name} missing)`);
      else if (actual.sha256 !== f.sha256) bad.push(`${i} (${f.name} sha256 differs from its marker)`);
    }
    markers.push(m);
  }
  if (missing.length > 0 || bad.length > 0) {
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`missing shard(s) ${missing.join(', ')}`);
    if (bad.length > 0) parts.push(`inconsistent shard(s) ${bad.join('; ')}`);
    throw new InputError(runDir, `cannot merge run ${plan.run} (${plan.num_shards} shards): ${parts.join('; ')}`);
  }
  return markers;
}

/** Merge a complete run into the stage's final outputs. Repeating it rewrites the same bytes. */
export async function mergeRun(adapters: Record<Stage, StageAdapter>, runDir: string): Promise<MergeResult & { run: string; stage: Stage }> {
  const plan = await loadPlan(runDir);
  const markers = await checkMarkers(runDir, plan);
  const result = await adapters[plan.stage].merge(plan, markers, runDir);
  return { run: plan.run, stage: plan.stage, ...result };
}
