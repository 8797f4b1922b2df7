// A relay-compiler source (copied into a temporary Relay project by test/relay.test.ts): one task
// with every kind of object around it, so relay-runtime normalizes them all into one store.
// eslint-disable-next-line no-undef
export const TaskDetailsQuery = graphql`
  query TaskDetailsQuery($id: ID!) {
    me {
      name
      role
    }
    task(id: $id) {
      id
      state
      version
      root {
        id
      }
      parent {
        id
      }
      worker {
        id
        name
      }
      children(first: 10) {
        totalCount
        edges {
          cursor
          node {
            id
            state
            module {
              id
              name
            }
            progress {
              id
              completed
            }
          }
        }
      }
      childrenStatus {
        task {
          id
        }
        state
      }
      steps {
        id
        key
        state
        dependsOn {
          id
        }
        attempts {
          id
          number
          state
        }
      }
      flow {
        id
        nodes {
          id
        }
        edges {
          from {
            id
          }
          to {
            id
          }
        }
      }
      progress {
        id
        completed
        total
      }
      module {
        id
        name
        taskCounts {
          state
          count
        }
      }
      logs(first: 20) {
        edges {
          node {
            id
            message
            task {
              id
            }
            step {
              id
            }
            attempt {
              id
            }
          }
        }
      }
    }
  }
`;
