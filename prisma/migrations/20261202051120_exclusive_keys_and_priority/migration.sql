-- AlterTable
ALTER TABLE "Task" ADD COLUMN     "exclusiveKey" TEXT,
ADD COLUMN     "priority" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "TaskType" ADD COLUMN     "exclusive" JSONB,
ADD COLUMN     "priority" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "ExclusiveKey" (
    "key" TEXT NOT NULL,
    "holderId" UUID,
    "heldSince" TIMESTAMPTZ(3),

    CONSTRAINT "ExclusiveKey_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE UNIQUE INDEX "ExclusiveKey_holderId_key" ON "ExclusiveKey"("holderId");

-- Claims take QUEUED tasks by priority, then oldest first: this index gives them in that order. Only
-- QUEUED rows are in it, so a task's later state changes cost it no index write (Prisma cannot
-- describe a partial index; the drift check leaves it alone).
CREATE INDEX "Task_queued_claim_order_idx" ON "Task"("priority" DESC, "createdAt", "id") WHERE "state" = 'QUEUED';

-- CreateIndex
CREATE INDEX "Task_exclusiveKey_idx" ON "Task"("exclusiveKey");

-- AddForeignKey
ALTER TABLE "ExclusiveKey" ADD CONSTRAINT "ExclusiveKey_holderId_fkey" FOREIGN KEY ("holderId") REFERENCES "Task"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- An exclusive key is freed in the transaction that ends its holder, whichever path ends it (a
-- batched completion, a failure, an abort, a forced delete): Prisma does not manage triggers, so
-- this one lives here only.
CREATE FUNCTION "taskgraph_free_exclusive_key"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "ExclusiveKey" SET "holderId" = NULL, "heldSince" = NULL WHERE "holderId" = NEW.id;
  RETURN NULL;
END;
$$;

CREATE TRIGGER "Task_free_exclusive_key" AFTER UPDATE OF state ON "Task"
FOR EACH ROW WHEN (NEW."exclusiveKey" IS NOT NULL AND NEW.state IN ('SUCCEEDED', 'FAILED', 'CANCELED'))
EXECUTE FUNCTION "taskgraph_free_exclusive_key"();
