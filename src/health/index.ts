/**
 * sms-fes/health: health analytics, service policies, routing and the coherence report, pure functions over the
 * exported records.
 */

export type {
  CoherenceBalanceMismatch,
  CoherenceCurrencyTotals,
  CoherenceFrozenMismatch,
  CoherenceInput,
  CoherenceMalformedTransfer,
  CoherenceMoneyEvent,
  CoherenceOptions,
  CoherenceOrphanHold,
  CoherenceOwnerHoldProblem,
  CoherenceRacePair,
  CoherenceRecommendation,
  CoherenceReport,
  CoherenceStatementBreak,
  CoherenceStuckPending,
} from "./coherence.js";
export { buildCoherenceReport, findWalletRacePairs } from "./coherence.js";
export {
  countryDisplayName,
  currencyMinorDigits,
  formatMinorAmount,
  withCountryNames,
} from "./display.js";
export type {
  ArmComparison,
  ArmReport,
  ExperimentReport,
  ExperimentReportOptions,
  RatioEstimate,
} from "./experiment-report.js";
export { experimentReport, msprtPValue, neededSamplePerArm } from "./experiment-report.js";
export type { HealthGateQuery, HealthGateVerdict, HealthServiceGate } from "./gate.js";
export { createServiceGate } from "./gate.js";
export type {
  CandidateWait,
  LearnedWaitTime,
  LearnedWaitTimeOptions,
  WaitChoice,
  WaitObjective,
} from "./learned-wait-time.js";
export { createLearnedWaitTime } from "./learned-wait-time.js";
export { percentileCont, sortedHealthSample } from "./percentile.js";
export type {
  HealthDecision,
  HealthPolicyConfig,
  HealthPolicyConfigInput,
  HealthPolicyOptions,
  HealthPolicyReport,
  HealthRateJudgement,
  HealthRateScope,
  HealthTargetCheck,
  HealthTargetRow,
  HealthTargetStatus,
} from "./policies.js";
export {
  checkHealthTargets,
  defaultHealthPolicyConfig,
  evaluateHealthPolicies,
  evaluateHealthPoliciesOnStats,
  findCancelPileUp,
  formatHealthPercent,
  healthPolicyConfigSchema,
  judgeSuccessRule,
  parseHealthPolicyConfig,
} from "./policies.js";
export type { HealthHtmlInput } from "./render-html.js";
export { renderHealthHtml } from "./render-html.js";
export type { HealthTargetsJudging } from "./render-text.js";
export {
  describeHealthTargetsJudging,
  formatHealthDuration,
  formatHealthShare,
  healthTargetsTable,
  renderCoherenceReport,
  renderHealthDecisions,
  renderHealthTable,
  renderHealthTables,
  renderHealthTargets,
  renderHealthTextTable,
} from "./render-text.js";
export type {
  HealthCountryRouter,
  HealthRankedRoute,
  HealthRouteCandidate,
  HealthRouteOptions,
  HealthRouteRanking,
  HealthRouterOptions,
  HealthSkippedRoute,
} from "./routing.js";
export { createRouter, DEFAULT_UNKNOWN_SUCCESS, rankCountries } from "./routing.js";
export type {
  HealthDimension,
  HealthGroupKey,
  HealthGroupStats,
  HealthMoney,
  HealthOverview,
  HealthSecondsBin,
  HealthShare,
  HealthStats,
  HealthStatsOptions,
} from "./stats.js";
export {
  computeHealthGroupings,
  computeHealthOverview,
  computeHealthStats,
  healthDimensionValue,
} from "./stats.js";
export type {
  CodeByEstimate,
  KaplanMeierCurve,
  KaplanMeierStep,
  TimeToCodeGroup,
  TimeToCodeKey,
  TimeToCodeOptions,
  WaitObservation,
} from "./time-to-code.js";
export {
  codeQuantile,
  codeWithin,
  kaplanMeier,
  survivalAt,
  timeToCodeCurves,
  waitObservation,
} from "./time-to-code.js";
export type { WilsonInterval, WilsonJudge } from "./wilson.js";
export { judgedValue, wilson, zForConfidence } from "./wilson.js";
export type { HealthWindow } from "./window.js";
export {
  HEALTH_DAY_MS,
  HEALTH_HOUR_MS,
  healthWindows,
  utcDayLabel,
  utcDayNumber,
  utcHourOfDay,
} from "./window.js";
