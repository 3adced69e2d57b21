/**
 * The consumer's inbox reads — "is this id recorded?" before a handler runs, "did its row commit?" after a
 * `(payload)` handler saved — many messages to one statement, group-commit style: a read asked for while
 * none is running starts one at the end of this turn of the event loop; reads asked for while one runs wait
 * for it, then go together in the next. One message at a time, that is one statement per read, as before
 * and with no added delay; at concurrency 16 every message that arrived or settled meanwhile shares one.
 *
 * Both kinds of read share a statement: it returns the queues each id is recorded under (this queue's, or
 * '' for rows from before the inbox had queues), and each caller reads its own answer from that. A row is
 * in the answer only if it had committed when the statement took its snapshot, and every read in a batch
 * was asked for before the statement was sent: a handler that committed before asking is always seen, and
 * a rolled-back row never is.
 *
 * A statement still unanswered after its deadline fails every read in it as an outage (the caller waits
 * and asks again, see inbox-read.ts) and stops holding up the next batch. A statement that fails for a
 * reason of its content (one id PostgreSQL cannot take) is asked again one id at a time, so that only the
 * message at fault is dead-lettered, never its neighbours in the batch.
 */
import { TIMED_OUT, within } from '../util/within.js';
import { classifyDbFailure, deadlineExceeded } from './db-failure.js';

export interface InboxLookup {
  /** Recorded for this queue or before queues scoped the inbox: a committed row holds the id. */
  recorded(id: string): Promise<boolean>;
  /** This queue's own row for the id has committed (a handler's save() went through). */
  committed(id: string): Promise<boolean>;
}

export interface InboxLookupOptions {
  /** The consumer's queue: a row under it counts for both reads, a row under '' only as recorded. */
  queue: string;
  /** The rows (id, queue) held for any of `ids`, under `queue` or ''. */
  find(ids: string[]): Promise<Array<{ messageId: string; queue: string }>>;
  /** How long one statement may take before its reads fail as an outage, ms. */
  deadlineMs: number;
  /** At most this many ids to a statement (the rest go in the next). */
  maxBatch?: number;
}

interface Waiting {
  id: string;
  resolve(queues: Set<string>): void;
  reject(error: unknown): void;
}

export function createInboxLookup(options: InboxLookupOptions): InboxLookup {
  const { queue, find, deadlineMs } = options;
  const maxBatch = options.maxBatch ?? 500;
  let waiting: Waiting[] = [];
  let busy = false;

  /** The queues each of `ids` is recorded under; the deadline is the statement's. */
  async function lookUp(ids: string[]): Promise<Map<string, Set<string>>> {
    const rows = await within(find(ids), { ms: deadlineMs });
    if (rows === TIMED_OUT) throw deadlineExceeded(`look up ${ids.length} message(s) in the inbox`, deadlineMs);
    const found = new Map<string, Set<string>>();
    for (const row of rows) {
      const queues = found.get(row.messageId) ?? new Set<string>();
      queues.add(row.queue);
      found.set(row.messageId, queues);
    }
    return found;
  }

  async function answer(batch: Waiting[]): Promise<void> {
    const ids = [...new Set(batch.map((w) => w.id))];
    try {
      const found = await lookUp(ids);
      for (const w of batch) w.resolve(found.get(w.id) ?? new Set());
    } catch (error) {
      if (ids.length > 1 && classifyDbFailure(error) === 'message') {
        for (const id of ids) await answer(batch.filter((w) => w.id === id));
        return;
      }
      for (const w of batch) w.reject(error);
    }
  }

  const run = (): Promise<void> => answer(waiting.splice(0, maxBatch));

  function kick(): void {
    if (busy || waiting.length === 0) return;
    busy = true;
    // The end of this turn: the deliveries of one socket read (a prefetch window arriving) go in one statement.
    setImmediate(() => {
      void run().finally(() => {
        busy = false;
        kick();
      });
    });
  }

  const queuesOf = (id: string): Promise<Set<string>> =>
    new Promise((resolve, reject) => {
      waiting.push({ id, resolve, reject });
      kick();
    });

  return {
    async recorded(id) {
      return (await queuesOf(id)).size > 0;
    },
    async committed(id) {
      return (await queuesOf(id)).has(queue);
    },
  };
}
