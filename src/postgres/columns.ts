import type {
  ActivationRecord,
  AuditRecord,
  HoldRecord,
  IdempotencyRecord,
  RentalRecord,
  TransferRecord,
  WalletRecord,
} from "../core/records.js";

/**
 * The mapping between the records of `core/records.ts` and the tables of the migrations, written once as data:
 * the select lists, the `jsonb_to_recordset` column definitions of a commit plan and the row readers are all
 * derived from it, so a field cannot be read under one name and written under another.
 */

/** How a column travels: money and times are bigint (read back as safe integers), lists are jsonb. */
export type ColumnType = "text" | "bigint" | "jsonb";

/** One field of a record and its column. */
interface Column {
  readonly field: string;
  readonly column: string;
  readonly type: ColumnType;
}

/** The columns of one table, in the field order of its record. */
export type Columns<T> = readonly (Column & { readonly field: keyof T & string })[];

function col<T>(field: keyof T & string, type: ColumnType = "text"): Column & { field: keyof T & string } {
  return { field, column: field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), type };
}

export const walletColumns: Columns<WalletRecord> = [
  col("id"),
  col("currency"),
  col("balanceMinor", "bigint"),
  col("frozenMinor", "bigint"),
  col("version", "bigint"),
  col("createdAtMs", "bigint"),
];

export const transferColumns: Columns<TransferRecord> = [
  col("id"),
  col("seq", "bigint"),
  col("kind"),
  col("debitAccountId"),
  col("creditAccountId"),
  col("amountMinor", "bigint"),
  col("currency"),
  col("walletId"),
  col("walletBalanceAfterMinor", "bigint"),
  col("holdId"),
  col("operationId"),
  col("reason"),
  col("createdAtMs", "bigint"),
];

export const holdColumns: Columns<HoldRecord> = [
  col("id"),
  col("walletId"),
  col("currency"),
  col("amountMinor", "bigint"),
  col("state"),
  col("settledMinor", "bigint"),
  col("ownerType"),
  col("ownerId"),
  col("createdAtMs", "bigint"),
  col("resolvedAtMs", "bigint"),
];

export const activationColumns: Columns<ActivationRecord> = [
  col("id"),
  col("walletId"),
  col("provider"),
  col("providerActivationId"),
  col("serviceCode"),
  col("countryCode"),
  col("service"),
  col("country"),
  col("state"),
  col("phone"),
  col("priceMinor", "bigint"),
  col("costMinor", "bigint"),
  col("currency"),
  col("codes", "jsonb"),
  col("lateCodes", "jsonb"),
  col("holdId"),
  col("retryOf"),
  col("failureReason"),
  col("createdAtMs", "bigint"),
  col("issuedAtMs", "bigint"),
  col("firstCodeAtMs", "bigint"),
  col("endedAtMs", "bigint"),
  col("closedAtMs", "bigint"),
  col("deadlineAtMs", "bigint"),
  col("cashbackMinor", "bigint"),
  col("endRequest", "jsonb"),
  col("version", "bigint"),
  col("experimentId"),
  col("experimentArm"),
];

export const rentalColumns: Columns<RentalRecord> = [
  col("id"),
  col("walletId"),
  col("provider"),
  col("providerRentalId"),
  col("serviceCode"),
  col("countryCode"),
  col("service"),
  col("country"),
  col("state"),
  col("phone"),
  col("currency"),
  col("periods", "jsonb"),
  col("priceMinor", "bigint"),
  col("costMinor", "bigint"),
  col("messageCount", "bigint"),
  col("failureReason"),
  col("createdAtMs", "bigint"),
  col("startedAtMs", "bigint"),
  col("endsAtMs", "bigint"),
  col("endedAtMs", "bigint"),
  col("endRequest", "jsonb"),
  col("lastActiveAtMs", "bigint"),
  col("version", "bigint"),
];

export const idempotencyColumns: Columns<IdempotencyRecord> = [
  col("key"),
  col("operation"),
  col("fingerprint"),
  col("result", "jsonb"),
  col("createdAtMs", "bigint"),
];

export const auditColumns: Columns<AuditRecord> = [
  col("id"),
  col("atMs", "bigint"),
  col("actor"),
  col("action"),
  col("subjectType"),
  col("subjectId"),
  col("before", "jsonb"),
  col("after", "jsonb"),
  col("idempotencyKey"),
];

/**
 * The select list of a table, optionally qualified by an alias. jsonb is read as text and parsed here, so the
 * result does not depend on a driver's type parsers (and a JSON string value is not mistaken for JSON text).
 */
export function selectList<T>(columns: Columns<T>, alias?: string): string {
  const prefix = alias === undefined ? "" : `${alias}.`;
  return columns
    .map((c) => (c.type === "jsonb" ? `${prefix}${c.column}::text AS ${c.column}` : `${prefix}${c.column}`))
    .join(", ");
}

/** A bigint column as a JS number; anything beyond the safe integers is a broken invariant, not a value. */
export function toSafeInteger(value: unknown, what: string): number {
  const n = typeof value === "number" ? value : typeof value === "bigint" ? Number(value) : Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`${what} is not a safe integer: ${String(value)}`);
  return n;
}

/** Reads one row into its record. */
export function readRow<T>(columns: Columns<T>, row: Record<string, unknown>): T {
  const record: Record<string, unknown> = {};
  for (const c of columns) {
    const value = row[c.column];
    if (value === null || value === undefined) record[c.field] = null;
    else if (c.type === "bigint") record[c.field] = toSafeInteger(value, c.column);
    else if (c.type === "jsonb") record[c.field] = typeof value === "string" ? JSON.parse(value) : value;
    else record[c.field] = value;
  }
  return record as T;
}
