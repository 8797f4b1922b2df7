-- The key ("module/type") is the one unique identity of a catalogue entry. A second unique index
-- on (moduleName, name) said the same thing but was not the arbiter of INSERT … ON CONFLICT ("key"):
-- two processes defining the same type at once could fail on it. It stays an index, for lookups.
-- DropIndex
DROP INDEX "TaskType_moduleName_name_key";

-- CreateIndex
CREATE INDEX "TaskType_moduleName_name_idx" ON "TaskType"("moduleName", "name");
