CREATE TABLE "outbox_maintenance" (
	"task" text PRIMARY KEY NOT NULL,
	"last_run_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "outbox_published" (
	"seq" bigint GENERATED ALWAYS AS IDENTITY (sequence name "outbox_published_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"destination" text NOT NULL,
	"body" jsonb NOT NULL,
	"headers" jsonb NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	CONSTRAINT "outbox_published_status_check" CHECK (status in ('pending', 'sent', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "outbox_received" (
	"message_id" text PRIMARY KEY NOT NULL,
	"destination" text NOT NULL,
	"body" jsonb,
	"headers" jsonb NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "outbox_published_pending_seq_idx" ON "outbox_published" USING btree ("seq") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "outbox_published_sent_at_idx" ON "outbox_published" USING btree ("sent_at") WHERE status = 'sent';--> statement-breakpoint
CREATE INDEX "outbox_received_received_at_idx" ON "outbox_received" USING btree ("received_at");