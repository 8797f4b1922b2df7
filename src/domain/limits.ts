// Bounds on client input. One place, so errors and docs agree.
export const LIMITS = {
  defaultPageSize: 20,
  nameLength: 200,
  searchLength: 200,
  targetLength: 500,
  filterListLength: 100,
  labelCount: 32,
  labelLength: 200,
  stepsPerTask: 200,
  childrenPerTask: 1_000,
  logMessageLength: 10_000,
} as const;
