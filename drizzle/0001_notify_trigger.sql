-- Wake relays within milliseconds of a commit. Statement-level, so a transaction that writes many
-- events sends one notification per statement, not one per row; NOTIFY is delivered at commit and
-- folded per transaction by Postgres. A lost notification only delays: relays also poll.
CREATE OR REPLACE FUNCTION "outbox_published_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outbox_published', '');
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER "outbox_published_notify" AFTER INSERT ON "outbox_published"
  FOR EACH STATEMENT EXECUTE FUNCTION "outbox_published_notify"();
