/** Reads a vendored data file (`data/*.tsv`) as rows of named columns. */
import { readFileSync } from "node:fs";

/** The rows of `data/<name>`, keyed by the header's column names. */
export function readDataTsv(name: string): Record<string, string>[] {
  const text = readFileSync(new URL(`../../data/${name}`, import.meta.url), "utf8");
  const [header, ...lines] = text.split("\n").filter((l) => l.length > 0);
  const columns = (header ?? "").split("\t");
  return lines.map((line) => {
    const cells = line.split("\t");
    return Object.fromEntries(columns.map((c, i) => [c, cells[i] ?? ""]));
  });
}
