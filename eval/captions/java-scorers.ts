/**
 * The parts of COCO caption evaluation that only exist in Java: the real Stanford PTBTokenizer (`--ptb-jar`),
 * METEOR 1.5 and SPICE 1.0, driven exactly as pycocoevalcap drives them. They run only with the user's own jars;
 * when Java or a jar is missing the caller reports the metric as null, never an invented number.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { npMean } from '../pairwise-sum.js';

/** Whether a `java` executable answers `java -version`. */
export function javaAvailable(): boolean {
  const r = spawnSync('java', ['-version'], { stdio: 'ignore' });
  return r.status === 0;
}

function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${err.trim().slice(-500)}`))));
  });
}

/** Lines printed by `PTBTokenizer -preserveLines -lowerCase` on `text` (pycocoevalcap's invocation, file input). */
export async function ptbTokenizeWithJar(jar: string, text: string): Promise<string[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vlkit-ptb-'));
  try {
    const file = path.join(dir, 'captions.txt');
    writeFileSync(file, text, 'utf8');
    const out = await run('java', ['-cp', path.resolve(jar), 'edu.stanford.nlp.process.PTBTokenizer', '-preserveLines', '-lowerCase', file]);
    return out.split('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * METEOR 1.5 in `-stdio` mode: one `SCORE ||| refs... ||| hyp` line per image (each answered by a statistics
 * line), then one `EVAL ||| stats ||| ...` line, answered by one score per image and then the corpus score.
 */
export async function meteorWithJar(jar: string, refs: string[][], hyps: string[]): Promise<{ score: number; perImage: number[] }> {
  const child = spawn('java', ['-jar', '-Xmx2G', path.resolve(jar), '-', '-', '-stdio', '-l', 'en', '-norm'], {
    cwd: path.dirname(path.resolve(jar)),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<never>((_, reject) => {
    child.on('error', reject);
    child.on('close', (code) => reject(new Error(`METEOR exited early (code ${code}): ${stderr.trim().slice(-500)}`)));
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const r = await Promise.race([lines.next(), exited]);
    if (r.done) throw new Error(`METEOR closed its output: ${stderr.trim().slice(-500)}`);
    return r.value.trim();
  };
  try {
    const stats: string[] = [];
    for (let i = 0; i < hyps.length; i++) {
      const hyp = hyps[i]!.replaceAll('|||', '').replaceAll('  ', ' ');
      child.stdin.write(['SCORE', refs[i]!.join(' ||| '), hyp].join(' ||| ') + '\n');
      stats.push(await next());
    }
    child.stdin.write(['EVAL', ...stats].join(' ||| ') + '\n');
    const perImage: number[] = [];
    for (let i = 0; i < hyps.length; i++) perImage.push(Number(await next()));
    const score = Number(await next());
    return { score, perImage };
  } finally {
    child.stdin.end();
    child.kill();
  }
}

/**
 * SPICE 1.0: a JSON file of {image_id, test, refs} sorted by image id, `-out` JSON back; the corpus score is the
 * mean of each image's `All.f` (NaN where SPICE gives none), as pycocoevalcap averages it.
 */
export async function spiceWithJar(jar: string, ids: (number | string)[], refs: string[][], hyps: string[]): Promise<{ score: number; perImage: Map<number | string, number> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vlkit-spice-'));
  try {
    const order = ids.map((id, i) => ({ id, i })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const input = order.map(({ id, i }) => ({ image_id: id, test: hyps[i], refs: refs[i] }));
    const inFile = path.join(dir, 'in.json');
    const outFile = path.join(dir, 'out.json');
    writeFileSync(inFile, JSON.stringify(input, null, 2));
    const cache = path.join(dir, 'cache');
    await run('java', ['-jar', '-Xmx8G', path.resolve(jar), inFile, '-cache', cache, '-out', outFile, '-subset', '-silent'], path.dirname(path.resolve(jar)));
    if (!existsSync(outFile)) throw new Error('SPICE wrote no output');
    const results = JSON.parse(readFileSync(outFile, 'utf8')) as { image_id: number | string; scores: { All: { f: unknown } } }[];
    const perImage = new Map<number | string, number>();
    const all: number[] = [];
    for (const item of results) {
      const f = Number(item.scores.All.f);
      const v = item.scores.All.f === null || Number.isNaN(f) ? NaN : f;
      perImage.set(item.image_id, v);
      all.push(v);
    }
    return { score: npMean(all), perImage };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
