// The GraphQL-over-HTTP specification's audits (graphql-http's serverAudits) against the running
// server: one test per audit, each must pass outright.
import { serverAudits } from "graphql-http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "./support/app";

describe("GraphQL over HTTP audits (graphql-http)", () => {
  let app: TestApp;
  let url: string;
  beforeAll(async () => {
    app = await startTestApp();
    ({ url } = await app.start(0));
  });
  afterAll(() => app.stop());

  // The list of audits does not depend on the URL: it is built here, run against the server below.
  for (const audit of serverAudits({ url: () => url, fetchFn: fetch })) {
    it(`${audit.id} ${audit.name}`, async () => {
      const result = await audit.fn();
      const why = result.status === "ok" ? "" : `${result.reason}: ${result.response.status} ${await result.response.text()}`;
      expect(result.status, why).toBe("ok");
    });
  }
});
