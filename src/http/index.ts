/**
 * sms-fes/http: a Web-standard handler for the customer API, the admin API and live dashboard, the provider
 * webhook and the OpenAPI document; errors as RFC 9457 problem documents.
 */
export { type DashboardData, type DashboardWindow, dashboardCsp, renderDashboard } from "./dashboard.js";
export {
  createFesHandler,
  type FesHandler,
  type FesHandlerOptions,
  type HttpPriceList,
  type HttpWebhook,
} from "./handler.js";
export type { WindowHealth } from "./health-read.js";
export { buildOpenApiDocument } from "./openapi.js";
export {
  type HttpLayerErrorType,
  type ProblemStatus,
  type ProblemType,
  problemOf,
  problemResponse,
  problemStatuses,
  problemStatusOf,
  problemTableMarkdown,
  problemTypeUri,
} from "./problem.js";
export type { HttpFes, Route, RouteResult } from "./routes.js";
export * as httpSchemas from "./schemas.js";
