/**
 * Streaming JSON-lines reader: one value per line, blank lines skipped, each value with its 1-based line number so
 * callers can name the record in their own errors. A line that is not JSON, or a file that cannot be read, is an
 * InputError naming the file (and line). Streaming keeps memory flat for report files of millions of lines.
 */
import { createReadStream } from 'node:fs';
import readline from 'node:readline';
import { InputError, messageOf } from './errors.js';

export async function* readJsonLines(file: string): AsyncGenerator<{ value: unknown; line: number }> {
  let lineNo = 0;
  const rl = readline.createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  try {
    for await (const raw of rl) {
      lineNo++;
      if (raw.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch (err) {
        throw new InputError(file, `invalid JSON (${messageOf(err)})`, lineNo);
      }
      yield { value, line: lineNo };
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(file, `cannot read (${(err as NodeJS.ErrnoException).code ?? messageOf(err)})`);
  } finally {
    rl.close();
  }
}
