-- DropIndex
DROP INDEX "TaskEvent_taskId_id_idx";

-- CreateIndex
CREATE INDEX "TaskEvent_taskId_txid_id_idx" ON "TaskEvent"("taskId", "txid", "id");
