-- AlterTable
ALTER TABLE "LogEntry" ADD COLUMN     "stack" TEXT;

-- AlterTable
ALTER TABLE "Task" ADD COLUMN     "spawnKey" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "Task_parentId_spawnKey_key" ON "Task"("parentId", "spawnKey");
