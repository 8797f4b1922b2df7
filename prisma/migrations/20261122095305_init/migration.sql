-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "TaskState" AS ENUM ('SCHEDULED', 'QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELED');

-- CreateEnum
CREATE TYPE "TaskKind" AS ENUM ('NODE', 'CLUSTER');

-- CreateEnum
CREATE TYPE "StepState" AS ENUM ('WAITING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'SKIPPED', 'ROLLING_BACK', 'ROLLED_BACK');

-- CreateEnum
CREATE TYPE "AttemptKind" AS ENUM ('EXECUTE', 'RETRY', 'ROLLBACK');

-- CreateEnum
CREATE TYPE "AttemptState" AS ENUM ('RUNNING', 'SUCCEEDED', 'FAILED');

-- CreateEnum
CREATE TYPE "LogLevel" AS ENUM ('DEBUG', 'INFO', 'WARN', 'ERROR');

-- CreateEnum
CREATE TYPE "TaskEventType" AS ENUM ('CREATED', 'STATE_CHANGED', 'PROGRESSED', 'STEP_CHANGED', 'LOG_APPENDED', 'DELETED');

-- CreateEnum
CREATE TYPE "Role" AS ENUM ('VIEWER', 'TASK_MANAGER', 'ADMIN');

-- CreateTable
CREATE TABLE "Module" (
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "lastSequenceNumber" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Module_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "Task" (
    "id" UUID NOT NULL,
    "moduleName" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "kind" "TaskKind" NOT NULL DEFAULT 'NODE',
    "scope" TEXT NOT NULL DEFAULT 'node',
    "target" TEXT,
    "labels" JSONB NOT NULL DEFAULT '{}',
    "state" "TaskState" NOT NULL,
    "isAbortable" BOOLEAN NOT NULL DEFAULT true,
    "isInternal" BOOLEAN NOT NULL DEFAULT false,
    "isUserTask" BOOLEAN NOT NULL DEFAULT true,
    "sequenceNumber" INTEGER NOT NULL,
    "parentId" UUID,
    "rootId" UUID NOT NULL,
    "depth" INTEGER NOT NULL DEFAULT 0,
    "input" JSONB,
    "result" JSONB,
    "error" TEXT,
    "progressUnits" TEXT,
    "progressTotal" DOUBLE PRECISION,
    "progressCompleted" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "scheduledFor" TIMESTAMPTZ(3),
    "startedAt" TIMESTAMPTZ(3),
    "endedAt" TIMESTAMPTZ(3),
    "createdBy" TEXT,
    "node" TEXT,
    "abortRequestedAt" TIMESTAMPTZ(3),
    "rollbackOnAbort" BOOLEAN NOT NULL DEFAULT false,
    "leaseOwner" TEXT,
    "leaseExpiresAt" TIMESTAMPTZ(3),
    "version" INTEGER NOT NULL DEFAULT 1,

    CONSTRAINT "Task_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Step" (
    "id" UUID NOT NULL,
    "taskId" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "index" INTEGER NOT NULL,
    "dependsOn" TEXT[],
    "state" "StepState" NOT NULL DEFAULT 'WAITING',
    "startedAt" TIMESTAMPTZ(3),
    "endedAt" TIMESTAMPTZ(3),
    "error" TEXT,

    CONSTRAINT "Step_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "StepAttempt" (
    "id" UUID NOT NULL,
    "stepId" UUID NOT NULL,
    "taskId" UUID NOT NULL,
    "number" INTEGER NOT NULL,
    "kind" "AttemptKind" NOT NULL,
    "state" "AttemptState" NOT NULL DEFAULT 'RUNNING',
    "startedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "endedAt" TIMESTAMPTZ(3),
    "error" TEXT,

    CONSTRAINT "StepAttempt_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "LogEntry" (
    "id" UUID NOT NULL,
    "taskId" UUID NOT NULL,
    "stepId" UUID,
    "attemptId" UUID,
    "level" "LogLevel" NOT NULL DEFAULT 'INFO',
    "message" TEXT NOT NULL,
    "time" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "LogEntry_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "TaskEvent" (
    "id" BIGSERIAL NOT NULL,
    "taskId" UUID NOT NULL,
    "rootId" UUID NOT NULL,
    "module" TEXT NOT NULL,
    "type" "TaskEventType" NOT NULL,
    "version" INTEGER NOT NULL,
    "payload" JSONB NOT NULL DEFAULT '{}',
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "TaskEvent_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Worker" (
    "name" TEXT NOT NULL,
    "host" TEXT NOT NULL,
    "pid" INTEGER NOT NULL,
    "concurrency" INTEGER NOT NULL,
    "startedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "heartbeatAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Worker_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "Setting" (
    "key" TEXT NOT NULL,
    "value" JSONB NOT NULL,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Setting_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "ApiToken" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "role" "Role" NOT NULL,
    "tokenHash" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "createdBy" TEXT,
    "lastUsedAt" TIMESTAMPTZ(3),
    "revokedAt" TIMESTAMPTZ(3),

    CONSTRAINT "ApiToken_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Task_state_createdAt_idx" ON "Task"("state", "createdAt");

-- CreateIndex
CREATE INDEX "Task_moduleName_createdAt_idx" ON "Task"("moduleName", "createdAt");

-- CreateIndex
CREATE INDEX "Task_createdAt_idx" ON "Task"("createdAt");

-- CreateIndex
CREATE INDEX "Task_parentId_idx" ON "Task"("parentId");

-- CreateIndex
CREATE INDEX "Task_rootId_idx" ON "Task"("rootId");

-- CreateIndex
CREATE INDEX "Task_target_idx" ON "Task"("target");

-- CreateIndex
CREATE INDEX "Task_type_idx" ON "Task"("type");

-- CreateIndex
CREATE INDEX "Task_state_scheduledFor_idx" ON "Task"("state", "scheduledFor");

-- CreateIndex
CREATE INDEX "Task_endedAt_idx" ON "Task"("endedAt");

-- CreateIndex
CREATE INDEX "Step_taskId_index_idx" ON "Step"("taskId", "index");

-- CreateIndex
CREATE UNIQUE INDEX "Step_taskId_key_key" ON "Step"("taskId", "key");

-- CreateIndex
CREATE INDEX "StepAttempt_taskId_idx" ON "StepAttempt"("taskId");

-- CreateIndex
CREATE UNIQUE INDEX "StepAttempt_stepId_number_key" ON "StepAttempt"("stepId", "number");

-- CreateIndex
CREATE INDEX "LogEntry_taskId_id_idx" ON "LogEntry"("taskId", "id");

-- CreateIndex
CREATE INDEX "LogEntry_stepId_id_idx" ON "LogEntry"("stepId", "id");

-- CreateIndex
CREATE INDEX "LogEntry_attemptId_id_idx" ON "LogEntry"("attemptId", "id");

-- CreateIndex
CREATE INDEX "TaskEvent_taskId_id_idx" ON "TaskEvent"("taskId", "id");

-- CreateIndex
CREATE INDEX "TaskEvent_rootId_id_idx" ON "TaskEvent"("rootId", "id");

-- CreateIndex
CREATE INDEX "TaskEvent_createdAt_idx" ON "TaskEvent"("createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "ApiToken_name_key" ON "ApiToken"("name");

-- CreateIndex
CREATE UNIQUE INDEX "ApiToken_tokenHash_key" ON "ApiToken"("tokenHash");

-- AddForeignKey
ALTER TABLE "Task" ADD CONSTRAINT "Task_moduleName_fkey" FOREIGN KEY ("moduleName") REFERENCES "Module"("name") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Task" ADD CONSTRAINT "Task_parentId_fkey" FOREIGN KEY ("parentId") REFERENCES "Task"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Step" ADD CONSTRAINT "Step_taskId_fkey" FOREIGN KEY ("taskId") REFERENCES "Task"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "StepAttempt" ADD CONSTRAINT "StepAttempt_stepId_fkey" FOREIGN KEY ("stepId") REFERENCES "Step"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LogEntry" ADD CONSTRAINT "LogEntry_taskId_fkey" FOREIGN KEY ("taskId") REFERENCES "Task"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LogEntry" ADD CONSTRAINT "LogEntry_stepId_fkey" FOREIGN KEY ("stepId") REFERENCES "Step"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LogEntry" ADD CONSTRAINT "LogEntry_attemptId_fkey" FOREIGN KEY ("attemptId") REFERENCES "StepAttempt"("id") ON DELETE CASCADE ON UPDATE CASCADE;
