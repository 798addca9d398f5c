/**
 * Error types that map to the CLI's exit codes.
 *
 * Exit codes are a contract scripts rely on: 0 success, 1 the job ran and found problems it reports (bad images,
 * failed checks), 2 usage or input errors (the message names the file and, where there is one, the line/record),
 * 3 an internal error (a bug in vlkit: the stack is printed).
 */

export const EXIT_OK = 0;
export const EXIT_PROBLEMS = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERNAL = 3;

/** A wrong flag, a missing argument, a bad config key: the user must change the command line. */
export class UsageError extends Error {
  readonly exitCode = EXIT_USAGE;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Bad input data. `file` and `record` are part of the message so the user can go straight to the culprit:
 * `annotations.json: record 17: "image" is missing`, `list.txt:4: path escapes --root`.
 */
export class InputError extends Error {
  readonly exitCode = EXIT_USAGE;
  constructor(
    readonly file: string,
    readonly detail: string,
    readonly record?: number | string,
  ) {
    super(InputError.format(file, detail, record));
    this.name = 'InputError';
  }

  static format(file: string, detail: string, record?: number | string): string {
    if (record === undefined) return `${file}: ${detail}`;
    // Line numbers read naturally as file:line; anything else (an id, a key) is spelled out.
    return typeof record === 'number' ? `${file}:${record}: ${detail}` : `${file}: record ${record}: ${detail}`;
  }
}

/** The exit code an error should produce. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError || err instanceof InputError) return err.exitCode;
  return EXIT_INTERNAL;
}

/** Message text of anything thrown, without assuming it is an Error. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
