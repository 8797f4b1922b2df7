-- AlterTable
ALTER TABLE "TaskEvent" ADD COLUMN     "txid" BIGINT NOT NULL DEFAULT ((pg_current_xact_id())::text)::bigint;

-- CreateIndex
CREATE INDEX "TaskEvent_txid_id_idx" ON "TaskEvent"("txid", "id");
