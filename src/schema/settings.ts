// Run-time settings (TTL of finished tasks).
import type { Settings } from "../store/settings";
import { builder } from "./builder";

export const SettingsType = builder.objectRef<Settings>("Settings").implement({
  fields: (t) => ({
    taskTtlSeconds: t.exposeInt("taskTtlSeconds", { description: "How long a finished task started by the system is kept. 0 = removed at once." }),
    userTaskTtlSeconds: t.exposeInt("userTaskTtlSeconds", { description: "How long a finished task started by a user is kept. 0 = removed at once." }),
  }),
});
