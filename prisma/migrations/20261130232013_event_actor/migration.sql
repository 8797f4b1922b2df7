-- CreateEnum
CREATE TYPE "ActorKind" AS ENUM ('USER', 'WORKER', 'SYSTEM');

-- AlterTable
ALTER TABLE "TaskEvent" ADD COLUMN     "actorKind" "ActorKind" NOT NULL DEFAULT (COALESCE(NULLIF(current_setting('taskgraph.actor_kind'::text, true), ''::text), 'SYSTEM'::text))::"ActorKind",
ADD COLUMN     "actorName" TEXT NOT NULL DEFAULT COALESCE(NULLIF(current_setting('taskgraph.actor_name'::text, true), ''::text), 'system'::text);
