-- AlterTable
ALTER TABLE "Task" ADD COLUMN     "traceparent" TEXT;
