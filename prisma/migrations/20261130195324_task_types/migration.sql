-- AlterTable
ALTER TABLE "Task" ADD COLUMN     "needsSetup" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "Worker" ADD COLUMN     "taskTypes" TEXT[] DEFAULT ARRAY[]::TEXT[];

-- CreateTable
CREATE TABLE "TaskType" (
    "key" TEXT NOT NULL,
    "moduleName" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "kind" "TaskKind" NOT NULL DEFAULT 'NODE',
    "abortable" BOOLEAN,
    "progressUnits" TEXT,
    "hasSteps" BOOLEAN NOT NULL DEFAULT false,
    "flow" JSONB,
    "inputSchema" JSONB,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "TaskType_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE UNIQUE INDEX "TaskType_moduleName_name_key" ON "TaskType"("moduleName", "name");

-- AddForeignKey
ALTER TABLE "TaskType" ADD CONSTRAINT "TaskType_moduleName_fkey" FOREIGN KEY ("moduleName") REFERENCES "Module"("name") ON DELETE CASCADE ON UPDATE CASCADE;

-- Backfill: every task has its type in the catalogue. What the tasks do not tell (description,
-- input schema, abortability, the step template) is filled in when a process defining the type starts.
INSERT INTO "TaskType" ("key", "moduleName", "name", "kind", "abortable", "progressUnits", "hasSteps", "flow", "inputSchema")
SELECT DISTINCT ON (t."moduleName", t."type")
       t."moduleName" || '/' || t."type", t."moduleName", t."type", t."kind", NULL, t."progressUnits",
       EXISTS (SELECT 1 FROM "Step" s WHERE s."taskId" = t."id"), NULL, NULL
FROM "Task" t
ORDER BY t."moduleName", t."type", t."id" DESC
ON CONFLICT ("key") DO NOTHING;
