-- AlterTable
ALTER TABLE "TaskEvent" ADD COLUMN     "task" JSONB;
