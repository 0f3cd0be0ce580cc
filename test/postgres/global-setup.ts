import pg from "pg";
import type { TestProject } from "vitest/node";
import { migrate } from "../../src/postgres/index.js";
import { startThrowawayServer } from "./throwaway-server.js";

/**
 * Starts one throwaway PostgreSQL for the whole test run and migrates a template database; each test file then
 * gets a fresh database cloned from it (`CREATE DATABASE … TEMPLATE`, tens of milliseconds). With
 * `FES_TEST_DATABASE_URL` set (a CI service container, say) that server is used instead and nothing is started.
 */

declare module "vitest" {
  export interface ProvidedContext {
    /** URL of the server's maintenance database (`postgres`), for CREATE DATABASE. */
    pgUrl: string;
    /** Name of the migrated template database. */
    pgTemplate: string;
  }
}

export const TEMPLATE_DATABASE = "sms_fes_template";

export default async function setup(project: TestProject): Promise<() => void> {
  const external = process.env.FES_TEST_DATABASE_URL;
  const server = external === undefined ? await startThrowawayServer() : undefined;
  const url = external ?? server!.url;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE}`);
    await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  } finally {
    await admin.end();
  }
  const templateUrl = new URL(url);
  templateUrl.pathname = `/${TEMPLATE_DATABASE}`;
  const pool = new pg.Pool({ connectionString: templateUrl.toString(), max: 1 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  project.provide("pgUrl", url);
  project.provide("pgTemplate", TEMPLATE_DATABASE);
  return () => server?.stop();
}
