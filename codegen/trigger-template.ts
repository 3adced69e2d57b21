import type { TableNames } from '../src/config/types.js';
import { SQL_HEADER } from './header.js';

/**
 * `outbox-trigger.sql`: what drizzle/0001_notify_trigger.sql and 0003_notify_when_idle.sql install, for the
 * configured table names. Relays LISTEN on a channel named after the published table; the trigger notifies
 * only while one of them is asleep (listed in the idle table). drizzle-kit cannot express triggers or
 * UNLOGGED, so users who own their migrations add this one by hand (`drizzle-kit generate --custom`).
 */
export function renderTrigger(names: TableNames): string {
  const p = names.published;
  const i = names.idle;
  return `${SQL_HEADER}
-- Wakes relays within milliseconds of a commit (they LISTEN on channel '${p}'). Without it relays still work,
-- by polling every relay.pollInterval. \`outbox migrate\` installs it for you; if your drizzle-kit owns the tables,
-- add this file as a custom migration after the one that creates them from schema.ts:
-- npx drizzle-kit generate --custom --name=outbox_notify, then paste it in. Running it again is harmless.
--
-- It notifies only while a relay is asleep waiting (a row in "${i}" that has not expired): a NOTIFY
-- holds a database-wide lock through commit, so notifying producers cannot share a WAL flush, and a busy
-- relay claims again without being told. "${i}" is UNLOGGED (its writes need no WAL; a crash empties it
-- when every relay is disconnected anyway), and readable by every role that may insert events.
ALTER TABLE "${i}" SET UNLOGGED;--> statement-breakpoint
GRANT SELECT ON "${i}" TO PUBLIC;--> statement-breakpoint
CREATE OR REPLACE FUNCTION "${p}_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM "${i}" WHERE expires_at > now()) THEN
    PERFORM pg_notify('${p}', '');
  END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
DROP TRIGGER IF EXISTS "${p}_notify" ON "${p}";--> statement-breakpoint
CREATE TRIGGER "${p}_notify" AFTER INSERT ON "${p}"
  FOR EACH STATEMENT EXECUTE FUNCTION "${p}_notify"();
`;
}
