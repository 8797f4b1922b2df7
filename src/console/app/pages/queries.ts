// The documents of the Start, Modules, Workers and Settings pages (public API only).
import { graphql } from "../graphql";

export const CatalogueQuery = graphql(`
  query ConsoleCatalogue {
    modules {
      id
      name
      description
      taskTypes { id name description served kind isFlow progressUnits inputSchema }
    }
  }
`);

export const StartTaskMutation = graphql(`
  mutation ConsoleStartTask($input: StartTaskInput!) {
    startTask(input: $input) { id }
  }
`);

export const ModulesQuery = graphql(`
  query ConsoleModules {
    modules {
      id
      name
      description
      totalTasks
      taskCounts { state count }
      taskTypes { id name description served }
    }
  }
`);

export const WorkersQuery = graphql(`
  query ConsoleWorkers {
    workers { id name host pid concurrency alive heartbeatAt startedAt taskTypes { id name module { id name } } }
    tasks(filter: { states: [RUNNING], includeInternal: true }, first: 200) {
      edges { node { id name type module { id name } worker { id name } } }
    }
  }
`);

export const StateChangesSubscription = graphql(`
  subscription ConsoleStateChanges {
    taskEvents(filter: { types: [STATE_CHANGED] }) { id }
  }
`);

export const SettingsQuery = graphql(`
  query ConsoleSettings {
    settings { taskTtlSeconds userTaskTtlSeconds }
    apiTokens { id name role createdAt createdBy lastUsedAt revokedAt }
    modules { id name totalTasks }
  }
`);

export const SetTtlMutation = graphql(`
  mutation ConsoleSetTtl($ttlSeconds: Int, $userTtlSeconds: Int) {
    setTaskTtl(ttlSeconds: $ttlSeconds, userTtlSeconds: $userTtlSeconds) { taskTtlSeconds userTaskTtlSeconds }
  }
`);

export const DrainModuleMutation = graphql(`
  mutation ConsoleDrainModule($module: String!) {
    drainModule(module: $module) { deletedCount }
  }
`);

export const CreateTokenMutation = graphql(`
  mutation ConsoleCreateToken($name: String!, $role: Role!) {
    createApiToken(name: $name, role: $role) { secret token { id name role createdAt createdBy lastUsedAt revokedAt } }
  }
`);

export const RevokeTokenMutation = graphql(`
  mutation ConsoleRevokeToken($name: String!) {
    revokeApiToken(name: $name) { id name revokedAt }
  }
`);
