-- NOTIFY only while a relay is asleep waiting for one (docs/wake.md). A NOTIFY takes a database-wide lock
-- that is held through commit, so producers that notify cannot share a WAL flush: with 10 writers the
-- trigger alone cost a third of their throughput. A busy relay claims again without being told, so it
-- lists itself in outbox_published_idle only when it is about to sleep, and the trigger checks that table
-- (a few rows, read once per insert statement). An expired row counts as absent: a relay that died stops
-- causing notifications by itself. Rows stay the source of truth: a missed wake-up only delays a row until
-- the relay's next poll (relay.pollInterval).
--
-- UNLOGGED: the relays' arm/disarm writes need no WAL, and a crash empties the table, when every relay
-- was disconnected anyway. Producers read it from their trigger, so any role that may insert events may
-- read it (it holds relay ids and expiry times, nothing else).
ALTER TABLE "outbox_published_idle" SET UNLOGGED;--> statement-breakpoint
GRANT SELECT ON "outbox_published_idle" TO PUBLIC;--> statement-breakpoint
CREATE OR REPLACE FUNCTION "outbox_published_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM "outbox_published_idle" WHERE expires_at > now()) THEN
    PERFORM pg_notify('outbox_published', '');
  END IF;
  RETURN NULL;
END
$$;
