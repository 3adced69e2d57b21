import type { TableNames } from '../src/config/types.js';
import { SQL_HEADER } from './header.js';

/**
 * `outbox-trigger.sql`: the NOTIFY trigger of drizzle/0001_notify_trigger.sql for the configured table
 * name. Relays LISTEN on a channel named after the published table. drizzle-kit cannot express
 * triggers, so users who own their migrations add this one by hand (`drizzle-kit generate --custom`).
 */
export function renderTrigger(names: TableNames): string {
  const p = names.published;
  return `${SQL_HEADER}
-- Wakes relays within milliseconds of a commit (they LISTEN on channel '${p}'). Without it relays still work,
-- by polling every relay.pollInterval. \`outbox migrate\` installs it for you; if your drizzle-kit owns the tables,
-- add this file as a custom migration: npx drizzle-kit generate --custom --name=outbox_notify, then paste it in.
CREATE OR REPLACE FUNCTION "${p}_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('${p}', '');
  RETURN NULL;
END
$$;--> statement-breakpoint
DROP TRIGGER IF EXISTS "${p}_notify" ON "${p}";--> statement-breakpoint
CREATE TRIGGER "${p}_notify" AFTER INSERT ON "${p}"
  FOR EACH STATEMENT EXECUTE FUNCTION "${p}_notify"();
`;
}
