-- taskTree of a root reads its descendants by rootId in one index scan instead of an index lookup
-- per node. Indexed for descendants only: a root task (most tasks) never writes an entry. Prisma
-- cannot describe a partial index; the drift check leaves it alone.
CREATE INDEX "Task_rootId_descendants_idx" ON "Task"("rootId") WHERE "parentId" IS NOT NULL;
