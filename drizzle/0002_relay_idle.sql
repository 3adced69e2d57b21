CREATE TABLE "outbox_published_idle" (
	"relay_id" uuid PRIMARY KEY NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
