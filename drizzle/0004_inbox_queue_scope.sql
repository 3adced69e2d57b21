-- The inbox's dedup scope becomes the consumer's queue: two consumers of one event (queues orders-email
-- and orders-stats, one database) each handle it once, where the second used to ack it as already handled.
-- Rows already recorded get queue '' and count for every queue, so nothing handled before is handled again.
-- Edited by hand from drizzle-kit's output, which adds the key before the column and cannot name the old key
-- (Postgres named it <table>_pkey). ADD COLUMN with a constant default rewrites nothing; the new key is one
-- index build over the inbox, under a lock that holds consumers' inserts until the migration commits.
ALTER TABLE "outbox_received" ADD COLUMN "queue" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "outbox_received" DROP CONSTRAINT "outbox_received_pkey";--> statement-breakpoint
ALTER TABLE "outbox_received" ADD CONSTRAINT "outbox_received_message_id_queue_pk" PRIMARY KEY("message_id","queue");
