-- Failed rows, per destination in creation order, for `outbox status`, `outbox failed` and `outbox retry`:
-- without it each of them scans the whole table for what is usually a handful of rows. Partial, so it costs
-- nothing while no row fails. Built in the migration's transaction: one scan of the table, writes to it wait
-- meanwhile (README "outbox migrate" has the measured time).
CREATE INDEX "outbox_published_failed_idx" ON "outbox_published" USING btree ("destination","seq") WHERE status = 'failed';
