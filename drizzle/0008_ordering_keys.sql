-- Per-key ordering (README "Ordering"): the key and its position on each row, a counter per destination and key
-- (its row lock serialises the writers of one key, so key_seq order is commit order), the keyed claim's walk, and
-- the head-of-key index that keeps the keyed claim O(batch). Existing rows stay unordered (key null). Adding
-- nullable columns rewrites nothing; the two indexes each read the table once, in the migration's transaction
-- (writes wait meanwhile), and hold only pending (resp. unsent) rows.
CREATE TABLE "outbox_published_keys" (
	"destination" text NOT NULL,
	"key" text NOT NULL,
	"last_seq" bigint NOT NULL,
	CONSTRAINT "outbox_published_keys_destination_key_pk" PRIMARY KEY("destination","key")
);
--> statement-breakpoint
ALTER TABLE "outbox_published" ADD COLUMN "key" text;--> statement-breakpoint
ALTER TABLE "outbox_published" ADD COLUMN "key_seq" bigint;--> statement-breakpoint
CREATE INDEX "outbox_published_key_pending_idx" ON "outbox_published" USING btree ("seq","next_attempt_at") WHERE status = 'pending' and key_seq is not null;--> statement-breakpoint
CREATE INDEX "outbox_published_key_head_idx" ON "outbox_published" USING btree ("destination","key","key_seq") WHERE status <> 'sent';