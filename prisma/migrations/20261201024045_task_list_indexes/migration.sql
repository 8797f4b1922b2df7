-- Trigram operator classes for the task search (PGlite loads the contrib extension, see src/db/adapters.ts).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- DropIndex
DROP INDEX "Task_parentId_idx";

-- DropIndex
DROP INDEX "Task_rootId_idx";

-- CreateIndex
CREATE INDEX "Task_startedAt_idx" ON "Task"("startedAt");

-- CreateIndex
CREATE INDEX "Task_labels_idx" ON "Task" USING GIN ("labels" jsonb_path_ops);

-- CreateIndex
CREATE INDEX "Task_name_trgm_idx" ON "Task" USING GIN ("name" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "Task_type_trgm_idx" ON "Task" USING GIN ("type" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "Task_target_trgm_idx" ON "Task" USING GIN ("target" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "Task_error_trgm_idx" ON "Task" USING GIN ("error" gin_trgm_ops);
