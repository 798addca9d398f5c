/**
 * Redis connections for `vlkit queue`: `redis://[user:password@]host:port/db` and `rediss://` (TLS). Passwords
 * never reach a log line: every message that names the server goes through `redact`. BullMQ retries a lost
 * connection forever (right for a worker riding out a Redis restart); before anything else each command pings
 * with short timeouts and no retries, so an unreachable server is a clear error within seconds, not a hang.
 */
import type { RedisOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { UsageError } from '../../common/errors.js';

/** One BullMQ queue holds every run: shard jobs and their merge (flow parent) jobs. */
export const QUEUE_NAME = 'vlkit';
const CONNECT_TIMEOUT_MS = 3000;

/** The URL with its password replaced by `***`. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparsable queue URL>';
  }
}

export function redisOptions(url: string): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--queue must be a URL like redis://host:6379/0 (got ${redact(url)})`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UsageError(`--queue must be redis:// or rediss:// (got ${redact(url)})`);
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw new UsageError(`--queue: database must be a number (got '${dbText}' in ${redact(url)})`);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    db,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    tls: u.protocol === 'rediss:' ? { servername: u.hostname } : undefined,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // BullMQ's blocking worker connections require null (BullMQ itself retries); the ping below bounds startup.
    maxRetriesPerRequest: null,
  };
}

/** Ping once, no retries: throws a UsageError naming the (redacted) server within a few seconds. */
export async function checkReachable(url: string): Promise<void> {
  const opts = redisOptions(url);
  const client = new Redis({ ...opts, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  // The socket error (ECONNREFUSED, ENOTFOUND, ...) says more than the "Connection is closed" the command gets.
  let socketError: Error | undefined;
  client.on('error', (err: Error) => (socketError ??= err));
  const secret = opts.password;
  const clean = (msg: string) => (secret ? msg.split(secret).join('***') : msg);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect().then(() => client.ping()),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS + 1000} ms`)), CONNECT_TIMEOUT_MS + 1000))),
    ]);
  } catch (err) {
    throw new UsageError(`cannot reach Redis at ${redact(url)}: ${clean((socketError ?? (err as Error)).message)}`);
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
