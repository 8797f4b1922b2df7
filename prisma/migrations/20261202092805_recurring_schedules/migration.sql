-- AlterTable
ALTER TABLE "Task" ADD COLUMN     "scheduleDueAt" TIMESTAMPTZ(3),
ADD COLUMN     "scheduleId" UUID;

-- CreateTable
CREATE TABLE "Schedule" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "moduleName" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "input" JSONB,
    "cron" TEXT,
    "timeZone" TEXT NOT NULL DEFAULT 'UTC',
    "everySeconds" INTEGER,
    "catchUp" BOOLEAN NOT NULL DEFAULT false,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "nextRunAt" TIMESTAMPTZ(3),
    "lastRunAt" TIMESTAMPTZ(3),
    "lastError" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "createdBy" TEXT,

    CONSTRAINT "Schedule_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Schedule_enabled_nextRunAt_idx" ON "Schedule"("enabled", "nextRunAt");

-- CreateIndex
CREATE INDEX "Schedule_moduleName_idx" ON "Schedule"("moduleName");

-- CreateIndex
CREATE UNIQUE INDEX "Task_scheduleId_scheduleDueAt_key" ON "Task"("scheduleId", "scheduleDueAt");

-- AddForeignKey
ALTER TABLE "Task" ADD CONSTRAINT "Task_scheduleId_fkey" FOREIGN KEY ("scheduleId") REFERENCES "Schedule"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Schedule" ADD CONSTRAINT "Schedule_moduleName_fkey" FOREIGN KEY ("moduleName") REFERENCES "Module"("name") ON DELETE RESTRICT ON UPDATE CASCADE;
