-- AlterTable
ALTER TABLE "Task" ADD COLUMN     "holdsSlots" BOOLEAN NOT NULL DEFAULT false;

-- CreateTable
CREATE TABLE "ConcurrencySlot" (
    "scope" TEXT NOT NULL,
    "slot" INTEGER NOT NULL,
    "holderId" UUID,

    CONSTRAINT "ConcurrencySlot_pkey" PRIMARY KEY ("scope","slot")
);

-- CreateIndex
CREATE INDEX "ConcurrencySlot_holderId_idx" ON "ConcurrencySlot"("holderId");

-- AddForeignKey
ALTER TABLE "ConcurrencySlot" ADD CONSTRAINT "ConcurrencySlot_holderId_fkey" FOREIGN KEY ("holderId") REFERENCES "Task"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- The trigger that frees what a task held when it ends now frees its concurrency slots too, for
-- the tasks a claim gave slots (a task of a limited type or module may have no exclusive key).
DROP TRIGGER "Task_free_exclusive_key" ON "Task";
DROP FUNCTION "taskgraph_free_exclusive_key"();

CREATE FUNCTION "taskgraph_free_held"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW."exclusiveKey" IS NOT NULL THEN
    UPDATE "ExclusiveKey" SET "holderId" = NULL, "heldSince" = NULL WHERE "holderId" = NEW.id;
  END IF;
  IF NEW."holdsSlots" THEN
    UPDATE "ConcurrencySlot" SET "holderId" = NULL WHERE "holderId" = NEW.id;
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER "Task_free_held" AFTER UPDATE OF state ON "Task"
FOR EACH ROW WHEN (NEW.state IN ('SUCCEEDED', 'FAILED', 'CANCELED') AND (NEW."exclusiveKey" IS NOT NULL OR NEW."holdsSlots"))
EXECUTE FUNCTION "taskgraph_free_held"();
