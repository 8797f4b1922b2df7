-- DropIndex
DROP INDEX "Task_state_createdAt_idx";

-- CreateIndex
CREATE INDEX "Task_state_createdAt_id_idx" ON "Task"("state", "createdAt", "id");
