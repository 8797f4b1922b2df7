-- At most one task per schedule and due time (the store's guard against a double fire), indexed
-- for a schedule's tasks only: a full index also held an entry for every other task, and every
-- new version of any task row (each claim, step and end) wrote one. Prisma cannot describe a
-- partial index; the drift check leaves it alone.
DROP INDEX "Task_scheduleId_scheduleDueAt_key";
CREATE UNIQUE INDEX "Task_scheduleId_scheduleDueAt_key" ON "Task"("scheduleId", "scheduleDueAt") WHERE "scheduleId" IS NOT NULL;
