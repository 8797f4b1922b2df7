-- CreateEnum
CREATE TYPE "FailureCode" AS ENUM ('TIMEOUT');

-- AlterTable
ALTER TABLE "Step" ADD COLUMN     "errorCode" "FailureCode";

-- AlterTable
ALTER TABLE "Task" ADD COLUMN     "errorCode" "FailureCode",
ADD COLUMN     "timeoutMs" INTEGER;
