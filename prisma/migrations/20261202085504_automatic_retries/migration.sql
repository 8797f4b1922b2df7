-- AlterTable
ALTER TABLE "Step" ADD COLUMN     "automaticRetries" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "nextAttemptAt" TIMESTAMPTZ(3);

-- AlterTable
ALTER TABLE "Task" ADD COLUMN     "automaticRetries" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "retryPolicy" JSONB;

-- AlterTable
ALTER TABLE "TaskType" ADD COLUMN     "retry" JSONB;
